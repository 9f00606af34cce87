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
