import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  InvalidOptionError,
  Metrics,
  Retry,
  RetryBudget
} from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { makeRetrier } from "../src/internal/retry.js"
import { uniqueName } from "./utils.js"

class Transient extends Data.TaggedError("Transient")<{ readonly n: number }> {}
class BadRequest extends Data.TaggedError("BadRequest")<{}> {}
class Busy extends Data.TaggedError("Busy")<{ readonly millis: number }> {}
/** The shape of the bulkhead's rejection: recognised by its tag. */
class BulkheadFullError extends Data.TaggedError("BulkheadFullError")<{ readonly bulkhead: string }> {}

const outcome = (dependency: string, outcome: Metrics.RetryOutcome) =>
  Metric.value(
    Metrics.retryCalls.pipe(Metric.tagged("dependency", dependency), Metric.tagged("outcome", outcome))
  ).pipe(Effect.map((s) => s.count))

const attempts = (dependency: string) =>
  Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", dependency))).pipe(Effect.map((s) => s.count))

/** Every outcome of `dependency`, by label. */
const outcomes = (dependency: string) =>
  Effect.all(
    Object.fromEntries(Metrics.retryOutcomes.map((o) => [o, outcome(dependency, o)])) as {
      readonly [K in Metrics.RetryOutcome]: Effect.Effect<number>
    }
  )

/** An effect that answers from `script`, one entry per attempt, recording the instant of each. */
const scripted = <E>(script: ReadonlyArray<E | "ok">) => {
  const at: Array<number> = []
  const effect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const step = script[at.length] ?? script[script.length - 1]!
    at.push(now)
    return step === "ok" ? Effect.succeed("ok" as const) : Effect.fail(step as E)
  })
  return { effect, at }
}

