/**
 * The outage scenarios, on the four dependencies of the pricing
 * service: degradation cascade, auto-recovery, partial recovery, multiple
 * simultaneous failures, a breaker under high load and fallback latency.
 * Outages are `Faults` injected into the raw services, under the app's own
 * `Dependency` layers.
 */
import { Degradation, DegradationLevel, Fallback, Metrics } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import type * as App from "../examples/outage-simulation/src/app.js"
import { traffic } from "../examples/outage-simulation/src/scenarios.js"
import { Ai, Cache, Db, getPrice, layer, makeWorld, S3, type World } from "./fixtures/pricing.js"

// A full collection before each reading, so the heap counts what is retained, not garbage.
V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void
const retainedHeap = () => {
  for (let i = 0; i < 3; i++) gc()
  const { external, heapUsed } = process.memoryUsage()
  // `external` holds ArrayBuffer contents, which `heapUsed` leaves out
  return heapUsed + external
}

let runs = 0

/** Builds the service with its own metric names and a 30 s recovery interval. */
const withService = <A, E>(f: (world: World) => Effect.Effect<A, E, App.Services>) =>
  Effect.gen(function*() {
    const world = yield* makeWorld(`seed${++runs}`)
    return yield* f(world).pipe(Effect.provide(layer(world)))
  })

/** Every dependency down at once, or every one back. */
const everythingDown = Effect.all([
  Faults.inject(Db, Faults.down),
  Faults.inject(Cache, Faults.down),
  Faults.inject(Ai, Faults.down),
  Faults.inject(S3, Faults.down)
], { discard: true })
const everythingBack = Effect.all([Faults.recover(Db), Faults.recover(Cache), Faults.recover(Ai), Faults.recover(S3)], {
  discard: true
})

const level = Effect.flatMap(Degradation, (d) => d.current).pipe(Effect.map((l) => l._tag))
const hit = {
  db: Effect.flatMap(Db, (db) => Effect.either(db.ping)),
  redis: Effect.flatMap(Cache, (cache) => Effect.either(cache.getPrice("p1"))),
  openai: Effect.flatMap(Ai, (ai) => Effect.either(ai.ocr("x"))),
  s3: Effect.flatMap(S3, (s3) => Effect.either(s3.upload("k", "body")))
}
const hitN = (effect: Effect.Effect<unknown, never, Db | Cache | Ai | S3>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => effect, { discard: true })

