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
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/**
 * Latency buckets in seconds: 0.5 ms … ~16 s, doubling.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const durationBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.exponential({
  start: 0.0005,
  factor: 2,
  count: 16
})

/**
 * `circuit_breaker_state{breaker}`: 0 closed or disabled, 1 open or forced
 * open, 2 half-open.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerState = Metric.gauge("circuit_breaker_state")

/**
 * `circuit_breaker_failures_total{breaker}`: calls counted as failures
 * (typed failures for which `isFailure` holds, defects and timeouts).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFailures = Metric.counter("circuit_breaker_failures_total", { incremental: true })

/**
 * `circuit_breaker_fallback_calls_total{breaker}`: calls answered by a fallback.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFallbackCalls = Metric.counter("circuit_breaker_fallback_calls_total", { incremental: true })

/**
 * `circuit_breaker_calls_total{breaker,outcome}` with `outcome` one of
 * `success`, `failure`, `timeout`, `rejected`, `ignored`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCalls = Metric.counter("circuit_breaker_calls_total", { incremental: true })

/**
 * `circuit_breaker_transitions_total{breaker,from,to}` with states written
 * `closed`, `open`, `half_open`, `forced_open`, `disabled`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerTransitions = Metric.counter("circuit_breaker_transitions_total", { incremental: true })

/**
 * `circuit_breaker_call_duration_seconds{breaker}`: duration of the calls the
 * breaker let through (rejections are not calls).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCallDuration = Metric.histogram("circuit_breaker_call_duration_seconds", durationBoundaries)

/**
 * `fallback_duration_seconds{breaker}`: time spent in fallbacks.
 *
 * @since 0.1.0
 * @category fallback
 */
export const fallbackDuration = Metric.histogram("fallback_duration_seconds", durationBoundaries)

/**
 * `degradation_level`: the current level, ranked 1 (Optimal) … 5 (Emergency).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationLevel = Metric.gauge("degradation_level")

/**
 * `degradation_transitions_total{from,to}` with levels written as their tag
 * (`Optimal`, `Degraded`, …).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationTransitions = Metric.counter("degradation_transitions_total", { incremental: true })

/**
 * `dependency_up{dependency}`: 1 when the dependency is up, 0 when down.
 *
 * @since 0.1.0
 * @category dependency
 */
export const dependencyUp = Metric.gauge("dependency_up")

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
 * The label set `{ breaker }` for a breaker name.
 *
 * @since 0.1.0
 * @category labels
 */
export const breakerLabels = (breaker: string): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("breaker", breaker)
]