const squashed = <A, E>(exit: Exit.Exit<A, E>) => Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe("Retry", () => {
  it.effect("every series of a policy's name exists at 0 from its creation", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-series")
      Retry.policy({ schedule: Schedule.recurs(1), name })
      expect(yield* outcomes(name)).toEqual({
        first_try: 0,
        after_retry: 0,
        gave_up: 0,
        budget_exhausted: 0,
        stopped_open: 0
      })
      expect(yield* attempts(name)).toBe(0)
    }))

  it.effect("a first try that succeeds counts first_try and no attempt", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-first")
      const policy = Retry.policy({ schedule: Schedule.recurs(3), name })
      const call = scripted<Transient>(["ok"])
      expect(yield* Retry.retry(call.effect, policy)).toBe("ok")
      expect(call.at).toEqual([0])
      expect((yield* outcomes(name)).first_try).toBe(1)
      expect(yield* attempts(name)).toBe(0)
    }))

  it.effect("a call that succeeds after retrying counts after_retry and one attempt per retry", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-after")
      const policy = Retry.policy({ schedule: Schedule.recurs(5), name })
      const call = scripted([new Transient({ n: 1 }), new Transient({ n: 2 }), "ok"])
      expect(yield* call.effect.pipe(Retry.retry(policy))).toBe("ok")
      expect(call.at).toHaveLength(3)
      expect(yield* outcomes(name)).toMatchObject({ first_try: 0, after_retry: 1, gave_up: 0 })
      expect(yield* attempts(name)).toBe(2)
    }))

  it.effect("the schedule is stepped once per retry with the error, and its delays are waited exactly", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-schedule")
      const inputs: Array<number> = []
      const schedule = Schedule.exponential("100 millis").pipe(
        Schedule.intersect(Schedule.recurs(3)),
        Schedule.tapInput((error: Transient) => Effect.sync(() => inputs.push(error.n)))
      )
      const policy = Retry.policy({ schedule, name })
      const call = scripted([1, 2, 3, 4, 5].map((n) => new Transient({ n })))
      const fiber = yield* Effect.fork(Retry.retry(call.effect, policy))
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(fiber)
      // 100, 200, 400 ms of back-off; the fourth step says the schedule is done.
      expect(call.at).toEqual([0, 100, 300, 700])
      expect(inputs).toEqual([1, 2, 3, 4])
      // The call fails with its last error.
      expect(squashed(exit)).toEqual(new Transient({ n: 4 }))
      expect(yield* outcomes(name)).toMatchObject({ gave_up: 1, after_retry: 0 })
      expect(yield* attempts(name)).toBe(3)
    }))

  describe("Retry-After", () => {
    const serverDelay = (error: Busy | Transient) =>
      error._tag === "Busy" ? Option.some(Duration.millis(error.millis)) : Option.none()

    it.effect("no attempt before the delay the server asked for, and one at that instant", () =>
      Effect.gen(function*() {
        const policy = Retry.policy({ schedule: Schedule.spaced("100 millis"), retryAfter: serverDelay })
        const call = scripted<Busy>([new Busy({ millis: 1500 }), "ok"])
        const fiber = yield* Effect.fork(Retry.retry(call.effect, policy))
        yield* TestClock.adjust("1499 millis")
        expect(call.at).toEqual([0])
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(fiber)).toBe("ok")
        expect(call.at).toEqual([0, 1500])
      }))

    it.effect("the schedule's delay wins when it is longer", () =>
      Effect.gen(function*() {
        const policy = Retry.policy({ schedule: Schedule.spaced("2 seconds"), retryAfter: serverDelay })
        const call = scripted<Busy>([new Busy({ millis: 500 }), "ok"])
        const fiber = yield* Effect.fork(Retry.retry(call.effect, policy))
        yield* TestClock.adjust("1999 millis")
        expect(call.at).toEqual([0])
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(fiber)
        expect(call.at).toEqual([0, 2000])
      }))

    it.effect("an HTTP date is read against the Clock", () =>
      Effect.gen(function*() {
        const start = Date.parse("2026-03-01T12:00:00Z")
        yield* TestClock.setTime(start)
        const retryAfter = new Date(start + 3000).toUTCString()
        const policy = Retry.policy({
          schedule: Schedule.spaced("10 millis"),
          retryAfter: (_: Transient, now) => Retry.retryAfterFromHeaders({ "retry-after": retryAfter }, now)
        })
        const call = scripted<Transient>([new Transient({ n: 1 }), "ok"])
        const fiber = yield* Effect.fork(Retry.retry(call.effect, policy))
        yield* TestClock.adjust("2999 millis")
        expect(call.at).toEqual([start])
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(fiber)
        expect(call.at).toEqual([start, start + 3000])
      }))

    it.effect("a delay above maxRetryAfter ends the retries at once with that error (gave_up)", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-max")
        const policy = Retry.policy({
          schedule: Schedule.spaced("10 millis"),
          retryAfter: serverDelay,
          maxRetryAfter: "2 seconds",
          name
        })
        const call = scripted<Busy>([new Busy({ millis: 5000 }), "ok"])
        // No clock adjusted: it ends without waiting.
        const exit = yield* Effect.exit(Retry.retry(call.effect, policy))
        expect(squashed(exit)).toEqual(new Busy({ millis: 5000 }))
        expect(call.at).toEqual([0])
        expect((yield* outcomes(name)).gave_up).toBe(1)
        expect(yield* attempts(name)).toBe(0)
      }))
  })

  describe("Retry-After readers", () => {
    const now = Date.parse("2026-03-01T12:00:00Z")
    const millis = (o: Option.Option<Duration.Duration>) => Option.getOrUndefined(Option.map(o, Duration.toMillis))

    it("headers: milliseconds first, then seconds or an HTTP date; anything else says nothing", () => {
      const read = (headers: unknown) => millis(Retry.retryAfterFromHeaders(headers, now))
      expect(read({ "retry-after-ms": "1500", "retry-after": "9" })).toBe(1500)
      expect(read({ "x-amz-retry-after": "250" })).toBe(250)
      expect(read({ "Retry-After": "2" })).toBe(2000)
      expect(read({ "retry-after": ["1.5", "9"] })).toBe(1500)
      expect(read(new Headers({ "retry-after": "3" }))).toBe(3000)
      expect(read({ "retry-after": new Date(now + 4000).toUTCString() })).toBe(4000)
      // A date already past asks for no wait.
      expect(read({ "retry-after": new Date(now - 4000).toUTCString() })).toBe(0)
      for (const junk of ["2abc", "-1", "", "soon", "1e3"]) expect(read({ "retry-after": junk }), junk).toBeUndefined()
      expect(read({ "retry-after-ms": "fast", "retry-after": "1" })).toBe(1000)
      expect(read(undefined)).toBeUndefined()
      expect(read("retry-after: 1")).toBeUndefined()
    })

    it("errors: each client's shape, along the cause chain", () => {
      const openai = { status: 429, headers: new Headers({ "retry-after-ms": "20" }) }
      const aws = { name: "SlowDown", $response: { statusCode: 503, headers: { "retry-after": "1" } } }
      const platform = { _tag: "ResponseError", response: { status: 429, headers: { "retry-after": "2" } } }
      expect(millis(Retry.retryAfterOpenAI(new Error("wrapped", { cause: openai }), now))).toBe(20)
      expect(millis(Retry.retryAfterS3(aws, now))).toBe(1000)
      expect(millis(Retry.retryAfterHttpClient(platform, now))).toBe(2000)
      expect(millis(Retry.retryAfterOpenAI(aws, now))).toBeUndefined()
      // The outermost error that says something decides.
      expect(millis(Retry.retryAfterFromError({ ...platform, cause: openai }, now))).toBe(2000)
      const throwing = Object.defineProperty({ status: 429 }, "headers", {
        get() {
          throw new Error("getter")
        }
      })
      expect(millis(Retry.retryAfterFromError(throwing, now))).toBeUndefined()
    })
  })

  describe("with a budget", () => {
    it.effect("the token is taken before the delay; with none left the call fails at once with its last error", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-budget")
        // One token: 0.1 retry/s over a 10 s window, none earned from traffic.
        const budget = yield* RetryBudget.make({ ratio: 0, minPerSecond: 0.1, window: "10 seconds" })
        const policy = Retry.policy({ schedule: Schedule.spaced("1 second"), budget, name })
        const a = scripted([new Transient({ n: 1 }), new Transient({ n: 2 })])
        const b = scripted([new Transient({ n: 10 }), "ok"])
        // Opened by `a`'s first attempt; `a` goes on to take the token and sleep before this fiber resumes.
        const attempted = yield* Deferred.make<void>()
        const first = yield* Effect.fork(
          Retry.retry(Effect.ensuring(a.effect, Deferred.succeed(attempted, void 0)), policy)
        )
        yield* Deferred.await(attempted)
        expect(yield* budget.available).toBe(0)
        // `a` holds the only token while it waits: `b` fails at once, with the error it got.
        const second = yield* Effect.exit(Retry.retry(b.effect, policy))
        expect(squashed(second)).toEqual(new Transient({ n: 10 }))
        expect(b.at).toEqual([0])
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.await(first)
        expect(a.at).toEqual([0, 1000])
        expect(squashed(exit)).toEqual(new Transient({ n: 2 }))
        expect(yield* outcomes(name)).toMatchObject({ budget_exhausted: 2, gave_up: 0 })
        expect(yield* attempts(name)).toBe(1)
      }).pipe(Effect.scoped))

    it.effect("policies given the same budget share its tokens", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ ratio: 0, minPerSecond: 0.2, window: "10 seconds" })
        const one = Retry.policy({ schedule: Schedule.recurs(5), budget })
        const other = Retry.policy({ schedule: Schedule.recurs(5), budget })
        const a = scripted([new Transient({ n: 1 })])
        const b = scripted([new Transient({ n: 1 })])
        yield* Effect.exit(Retry.retry(a.effect, one))
        yield* Effect.exit(Retry.retry(b.effect, other))
        // Two tokens in all: three attempts across both calls.
        expect(a.at.length + b.at.length).toBe(4)
        expect(yield* budget.available).toBe(0)
      }).pipe(Effect.scoped))
  })

  describe("never retried", () => {
    it.effect("CircuitOpenError: an opening breaker ends the retries at once (stopped_open)", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-open")
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("retry-open-breaker"),
          trip: CircuitBreaker.consecutiveFailures(2),
          reset: Schedule.spaced("1 minute")
        })
        const policy = Retry.policy({ schedule: Schedule.recurs(10), name })
        const call = scripted([new Transient({ n: 1 })])
        const exit = yield* Effect.exit(Retry.retry(breaker(call.effect), policy))
        // Two attempts open the breaker; the third is rejected and is the last.
        expect(call.at).toHaveLength(2)
        assert(Exit.isFailure(exit))
        expect(Cause.squash(exit.cause)).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
        expect(yield* attempts(name)).toBe(2)
        // While it is open: zero retries, and the call never runs.
        yield* Effect.exit(Retry.retry(breaker(call.effect), policy))
        expect(call.at).toHaveLength(2)
        expect(yield* attempts(name)).toBe(2)
        expect(yield* outcomes(name)).toMatchObject({ stopped_open: 2, gave_up: 0 })
      }).pipe(Effect.scoped))

    it.effect("BulkheadFullError", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-bulkhead")
        const call = scripted([new BulkheadFullError({ bulkhead: "db" })])
        const exit = yield* Effect.exit(Retry.retry(call.effect, Retry.policy({ schedule: Schedule.recurs(3), name })))
        expect(squashed(exit)).toEqual(new BulkheadFullError({ bulkhead: "db" }))
        expect(call.at).toHaveLength(1)
        expect((yield* outcomes(name)).gave_up).toBe(1)
      }))

    it.effect("what `while` refuses (the caller's fault, outside a Dependency)", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-while")
        const policy = Retry.policy({
          schedule: Schedule.recurs(3),
          while: (error: Transient | BadRequest) => error._tag !== "BadRequest",
          name
        })
        const refused = scripted([new BadRequest()])
        const exit = yield* Effect.exit(Retry.retry(refused.effect, policy))
        expect(squashed(exit)).toEqual(new BadRequest())
        expect(refused.at).toHaveLength(1)
        // A transient failure that turns into a rejection stops there too.
        const turned = scripted<Transient | BadRequest>([new Transient({ n: 1 }), new BadRequest(), "ok"])
        yield* Effect.exit(Retry.retry(turned.effect, policy))
        expect(turned.at).toHaveLength(2)
        expect(yield* outcomes(name)).toMatchObject({ gave_up: 2, after_retry: 0 })
      }))

    it.effect("rejections the dependency tells apart, under the dependency's name", () =>
      Effect.gen(function*() {
        const dependency = uniqueName("retry-dependency")
        const policy = Retry.policy({ schedule: Schedule.recurs(3), name: "ignored-inside-a-dependency" })
        const retrier = yield* makeRetrier(policy, {
          dependency,
          isRejection: (error) => error instanceof BadRequest
        })
        // The dependency's series exist from the retrier's creation.
        expect(yield* outcomes(dependency)).toMatchObject({ first_try: 0, gave_up: 0 })
        const refused = scripted([new BadRequest()])
        yield* Effect.exit(retrier.run(refused.effect))
        expect(refused.at).toHaveLength(1)
        const flaky = scripted([new Transient({ n: 1 }), "ok"])
        yield* retrier.run(flaky.effect)
        expect(flaky.at).toHaveLength(2)
        expect(yield* outcomes(dependency)).toMatchObject({ gave_up: 1, after_retry: 1 })
      }))

    it.effect("defects", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-defect")
        let runs = 0
        const bug = Effect.suspend(() => {
          runs++
          return Effect.die(new Error("bug"))
        })
        const exit = yield* Effect.exit(Retry.retry(bug, Retry.policy({ schedule: Schedule.recurs(3), name })))
        assert(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        expect(runs).toBe(1)
        expect((yield* outcomes(name)).gave_up).toBe(1)
      }))
  })

  describe("degradation", () => {
    const withLevel = (level: DegradationLevel.DegradationLevel) =>
      Effect.gen(function*() {
        const degradation = yield* Degradation.make({ recoveryInterval: "1 hour" })
        yield* degradation.force(level, "test")
        return degradation
      })

    it.effect("from disableFrom (default Limited) on, no retries; below it, retries", () =>
      Effect.gen(function*() {
        const name = uniqueName("retry-level")
        const policy = Retry.policy({ schedule: Schedule.recurs(3), name })
        for (const [level, runs] of [[DegradationLevel.Degraded(), 2], [DegradationLevel.Limited(), 1]] as const) {
          const degradation = yield* withLevel(level)
          const call = scripted<Transient>([new Transient({ n: 1 }), "ok"])
          yield* Effect.exit(Effect.provideService(Retry.retry(call.effect, policy), Degradation, degradation))
          expect(call.at, level._tag).toHaveLength(runs)
        }
        const strict = Retry.policy({ schedule: Schedule.recurs(3), disableFrom: DegradationLevel.Degraded() })
        const call = scripted<Transient>([new Transient({ n: 1 }), "ok"])
        const degraded = yield* withLevel(DegradationLevel.Degraded())
        yield* Effect.exit(Effect.provideService(Retry.retry(call.effect, strict), Degradation, degraded))
        expect(call.at).toHaveLength(1)
        expect(yield* outcomes(name)).toMatchObject({ after_retry: 1, gave_up: 1 })
      }).pipe(Effect.scoped))

    it.effect("the level is read at every retry decision", () =>
      Effect.gen(function*() {
        const degradation = yield* withLevel(DegradationLevel.Optimal())
        const policy = Retry.policy({ schedule: Schedule.spaced("1 second") })
        const call = scripted([new Transient({ n: 1 })])
        const fiber = yield* Effect.fork(
          Effect.provideService(Retry.retry(call.effect, policy), Degradation, degradation)
        )
        yield* TestClock.adjust("1 second")
        expect(call.at).toEqual([0, 1000])
        // Limited while the call waits: its next failure is its last.
        yield* degradation.force(DegradationLevel.Limited(), "test")
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.await(fiber)
        expect(call.at).toEqual([0, 1000, 2000])
        expect(Exit.isFailure(exit)).toBe(true)
      }).pipe(Effect.scoped))

    it.effect("inside a Dependency, the dependency's Degradation decides", () =>
      Effect.gen(function*() {
        const limited = yield* withLevel(DegradationLevel.Limited())
        const retrier = yield* makeRetrier(Retry.policy({ schedule: Schedule.recurs(3) }), {
          dependency: undefined,
          degradation: limited
        })
        const call = scripted<Transient>([new Transient({ n: 1 }), "ok"])
        yield* Effect.exit(retrier.run(call.effect))
        expect(call.at).toHaveLength(1)
      }).pipe(Effect.scoped))
  })

  it.effect("a caller interrupted mid-backoff ends at once, leaving no fiber (gave_up)", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-interrupt")
      const supervisor = yield* Supervisor.track
      const policy = Retry.policy({ schedule: Schedule.spaced("1 hour"), name })
      const call = scripted([new Transient({ n: 1 })])
      const fiber = yield* Effect.fork(Retry.retry(call.effect, policy)).pipe(Effect.supervised(supervisor))
      yield* TestClock.adjust("1 second")
      expect(call.at).toEqual([0])
      expect(yield* supervisor.value).toHaveLength(1)
      // No clock adjusted: the interruption does not wait for the back-off.
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* supervisor.value).toHaveLength(0)
      yield* TestClock.adjust("2 hours")
      expect(call.at).toEqual([0])
      expect(yield* outcomes(name)).toMatchObject({ gave_up: 1, first_try: 0, after_retry: 0 })
    }))

  it.effect("a `while` or `retryAfter` that throws makes the call die, after the error it was given", () =>
    Effect.gen(function*() {
      const name = uniqueName("retry-throws")
      const policy = Retry.policy({
        schedule: Schedule.recurs(3),
        while: (): boolean => {
          throw new Error("predicate bug")
        },
        name
      })
      const exit = yield* Effect.exit(Retry.retry(Effect.fail(new Transient({ n: 1 })), policy))
      assert(Exit.isFailure(exit))
      expect(Cause.failures(exit.cause)).toHaveLength(1)
      expect(Cause.isDie(exit.cause)).toBe(true)
      expect((yield* outcomes(name)).gave_up).toBe(1)
    }))

  it.effect("invalid options: Retry.policy keeps them, Retry.retry dies naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, Retry.Options<unknown, never>]> = [
        ["schedule", { schedule: "3 times" as unknown as Schedule.Schedule<number> }],
        ["maxRetryAfter", { schedule: Schedule.recurs(1), maxRetryAfter: "-1 seconds" }],
        ["maxRetryAfter", { schedule: Schedule.recurs(1), maxRetryAfter: Duration.infinity }],
        [
          "disableFrom",
          { schedule: Schedule.recurs(1), disableFrom: "Limited" as unknown as DegradationLevel.DegradationLevel }
        ],
        ["budget", { schedule: Schedule.recurs(1), budget: { ratio: 0.2 } as unknown as RetryBudget.RetryBudget }],
        ["while", { schedule: Schedule.recurs(1), while: true as unknown as () => boolean }],
        ["name", { schedule: Schedule.recurs(1), name: " " }]
      ]
      for (const [option, options] of cases) {
        const policy = Retry.policy(options)
        let runs = 0
        const exit = yield* Effect.exit(Retry.retry(Effect.sync(() => runs++), policy))
        const defect = squashed(exit)
        assert(defect instanceof InvalidOptionError, option)
        expect(defect.module).toBe("Retry.policy")
        expect(defect.option).toBe(option)
        expect(runs).toBe(0)
      }
    }))

  it.effect("typed: retryAfter and while see the effect's errors", () =>
    Effect.gen(function*() {
      const policy = Retry.policy({
        schedule: Schedule.recurs(1),
        retryAfter: (error: Busy) => Option.some(Duration.millis(error.millis))
      })
      const ok: Effect.Effect<string, Busy> = Retry.retry(Effect.fail(new Busy({ millis: 0 })), policy)
      // @ts-expect-error a policy for `Busy` cannot retry an effect that fails with `BadRequest`
      Retry.retry(Effect.fail(new BadRequest()), policy)
      // @ts-expect-error the data-last form checks the same
      Effect.fail(new BadRequest()).pipe(Retry.retry(policy))
      expect(Exit.isFailure(yield* Effect.exit(ok))).toBe(true)
    }))
})