describe("seed scenarios", () => {
  it.scoped("degradation cascade: Degraded → Limited → Emergency, the handler follows", () =>
    withService(() =>
      Effect.gen(function*() {
        expect(yield* getPrice("p1")).toMatchObject({ _tag: "Full", price: 110.00000000000001 })
        yield* Faults.inject(Cache, Faults.down)
        yield* hitN(hit.redis, 5)
        expect(yield* level).toBe("Degraded")
        expect((yield* getPrice("p1"))._tag).toBe("Full")
        yield* Faults.inject(Ai, Faults.down)
        yield* hitN(hit.openai, 5)
        expect(yield* level).toBe("Limited")
        // cache down: its fallback reads the DB; baseline rules apply
        expect(yield* getPrice("p1")).toEqual({ _tag: "Cached", id: "p1", price: 130 })
        yield* Faults.inject(Db, Faults.down)
        yield* hitN(hit.db, 3)
        expect(yield* level).toBe("Emergency")
        expect((yield* getPrice("p1"))._tag).toBe("Status")
      })
    ))

  it.scoped("DB down: Minimal, reads from the cache, writes blocked with a clear error", () =>
    withService(() =>
      Effect.gen(function*() {
        yield* Faults.inject(Db, Faults.down)
        yield* hitN(hit.db, 3)
        expect(yield* level).toBe("Minimal")
        expect(yield* getPrice("p2")).toEqual({ _tag: "Basic", id: "p2", price: 200 })
        // reads through the DB fall back to the cache
        expect(yield* Effect.flatMap(Db, (db) => db.getPrice("p2"))).toBe(200)
        const error = yield* Effect.flatMap(Db, (db) => Effect.flip(db.savePrice("p2", 1)))
        assert(error instanceof Fallback.UnavailableError)
        expect(error.message).toContain("writes are blocked")
        expect(error.action).toContain("Retry")
      })
    ))

  it.scoped("auto-recovery: Redis down then back, Optimal within one recovery interval of the fix", () =>
    withService(() =>
      Effect.gen(function*() {
        yield* Faults.inject(Cache, Faults.down)
        yield* hitN(hit.redis, 5)
        expect(yield* level).toBe("Degraded")
        yield* TestClock.adjust("5 seconds")
        yield* Faults.recover(Cache) // the fix, at 5 s
        yield* TestClock.adjust("15 seconds") // 20 s: the breaker half-opens
        expect(yield* level).toBe("Degraded") // better levels wait for the tick
        yield* TestClock.adjust("10 seconds") // 30 s: the recovery tick
        expect(yield* level).toBe("Optimal")
      })
    ))

  it.scoped("partial recovery: OpenAI and Redis down (Limited), OpenAI back while Redis is down (Degraded)", () =>
    withService(() =>
      Effect.gen(function*() {
        yield* Faults.inject(Cache, Faults.down)
        yield* Faults.inject(Ai, Faults.down)
        yield* hitN(hit.redis, 5)
        yield* hitN(hit.openai, 5)
        expect(yield* level).toBe("Limited")
        yield* Faults.recover(Ai)
        yield* TestClock.adjust("61 seconds") // OpenAI's breaker half-opens at 60 s
        yield* TestClock.adjust("29 seconds") // tick at 90 s: Redis still fails its check
        expect(yield* level).toBe("Degraded")
        yield* Faults.recover(Cache)
        yield* TestClock.adjust("30 seconds")
        expect(yield* level).toBe("Optimal")
      })
    ))

  it.scoped("multiple simultaneous failures: everything down is an Emergency; S3 writes are queued and replayed", () =>
    withService((world) =>
      Effect.gen(function*() {
        yield* everythingDown
        yield* Effect.all([hitN(hit.db, 3), hitN(hit.redis, 5), hitN(hit.openai, 5), hitN(hit.s3, 5)], {
          concurrency: "unbounded"
        })
        expect(yield* level).toBe("Emergency")
        expect((yield* getPrice("p1"))._tag).toBe("Status")
        expect(yield* world.store.queue.size).toBe(5)
        yield* everythingBack
        yield* TestClock.adjust("60 seconds") // every breaker has half-opened, ticks at 30 and 60 s
        yield* hitN(hit.db, 1)
        yield* TestClock.adjust("30 seconds")
        expect(yield* level).toBe("Optimal")
        // S3's half-open probe was the first replayed upload: nothing lost
        expect(yield* world.store.queue.size).toBe(0)
        expect(world.store.uploads).toHaveLength(5)
      })
    ))

  it.scoped("high load: 10,000 concurrent calls through a Dependency stop hammering the failing API", () =>
    withService((world) =>
      Effect.gen(function*() {
        yield* Faults.inject(Ai, Faults.down)
        const heapBefore = retainedHeap()
        // 10,000 calls arriving in 100 waves of 100 concurrent callers
        const results = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, wave) => wave),
          (wave) =>
            Effect.forEach(
              Array.from({ length: 100 }, (_, i) => wave * 100 + i),
              (i) => Effect.flatMap(Ai, (ai) => ai.enhancePrices([i])),
              { concurrency: "unbounded" }
            )
        ).pipe(Effect.map((waves) => waves.flat()))
        // every call answered by the baseline fallback …
        expect(results).toHaveLength(10_000)
        expect(results[9_999]).toEqual([9_999 * 1.3])
        // … and only the calls admitted before the breaker opened reached the API: the API fails
        // at once, so the 5th consecutive failure (Presets.openai) opens it while the first wave
        // is still being admitted (plus the health check run at registration)
        expect(world.calls.openai).toBe(5 + 1)
        const rejected = yield* Metric.value(
          Metrics.breakerCalls.pipe(Metric.tagged("breaker", world.names.openai), Metric.tagged("outcome", "rejected"))
        )
        expect(rejected.count).toBe(10_000 - 5)
        // bounded memory: nothing per call is kept once the calls are done
        // (the 10,000 results above are still referenced: ~1 MB of it)
        expect(retainedHeap() - heapBefore).toBeLessThan(4 * 1024 * 1024)
      })
    ))

  it.scoped("fallback latency: once open, a hanging dependency is answered at once, not after its timeout", () =>
    withService(() =>
      Effect.gen(function*() {
        yield* Faults.inject(Ai, Faults.hang)
        const slow = Effect.flatMap(Ai, (ai) => ai.enhancePrices([100]))
        // closed: each call waits for the 10 s call timeout, then falls back
        for (let i = 0; i < 5; i++) {
          const fiber = yield* Effect.fork(slow)
          yield* TestClock.adjust("9999 millis")
          expect(fiber.unsafePoll()).toBeNull()
          yield* TestClock.adjust("1 millis")
          expect(yield* Fiber.join(fiber)).toEqual([130])
        }
        // open: answered without any time passing
        const fiber = yield* Effect.fork(slow)
        yield* Effect.yieldNow()
        const exit = fiber.unsafePoll()
        expect(exit?._tag).toBe("Success")
        expect(yield* Fiber.join(fiber)).toEqual([130])
      })
    ))

  it.effect(
    "a seed scenario on the app's own layers: the cascade, then everything back, nothing lost",
    () =>
      Effect.gen(function*() {
        const world = yield* makeWorld(`seed${++runs}`)
        const { Degraded, Emergency, Limited, Optimal } = DegradationLevel
        const report = yield* Simulation.run({
          name: "cascade-and-back",
          duration: "6 minutes",
          layer: layer(world),
          faults: [
            { at: "1 minute", dependency: Cache, fault: Faults.down },
            { at: "90 seconds", dependency: Ai, fault: Faults.down },
            { at: "2 minutes", dependency: Db, fault: Faults.down },
            { at: "150 seconds", dependency: S3, fault: Faults.down },
            { at: "210 seconds", dependency: [Db, Cache, Ai, S3], fault: Simulation.recovered }
          ],
          // the demo's load: 10 calls per second per dependency
          traffic: traffic(),
          expect: [
            Simulation.expectReaches(Degraded(), { after: "1 minute", within: "1 second" }),
            Simulation.expectReaches(Limited(), { after: "90 seconds", within: "1 second" }),
            Simulation.expectReaches(Emergency(), { after: "2 minutes", within: "1 second" }),
            // OpenAI's 60 s reset, then a recovery tick
            Simulation.expectReaches(Optimal(), { after: "210 seconds", within: "90 seconds" }),
            Simulation.expectFinalLevel(Optimal())
          ]
        })
        expect(report.checks.filter((c) => !c.ok)).toEqual([])
        expect(Object.keys(report.perDependency).sort()).toEqual(Object.values(world.names).sort())
        // every upload was answered, by S3 or by the queue, and the queue replayed them all once S3 was back
        const uploads = report.traffic["s3.upload"]!
        expect(uploads).toMatchObject({ calls: 3_600, answered: 3_600, errors: 0 })
        expect(report.perDependency[world.names.s3]!.fallbacks).toBeGreaterThan(0)
        expect(yield* world.store.queue.size).toBe(0)
        expect(world.store.uploads).toHaveLength(3_600)
        // AI pricing is answered throughout (baseline while OpenAI is down), and the open breaker
        // spared the API: of the 1,200 calls made during its 2 minutes down, only the first few and
        // the probes reached it (the rest of its calls: the traffic while up, and the health checks)
        expect(report.traffic["openai.enhancePrices"]).toMatchObject({ calls: 3_600, errors: 0 })
        expect(world.calls.openai).toBeGreaterThan(3_600 - 1_200)
        expect(world.calls.openai).toBeLessThan(3_600 - 1_200 + 30)
      }),
    60_000
  )
})
