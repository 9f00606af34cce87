import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import { Degradation } from "../Degradation.js"
import * as Level from "../DegradationLevel.js"
import * as Metrics from "../Metrics.js"
import type * as Retry from "../Retry.js"
import { InvalidOptionError } from "./errors.js"
import * as MetricHooks from "./metrics.js"
import * as Budget from "./retryBudget.js"
import { maxTimerMillis, validator } from "./validate.js"

/** @internal */
export const TypeId: Retry.TypeId = Symbol.for("@effect-resilience/core/Retry/Policy") as Retry.TypeId

// Outcome indices into `Metrics.retryOutcomes`.
const FIRST_TRY = 0
const AFTER_RETRY = 1
const GAVE_UP = 2
const BUDGET_EXHAUSTED = 3
const STOPPED_OPEN = 4
/** A verdict that is not an outcome: the error may be retried. */
const RETRYABLE = -1

const outcomeLabels = Metrics.retryOutcomes.map((outcome) => MetricLabel.make("outcome", outcome))

interface Counter {
  readonly update: (n: number) => void
}
const uncounted: Counter = { update: () => {} }

/** What `Retry.policy` checked, ready for the hot path. */
interface Checked {
  readonly schedule: Schedule.Schedule<unknown, unknown, unknown>
  readonly budget: Budget.BudgetImpl | undefined
  readonly while: ((error: unknown) => boolean) | undefined
  readonly retryAfter: ((error: unknown, now: number) => Option.Option<Duration.Duration>) | undefined
  /** In milliseconds. */
  readonly maxRetryAfter: number
  /** The rank from which retries stop. */
  readonly disableFrom: number
  readonly name: string | undefined
}

/** Where a retrier runs: the `dependency` label, and what a `Dependency` knows of its errors and level. */
export interface RetryContext {
  /** The `dependency` label of the retry series; none: no series. */
  readonly dependency: string | undefined
  /** A rejection (the dependency refused this request) is never retried. */
  readonly isRejection?: ((error: unknown) => boolean) | undefined
  /** The level to read; none: the caller's `Degradation`, if it has one. */
  readonly degradation?: Degradation.Service | undefined
}

const isTagged = (error: unknown, tag: string): boolean =>
  typeof error === "object" && error !== null && (error as { readonly _tag?: unknown })._tag === tag

/** No typed failure to retry: a defect or an interruption is in the cause (or nothing failed). */
const NOT_A_FAILURE: unique symbol = Symbol("@effect-resilience/core/Retry/NotAFailure")

const failureOf = (cause: Cause.Cause<unknown>): unknown => {
  if (cause._tag === "Fail") return cause.error
  if (Cause.isDie(cause) || Cause.isInterrupted(cause)) return NOT_A_FAILURE
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? failure.value : NOT_A_FAILURE
}

/**
 * One policy under one set of labels: the metric series resolved once and the
 * continuations of a first attempt shared by every call.
 */
export class Retrier {
  readonly outcomes: ReadonlyArray<Counter>
  readonly firstTry: Counter
  readonly attempts: Counter
  readonly budget: Budget.BudgetImpl | undefined

  constructor(readonly policy: Checked, readonly context: RetryContext) {
    this.budget = policy.budget
    const dependency = context.dependency
    if (dependency === undefined) {
      this.outcomes = outcomeLabels.map(() => uncounted)
      this.attempts = uncounted
    } else {
      const label = MetricLabel.make("dependency", dependency)
      // Every series exists from creation: these start at 0.
      this.outcomes = outcomeLabels.map((outcome) => {
        const hook = MetricHooks.unsafeHook(MetricHooks.keys.retryCalls, [label, outcome])
        hook.update(0)
        return hook
      })
      this.attempts = MetricHooks.unsafeHook(MetricHooks.keys.retryAttempts, [label])
      this.attempts.update(0)
    }
    this.firstTry = this.outcomes[FIRST_TRY]!
  }

