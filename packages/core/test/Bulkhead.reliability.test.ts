import { Bulkhead, Criticality } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { uniqueName } from "./utils.js"

/** A deterministic pseudo-random sequence (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const settle = Effect.repeatN(Effect.yieldNow(), 50)
const classes = [
  Criticality.CriticalPlus(),
  Criticality.Critical(),
  Criticality.SheddablePlus(),
  Criticality.Sheddable()
]

/**
 * A call that counts itself in flight from its first step to the end of its
 * finalizer, and yields a few times in each (so that interruptions land
 * everywhere: before it starts, while it runs, while its finalizer runs).
 */
const counted = (counter: { now: number; max: number }, next: () => number) => {
  const yields = (n: number) => Effect.repeatN(Effect.yieldNow(), n)
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      counter.now++
      counter.max = Math.max(counter.max, counter.now)
    }),
    () => yields(Math.floor(next() * 8)),
    () => Effect.zipRight(yields(Math.floor(next() * 4)), Effect.sync(() => void counter.now--))
  )
}

describe("Bulkhead under attack", () => {
  for (
    const [label, options] of [
      ["without a queue", { maxQueue: 0 }],
      ["with a queue", { maxQueue: 200, maxWait: "1 minute" }]
    ] as const
  ) {
    it.scoped(`${label}: in flight never exceeds the limit among 5,000 callers with random interrupts`, () =>
      Effect.gen(function*() {
        const limit = 25
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("attack"), limit, ...options })
        const next = random(7)
        const counter = { now: 0, max: 0 }
        const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
        for (let wave = 0; wave < 10; wave++) {
          for (let i = 0; i < 500; i++) {
            const call = bulkhead(counted(counter, next)).pipe(
              Criticality.with(classes[Math.floor(next() * 4)]!),
              Effect.either
            )
            fibers.push(yield* Effect.fork(call))
          }
          // Interrupts arrive while calls wait, start, run and finalize.
          for (let step = 0; step < 10; step++) {
            yield* Effect.yieldNow()
            for (const fiber of fibers) {
              if (fiber.unsafePoll() === null && next() < 0.03) {
                yield* next() < 0.5 ? Fiber.interruptFork(fiber) : Effect.asVoid(Fiber.interrupt(fiber))
              }
            }
            expect(counter.now).toBeLessThanOrEqual(limit)
          }
        }
        yield* Effect.forEach(fibers, Fiber.await, { discard: true })
        expect(counter.max).toBeLessThanOrEqual(limit)
        expect(counter.max).toBe(limit)
        expect(counter.now).toBe(0)
        // Every permit is back: nothing in flight, nothing queued.
        expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, waiting: 0 })
        // A new wave fills the bulkhead exactly.
        const gate = yield* Deferred.make<void>()
        const held = { now: 0, max: 0 }
        const wave = yield* Effect.forEach(
          Array.from({ length: 100 }),
          () => Effect.fork(Effect.either(bulkhead(Effect.zipRight(counted(held, () => 0), Deferred.await(gate)))))
        )
        yield* settle
        expect(held.max).toBe(limit)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(wave, Fiber.await, { discard: true })
        expect(yield* bulkhead.inFlight).toBe(0)
      }))
  }

  it.live(
    "with real timers: 2,000 callers sleeping and interrupted at random never exceed the limit",
    () =>
      Effect.gen(function*() {
        const limit = 10
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("live"),
          limit: Bulkhead.adaptive({ algorithm: "aimd", min: 5, max: limit, initial: limit, window: "20 millis" }),
          maxQueue: 50,
          maxWait: "5 millis"
        })
        const next = random(11)
        let now = 0
        let max = 0
        const call = Effect.acquireUseRelease(
          Effect.sync(() => {
            now++
            max = Math.max(max, now)
          }),
          () => Effect.sleep(`${Math.floor(next() * 3)} millis`),
          () => Effect.zipRight(Effect.sleep(`${Math.floor(next() * 2)} millis`), Effect.sync(() => void now--))
        )
        const fibers = yield* Effect.forEach(
          Array.from({ length: 2000 }),
          () => Effect.fork(Effect.either(bulkhead(call)))
        )
        const victims = fibers.filter(() => next() < 0.2)
        yield* Effect.sleep("2 millis")
        yield* Effect.forEach(victims, (fiber) => Fiber.interruptFork(fiber), { discard: true })
        yield* Effect.forEach(fibers, Fiber.await, { discard: true })
        const limitNow = yield* SubscriptionRef.get(bulkhead.limit)
        expect(limitNow).toBeLessThanOrEqual(limit)
        expect(max).toBeLessThanOrEqual(limit)
        expect(now).toBe(0)
        expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, waiting: 0 })
      }).pipe(Effect.scoped),
    60_000
  )

  it.scoped("a waiter granted a permit and interrupted before it runs gives the permit back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: uniqueName("granted"), limit: 1, maxQueue: 1, maxWait: "1 minute" })
      const gate = yield* Deferred.make<void>()
      const waiterRef = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
      // The holder's completion grants the waiter its permit; right after, in the
      // same step, the holder interrupts it.
      const holder = yield* Effect.fork(
        bulkhead(Deferred.await(gate)).pipe(
          Effect.zipRight(
            Effect.flatMap(
              Deferred.await(waiterRef),
              (waiter) => Effect.sync(() => waiter.unsafeInterruptAsFork(FiberId.none))
            )
          )
        )
      )
      yield* settle
      let ran = false
      const waiter = yield* Effect.fork(bulkhead(Effect.sync(() => ran = true)))
      yield* Deferred.succeed(waiterRef, waiter)
      yield* settle
      expect(yield* bulkhead.waiting).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.await(holder)
      yield* Fiber.await(waiter)
      expect(ran).toBe(false)
      expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, waiting: 0 })
      expect(yield* bulkhead(Effect.succeed("admitted"))).toBe("admitted")
    }))

  it.scoped("an interrupted call gives its permit back when its fiber has ended", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: uniqueName("interrupted"), limit: 1 })
      // The runtime skips the continuation that gives the permit back when it
      // unwinds an interrupted fiber: the fiber's end gives it back.
      const finish = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        bulkhead(
          Effect.withFiberRuntime<never>((self) => {
            self.unsafeInterruptAsFork(self.id())
            return Effect.never
          })
        ).pipe(Effect.ensuring(Deferred.await(finish)))
      )
      yield* settle
      // Still unwinding (an outer finalizer runs): the permit is still held.
      expect(yield* bulkhead.inFlight).toBe(1)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.await(fiber)
      expect(yield* bulkhead.inFlight).toBe(0)
      expect(yield* bulkhead(Effect.succeed("admitted"))).toBe("admitted")
    }))

  it.scoped("calls of one fiber nest: each holds its own permit", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: uniqueName("nested"), limit: 2 })
      const inner = yield* bulkhead(bulkhead(bulkhead.inFlight))
      expect(inner).toBe(2)
      expect(yield* Effect.either(bulkhead(bulkhead(bulkhead(Effect.void))))).toMatchObject({ _tag: "Left" })
      expect(yield* bulkhead.inFlight).toBe(0)
    }))
})
