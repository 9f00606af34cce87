/**
 * The seed's testing strategy, on the four dependencies of the pricing
 * service: degradation cascade, auto-recovery, partial recovery, multiple
 * simultaneous failures, a breaker under high load and fallback latency.
 */
import { Degradation, Fallback, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
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
const withService = <A, E>(
  f: (world: World, suffix: string) => Effect.Effect<A, E, Db | Cache | Ai | S3 | Degradation>
) =>
  Effect.gen(function*() {
    const world = yield* makeWorld
    const suffix = `seed${++runs}`
    return yield* f(world, suffix).pipe(
      Effect.provide(layer(world, suffix).pipe(Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))))
    )
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
    withService((world) =>
      Effect.gen(function*() {
        expect(yield* getPrice("p1")).toMatchObject({ _tag: "Full", price: 110.00000000000001 })
        yield* Ref.set(world.faults.redis, "down")
        yield* hitN(hit.redis, 5)
        expect(yield* level).toBe("Degraded")
        expect((yield* getPrice("p1"))._tag).toBe("Full")
        yield* Ref.set(world.faults.openai, "down")
        yield* hitN(hit.openai, 5)
        expect(yield* level).toBe("Limited")
        // cache down: its fallback reads the DB; baseline rules apply
        expect(yield* getPrice("p1")).toEqual({ _tag: "Cached", id: "p1", price: 130 })
        yield* Ref.set(world.faults.db, "down")
        yield* hitN(hit.db, 3)
        expect(yield* level).toBe("Emergency")
        expect((yield* getPrice("p1"))._tag).toBe("Status")
      })
    ))

  it.scoped("DB down: Minimal, reads from the cache, writes blocked with a clear error", () =>
    withService((world) =>
      Effect.gen(function*() {
        yield* Ref.set(world.faults.db, "down")
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
    withService((world) =>
      Effect.gen(function*() {
        yield* Ref.set(world.faults.redis, "down")
        yield* hitN(hit.redis, 5)
        expect(yield* level).toBe("Degraded")
        yield* TestClock.adjust("5 seconds")
        yield* Ref.set(world.faults.redis, "up") // the fix, at 5 s
        yield* TestClock.adjust("15 seconds") // 20 s: the breaker half-opens
        expect(yield* level).toBe("Degraded") // better levels wait for the tick
        yield* TestClock.adjust("10 seconds") // 30 s: the recovery tick
        expect(yield* level).toBe("Optimal")
      })
    ))

  it.scoped("partial recovery: OpenAI and Redis down (Limited), OpenAI back while Redis is down (Degraded)", () =>
    withService((world) =>
      Effect.gen(function*() {
        yield* Ref.set(world.faults.redis, "down")
        yield* Ref.set(world.faults.openai, "down")
        yield* hitN(hit.redis, 5)
        yield* hitN(hit.openai, 5)
        expect(yield* level).toBe("Limited")
        yield* Ref.set(world.faults.openai, "up")
        yield* TestClock.adjust("61 seconds") // OpenAI's breaker half-opens at 60 s
        yield* TestClock.adjust("29 seconds") // tick at 90 s: Redis still fails its check
        expect(yield* level).toBe("Degraded")
        yield* Ref.set(world.faults.redis, "up")
        yield* TestClock.adjust("30 seconds")
        expect(yield* level).toBe("Optimal")
      })
    ))

  it.scoped("multiple simultaneous failures: everything down is an Emergency; S3 writes are queued and replayed", () =>
    withService((world) =>
      Effect.gen(function*() {
        for (const name of ["db", "redis", "openai", "s3"] as const) yield* Ref.set(world.faults[name], "down")
        yield* Effect.all([hitN(hit.db, 3), hitN(hit.redis, 5), hitN(hit.openai, 5), hitN(hit.s3, 5)], {
          concurrency: "unbounded"
        })
        expect(yield* level).toBe("Emergency")
        expect((yield* getPrice("p1"))._tag).toBe("Status")
        expect(yield* world.queue.size).toBe(5)
        for (const name of ["db", "redis", "openai", "s3"] as const) yield* Ref.set(world.faults[name], "up")
        yield* TestClock.adjust("60 seconds") // every breaker has half-opened, ticks at 30 and 60 s
        yield* hitN(hit.db, 1)
        yield* TestClock.adjust("30 seconds")
        expect(yield* level).toBe("Optimal")
        // S3's half-open probe was the first replayed upload: nothing lost
        expect(yield* world.queue.size).toBe(0)
        expect(yield* Ref.get(world.uploads)).toHaveLength(5)
      })
    ))

  it.scoped("high load: 10,000 concurrent calls through a Dependency stop hammering the failing API", () =>
    withService((world, suffix) =>
      Effect.gen(function*() {
        yield* Ref.set(world.faults.openai, "down")
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
        // … and only the first wave, in flight before the breaker opened, reached the API
        // (plus the health check run at registration)
        expect(yield* Ref.get(world.calls.openai)).toBe(100 + 1)
        const rejected = yield* Metric.value(
          Metrics.breakerCalls.pipe(Metric.tagged("breaker", `openai-${suffix}`), Metric.tagged("outcome", "rejected"))
        )
        expect(rejected.count).toBe(9_900)
        // bounded memory: nothing per call is kept once the calls are done
        // (the 10,000 results above are still referenced: ~1 MB of it)
        expect(retainedHeap() - heapBefore).toBeLessThan(4 * 1024 * 1024)
      })
    ))

  it.scoped("fallback latency: once open, a hanging dependency is answered at once, not after its timeout", () =>
    withService((world) =>
      Effect.gen(function*() {
        yield* Ref.set(world.faults.openai, "slow")
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
})