  /** A first attempt that succeeded: no Clock read, no allocation but the success itself. */
  readonly firstSuccess = (value: unknown): Effect.Effect<unknown> => {
    this.budget?.deposit()
    this.firstTry.update(1)
    return Effect.succeed(value)
  }

  /**
   * The whole hot path: one `matchCauseEffect`. A call whose first attempt
   * succeeds runs no other Effect of ours.
   */
  run<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.matchCauseEffect(effect, {
      onSuccess: this.firstSuccess as (a: A) => Effect.Effect<A>,
      onFailure: (cause) => this.firstFailure(effect, cause)
    })
  }

  firstFailure<A, E, R>(effect: Effect.Effect<A, E, R>, cause: Cause.Cause<E>): Effect.Effect<A, E, R> {
    // A failure may lead to a retry, which reads the Clock anyway: this attempt is placed exactly.
    this.budget?.depositNow()
    const error = failureOf(cause)
    let verdict: number
    try {
      verdict = this.verdict(error)
    } catch (thrown) {
      return this.threw(cause, thrown)
    }
    if (verdict !== RETRYABLE) {
      this.outcomes[verdict]!.update(1)
      return Effect.failCause(cause)
    }
    // Only now does a call cost more: its own state, the Clock, the caller's level.
    const call = new Call<A, E, R>(this, effect)
    return Effect.onInterrupt(
      Effect.clockWith((clock) =>
        Effect.contextWithEffect((context: Context.Context<never>) => {
          call.clock = clock
          call.degradation = this.context.degradation ??
            Option.getOrUndefined(Context.getOption(context, Degradation))
          return call.consider(cause, error)
        })
      ),
      call.interrupted
    )
  }

  /** What the error alone says: an outcome that ends the call, or `RETRYABLE`. */
  verdict(error: unknown): number {
    if (error === NOT_A_FAILURE) return GAVE_UP
    if (isTagged(error, "CircuitOpenError")) return STOPPED_OPEN
    if (isTagged(error, "BulkheadFullError")) return GAVE_UP
    if (this.isRejection(error)) return GAVE_UP
    const retryWhile = this.policy.while
    if (retryWhile !== undefined && !retryWhile(error)) return GAVE_UP
    return RETRYABLE
  }

  /** A classification that throws says "outage", as a breaker's `isFailure` that throws counts a failure. */
  isRejection(error: unknown): boolean {
    const isRejection = this.context.isRejection
    if (isRejection === undefined) return false
    try {
      return isRejection(error)
    } catch {
      return false
    }
  }

  /** A predicate of the user's threw: the call dies with that, after the error it was asked about. */
  threw<E>(cause: Cause.Cause<E>, thrown: unknown): Effect.Effect<never, E> {
    this.outcomes[GAVE_UP]!.update(1)
    return Effect.failCause(Cause.sequential(cause, Cause.die(thrown)))
  }
}

/** The state of one call from its first failure on: the schedule's state and whether its outcome is counted. */
class Call<A, E, R> {
  clock: Clock.Clock = undefined as unknown as Clock.Clock
  degradation: Degradation.Service | undefined = undefined
  scheduleState: unknown
  counted = false
  readonly handlers: {
    readonly onSuccess: (a: A) => Effect.Effect<A>
    readonly onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A, E, R>
  }

  constructor(readonly retrier: Retrier, readonly effect: Effect.Effect<A, E, R>) {
    this.scheduleState = retrier.policy.schedule.initial
    this.handlers = {
      onSuccess: (a) => {
        this.count(AFTER_RETRY)
        return Effect.succeed(a)
      },
      onFailure: (cause) => this.decide(cause)
    }
  }

  count(outcome: number): void {
    if (this.counted) return
    this.counted = true
    this.retrier.outcomes[outcome]!.update(1)
  }

  end(outcome: number, cause: Cause.Cause<E>): Effect.Effect<never, E> {
    this.count(outcome)
    return Effect.failCause(cause)
  }

  /** Interrupted while retrying (in a delay, or during a retry): it gave up. */
  readonly interrupted = (): Effect.Effect<void> =>
    Effect.sync(() => {
      this.count(GAVE_UP)
    })

