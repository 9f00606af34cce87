import { CircuitBreaker, Degradation, DegradationLevel, Dependency } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { stateGauge, uniqueName } from "./utils.js"

// What a reliability review attacked and found holding: kept as regression tests.

/** A deterministic pseudo-random sequence (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("under attack", () => {
  it.scoped("half-open admits exactly `permits` probes among 5,000 concurrent callers, with random interrupts", () =>
    Effect.gen(function*() {
      const name = uniqueName("attack")
      const breaker = yield* CircuitBreaker.make({
        name,
        trip: CircuitBreaker.consecutiveFailures(1),
        reset: Schedule.spaced("1 second"),
        halfOpen: { permits: 3, successesToClose: 3 }
      })
      yield* Effect.either(breaker(Effect.fail("boom")))
      yield* TestClock.adjust("1 second")
      expect(breaker.unsafeState()._tag).toBe("HalfOpen")

      let running = 0
      let maxRunning = 0
      const gate = yield* Deferred.make<void>()
      const probe = Effect.acquireUseRelease(
        Effect.sync(() => {
          running++
          maxRunning = Math.max(maxRunning, running)
        }),
        () => Deferred.await(gate),
        () => Effect.sync(() => void running--)
      )
      const wave = (n: number) =>
        Effect.forEach(Array.from({ length: n }), () => Effect.fork(Effect.either(breaker(probe))))
      const settle = Effect.repeatN(Effect.yieldNow(), 50)

      const first = yield* wave(5_000)
      yield* settle
      expect(running).toBe(3)
      // Random interrupts, holders of a permit among them: each gives its permit back.
      const next = random(42)
      const victims = first.filter(() => next() < 0.3)
      for (const fiber of first) if (fiber.unsafePoll() === null) victims.push(fiber)
      yield* Effect.forEach(victims, Fiber.interrupt, { discard: true })
      expect(running).toBe(0)
      // The permits are back: a new wave fills them again, and never more.
      const second = yield* wave(5_000)
      yield* settle
      expect(running).toBe(3)
      expect(maxRunning).toBe(3)
      expect(yield* stateGauge(name)).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(second, Fiber.join, { discard: true })
      expect(breaker.unsafeState()._tag).toBe("Closed")
      expect(yield* stateGauge(name)).toBe(0)
    }))

  it.scoped("150 dependencies trip and recover: the level follows, and the gauges match the states", () =>
    Effect.gen(function*() {
      interface Svc {
        readonly call: Effect.Effect<number, "down" | CircuitBreaker.Unavailable>
      }
      const up = new Map<number, boolean>()
      const wrapped = yield* Effect.forEach(Array.from({ length: 150 }, (_, i) => i), (i) => {
        const Tag = Context.GenericTag<`dep-${number}`, Svc>(`attack/dep-${i}`)
        up.set(i, true)
        const raw: Svc = { call: Effect.suspend(() => up.get(i) ? Effect.succeed(i) : Effect.fail("down" as const)) }
        return Dependency.make(Tag, {
          name: uniqueName(`dep${i}`),
          breaker: { trip: CircuitBreaker.consecutiveFailures(1), reset: Schedule.spaced("10 seconds") },
          whenDown: i % 2 === 0 ? DegradationLevel.Degraded() : DegradationLevel.Limited(),
          health: (svc) => svc.call
        }).pipe(Effect.provideService(Tag, raw))
      })
      const level = () => Effect.map(Degradation.current, (l) => l._tag)
      expect(yield* level()).toBe("Optimal")

      for (const i of up.keys()) up.set(i, false)
      yield* Effect.forEach(wrapped, ({ service }) => Effect.either(service.call), { discard: true })
      expect(yield* level()).toBe("Emergency")
      for (const { breaker } of wrapped) {
        expect(breaker.unsafeState()._tag).toBe("Open")
        expect(yield* stateGauge(breaker.name)).toBe(1)
      }

      for (const i of up.keys()) up.set(i, true)
      // The breakers half-open at 10 s; the recovery tick at 30 s sees passing checks started after that.
      yield* TestClock.adjust("30 seconds")
      expect(yield* level()).toBe("Optimal")
      yield* Effect.forEach(wrapped, ({ service }) => service.call, { discard: true })
      for (const { breaker } of wrapped) {
        expect(breaker.unsafeState()._tag).toBe("Closed")
        expect(yield* stateGauge(breaker.name)).toBe(0)
      }
    }).pipe(Effect.provide(Degradation.layer({ recoveryInterval: "30 seconds" }))))
})
