import { CircuitBreaker, InvalidOptionError } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const boom = Effect.fail("boom" as const)

const tag = (breaker: CircuitBreaker.CircuitBreaker) => breaker.state.pipe(Effect.map((s) => s._tag))

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** Runs `effect` with a logger that keeps every line. */
const capturingLogs = <A, E, R>(effect: (lines: ReadonlyArray<Line>) => Effect.Effect<A, E, R>) => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({
      level: logLevel.label,
      message: text,
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return effect(lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

/**
 * A `Clock` whose wall time (`currentTimeMillis`) can be stepped while its
 * monotonic time (`currentTimeNanos`) and its sleeps follow the `TestClock`.
 */
const steppableWallClock = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const offset = { millis: 0 }
  const stepped: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + offset.millis,
    unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
    currentTimeMillis: Effect.sync(() => clock.unsafeCurrentTimeMillis() + offset.millis),
    currentTimeNanos: clock.currentTimeNanos,
    sleep: (duration) => clock.sleep(duration)
  }
  return { clock: stepped, offset }
})

describe("CircuitBreaker reliability", () => {
  describe("callTimeout bounds the caller's wait", () => {
    it.scoped("a call stuck in an uninterruptible region times out at its deadline; its late result is discarded", () =>
      Effect.gen(function*() {
        const name = uniqueName("stuck")
        const breaker = yield* CircuitBreaker.make({ name, callTimeout: "1 second" })
        const finished = yield* Deferred.make<string>()
        const call = Effect.uninterruptible(
          Effect.sleep("60 seconds").pipe(Effect.zipRight(Deferred.succeed(finished, "late")), Effect.as("late"))
        )
        const caller = yield* Effect.fork(Effect.exit(breaker(call)))
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.join(caller)
        assert(Exit.isFailure(exit))
        const error = Cause.failureOption(exit.cause)
        assert(Option.isSome(error) && error.value instanceof CircuitBreaker.CallTimeoutError)
        // The call goes on in the background and ends on its own; nobody sees its result.
        expect(yield* Deferred.isDone(finished)).toBe(false)
        yield* TestClock.adjust("59 seconds")
        expect(yield* Deferred.await(finished)).toBe("late")
      }))

    it.scoped("the caller's fiber ends at the deadline, not when the stuck call does", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("stuck"), callTimeout: "1 second" })
        // The call would hold its parent's exit were it a child fiber.
        const caller = yield* Effect.fork(Effect.either(breaker(Effect.uninterruptible(Effect.sleep("60 seconds")))))
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.await(caller)
        assert(Exit.isSuccess(exit))
        expect(exit.value._tag).toBe("Left")
      }))

    it.scoped("an interrupted caller does not wait for a stuck call", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("stuck"), callTimeout: "10 seconds" })
        const started = yield* Deferred.make<void>()
        const caller = yield* Effect.fork(
          breaker(
            Effect.uninterruptible(Effect.zipRight(Deferred.succeed(started, undefined), Effect.sleep("60 seconds")))
          )
        )
        yield* Deferred.await(started)
        const exit = yield* Fiber.interrupt(caller)
        expect(Exit.isInterrupted(exit)).toBe(true)
      }))

    it.scoped("a timeout counts as a failure and trips the breaker even when the call ignores interruption", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("stuck"),
          trip: CircuitBreaker.consecutiveFailures(2),
          callTimeout: "1 second"
        })
        const stuck = Effect.uninterruptible(Effect.sleep("1 hour"))
        const callers = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.either(breaker(stuck))))
        yield* TestClock.adjust("1 second")
        for (const caller of callers) expect((yield* Fiber.join(caller))._tag).toBe("Left")
        expect(yield* tag(breaker)).toBe("Open")
      }))
  })

  describe("deadlines don't move with the wall clock", () => {
    it.scoped("a step back of the wall clock does not stretch a timeout", () =>
      Effect.gen(function*() {
        const { clock, offset } = yield* steppableWallClock
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("wall"), callTimeout: "500 millis" }).pipe(
          Effect.withClock(clock)
        )
        const caller = yield* Effect.fork(Effect.either(breaker(Effect.never)))
        yield* TestClock.adjust("10 millis")
        offset.millis = -5_000
        yield* TestClock.adjust("490 millis")
        const result = yield* Fiber.join(caller).pipe(Effect.timeout("1 millis"), Effect.fork)
        yield* TestClock.adjust("1 millis")
        const joined = yield* Fiber.join(result)
        expect(joined._tag).toBe("Left")
      }))

    it.scoped("a step forward of the wall clock does not shorten a timeout", () =>
      Effect.gen(function*() {
        const { clock, offset } = yield* steppableWallClock
        const breaker = yield* CircuitBreaker.make({ name: uniqueName("wall"), callTimeout: "500 millis" }).pipe(
          Effect.withClock(clock)
        )
        // The watchdog sleeps until the first call's deadline (t = 500) and then
        // looks at the second call's (t = 550), after the wall clock jumped 10 s.
        yield* Effect.fork(breaker(Effect.sleep("100 millis")))
        yield* TestClock.adjust("50 millis")
        const second = yield* Effect.fork(breaker(Effect.sleep("480 millis").pipe(Effect.as("in time"))))
        yield* TestClock.adjust("10 millis")
        offset.millis = 10_000
        yield* TestClock.adjust("470 millis")
        expect(yield* Fiber.join(second)).toBe("in time")
      }))
  })

  describe("transitions arrive in order", () => {
    for (
      const [label, reset] of [
        ["Schedule.spaced(0)", Schedule.spaced(0)],
        ["Schedule.once", Schedule.once]
      ] as const
    ) {
      it.scoped(`with a zero reset delay (${label}) Closed → Open comes before Open → HalfOpen`, () =>
        Effect.gen(function*() {
          const breaker = yield* CircuitBreaker.make({
            name: uniqueName("order"),
            trip: CircuitBreaker.consecutiveFailures(1),
            reset
          })
          const seen: Array<string> = []
          yield* breaker.onChange((change) => {
            seen.push(`${change.from._tag}→${change.to._tag}`)
            // A listener that reads the state while being told of a transition.
            void breaker.unsafeState()
          })
          const streamed: Array<string> = []
          yield* breaker.changes.pipe(
            Stream.runForEach((c) => Effect.sync(() => streamed.push(`${c.from._tag}→${c.to._tag}`))),
            Effect.fork
          )
          // The stream subscribes when it starts: wait until it sees transitions.
          while (streamed.length === 0) {
            yield* breaker.disable
            yield* breaker.reset
            yield* Effect.yieldNow()
          }
          streamed.length = 0
          seen.length = 0
          yield* Effect.either(breaker(boom))
          yield* TestClock.adjust(0)
          expect(seen).toEqual(["Closed→Open", "Open→HalfOpen"])
          expect(streamed).toEqual(["Closed→Open", "Open→HalfOpen"])
          expect(yield* tag(breaker)).toBe("HalfOpen")
        }))
    }
  })

  describe("state reads and listeners", () => {
    it.scoped("reading the state never changes it: the timer half-opens the breaker", () =>
      Effect.gen(function*() {
        const clock = yield* Effect.clock
        const offset = { millis: 0 }
        // Time moves, but sleeps never end: only a call can half-open the breaker.
        const frozenTimers: Clock.Clock = {
          ...clock,
          [Clock.ClockTypeId]: Clock.ClockTypeId,
          unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + offset.millis,
          currentTimeMillis: Effect.sync(() => clock.unsafeCurrentTimeMillis() + offset.millis),
          sleep: () => Effect.never
        }
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("pure"),
          trip: CircuitBreaker.consecutiveFailures(1),
          reset: Schedule.spaced("1 second")
        }).pipe(Effect.withClock(frozenTimers))
        yield* Effect.either(breaker(boom))
        offset.millis = 5_000
        expect(yield* tag(breaker)).toBe("Open")
        expect(breaker.unsafeState()._tag).toBe("Open")
        expect((yield* breaker.stats).state._tag).toBe("Open")
        // A call past the delay probes.
        expect(yield* breaker(Effect.succeed(1))).toBe(1)
        expect(yield* tag(breaker)).toBe("Closed")
      }))

    it.scoped("an Effect returned by an onChange listener runs before the tripping call returns", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("listener"),
          trip: CircuitBreaker.consecutiveFailures(1)
        })
        const seen = yield* Ref.make<Array<string>>([])
        yield* breaker.onChange((change) => Ref.update(seen, (xs) => [...xs, change.to._tag]))
        // A failing listener Effect does not stop the others, nor the breaker.
        yield* breaker.onChange(() => Effect.die("listener bug"))
        yield* breaker.onChange((change) => Ref.update(seen, (xs) => [...xs, `second ${change.to._tag}`]))
        yield* Effect.either(breaker(boom))
        expect(yield* Ref.get(seen)).toEqual(["Open", "second Open"])
        yield* breaker.reset
        expect(yield* Ref.get(seen)).toEqual(["Open", "second Open", "Closed", "second Closed"])
      }))
  })

  describe("transitions are logged", () => {
    it.scoped("opening at warning with the error that tripped it; half-open and close at info; annotated", () =>
      capturingLogs((lines) =>
        Effect.gen(function*() {
          const name = uniqueName("logged")
          const breaker = yield* CircuitBreaker.make({
            name,
            trip: CircuitBreaker.consecutiveFailures(1),
            reset: Schedule.spaced("1 second")
          })
          yield* Effect.either(breaker(Effect.fail(new Error("ECONNREFUSED 127.0.0.1:6379"))))
          yield* TestClock.adjust("1 second")
          yield* breaker(Effect.void)
          const mine = lines.filter((line) => line.annotations.breaker === name)
          expect(mine.map((line) => [line.level, line.annotations.from, line.annotations.to])).toEqual([
            ["WARN", "closed", "open"],
            ["INFO", "open", "half_open"],
            ["INFO", "half_open", "closed"]
          ])
          expect(mine[0]!.message).toBe(`Circuit breaker ${name}: Closed → Open (ECONNREFUSED 127.0.0.1:6379)`)
          expect(mine[1]!.message).toBe(`Circuit breaker ${name}: Open → HalfOpen`)
        })
      ))
  })

  describe("the reset schedule", () => {
    it.effect("an infinite first delay is an InvalidOptionError naming reset", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Effect.scoped(CircuitBreaker.make({ name: uniqueName("inf"), reset: Schedule.spaced(Duration.infinity) }))
        )
        assert(Exit.isFailure(exit))
        const defect = Cause.dieOption(exit.cause)
        assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError)
        expect(defect.value.option).toBe("reset")
        expect(defect.value.message).toContain("forceOpen")
      }))

    it.scoped("a schedule that fails to step is a loud error, and the breaker still half-opens", () =>
      capturingLogs((lines) =>
        Effect.gen(function*() {
          const name = uniqueName("failing-schedule")
          let steps = 0
          // Steps once (the check at construction), then fails.
          const flaky = Schedule.spaced("1 second").pipe(
            Schedule.checkEffect(() => steps++ === 0 ? Effect.succeed(true) : Effect.die("schedule bug"))
          ) as Schedule.Schedule<unknown, unknown>
          const breaker = yield* CircuitBreaker.make({
            name,
            trip: CircuitBreaker.consecutiveFailures(1),
            reset: flaky
          })
          yield* Effect.either(breaker(boom))
          expect(yield* tag(breaker)).toBe("Open")
          const error = lines.find((line) => line.level === "ERROR")
          assert(error !== undefined)
          expect(error.message).toContain(name)
          expect(error.message).toContain("reset schedule failed")
          yield* TestClock.adjust("1 second")
          expect(yield* tag(breaker)).toBe("HalfOpen")
        })
      ))
  })

  describe("bad input names the field", () => {
    const dies = (options: unknown, option: string) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(CircuitBreaker.make(options as CircuitBreaker.Options)))
        assert(Exit.isFailure(exit), `${option}: must be rejected`)
        const defect = Cause.dieOption(exit.cause)
        assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError, `${option}: a defect`)
        expect(defect.value.option).toBe(option)
        expect(defect.value.module).toBe("CircuitBreaker.make")
      })
    const window = CircuitBreaker.countWindow(10)

    it.effect("trip policies", () =>
      Effect.gen(function*() {
        yield* dies({ name: "x", trip: 5 }, "trip")
        yield* dies({ name: "x", trip: { _tag: "Foo" } }, "trip")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 1, window: 3 as never })
        }, "trip.window")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window,
            slowCall: { duration: -5, threshold: 0.5 }
          })
        }, "trip.slowCall.duration")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window,
            slowCall: { duration: NaN, threshold: 0.5 }
          })
        }, "trip.slowCall.duration")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window: CircuitBreaker.countWindow(2 ** 31)
          })
        }, "trip.window.size")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 1, window: CircuitBreaker.timeWindow(NaN) })
        }, "trip.window.duration")
        yield* dies({
          name: "x",
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 1,
            window: CircuitBreaker.timeWindow("abc" as never)
          })
        }, "trip.window.duration")
      }))

    it.effect("the other options", () =>
      Effect.gen(function*() {
        yield* dies(null, "options")
        yield* dies({ name: 3 }, "name")
        yield* dies({ name: "x", disabled: "yes" }, "disabled")
        yield* dies({ name: "x", recordDurations: 1 }, "recordDurations")
        yield* dies({ name: "x", isFailure: true }, "isFailure")
        yield* dies({ name: "x", callTimeout: NaN }, "callTimeout")
        yield* dies({ name: "x", callTimeout: -1 }, "callTimeout")
        yield* dies({ name: "x", callTimeout: Duration.days(30) }, "callTimeout")
        yield* dies({ name: "x", halfOpen: { permits: 2.5 } }, "halfOpen.permits")
      }))

    it.effect("a slow-call duration of zero is valid: every call is slow", () =>
      Effect.scoped(Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("slow0"),
          trip: CircuitBreaker.failureRate({
            threshold: 1,
            minimumCalls: 2,
            window,
            slowCall: { duration: 0, threshold: 1 }
          })
        })
        yield* breaker(Effect.void)
        yield* breaker(Effect.void)
        expect(yield* tag(breaker)).toBe("Open")
      })))
  })
})