  /** A retry failed. */
  decide(cause: Cause.Cause<E>): Effect.Effect<A, E, R> {
    const error = failureOf(cause)
    let verdict: number
    try {
      verdict = this.retrier.verdict(error)
    } catch (thrown) {
      this.counted = true
      return this.retrier.threw(cause, thrown)
    }
    if (verdict !== RETRYABLE) return this.end(verdict, cause)
    return this.consider(cause, error)
  }

  /** A retryable error: the level, the server's delay, the schedule and the budget decide, in that order. */
  consider(cause: Cause.Cause<E>, error: unknown): Effect.Effect<A, E, R> {
    const degradation = this.degradation
    if (degradation !== undefined) {
      // A hand-made service without the synchronous read still works, one Effect slower.
      if (typeof degradation.unsafeCurrent !== "function") {
        return Effect.flatMap(degradation.current, (level) => this.withLevel(cause, error, level))
      }
      return this.withLevel(cause, error, degradation.unsafeCurrent())
    }
    return this.withLevel(cause, error, undefined)
  }

  withLevel(cause: Cause.Cause<E>, error: unknown, level: Level.DegradationLevel | undefined): Effect.Effect<A, E, R> {
    const policy = this.retrier.policy
    if (level !== undefined && Level.rank(level) >= policy.disableFrom) return this.end(GAVE_UP, cause)
    const now = this.clock.unsafeCurrentTimeMillis()
    let serverDelay = 0
    if (policy.retryAfter !== undefined) {
      let asked: Option.Option<Duration.Duration>
      try {
        asked = policy.retryAfter(error, now)
      } catch (thrown) {
        this.counted = true
        return this.retrier.threw(cause, thrown)
      }
      if (!Option.isOption(asked)) {
        this.counted = true
        return this.retrier.threw(
          cause,
          new TypeError(`Retry.policy: retryAfter must return an Option<Duration>, got ${String(asked)}`)
        )
      }
      if (Option.isSome(asked)) {
        const millis = Duration.toMillis(asked.value)
        // Waiting less than the server asked is never an option: past the cap, stop.
        if (!(millis <= policy.maxRetryAfter)) return this.end(GAVE_UP, cause)
        serverDelay = millis
      }
    }
    const step = policy.schedule.step(now, error, this.scheduleState) as Effect.Effect<
      readonly [unknown, unknown, ScheduleDecision.ScheduleDecision],
      never,
      R
    >
    return Effect.matchCauseEffect(step, {
      onFailure: (defect) => this.end(GAVE_UP, Cause.sequential(cause, defect as Cause.Cause<E>)),
      onSuccess: ([state, _, decision]) => {
        if (ScheduleDecision.isDone(decision)) return this.end(GAVE_UP, cause)
        this.scheduleState = state
        const delay = Math.max(ScheduleIntervals.start(decision.intervals) - now, serverDelay, 0)
        // A delay no timer can wait (an exponential back-off grown past 24 days) would never end.
        if (!(delay <= maxTimerMillis)) return this.end(GAVE_UP, cause)
        // The token is taken now, before the delay: an empty budget fails the call at once.
        const budget = this.retrier.budget
        if (budget !== undefined && !budget.withdraw()) return this.end(BUDGET_EXHAUSTED, cause)
        return delay > 0 ? Effect.zipRight(this.clock.sleep(Duration.millis(delay)), this.attempt()) : this.attempt()
      }
    })
  }

  attempt(): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      this.retrier.attempts.update(1)
      return Effect.matchCauseEffect(this.effect, this.handlers)
    })
  }
}

// -----------------------------------------------------------------------------
// policies
// -----------------------------------------------------------------------------

const module = "Retry.policy"

const defaultMaxRetryAfter = 60_000

const variance = { _E: (_: unknown) => _, _R: (_: never) => _ }

interface PolicyImpl<E, R> extends Retry.Policy<E, R> {
  readonly checked: Checked | undefined
  readonly invalid: InvalidOptionError | undefined
  /** The retrier under the policy's own name, created with the policy so its series exist at once. */
  readonly retrier: Retrier | undefined
}

