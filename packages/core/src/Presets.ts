/**
 * Ready-made settings for the four dependencies a typical service has — an
 * AI API, a database, a cache and an object store — each with the breaker,
 * call timeout, level and failure classification that suit it.
 *
 * A preset is the shared, fallback-free part of `Dependency.Options`: spread
 * it and add what only the application knows.
 *
 * ```ts
 * const OpenAILive = Dependency.layer(OpenAI, {
 *   ...Presets.openai,
 *   health: (openai) => openai.ping,
 *   fallback: {
 *     enhancePrices: Fallback.sync((_error, prices: ReadonlyArray<number>) => prices.map((p) => p * 1.3)),
 *     cleanText: Fallback.sync((_error, text: string) => text)
 *   }
 * })
 * ```
 *
 * | preset | trip | reset | call timeout | whenDown |
 * |---|---|---|---|---|
 * | `openai` | 5 consecutive | 60 s | 10 s | Limited |
 * | `db` | 3 consecutive | 30 s | 5 s | Minimal |
 * | `redis` | 5 consecutive | 20 s | 1 s | Degraded |
 * | `s3` | 5 consecutive | 30 s | 10 s | Degraded |
 *
 * Their usual fallbacks are generic `Fallback` constructors:
 * DB reads from the cache and cache reads from the DB are
 * `Fallback.fromDependency`, S3 uploads are `Fallback.writeBehind` with the
 * `replay` option of `Dependency.layer`. `Profile` adjusts presets to the
 * environment (`RESILIENCE_PROFILE`, per-dependency overrides).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Classify from "./Classify.js"
import * as Level from "./DegradationLevel.js"
import * as Fallback from "./Fallback.js"
import * as Retry from "./Retry.js"

/**
 * The breaker part of a {@link Preset}: `trip` and `reset` are always set,
 * so `Profile` can adjust them; the other breaker options pass through.
 *
 * @since 0.1.0
 * @category models
 */
export interface BreakerOptions extends Omit<CircuitBreaker.Options, "name" | "callTimeout"> {
  readonly trip: CircuitBreaker.TripPolicy
  readonly reset: Schedule.Schedule<unknown, unknown>
}

/**
 * The fallback-free part of `Dependency.Options`, with every setting explicit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Preset {
  /** Names the dependency, its breaker, its metrics and its `RESILIENCE_<NAME>_*` variables. */
  readonly name: string
  readonly breaker: BreakerOptions
  /** A call that takes longer is interrupted and counted as a failure. */
  readonly callTimeout: Duration.Duration
  /** The level this dependency's outage calls for. */
  readonly whenDown: Level.DegradationLevel
  /**
   * The retries `Dependency.layerConfig` gives the dependency (with
   * `Dependency.layer`, pass `retry` yourself): which members of the usual
   * service are idempotent, how many attempts, the back-off, the budget.
   */
  readonly retries?: Retries | undefined
}

/**
 * The retries of a {@link Preset}: `Dependency.layerConfig` builds a
 * `Retry.policy` from them, with a `RetryBudget` of `budget` made in the
 * layer's scope. `RESILIENCE_<NAME>_RETRIES` overrides `maxAttempts`,
 * `RESILIENCE_<NAME>_RETRY_BUDGET` the budget's ratio.
 *
 * @since 0.2.0
 * @category models
 */
export interface Retries {
  /** The idempotent members, by their usual names; those a service does not have are skipped. */
  readonly members: ReadonlyArray<string>
  /** Attempts in all, the first one included (1: no retries). */
  readonly maxAttempts: number
  /** The back-off between attempts (jittered exponential, say). */
  readonly backoff: Schedule.Schedule<unknown, unknown>
  /** At most `ratio` retries per first attempt, plus 10 per second. */
  readonly budgetRatio: number
  /** The delay the server asked for, read from the client's error. */
  readonly retryAfter?: Retry.RetryAfter | undefined
}

const backoff = Schedule.exponential("200 millis").pipe(Schedule.jittered)

/**
 * A preset that opens after `failMax` consecutive failures and stays open
 * `resetTimeout` each time — the shape of every preset here.
 *
 * Two words for one thing: `failMax` and `resetTimeout` are the operator's
 * knobs (the `RESILIENCE_<NAME>_FAIL_MAX` and `_RESET_TIMEOUT` variables of
 * `Profile` use them too); they become the breaker's `trip` and `reset`:
 *
 * | here | breaker option |
 * |---|---|
 * | `failMax: n` | `trip: CircuitBreaker.consecutiveFailures(n)` |
 * | `resetTimeout: d` | `reset: Schedule.spaced(d)` |
 *
 * @example
 * ```ts
 * import { Degradation, DegradationLevel, Dependency, Presets } from "@effect-resilience/core"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Search extends Context.Tag("Search")<Search, {
 *   readonly query: (text: string) => Effect.Effect<ReadonlyArray<string>>
 * }>() {}
 *
 * // Opens after 5 consecutive failures, stays open 30 s each time.
 * const search = Presets.make({
 *   name: "search",
 *   failMax: 5,
 *   resetTimeout: "30 seconds",
 *   callTimeout: "2 seconds",
 *   whenDown: DegradationLevel.Degraded()
 * })
 *
 * export const SearchLive = Dependency.layer(Search, {
 *   ...search,
 *   fallback: { query: () => Effect.succeed([]) }
 * }).pipe(
 *   Layer.provide(Layer.succeed(Search, { query: (text) => Effect.succeed([text]) })),
 *   Layer.provideMerge(Degradation.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  /** Consecutive failures that open the breaker. */
  readonly failMax: number
  /** How long each opening lasts before a probe is let through. */
  readonly resetTimeout: Duration.DurationInput
  readonly callTimeout: Duration.DurationInput
  readonly whenDown: Level.DegradationLevel
  /**
   * Which errors are outages (counted, answered by fallbacks) rather than
   * rejections of one request (passed through): a `Classify` predicate.
   * Default: every error counts.
   */
  readonly isFailure?: Classify.Predicate | undefined
  /** Retries for `Dependency.layerConfig`; default: none. */
  readonly retries?: Retries | undefined
}): Preset => ({
  ...(options.retries === undefined ? {} : { retries: options.retries }),
  name: options.name,
  breaker: options.isFailure === undefined
    ? {
      trip: CircuitBreaker.consecutiveFailures(options.failMax),
      reset: Schedule.spaced(options.resetTimeout)
    }
    : {
      trip: CircuitBreaker.consecutiveFailures(options.failMax),
      reset: Schedule.spaced(options.resetTimeout),
      isFailure: options.isFailure
    },
  callTimeout: Duration.decode(options.callTimeout),
  whenDown: options.whenDown
})

