/**
 * Retries that can never make an outage worse: a `Schedule` for back-off
 * and jitter, a {@link RetryBudget} that caps the extra load, the server's
 * `Retry-After` honoured, and no retry at all while a breaker is open or the
 * system is degraded.
 *
 * ```ts
 * const policy = Retry.policy({
 *   schedule: Schedule.exponential("100 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(3))),
 *   budget,                                   // yield* RetryBudget.make({ name: "openai" })
 *   retryAfter: Retry.retryAfterOpenAI,       // `retry-after-ms`, `retry-after`
 *   while: Classify.http,                     // outages only: a 400 is not retried
 *   name: "openai"
 * })
 * const answer = yield* Retry.retry(completion, policy)
 * ```
 *
 * A call's first attempt runs as it would without retries (one
 * `matchCauseEffect`, no Clock read, no fiber). When it fails:
 * - a defect, an interruption, `CircuitOpenError` (the breaker is open: an
 *   opening stops every caller's retries at once), `BulkheadFullError`, and
 *   any error `while` refuses end the call with that error;
 * - so does a level at or past `disableFrom` (default `Limited`) of the
 *   caller's `Degradation`, read at every decision (no `Degradation` in
 *   context: no limit);
 * - a `retryAfter` above `maxRetryAfter` (default 60 s) ends it too: waiting
 *   less than the server asked would only be refused again;
 * - the schedule is stepped (once per retry): when it is done, the call ends;
 * - a budget token is taken, before the delay: with none left, the call
 *   fails at once with its last error;
 * - then it waits the larger of the schedule's delay and `retryAfter`, and
 *   tries again.
 *
 * Every call counts one outcome in `retry_calls_total{dependency,outcome}`
 * (`first_try`, `after_retry`, `gave_up`, `budget_exhausted`,
 * `stopped_open`), and every retry one `retry_attempts_total{dependency}`.
 * A call interrupted during its first attempt never reached a decision and
 * counts none; interrupted later, it counts `gave_up`.
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import type * as Types from "effect/Types"
import type { DegradationLevel } from "./DegradationLevel.js"
import * as internal from "./internal/retry.js"
import * as readers from "./internal/retryAfter.js"
import type { RetryBudget } from "./RetryBudget.js"

/**
 * Marks a {@link Policy}; see {@link isPolicy}.
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * How long a server asked to wait before the next attempt, read from the
 * error: `now` is the current time of the caller's `Clock` in epoch
 * milliseconds (for a `Retry-After` that is a date). `Option.none()`: it
 * said nothing.
 *
 * @since 0.2.0
 * @category models
 */
export type RetryAfter<in E = unknown> = (error: E, now: number) => Option.Option<Duration.Duration>

/**
 * Options of {@link policy}. `E` is the error type of the effects it
 * retries: `while`, `retryAfter` and the schedule see those errors.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<E = unknown, R = never> {
  /**
   * Back-off and jitter, and how many retries: stepped once per retry with
   * the error as input; when it is done, the call ends with its last error.
   */
  readonly schedule: Schedule.Schedule<unknown, E, R>
  /** The tokens retries take; shared by everything given the same budget. Without one, no cap. */
  readonly budget?: RetryBudget | undefined
  /** Retries only the errors for which it is `true` (default: every error). */
  readonly while?: ((error: E) => boolean) | undefined
  /** The delay the server asked for; the retry waits at least that (see {@link retryAfterFromError}). */
  readonly retryAfter?: RetryAfter<E> | undefined
  /** A `retryAfter` above this ends the retries at once (default 60 seconds). */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** From this level of the caller's `Degradation` on, no retries (default `Limited`). */
  readonly disableFrom?: DegradationLevel | undefined
  /** The `dependency` label of its metrics; without one, it records none. */
  readonly name?: string | undefined
}

/**
 * A retry policy: what {@link retry} runs an effect with.
 *
 * @since 0.2.0
 * @category models
 */
export interface Policy<in E = unknown, out R = never> extends Pipeable {
  readonly [TypeId]: {
    readonly _E: Types.Contravariant<E>
    readonly _R: Types.Covariant<R>
  }
  /** The options it was made with. */
  readonly options: Options<E, R>
  /** Its metrics' `dependency` label, if it has one. */
  readonly name: string | undefined
}

