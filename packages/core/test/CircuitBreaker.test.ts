import { CircuitBreaker, InvalidOptionError, Metrics } from "@effect-resilience/core"
import type * as Core from "@effect-resilience/core"
import type { Dependency } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { calls, failures, stateGauge, transitions, uniqueName } from "./utils.js"

const boom = Effect.fail("boom" as const)
const ok = Effect.succeed("ok" as const)

const tag = (breaker: CircuitBreaker.CircuitBreaker) => breaker.state.pipe(Effect.map((s) => s._tag))

/** Runs `n` failing calls, ignoring their errors. */
const failN = (breaker: CircuitBreaker.CircuitBreaker, n: number, effect: Effect.Effect<never, unknown> = boom) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.either(breaker(effect)), { discard: true })

describe("CircuitBreaker", () => {
  describe("consecutiveFailures", () => {
    it.scoped("opens on the n-th consecutive failure; a success resets the count", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("cf"),
          trip: CircuitBreaker.consecutiveFailures(3)
        })
        yield* failN(breaker, 2)
        expect((yield* breaker.stats).failures).toBe(2)
        expect(yield* breaker(ok)).toBe("ok")
        expect((yield* breaker.stats).failures).toBe(0)
        yield* failN(breaker, 2)
        expect(yield* tag(breaker)).toBe("Closed")
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("the failing call that trips keeps its own error", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("cf"),
          trip: CircuitBreaker.consecutiveFailures(1)
        })
        const error = yield* Effect.flip(breaker(boom))
        expect(error).toBe("boom")
        const rejected = yield* Effect.flip(breaker(boom))
        expect(rejected).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
      }))
  })

  describe("failureRate", () => {
    it.scoped("count window: opens once minimumCalls are in and the rate reaches the threshold", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("rate"),
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 4, window: CircuitBreaker.countWindow(4) })
        })
        yield* failN(breaker, 3)
        // 3 of 3 failed, but fewer than minimumCalls
        expect(yield* tag(breaker)).toBe("Closed")
        yield* breaker(ok)
        // F F F S: minimumCalls reached with 75 % failed — the rate is checked on a success too
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("a success that trips the rate opens the breaker like a failure, and it half-opens on time", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("rate"),
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 4, window: CircuitBreaker.countWindow(4) }),
          reset: Schedule.spaced("10 seconds")
        })
        yield* failN(breaker, 2)
        yield* breaker(ok)
        expect(yield* tag(breaker)).toBe("Closed")
        yield* breaker(ok) // F F S S: 50 % of 4 calls, on a success
        expect(yield* tag(breaker)).toBe("Open")
        const error = yield* Effect.flip(breaker(ok))
        assert(error instanceof CircuitBreaker.CircuitOpenError)
        expect(Duration.toMillis(error.retryAfter)).toBe(10_000)
        yield* TestClock.adjust("10 seconds")
        expect(yield* tag(breaker)).toBe("HalfOpen")
      }))

    it.scoped("count window slides: old failures leave the window", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("rate"),
          trip: CircuitBreaker.failureRate({ threshold: 0.6, minimumCalls: 5, window: CircuitBreaker.countWindow(5) })
        })
        // F F S S S: 40 %
        yield* failN(breaker, 2)
        yield* breaker(ok).pipe(Effect.repeatN(2))
        expect(yield* tag(breaker)).toBe("Closed")
        expect((yield* breaker.stats).failures).toBe(2)
        // a failure evicts the oldest call (a failure): F S S S F, still 40 %
        yield* failN(breaker, 1)
        expect((yield* breaker.stats).failures).toBe(2)
        expect(yield* tag(breaker)).toBe("Closed")
        // evicts the other old failure: S S S F F, still 40 %
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Closed")
        // evicts a success: S S F F F, 60 %
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("exact rates reach their threshold (no floating point surprise)", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("rate"),
          trip: CircuitBreaker.failureRate({ threshold: 0.3, minimumCalls: 10, window: CircuitBreaker.countWindow(10) })
        })
        yield* breaker(ok).pipe(Effect.repeatN(6))
        yield* failN(breaker, 2)
        expect(yield* tag(breaker)).toBe("Closed")
        yield* failN(breaker, 1) // 3 of 10 = 0.3
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("time window: failures older than the window age out", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("time"),
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 4,
            window: CircuitBreaker.timeWindow("10 seconds", 10)
          })
        })
        yield* failN(breaker, 3)
        expect((yield* breaker.stats).calls).toBe(3)
        yield* TestClock.adjust("11 seconds")
        expect((yield* breaker.stats).calls).toBe(0)
        yield* breaker(ok).pipe(Effect.repeatN(2))
        yield* failN(breaker, 1)
        // 1 of 4 in the window
        expect(yield* tag(breaker)).toBe("Closed")
        yield* TestClock.adjust("5 seconds")
        yield* failN(breaker, 2)
        // 3 of 6 in the window
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("slow calls: opens when the slow-call rate reaches its threshold, even if all succeed", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("slow"),
          trip: CircuitBreaker.failureRate({
            threshold: 1,
            minimumCalls: 4,
            window: CircuitBreaker.countWindow(4),
            slowCall: { duration: "1 second", threshold: 0.5 }
          })
        })
        const slow = Effect.as(Effect.sleep("2 seconds"), "slow")
        yield* breaker(ok).pipe(Effect.repeatN(2))
        const fiber = yield* Effect.fork(breaker(slow))
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(fiber)).toBe("slow")
        // 1 slow of 4
        expect(yield* tag(breaker)).toBe("Closed")
        const fiber2 = yield* Effect.fork(breaker(slow))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(fiber2)
        // 2 slow of 4
        expect(yield* tag(breaker)).toBe("Open")
      }))
  })

  describe("open", () => {
    it.scoped("rejects at once with retryAfter and never runs the effect", () =>
      Effect.gen(function*() {
        const name = uniqueName("open")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("30 seconds")
        })
        yield* failN(breaker, 1)
        yield* TestClock.adjust("10 seconds")
        const runs = yield* Ref.make(0)
        const error = yield* Effect.flip(breaker(Ref.update(runs, (n) => n + 1)))
        assert(error instanceof CircuitBreaker.CircuitOpenError)
        expect(error.breaker).toBe(name)
        expect(Duration.toMillis(error.retryAfter)).toBe(20_000)
        expect(error.message).toContain(name)
        expect(yield* Ref.get(runs)).toBe(0)
        expect(yield* calls(name, "rejected")).toBe(1)
      }))
  })

  describe("reset schedule", () => {
    it.scoped("moves to HalfOpen by itself when the delay has passed: state, changes and gauge see it", () =>
      Effect.gen(function*() {
        const name = uniqueName("reset")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("30 seconds")
        })
        const seen = yield* Ref.make<Array<string>>([])
        yield* breaker.onChange((c) => Effect.runSync(Ref.update(seen, (xs) => [...xs, `${c.from._tag}>${c.to._tag}`])))
        yield* failN(breaker, 1)
        yield* TestClock.adjust("29 seconds")
        expect(yield* stateGauge(name)).toBe(1)
        yield* TestClock.adjust("1 second")
        // moved by the timer fiber: no call and no state read needed
        expect(yield* stateGauge(name)).toBe(2)
        expect(yield* Ref.get(seen)).toEqual(["Closed>Open", "Open>HalfOpen"])
        expect(yield* tag(breaker)).toBe("HalfOpen")
      }))

    const delaysOf = (reset: Schedule.Schedule<unknown, unknown>, openings: number) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("delays"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset
        })
        const delays: Array<number> = []
        yield* failN(breaker, 1)
        for (let i = 0; i < openings; i++) {
          const stats = yield* breaker.stats
          delays.push(Duration.toMillis(stats.retryAfter))
          yield* TestClock.adjust(stats.retryAfter)
          expect(yield* tag(breaker)).toBe("HalfOpen")
          // the probe fails: the next opening
          yield* failN(breaker, 1)
        }
        return { breaker, delays }
      })

    it.scoped("the k-th consecutive opening uses the k-th delay (exponential)", () =>
      Effect.gen(function*() {
        const { delays } = yield* delaysOf(Schedule.exponential("10 seconds"), 4)
        expect(delays).toEqual([10_000, 20_000, 40_000, 80_000])
      }))

    it.scoped("a schedule that ends keeps its last delay", () =>
      Effect.gen(function*() {
        const { delays } = yield* delaysOf(Schedule.fromDelays("1 second", "5 seconds"), 4)
        expect(delays).toEqual([1_000, 5_000, 5_000, 5_000])
      }))

    it.scoped("jittered delays are drawn anew for each opening, within 0.8–1.2 × the base, from the caller's Random", () =>
      Effect.gen(function*() {
        const jittered = Schedule.jittered(Schedule.spaced("10 seconds"))
        const seeded = (seed: string) => delaysOf(jittered, 5).pipe(Effect.withRandom(Random.make(seed)))
        const { delays } = yield* seeded("jitter")
        for (const delay of delays) {
          expect(delay).toBeGreaterThanOrEqual(8_000)
          expect(delay).toBeLessThanOrEqual(12_000)
        }
        // not the bare 10 s, and no two openings alike
        expect(delays).not.toContain(10_000)
        expect(new Set(delays).size).toBe(delays.length)
        // the same seed gives the same delays, another seed others
        expect((yield* seeded("jitter")).delays).toEqual(delays)
        expect((yield* seeded("other")).delays).not.toEqual(delays)
      }))

    it.scoped("closing resets the schedule", () =>
      Effect.gen(function*() {
        const { breaker } = yield* delaysOf(Schedule.exponential("10 seconds"), 2)
        yield* TestClock.adjust("40 seconds")
        yield* breaker(ok)
        expect(yield* tag(breaker)).toBe("Closed")
        yield* failN(breaker, 1)
        expect(Duration.toMillis((yield* breaker.stats).retryAfter)).toBe(10_000)
      }))

    it.scoped("a probe that is not yet due is rejected; one due after the timer is admitted", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("due"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("5 seconds")
        })
        yield* failN(breaker, 1)
        yield* TestClock.adjust("4999 millis")
        expect(Either.isLeft(yield* Effect.either(breaker(ok)))).toBe(true)
        yield* TestClock.adjust("1 millis")
        expect(yield* breaker(ok)).toBe("ok")
        expect(yield* tag(breaker)).toBe("Closed")
      }))
  })

  describe("half-open", () => {
    const openThenHalfOpen = (options: Partial<CircuitBreaker.Options>) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("half"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("1 second"),
          ...options
        })
        yield* failN(breaker, 1)
        yield* TestClock.adjust("1 second")
        expect(yield* tag(breaker)).toBe("HalfOpen")
        return breaker
      })

    it.scoped("under 1,000 concurrent callers exactly `permits` probes run", () =>
      Effect.gen(function*() {
        const breaker = yield* openThenHalfOpen({ halfOpen: { permits: 3, successesToClose: 3 } })
        const runs = yield* Ref.make(0)
        const probe = Ref.update(runs, (n) => n + 1).pipe(Effect.zipRight(Effect.sleep("1 second")))
        const fiber = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 1000 }), () => Effect.either(breaker(probe)), {
            concurrency: "unbounded"
          })
        )
        yield* TestClock.adjust("1 second")
        const results = yield* Fiber.join(fiber)
        expect(yield* Ref.get(runs)).toBe(3)
        const rejected = results.filter(Either.isLeft)
        expect(rejected).toHaveLength(997)
        for (const r of rejected) {
          assert(r.left instanceof CircuitBreaker.CircuitOpenError)
          expect(Duration.toMillis(r.left.retryAfter)).toBe(0)
        }
        expect(yield* tag(breaker)).toBe("Closed")
      }))

    it.scoped("successesToClose successful probes close it", () =>
      Effect.gen(function*() {
        const breaker = yield* openThenHalfOpen({ halfOpen: { permits: 1, successesToClose: 2 } })
        yield* breaker(ok)
        expect(yield* tag(breaker)).toBe("HalfOpen")
        yield* breaker(ok)
        expect(yield* tag(breaker)).toBe("Closed")
        expect((yield* breaker.stats).failures).toBe(0)
      }))

    it.scoped("any probe failure re-opens it", () =>
      Effect.gen(function*() {
        const breaker = yield* openThenHalfOpen({ halfOpen: { permits: 1, successesToClose: 2 } })
        yield* breaker(ok)
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("an interrupted probe gives its permit back and counts as nothing", () =>
      Effect.gen(function*() {
        const name = uniqueName("half")
        const breaker = yield* openThenHalfOpen({ name })
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(breaker(Effect.zipRight(Deferred.succeed(started, void 0), Effect.never)))
        yield* Deferred.await(started)
        // the only permit is taken
        expect(Either.isLeft(yield* Effect.either(breaker(ok)))).toBe(true)
        yield* Fiber.interrupt(fiber)
        expect(yield* tag(breaker)).toBe("HalfOpen")
        expect(yield* failures(name)).toBe(1)
        // the permit is back
        expect(yield* breaker(ok)).toBe("ok")
        expect(yield* tag(breaker)).toBe("Closed")
      }))
  })

  describe("outcomes", () => {
    it.scoped("an interrupted call counts as neither success nor failure", () =>
      Effect.gen(function*() {
        const name = uniqueName("intr")
        const breaker = yield* CircuitBreaker.make({ name, trip: CircuitBreaker.consecutiveFailures(1) })
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(breaker(Effect.zipRight(Deferred.succeed(started, void 0), Effect.never)))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* tag(breaker)).toBe("Closed")
        expect(yield* calls(name, "success")).toBe(0)
        expect(yield* calls(name, "failure")).toBe(0)
        // an interruption inside the effect is no failure either
        yield* Effect.exit(breaker(Effect.interrupt))
        expect(yield* tag(breaker)).toBe("Closed")
      }))

    it.scoped("a defect counts as a failure and is passed on unchanged", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("die"),
          trip: CircuitBreaker.consecutiveFailures(2),
          isFailure: () => false
        })
        const exit = yield* Effect.exit(breaker(Effect.die("bug")))
        assert(Exit.isFailure(exit))
        expect(Cause.isDie(exit.cause)).toBe(true)
        yield* Effect.exit(breaker(Effect.die("bug")))
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("an error for which isFailure is false passes through uncounted", () =>
      Effect.gen(function*() {
        const name = uniqueName("ignored")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(2),
          isFailure: (e) => e !== "not-found"
        })
        yield* failN(breaker, 1)
        for (let i = 0; i < 10; i++) {
          expect(yield* Effect.flip(breaker(Effect.fail("not-found")))).toBe("not-found")
        }
        // neither reset the count (no success) nor added to it
        expect((yield* breaker.stats).failures).toBe(1)
        expect(yield* tag(breaker)).toBe("Closed")
        expect(yield* calls(name, "ignored")).toBe(10)
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("callTimeout interrupts the call and fails with CallTimeoutError, counted as a failure", () =>
      Effect.gen(function*() {
        const name = uniqueName("timeout")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1),
          callTimeout: "1 second"
        })
        const interrupted = yield* Ref.make(false)
        const slow = Effect.sleep("10 seconds").pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))
        const fiber = yield* Effect.fork(Effect.flip(breaker(slow)))
        yield* TestClock.adjust("1 second")
        const error = yield* Fiber.join(fiber)
        assert(error instanceof CircuitBreaker.CallTimeoutError)
        expect(error.breaker).toBe(name)
        expect(Duration.toMillis(error.timeout)).toBe(1000)
        expect(yield* Ref.get(interrupted)).toBe(true)
        expect(yield* calls(name, "timeout")).toBe(1)
        expect(yield* failures(name)).toBe(1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("callTimeout: concurrent calls each time out at their own deadline", () =>
      Effect.gen(function*() {
        const name = uniqueName("deadlines")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1000),
          callTimeout: "1 second"
        })
        // call i starts at i × 100 ms and takes 1.5 s when i is odd, 0.5 s when even
        const fibers = []
        for (let i = 0; i < 10; i++) {
          fibers.push(
            yield* Effect.fork(breaker(Effect.as(Effect.sleep(i % 2 === 1 ? "1500 millis" : "500 millis"), i)))
          )
          yield* TestClock.adjust("100 millis")
        }
        yield* TestClock.adjust("50 millis") // t = 1,050 ms: call 1 (started at 100 ms) is not late yet
        expect(fibers[1]!.unsafePoll()).toBeNull()
        yield* TestClock.adjust("50 millis") // t = 1,100 ms: call 1's deadline
        const first = fibers[1]!.unsafePoll()
        expect(first?._tag).toBe("Failure")
        yield* TestClock.adjust("2 seconds")
        const results = yield* Effect.forEach(fibers, (f) => Effect.either(Fiber.join(f)))
        results.forEach((r, i) => {
          if (i % 2 === 0) expect(r).toEqual(Either.right(i))
          else expect(Either.isLeft(r) && r.left instanceof CircuitBreaker.CallTimeoutError).toBe(true)
        })
        expect(yield* calls(name, "timeout")).toBe(5)
        expect(yield* calls(name, "success")).toBe(5)
      }))

    it.scoped("callTimeout: an interrupted caller interrupts its call and counts nothing", () =>
      Effect.gen(function*() {
        const name = uniqueName("deadlines")
        const breaker = yield* CircuitBreaker.make({ name, callTimeout: "1 second" })
        const interrupted = yield* Ref.make(false)
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(breaker(
          Effect.zipRight(Deferred.succeed(started, void 0), Effect.never).pipe(
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
        ))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* Ref.get(interrupted)).toBe(true)
        yield* TestClock.adjust("2 seconds")
        expect(yield* calls(name, "timeout")).toBe(0)
        expect(yield* failures(name)).toBe(0)
      }))

    it.scoped("a fast call is not affected by callTimeout", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("timeout"), callTimeout: "1 second" })
        const fiber = yield* Effect.fork(breaker(Effect.as(Effect.sleep("999 millis"), 1)))
        yield* TestClock.adjust("999 millis")
        expect(yield* Fiber.join(fiber)).toBe(1)
      }))

    it.scoped("a CallTimeoutError raised by the wrapped code is judged by isFailure, even in the breaker's name", () =>
      Effect.gen(function*() {
        const name = uniqueName("timeout")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1),
          isFailure: () => false
        })
        // raised by the wrapped code itself, not by callTimeout: an ordinary error
        const timedOut = Effect.fail(
          new CircuitBreaker.CallTimeoutError({ breaker: name, timeout: Duration.seconds(1) })
        )
        yield* Effect.flip(breaker(timedOut))
        expect(yield* calls(name, "timeout")).toBe(0)
        expect(yield* calls(name, "ignored")).toBe(1)
        expect(yield* tag(breaker)).toBe("Closed")
        // counted when isFailure says so, as a failure
        const counting = uniqueName("timeout")
        const other = yield* CircuitBreaker.make({ name: counting, trip: CircuitBreaker.consecutiveFailures(1) })
        yield* Effect.flip(
          other(Effect.fail(new CircuitBreaker.CallTimeoutError({ breaker: counting, timeout: Duration.seconds(1) })))
        )
        expect(yield* calls(counting, "failure")).toBe(1)
        expect(yield* calls(counting, "timeout")).toBe(0)
        expect(yield* tag(other)).toBe("Open")
      }))

    it.scoped("the breaker's own callTimeout counts as a timeout whatever isFailure says", () =>
      Effect.gen(function*() {
        const name = uniqueName("timeout")
        const breaker = yield* CircuitBreaker.make({
          name,
          callTimeout: "1 second",
          trip: CircuitBreaker.consecutiveFailures(1),
          isFailure: () => false
        })
        const fiber = yield* Effect.fork(Effect.flip(breaker(Effect.never)))
        yield* TestClock.adjust("1 second")
        const error = yield* Fiber.join(fiber)
        expect(error).toBeInstanceOf(CircuitBreaker.CallTimeoutError)
        expect(yield* calls(name, "timeout")).toBe(1)
        expect(yield* tag(breaker)).toBe("Open")
        // the mark is invisible: the error prints and compares as before
        expect(Object.keys(error)).toEqual(
          Object.keys(new CircuitBreaker.CallTimeoutError({ breaker: name, timeout: Duration.seconds(1) }))
        )
        // re-raised through another breaker of the same name, it is that breaker's ordinary error
        const twin = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(1),
          isFailure: () => false
        })
        yield* Effect.flip(twin(Effect.fail(error)))
        expect(yield* tag(twin)).toBe("Closed")
      }))

    it.scoped("callTimeout: a call that answers at once runs before the caller's next step and sets no timer", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("timeout"), callTimeout: "1 second" })
        const before = Chunk.size(yield* TestClock.sleeps())
        for (let i = 0; i < 100; i++) {
          const order: Array<string> = []
          const other = yield* Effect.fork(Effect.sync(() => order.push("other")))
          yield* breaker(Effect.sync(() => order.push("call")))
          order.push("caller")
          // run on the caller's stack, not scheduled behind the fibers already waiting
          expect(order).toEqual(["call", "caller"])
          yield* Fiber.join(other)
        }
        // nothing for a TestClock to wake: no watchdog, no deadline
        expect(Chunk.size(yield* TestClock.sleeps())).toBe(before)
        // a call that suspends is watched: one timer, at its deadline
        const slow = yield* Effect.fork(breaker(Effect.sleep("100 millis")))
        yield* TestClock.adjust(0)
        const now = yield* TestClock.currentTimeMillis
        expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toContain(now + 1000)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(slow)
      }))

    it.scoped("callTimeout: the call is as interruptible as its caller", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("timeout"), callTimeout: "1 second" })
        const interruptible = yield* breaker(Effect.checkInterruptible(Effect.succeed))
        const masked = yield* Effect.uninterruptible(breaker(Effect.checkInterruptible(Effect.succeed)))
        expect([interruptible, masked]).toEqual([true, false])
      }))

    it.scoped("callTimeout keeps what the call did to its FiberRefs, like Effect.timeout", () =>
      Effect.gen(function*() {
        const ref = yield* FiberRef.make(0)
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("timeout"), callTimeout: "1 second" })
        yield* breaker(FiberRef.set(ref, 3))
        expect(yield* FiberRef.get(ref)).toBe(3)
        // and one that suspends first
        const later = yield* Effect.fork(
          Effect.zipRight(breaker(Effect.zipRight(Effect.sleep("10 millis"), FiberRef.set(ref, 5))), FiberRef.get(ref))
        )
        yield* TestClock.adjust("10 millis")
        expect(yield* Fiber.join(later)).toBe(5)
        yield* FiberRef.set(ref, 3)
        // a call that timed out was interrupted: nothing of it is kept
        const late = yield* Effect.fork(
          Effect.either(breaker(Effect.zipRight(Effect.sleep("2 seconds"), FiberRef.set(ref, 4))))
        )
        yield* TestClock.adjust("2 seconds")
        expect(Either.isLeft(yield* Fiber.join(late))).toBe(true)
        expect(yield* FiberRef.get(ref)).toBe(3)
      }))
  })

  describe("manual control", () => {
    it.scoped("a reset right after the tripping failure is not undone by the opening it decided", () =>
      Effect.gen(function*() {
        // A reset that lands between the tripping failure and its opening wins.
        // Sweeping maxOpsBeforeYield makes the calling fiber yield inside that gap.
        let landed = 0
        for (let maxOps = 10; maxOps <= 40; maxOps++) {
          const breaker = yield* CircuitBreaker.make({
            name: uniqueName("manual"),
            trip: CircuitBreaker.consecutiveFailures(1)
          })
          const call = yield* Effect.fork(
            Effect.either(breaker(boom)).pipe(Effect.locally(FiberRef.currentMaxOpsBeforeYield, maxOps))
          )
          let reset = false
          for (let i = 0; i < 200 && call.unsafePoll() === null; i++) {
            if (!reset && (yield* breaker.stats).failures === 1 && breaker.unsafeState()._tag === "Closed") {
              reset = true
              yield* breaker.reset
            }
            yield* Effect.yieldNow()
          }
          yield* Fiber.join(call)
          if (!reset) continue
          landed++
          expect([maxOps, yield* tag(breaker)]).toEqual([maxOps, "Closed"])
          // and it still opens on its next failure
          yield* Effect.either(breaker(boom))
          expect(yield* tag(breaker)).toBe("Open")
        }
        // at least one run landed the reset in that gap
        expect(landed).toBeGreaterThan(0)
      }))

    it.scoped("an opening lost to an interruption happens on the next call", () =>
      Effect.gen(function*() {
        let landed = 0
        for (let maxOps = 10; maxOps <= 40; maxOps++) {
          const name = uniqueName("manual")
          const breaker = yield* CircuitBreaker.make({
            name,
            trip: CircuitBreaker.failureRate({
              threshold: 0.5,
              minimumCalls: 2,
              window: CircuitBreaker.countWindow(10)
            })
          })
          yield* breaker(ok)
          const call = yield* Effect.fork(
            Effect.either(breaker(boom)).pipe(Effect.locally(FiberRef.currentMaxOpsBeforeYield, maxOps))
          )
          let interrupted = false
          for (let i = 0; i < 200 && call.unsafePoll() === null; i++) {
            if ((yield* breaker.stats).failures === 1 && breaker.unsafeState()._tag === "Closed") {
              interrupted = true
              yield* Fiber.interrupt(call)
              break
            }
            yield* Effect.yieldNow()
          }
          if (!interrupted || (yield* tag(breaker)) !== "Closed") continue
          landed++
          // the rate reached 1/2 with that failure: the next call opens it and is rejected
          const next = yield* Effect.flip(breaker(ok))
          expect([maxOps, next._tag]).toEqual([maxOps, "CircuitOpenError"])
          expect(yield* transitions(name, "closed", "open")).toBe(1)
        }
        expect(landed).toBeGreaterThan(0)
      }))

    it.scoped("forceOpen rejects everything with an infinite retryAfter until reset", () =>
      Effect.gen(function*() {
        const name = uniqueName("forced")
        const breaker = yield* CircuitBreaker.make({ name, reset: Schedule.spaced("1 second") })
        yield* breaker.forceOpen
        expect(yield* tag(breaker)).toBe("ForcedOpen")
        expect(yield* stateGauge(name)).toBe(1)
        yield* TestClock.adjust("1 hour")
        const error = yield* Effect.flip(breaker(ok))
        assert(error instanceof CircuitBreaker.CircuitOpenError)
        expect(Duration.isFinite(error.retryAfter)).toBe(false)
        yield* breaker.reset
        expect(yield* breaker(ok)).toBe("ok")
        expect(yield* tag(breaker)).toBe("Closed")
      }))

    it.scoped("forceOpen on an open breaker stops its half-open timer", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("forced"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("1 second")
        })
        yield* failN(breaker, 1)
        yield* breaker.forceOpen
        yield* TestClock.adjust("1 minute")
        expect(yield* tag(breaker)).toBe("ForcedOpen")
      }))

    it.scoped("disable lets everything through and only records metrics", () =>
      Effect.gen(function*() {
        const name = uniqueName("disabled")
        const breaker = yield* CircuitBreaker.make({ name, trip: CircuitBreaker.consecutiveFailures(1) })
        yield* breaker.disable
        yield* failN(breaker, 20)
        expect(yield* tag(breaker)).toBe("Disabled")
        expect(yield* failures(name)).toBe(20)
        expect(yield* stateGauge(name)).toBe(0)
        yield* breaker.reset
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("a breaker can start disabled", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("disabled"),
          trip: CircuitBreaker.consecutiveFailures(1),
          disabled: true
        })
        yield* failN(breaker, 5)
        expect(yield* tag(breaker)).toBe("Disabled")
      }))

    it.scoped("reset closes an open breaker and clears its counts", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("reset"),
          trip: CircuitBreaker.consecutiveFailures(2)
        })
        yield* failN(breaker, 2)
        yield* breaker.reset
        expect(yield* tag(breaker)).toBe("Closed")
        yield* failN(breaker, 1)
        expect(yield* tag(breaker)).toBe("Closed")
      }))
  })

  describe("changes", () => {
    it.scoped("streams every transition with `at` from the Clock", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("changes"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("10 seconds")
        })
        const fiber = yield* breaker.changes.pipe(Stream.take(5), Stream.runCollect, Effect.fork)
        yield* Effect.yieldNow()
        yield* TestClock.adjust("1 second")
        yield* failN(breaker, 1) // Closed → Open at 1 s
        yield* TestClock.adjust("10 seconds") // Open → HalfOpen at 11 s
        yield* breaker(ok) // HalfOpen → Closed at 11 s
        yield* breaker.forceOpen // Closed → ForcedOpen
        yield* breaker.disable // ForcedOpen → Disabled
        const changes = Chunk.toArray(yield* Fiber.join(fiber))
        expect(changes.map((c) => [c.from._tag, c.to._tag, c.at])).toEqual([
          ["Closed", "Open", 1_000],
          ["Open", "HalfOpen", 11_000],
          ["HalfOpen", "Closed", 11_000],
          ["Closed", "ForcedOpen", 11_000],
          ["ForcedOpen", "Disabled", 11_000]
        ])
      }))
  })

  describe("metrics", () => {
    it.scoped("every series exists from creation, at 0", () =>
      Effect.gen(function*() {
        const name = uniqueName("metrics")
        yield* CircuitBreaker.make({ name })
        const snapshot = yield* Metric.snapshot
        const series = snapshot.filter((pair) =>
          pair.metricKey.tags.some((t) => t.key === "breaker" && t.value === name)
        )
        const names = new Set(series.map((pair) => pair.metricKey.name))
        expect([...names].sort()).toEqual([
          "circuit_breaker_call_duration_seconds",
          "circuit_breaker_calls_total",
          "circuit_breaker_failures_total",
          "circuit_breaker_fallback_calls_total",
          "circuit_breaker_state",
          "circuit_breaker_transitions_total",
          "fallback_duration_seconds"
        ])
        for (const outcome of Metrics.callOutcomes) expect(yield* calls(name, outcome)).toBe(0)
        expect(yield* transitions(name, "closed", "open")).toBe(0)
        expect(yield* stateGauge(name)).toBe(0)
      }))

    it.scoped("counts calls by outcome, failures, transitions and durations", () =>
      Effect.gen(function*() {
        const name = uniqueName("metrics")
        const breaker = yield* CircuitBreaker.make({
          name,
          trip: CircuitBreaker.consecutiveFailures(2),
          reset: Schedule.spaced("5 seconds"),
          recordDurations: true
        })
        yield* breaker(ok)
        yield* failN(breaker, 2)
        yield* failN(breaker, 3) // rejected
        yield* TestClock.adjust("5 seconds")
        yield* breaker(ok)
        expect(yield* calls(name, "success")).toBe(2)
        expect(yield* calls(name, "failure")).toBe(2)
        expect(yield* calls(name, "rejected")).toBe(3)
        expect(yield* failures(name)).toBe(2)
        expect(yield* transitions(name, "closed", "open")).toBe(1)
        expect(yield* transitions(name, "open", "half_open")).toBe(1)
        expect(yield* transitions(name, "half_open", "closed")).toBe(1)
        const duration = yield* Metric.value(Metrics.breakerCallDuration.pipe(Metric.tagged("breaker", name)))
        expect(duration.count).toBe(4)
      }))
  })

  describe("recordDurations", () => {
    const durations = (name: string) => Metric.value(Metrics.breakerCallDuration.pipe(Metric.tagged("breaker", name)))

    it.scoped("off by default: the histogram stays at 0 and calls are still counted", () =>
      Effect.gen(function*() {
        const name = uniqueName("nodur")
        const breaker = yield* CircuitBreaker.make({ name })
        yield* breaker(ok).pipe(Effect.repeatN(2))
        yield* Effect.flip(breaker(boom))
        expect(yield* calls(name, "success")).toBe(3)
        expect(yield* calls(name, "failure")).toBe(1)
        expect((yield* durations(name)).count).toBe(0)
      }))

    it.scoped("true: every call, success or failure, is timed on the Clock", () =>
      Effect.gen(function*() {
        const name = uniqueName("dur")
        const breaker = yield* CircuitBreaker.make({ name, recordDurations: true })
        const slow = yield* Effect.fork(breaker(Effect.sleep("2 seconds")))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(slow)
        yield* Effect.flip(breaker(boom))
        const histogram = yield* durations(name)
        expect(histogram.count).toBe(2)
        expect(histogram.sum).toBe(2)
        expect(histogram.max).toBe(2)
      }))

    it.scoped("the untimed path still tells generations apart: a call admitted before a reset is not counted", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("nodur"),
          trip: CircuitBreaker.consecutiveFailures(2)
        })
        yield* Effect.flip(breaker(boom))
        // admitted in the old generation, fails after the reset
        const admitted = yield* Deferred.make<void>()
        const late = yield* Effect.fork(breaker(
          Effect.zipRight(Deferred.succeed(admitted, void 0), Effect.zipRight(Effect.sleep("1 second"), boom))
        ))
        yield* Deferred.await(admitted)
        yield* breaker.reset
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(Fiber.join(late))
        yield* Effect.flip(breaker(boom))
        // one failure since the reset: still closed
        expect(yield* tag(breaker)).toBe("Closed")
        yield* Effect.flip(breaker(boom))
        expect(yield* tag(breaker)).toBe("Open")
      }))

    it.scoped("still times calls when slowCall needs it", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("nodur"),
          recordDurations: false,
          trip: CircuitBreaker.failureRate({
            threshold: 1,
            minimumCalls: 2,
            window: CircuitBreaker.countWindow(2),
            slowCall: { duration: "1 second", threshold: 1 }
          })
        })
        for (let i = 0; i < 2; i++) {
          const fiber = yield* Effect.fork(breaker(Effect.sleep("2 seconds")))
          yield* TestClock.adjust("2 seconds")
          yield* Fiber.join(fiber)
        }
        expect(yield* tag(breaker)).toBe("Open")
      }))
  })

  describe("scope", () => {
    it.effect("closing the scope leaves no fiber running", () =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        const scope = yield* Scope.make()
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("scope"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("1 minute"),
          callTimeout: "5 seconds"
        }).pipe(Scope.extend(scope), Effect.supervised(supervisor))
        // a timed call starts the timeout watchdog; the failure starts the half-open timer
        yield* failN(breaker, 1).pipe(Effect.supervised(supervisor))
        const running = yield* supervisor.value
        expect(running.length).toBeGreaterThan(0)
        yield* Scope.close(scope, Exit.void)
        const after = yield* supervisor.value
        expect(after.length).toBe(0)
      }))
  })

  describe("bad input", () => {
    const dies = (options: CircuitBreaker.Options, option: string) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(CircuitBreaker.make(options)))
        assert(Exit.isFailure(exit))
        const defect = Cause.dieOption(exit.cause)
        assert(defect._tag === "Some")
        assert(defect.value instanceof InvalidOptionError)
        expect(defect.value.module).toBe("CircuitBreaker.make")
        expect(defect.value.option).toBe(option)
        expect(defect.value.message).toContain(option)
      })

    it.effect("names the invalid option", () =>
      Effect.gen(function*() {
        yield* dies({ name: "" }, "name")
        yield* dies({ name: "x", trip: CircuitBreaker.consecutiveFailures(0) }, "trip.threshold")
        yield* dies({ name: "x", trip: CircuitBreaker.consecutiveFailures(1.5) }, "trip.threshold")
        const window = CircuitBreaker.countWindow(10)
        yield* dies(
          { name: "x", trip: CircuitBreaker.failureRate({ threshold: 0, minimumCalls: 1, window }) },
          "trip.threshold"
        )
        yield* dies(
          { name: "x", trip: CircuitBreaker.failureRate({ threshold: 1.1, minimumCalls: 1, window }) },
          "trip.threshold"
        )
        yield* dies(
          { name: "x", trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 0, window }) },
          "trip.minimumCalls"
        )
        yield* dies(
          { name: "x", trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 11, window }) },
          "trip.minimumCalls"
        )
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 1, window: CircuitBreaker.countWindow(0) })
        }, "trip.window.size")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 1, window: CircuitBreaker.timeWindow(0) })
        }, "trip.window.duration")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window: CircuitBreaker.timeWindow("1 minute", 0)
          })
        }, "trip.window.buckets")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window,
            slowCall: { duration: 1, threshold: 2 }
          })
        }, "trip.slowCall.threshold")
        yield* dies({ name: "x", halfOpen: { permits: 0 } }, "halfOpen.permits")
        yield* dies({ name: "x", halfOpen: { successesToClose: -1 } }, "halfOpen.successesToClose")
        yield* dies({ name: "x", callTimeout: 0 }, "callTimeout")
        yield* dies({ name: "x", callTimeout: "soon" as never }, "callTimeout")
        yield* dies({ name: "x", reset: "30 seconds" as never }, "reset")
      }))
  })

  describe("exports", () => {
    it("one TypeId: the one every breaker carries", () =>
      Effect.runSync(Effect.scoped(Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("exports") })
        expect(breaker[CircuitBreaker.TypeId]).toBe(CircuitBreaker.TypeId)
        expect(CircuitBreaker.isCircuitBreaker(breaker)).toBe(true)
        expect(CircuitBreaker.isCircuitBreaker(() => undefined)).toBe(false)
      }))))

    it("InvalidOptionError has one home, at the top level", () => {
      expect("InvalidOptionError" in CircuitBreaker).toBe(false)
      // @ts-expect-error not exported by CircuitBreaker
      void CircuitBreaker.InvalidOptionError
    })

    it("Metrics exports the metrics, not the hooks that write the global registry behind Effect.tagMetrics", () => {
      for (const name of ["unsafeHook", "keys", "breakerLabels"]) expect(Object.keys(Metrics)).not.toContain(name)
      // @ts-expect-error internal
      void Metrics.unsafeHook
      // @ts-expect-error internal
      void Metrics.keys
      // @ts-expect-error internal
      void Metrics.breakerLabels
    })

    it("Unavailable is CircuitBreaker.Unavailable only", () => {
      type Unavailable = CircuitBreaker.Unavailable
      const unavailable: Unavailable = new CircuitBreaker.CircuitOpenError({ breaker: "x", retryAfter: Duration.zero })
      expect(unavailable._tag).toBe("CircuitOpenError")
      // @ts-expect-error gone: CircuitBreaker.Unavailable is the one name
      const fromDependency: Dependency.Unavailable = unavailable
      // @ts-expect-error gone from the top level too
      const topLevel: Core.Unavailable = unavailable
      expect([fromDependency, topLevel]).toEqual([unavailable, unavailable])
    })
  })
})
