/**
 * The metrics every breaker, dependency and the degradation manager report.
 *
 * They live in Effect's global metric registry; `@effect-resilience/otel`
 * exports them to OpenTelemetry / Prometheus. The Effect names are the
 * Prometheus names (counters already carry `_total`, which the OTel Prometheus
 * exporter keeps as is), so a series reads the same everywhere.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import type * as MetricBoundaries from "effect/MetricBoundaries"
import * as internal from "./internal/metrics.js"

/**
 * Latency buckets in seconds: 0.5 ms … ~16 s, doubling.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const durationBoundaries: MetricBoundaries.MetricBoundaries = internal.durationBoundaries

/**
 * `circuit_breaker_state{breaker}`: 0 closed or disabled, 1 open or forced
 * open, 2 half-open.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Metrics } from "@effect-resilience/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments" })
 *   yield* breaker(Effect.succeed("ok"))
 *   // Every series carries the breaker's name as its `breaker` label.
 *   const state = yield* Metric.value(Metrics.breakerState.pipe(Metric.tagged("breaker", "payments")))
 *   return state.value
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 0 (closed)
 * ```
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerState = Metric.fromMetricKey(internal.keys.breakerState)

/**
 * `circuit_breaker_keys{breaker,state}`: the live keys of a keyed breaker
 * per state (`closed`, `open`, `half_open`, `forced_open`, `disabled`). For a
 * keyed breaker, `circuit_breaker_state{breaker}` is its worst key: 1 while
 * any key is open or forced open, else 2 while any is half-open, else 0.
 *
 * @since 0.2.0
 * @category breaker
 */
export const breakerKeys = Metric.fromMetricKey(internal.keys.breakerKeys)

/**
 * `circuit_breaker_failures_total{breaker}`: calls counted as failures
 * (typed failures for which `isFailure` holds, defects and timeouts).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFailures = Metric.fromMetricKey(internal.keys.breakerFailures)

/**
 * `circuit_breaker_fallback_calls_total{breaker}`: calls answered by a fallback.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFallbackCalls = Metric.fromMetricKey(internal.keys.breakerFallbackCalls)

/**
 * `circuit_breaker_calls_total{breaker,outcome}` with `outcome` one of
 * `success`, `failure`, `timeout`, `rejected`, `ignored`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCalls = Metric.fromMetricKey(internal.keys.breakerCalls)

/**
 * `circuit_breaker_transitions_total{breaker,from,to}` with states written
 * `closed`, `open`, `half_open`, `forced_open`, `disabled`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerTransitions = Metric.fromMetricKey(internal.keys.breakerTransitions)

/**
 * `circuit_breaker_call_duration_seconds{breaker}`: duration of the calls the
 * breaker let through (rejections are not calls).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCallDuration = Metric.fromMetricKey(internal.keys.breakerCallDuration)

/**
 * `fallback_duration_seconds{breaker}`: time spent in fallbacks.
 *
 * @since 0.1.0
 * @category fallback
 */
export const fallbackDuration = Metric.fromMetricKey(internal.keys.fallbackDuration)

/**
 * `degradation_level`: the current level, ranked 1 (Optimal) … 5 (Emergency).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationLevel = Metric.fromMetricKey(internal.keys.degradationLevel)

/**
 * `degradation_transitions_total{from,to}` with levels written as their tag
 * (`Optimal`, `Degraded`, …).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationTransitions = Metric.fromMetricKey(internal.keys.degradationTransitions)

/**
 * `dependency_up{dependency}`: 1 when the dependency is up, 0 when down.
 *
 * @since 0.1.0
 * @category dependency
 */
export const dependencyUp = Metric.fromMetricKey(internal.keys.dependencyUp)

/**
 * `write_behind_queue_depth{dependency}`: live entries of a write-behind
 * queue (dead letters not included). `dependency` is the queue's `name`.
 *
 * @since 0.1.0
 * @category write-behind
 */
export const writeBehindQueueDepth = Metric.fromMetricKey(internal.keys.writeBehindQueueDepth)

/**
 * `write_behind_enqueued_total{dependency}`: entries accepted by `offer`.
 *
 * @since 0.1.0
 * @category write-behind
 */
export const writeBehindEnqueued = Metric.fromMetricKey(internal.keys.writeBehindEnqueued)

/**
 * `write_behind_replayed_total{dependency}`: entries delivered by a replay
 * (and so removed from the queue).
 *
 * @since 0.1.0
 * @category write-behind
 */
export const writeBehindReplayed = Metric.fromMetricKey(internal.keys.writeBehindReplayed)

/**
 * `write_behind_rejected_total{dependency}`: entries `offer` refused (queue full).
 *
 * @since 0.1.0
 * @category write-behind
 */
export const writeBehindRejected = Metric.fromMetricKey(internal.keys.writeBehindRejected)

/**
 * `write_behind_dead_lettered_total{dependency}`: entries moved aside after
 * `maxAttempts` failed deliveries (kept, listed by `deadLetters`).
 *
 * @since 0.1.0
 * @category write-behind
 */
export const writeBehindDeadLettered = Metric.fromMetricKey(internal.keys.writeBehindDeadLettered)

/**
 * The value of the `outcome` label of `circuit_breaker_calls_total`.
 *
 * @since 0.1.0
 * @category breaker
 */
export type CallOutcome = "success" | "failure" | "timeout" | "rejected" | "ignored"

/**
 * All call outcomes, in a stable order.
 *
 * @since 0.1.0
 * @category breaker
 */
export const callOutcomes: ReadonlyArray<CallOutcome> = ["success", "failure", "timeout", "rejected", "ignored"]