/**
 * Makes a policy. Pure — a policy is a value, to share between calls and
 * layers — except that the metric series of its `name` are registered at 0
 * at once. Invalid options make {@link retry} die with an
 * `InvalidOptionError` naming the option.
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Duration, Effect, Option, Schedule } from "effect"
 *
 * class Busy {
 *   readonly _tag = "Busy"
 *   constructor(readonly seconds: number) {}
 * }
 *
 * const policy = Retry.policy({
 *   schedule: Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
 *   retryAfter: (error: Busy) => Option.some(Duration.seconds(error.seconds)),
 *   maxRetryAfter: "10 seconds",
 *   name: "inventory"
 * })
 *
 * let attempts = 0
 * const lookup = Effect.suspend(() => ++attempts < 2 ? Effect.fail(new Busy(0)) : Effect.succeed("in stock"))
 *
 * Effect.runPromise(Retry.retry(lookup, policy)).then(console.log)
 * // Output: in stock
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const policy: <E = unknown, R = never>(options: Options<E, R>) => Policy<E, R> = internal.policy

/**
 * Runs `self`, retrying it as the policy says; the call fails with its last
 * error when the retries end. Dies with an `InvalidOptionError` when the
 * policy's options were invalid.
 *
 * @example
 * ```ts
 * import { Retry, RetryBudget } from "@effect-resilience/core"
 * import { Effect, Schedule } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make({ name: "catalog" })
 *   const policy = Retry.policy({ schedule: Schedule.recurs(2), budget, name: "catalog" })
 *   let attempts = 0
 *   const flaky = Effect.suspend(() => ++attempts < 3 ? Effect.fail("connection reset") : Effect.succeed(attempts))
 *   return yield* flaky.pipe(Retry.retry(policy))
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 3
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const retry: {
  <E0, R2>(policy: Policy<E0, R2>): <A, E extends E0, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2>
  <A, E, R, R2>(self: Effect.Effect<A, E, R>, policy: Policy<Types.NoInfer<E>, R2>): Effect.Effect<A, E, R | R2>
} = dual(2, internal.retry)

/**
 * Whether `u` is a policy made by {@link policy}.
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * console.log(Retry.isPolicy(Retry.policy({ schedule: Schedule.recurs(1) })))
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isPolicy: (u: unknown) => u is Policy<unknown, unknown> = internal.isPolicy

/**
 * The delay a set of response headers asks for: `retry-after-ms`
 * (milliseconds, as OpenAI sends it), `x-amz-retry-after` (milliseconds, as
 * AWS sends it), else `retry-after` in seconds or as an HTTP date (from
 * `now`, epoch milliseconds; a date already past asks for no wait). Reads a
 * fetch `Headers`, or a plain record in any case (Node's, the AWS SDK's,
 * `@effect/platform`'s).
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Duration, Option } from "effect"
 *
 * const now = Date.parse("2026-01-01T00:00:00Z")
 * const delay = (headers: Record<string, string>) =>
 *   Option.map(Retry.retryAfterFromHeaders(headers, now), Duration.toMillis)
 *
 * console.log(delay({ "retry-after-ms": "1500" }), delay({ "Retry-After": "2" }))
 * // Output: { _id: 'Option', _tag: 'Some', value: 1500 } { _id: 'Option', _tag: 'Some', value: 2000 }
 * console.log(delay({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }))
 * // Output: { _id: 'Option', _tag: 'Some', value: 3000 }
 * ```
 *
 * @since 0.2.0
 * @category retry-after
 */
export const retryAfterFromHeaders: (headers: unknown, now: number) => Option.Option<Duration.Duration> =
  readers.fromHeaders

/**
 * The `Retry-After` of an `openai` client error: an `APIError`'s `headers`
 * (`retry-after-ms`, `retry-after`), found on the error or anything it wraps.
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * // A 429's `retry-after-ms` is waited for; its budget and its back-off still apply.
 * const policy = Retry.policy({ schedule: Schedule.exponential("200 millis"), retryAfter: Retry.retryAfterOpenAI })
 * console.log(Retry.isPolicy(policy))
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category retry-after
 */
export const retryAfterOpenAI: RetryAfter = readers.reader([readers.openaiHeaders])

/**
 * The `Retry-After` of an `@aws-sdk/*` error (S3's `SlowDown`, a 503): the
 * `retry-after` or `x-amz-retry-after` of the raw response the SDK keeps in
 * `$response`. A `SlowDown` without one says nothing: the schedule's
 * back-off applies.
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Duration, Option } from "effect"
 *
 * const slowDown = { name: "SlowDown", $response: { statusCode: 503, headers: { "retry-after": "3" } } }
 * console.log(Option.map(Retry.retryAfterS3(slowDown, 0), Duration.toSeconds))
 * // Output: { _id: 'Option', _tag: 'Some', value: 3 }
 * ```
 *
 * @since 0.2.0
 * @category retry-after
 */
export const retryAfterS3: RetryAfter = readers.reader([readers.awsHeaders])

/**
 * The `Retry-After` of an `@effect/platform` `HttpClientError`: a
 * `ResponseError`'s `response.headers` (also any error holding a fetch
 * `Response` as `response`).
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Duration, Option } from "effect"
 *
 * // What `HttpClientResponse.filterStatusOk` fails with on a 429: the response is on the error.
 * const tooMany = { _tag: "ResponseError", reason: "StatusCode", response: { status: 429, headers: { "retry-after": "1" } } }
 * console.log(Option.map(Retry.retryAfterHttpClient(tooMany, 0), Duration.toMillis))
 * // Output: { _id: 'Option', _tag: 'Some', value: 1000 }
 * ```
 *
 * @since 0.2.0
 * @category retry-after
 */
export const retryAfterHttpClient: RetryAfter = readers.reader([readers.responseHeaders])

/**
 * The `Retry-After` of any of the clients above — `openai`, `@aws-sdk/*`,
 * `@effect/platform` — on the error or anything it wraps (`cause`, at any
 * depth), the outermost first.
 *
 * @example
 * ```ts
 * import { Retry } from "@effect-resilience/core"
 * import { Duration, Option } from "effect"
 *
 * class PricingError extends Error {}
 * const apiError = Object.assign(new Error("429 Rate limit reached"), {
 *   status: 429,
 *   headers: new Headers({ "retry-after-ms": "1500" })
 * })
 * const wrapped = new PricingError("pricing failed", { cause: apiError })
 * console.log(Option.map(Retry.retryAfterFromError(wrapped, 0), Duration.toMillis))
 * // Output: { _id: 'Option', _tag: 'Some', value: 1500 }
 * ```
 *
 * @since 0.2.0
 * @category retry-after
 */
export const retryAfterFromError: RetryAfter = readers.reader([
  readers.openaiHeaders,
  readers.awsHeaders,
  readers.responseHeaders
])