/**
 * The AI pricing / OCR API: 5 consecutive failures, 60 s open, 10 s per call
 * (generation is slow), `Limited` when down (AI features off, core works).
 * Outages by `Classify.http`: a `400` for one prompt never opens it, a `429`
 * or `5xx` does.
 *
 * @since 0.1.0
 * @category presets
 */
export const openai: Preset = make({
  name: "openai",
  failMax: 5,
  resetTimeout: "60 seconds",
  callTimeout: "10 seconds",
  whenDown: Level.Limited(),
  isFailure: Classify.http,
  // Pricing and text clean-up are pure computations: safe to ask again; a 429's `retry-after(-ms)` is honoured.
  retries: {
    members: ["enhancePrices", "cleanText"],
    maxAttempts: 3,
    backoff,
    budgetRatio: 0.2,
    retryAfter: Retry.retryAfterOpenAI
  }
})

/**
 * The primary database: trips early (3 consecutive failures) because every
 * failed query is a failed request, 30 s open, 5 s per query, `Minimal` when
 * down (reads from the cache, writes refused). Outages by `Classify.sql`: a
 * value out of range or a constraint violation is the request's fault and
 * never opens it.
 *
 * @since 0.1.0
 * @category presets
 */
export const db: Preset = make({
  name: "db",
  failMax: 3,
  resetTimeout: "30 seconds",
  callTimeout: "5 seconds",
  whenDown: Level.Minimal(),
  isFailure: Classify.sql
})

/**
 * The cache: 5 consecutive failures, 20 s open, 1 s per call (a slow cache is
 * worse than none: the DB is the fallback), `Degraded` when down. Outages by
 * `Classify.redis`: a `WRONGTYPE` or `ERR` reply never opens it. No retries:
 * each would make a reader wait one more call timeout before the DB answers.
 *
 * @since 0.1.0
 * @category presets
 */
export const redis: Preset = make({
  name: "redis",
  failMax: 5,
  resetTimeout: "20 seconds",
  callTimeout: "1 second",
  whenDown: Level.Degraded(),
  // No retries: a slow cache is worse than none, and its reader has the DB to fall back on.
  isFailure: Classify.redis
})

/**
 * The object store: 5 consecutive failures, 30 s open, 10 s per call (uploads
 * are large), `Degraded` when down (uploads queue locally and replay).
 * Outages by `Classify.http` and `Classify.node` together: a `4xx` for one
 * key (or a local path that is a directory) never opens it, and such a
 * refused upload is never queued.
 *
 * @since 0.1.0
 * @category presets
 */
export const s3: Preset = make({
  name: "s3",
  failMax: 5,
  resetTimeout: "30 seconds",
  callTimeout: "10 seconds",
  whenDown: Level.Degraded(),
  isFailure: Classify.all(Classify.http, Classify.node),
  // Reads only (a `put` that failed is queued, not retried); `SlowDown`'s retry-after is honoured.
  retries: { members: ["get"], maxAttempts: 3, backoff, budgetRatio: 0.2, retryAfter: Retry.retryAfterS3 }
})

/**
 * Every preset: `openai`, `db`, `redis`, `s3`.
 *
 * @since 0.1.0
 * @category presets
 */
export const all: ReadonlyArray<Preset> = [openai, db, redis, s3]

/**
 * Refuses a write with a clear `Fallback.UnavailableError` while `dependency`
 * is down, instead of failing it with a breaker error the user cannot act on.
 * The member's error type must include `Fallback.UnavailableError`.
 *
 * @since 0.1.0
 * @category fallbacks
 */
export const writesBlocked = (
  dependency: string,
  options?: { readonly message?: string | undefined; readonly action?: string | undefined }
): (error: unknown, ...args: ReadonlyArray<unknown>) => Effect.Effect<never, Fallback.UnavailableError> =>
  Fallback.unavailable({
    dependency,
    message: options?.message ?? `${dependency} is unavailable: writes are blocked until it recovers`,
    action: options?.action ?? "Retry in a few minutes; reads still work."
  })