const PolicyProto = {
  [TypeId]: variance,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

const checkOptions = (options: Retry.Options<any, any>): Checked => {
  const v = validator(module)
  v.object("options", options)
  const schedule = v.schedule("schedule", options.schedule)
  const budget = options.budget === undefined
    ? undefined
    : Budget.isRetryBudget(options.budget)
    ? Budget.implOf(options.budget)
    : v.fail("budget", "a RetryBudget (from RetryBudget.make)", options.budget)
  const retryWhile = options.while === undefined
    ? undefined
    : v.func("while", options.while, "a function (error) => boolean") as (error: unknown) => boolean
  const retryAfter = options.retryAfter === undefined
    ? undefined
    : v.func("retryAfter", options.retryAfter, "a function (error, now) => Option<Duration>") as Checked["retryAfter"]
  let maxRetryAfter = defaultMaxRetryAfter
  if (options.maxRetryAfter !== undefined) {
    maxRetryAfter = Duration.toMillis(v.duration("maxRetryAfter", options.maxRetryAfter, { allowZero: true }))
    if (maxRetryAfter > maxTimerMillis) {
      v.fail("maxRetryAfter", `a duration of at most ${maxTimerMillis} milliseconds`, options.maxRetryAfter)
    }
  }
  const disableFrom = Level.rank(
    options.disableFrom === undefined ? Level.Limited() : v.level("disableFrom", options.disableFrom)
  )
  const name = options.name === undefined ? undefined : v.nonEmptyString("name", options.name)
  return { schedule, budget, while: retryWhile, retryAfter, maxRetryAfter, disableFrom, name }
}

/** @internal */
export const policy = <E, R>(options: Retry.Options<E, R>): Retry.Policy<E, R> => {
  let checked: Checked | undefined
  let invalid: InvalidOptionError | undefined
  try {
    checked = checkOptions(options)
  } catch (error) {
    // Pure: a bad option is kept, and `Retry.retry` dies with it.
    if (!(error instanceof InvalidOptionError)) throw error
    invalid = error
  }
  const self = Object.create(PolicyProto)
  self.options = options
  self.name = checked?.name
  self.checked = checked
  self.invalid = invalid
  // Registering the series of its name is the one effect of a policy: idempotent, and what
  // makes them exist from creation.
  self.retrier = checked === undefined ? undefined : new Retrier(checked, { dependency: checked.name })
  return self as Retry.Policy<E, R>
}

const implOf = <E, R>(policy: Retry.Policy<E, R>) => policy as PolicyImpl<E, R>

/** @internal */
export const isPolicy = (u: unknown): u is Retry.Policy<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

const notAPolicy = (actual: unknown) =>
  new InvalidOptionError({ module: "Retry.retry", option: "policy", expected: "a Retry.policy", actual })

/** @internal */
export const retry = <A, E, R, R2>(effect: Effect.Effect<A, E, R>, policy: Retry.Policy<E, R2>) => {
  if (!isPolicy(policy)) return Effect.die(notAPolicy(policy))
  const impl = implOf(policy)
  if (impl.retrier === undefined) return Effect.die(impl.invalid)
  return impl.retrier.run(effect) as Effect.Effect<A, E, R | R2>
}

/**
 * The retry stage for a context of its own — what `Dependency` runs around
 * each attempt's breaker call: the series carry `context.dependency` (the
 * policy's own name is not used) and exist from this call on, rejections
 * are never retried, and the level is the one given. Dies with the policy's
 * `InvalidOptionError` when it has one.
 *
 * @internal
 */
export const makeRetrier = <E, R>(policy: Retry.Policy<E, R>, context: RetryContext): Effect.Effect<Retrier> =>
  Effect.suspend(() => {
    if (!isPolicy(policy)) return Effect.die(notAPolicy(policy))
    const impl = implOf(policy)
    return impl.checked === undefined ? Effect.die(impl.invalid) : Effect.succeed(new Retrier(impl.checked, context))
  })