/**
 * `retry_calls_total{dependency,outcome}`: calls through `Retry.retry`, one
 * outcome each — `first_try` (the first attempt succeeded), `after_retry`
 * (a retry succeeded), `gave_up` (an error it does not retry, a schedule
 * that ended, a `retryAfter` above `maxRetryAfter`, a level from
 * `disableFrom`, an interruption while retrying), `budget_exhausted` (no
 * token left: the call failed with its last error), `stopped_open` (a
 * breaker was open). `dependency` is the policy's name (inside a
 * `Dependency`, its name).
 *
 * @example
 * ```ts
 * import { Metrics, Retry } from "@effect-resilience/core"
 * import { Effect, Metric, Schedule } from "effect"
 *
 * const policy = Retry.policy({ schedule: Schedule.recurs(2), name: "pricing" })
 * const program = Effect.gen(function*() {
 *   yield* Retry.retry(Effect.succeed("ok"), policy)
 *   const firstTry = Metrics.retryCalls.pipe(Metric.tagged("dependency", "pricing"), Metric.tagged("outcome", "first_try"))
 *   return (yield* Metric.value(firstTry)).count
 * })
 *
 * Effect.runPromise(program).then(console.log)
 * // Output: 1
 * ```
 *
 * @since 0.2.0
 * @category retry
 */
export const retryCalls = Metric.fromMetricKey(internal.keys.retryCalls)

/**
 * `retry_attempts_total{dependency}`: retries made — attempts after the
 * first, counted as each one starts.
 *
 * @since 0.2.0
 * @category retry
 */
export const retryAttempts = Metric.fromMetricKey(internal.keys.retryAttempts)

/**
 * `retry_budget_available{dependency}`: the retries a `RetryBudget` would
 * allow, each time it reads the Clock (at retries, and every 16 first
 * attempts). `dependency` is the budget's name.
 *
 * @since 0.2.0
 * @category retry
 */
export const retryBudgetAvailable = Metric.fromMetricKey(internal.keys.retryBudgetAvailable)

/**
 * The value of the `outcome` label of `retry_calls_total`.
 *
 * @since 0.2.0
 * @category retry
 */
export type RetryOutcome = "first_try" | "after_retry" | "gave_up" | "budget_exhausted" | "stopped_open"

/**
 * All retry outcomes, in a stable order.
 *
 * @since 0.2.0
 * @category retry
 */
export const retryOutcomes: ReadonlyArray<RetryOutcome> = [
  "first_try",
  "after_retry",
  "gave_up",
  "budget_exhausted",
  "stopped_open"
]

/**
 * `bulkhead_inflight{bulkhead}`: calls holding a permit of the bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead, Metrics } from "@effect-resilience/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "inventory", limit: 8 })
 *   const during = yield* bulkhead(Metric.value(Metrics.bulkheadInFlight.pipe(Metric.tagged("bulkhead", "inventory"))))
 *   return during.value
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 1
 * ```
 *
 * @since 0.2.0
 * @category bulkhead
 */
export const bulkheadInFlight = Metric.fromMetricKey(internal.bulkheadKeys.inFlight)

/**
 * `bulkhead_limit{bulkhead}`: the limit in force (an adaptive one moves).
 *
 * @example
 * ```ts
 * import { Bulkhead, Metrics } from "@effect-resilience/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Bulkhead.make({ name: "payments", limit: 12 })
 *   return (yield* Metric.value(Metrics.bulkheadLimit.pipe(Metric.tagged("bulkhead", "payments")))).value
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 12
 * ```
 *
 * @since 0.2.0
 * @category bulkhead
 */
export const bulkheadLimit = Metric.fromMetricKey(internal.bulkheadKeys.limit)

/**
 * `bulkhead_rejected_total{bulkhead,criticality}`: calls refused, by the
 * caller's class (`CriticalPlus`, `Critical`, `SheddablePlus`, `Sheddable`):
 * at once, after waiting `maxWait`, or displaced from the queue by a more
 * critical call.
 *
 * @example
 * ```ts
 * import { Bulkhead, Criticality, Metrics } from "@effect-resilience/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "search-index", limit: 2 })
 *   yield* Effect.fork(bulkhead(Effect.never))
 *   yield* Effect.yieldNow()
 *   // In flight 1 of 2: no room for a Sheddable call (50 % of the limit).
 *   yield* Effect.either(bulkhead(Effect.void).pipe(Criticality.with(Criticality.Sheddable())))
 *   const rejected = Metrics.bulkheadRejected.pipe(
 *     Metric.tagged("bulkhead", "search-index"),
 *     Metric.tagged("criticality", "Sheddable")
 *   )
 *   return (yield* Metric.value(rejected)).count
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 1
 * ```
 *
 * @since 0.2.0
 * @category bulkhead
 */
export const bulkheadRejected = Metric.fromMetricKey(internal.bulkheadKeys.rejected)

/**
 * `bulkhead_wait_seconds{bulkhead}`: time spent in the queue by the calls
 * that had to wait, whether they got a permit or were refused (a call
 * admitted at once records nothing).
 *
 * @example
 * ```ts
 * import { Bulkhead, Metrics } from "@effect-resilience/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* Bulkhead.make({ name: "uploads", limit: 4, maxQueue: 8, maxWait: "1 second" })
 *   // No call has waited yet.
 *   return (yield* Metric.value(Metrics.bulkheadWait.pipe(Metric.tagged("bulkhead", "uploads")))).count
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 0
 * ```
 *
 * @since 0.2.0
 * @category bulkhead
 */
export const bulkheadWait = Metric.fromMetricKey(internal.bulkheadKeys.wait)
