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
import * as MetricKey from "effect/MetricKey"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import type * as MetricKeyType from "effect/MetricKeyType"

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
 * The keys of the metrics below. Breakers resolve their series from these
 * once, at creation, and update them synchronously on the hot path.
 *
 * @since 0.1.0
 * @category keys
 */
export const keys = {
  breakerState: MetricKey.gauge("circuit_breaker_state"),
  breakerFailures: MetricKey.counter("circuit_breaker_failures_total", { incremental: true }),
  breakerFallbackCalls: MetricKey.counter("circuit_breaker_fallback_calls_total", { incremental: true }),
  breakerCalls: MetricKey.counter("circuit_breaker_calls_total", { incremental: true }),
  breakerTransitions: MetricKey.counter("circuit_breaker_transitions_total", { incremental: true }),
  breakerCallDuration: MetricKey.histogram("circuit_breaker_call_duration_seconds", durationBoundaries),
  fallbackDuration: MetricKey.histogram("fallback_duration_seconds", durationBoundaries),
  degradationLevel: MetricKey.gauge("degradation_level"),
  degradationTransitions: MetricKey.counter("degradation_transitions_total", { incremental: true }),
  dependencyUp: MetricKey.gauge("dependency_up")
} as const

/**
 * `circuit_breaker_state{breaker}`: 0 closed or disabled, 1 open or forced
 * open, 2 half-open.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerState = Metric.fromMetricKey(keys.breakerState)

/**
 * `circuit_breaker_failures_total{breaker}`: calls counted as failures
 * (typed failures for which `isFailure` holds, defects and timeouts).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFailures = Metric.fromMetricKey(keys.breakerFailures)

/**
 * `circuit_breaker_fallback_calls_total{breaker}`: calls answered by a fallback.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerFallbackCalls = Metric.fromMetricKey(keys.breakerFallbackCalls)

/**
 * `circuit_breaker_calls_total{breaker,outcome}` with `outcome` one of
 * `success`, `failure`, `timeout`, `rejected`, `ignored`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCalls = Metric.fromMetricKey(keys.breakerCalls)

/**
 * `circuit_breaker_transitions_total{breaker,from,to}` with states written
 * `closed`, `open`, `half_open`, `forced_open`, `disabled`.
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerTransitions = Metric.fromMetricKey(keys.breakerTransitions)

/**
 * `circuit_breaker_call_duration_seconds{breaker}`: duration of the calls the
 * breaker let through (rejections are not calls).
 *
 * @since 0.1.0
 * @category breaker
 */
export const breakerCallDuration = Metric.fromMetricKey(keys.breakerCallDuration)

/**
 * `fallback_duration_seconds{breaker}`: time spent in fallbacks.
 *
 * @since 0.1.0
 * @category fallback
 */
export const fallbackDuration = Metric.fromMetricKey(keys.fallbackDuration)

/**
 * `degradation_level`: the current level, ranked 1 (Optimal) … 5 (Emergency).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationLevel = Metric.fromMetricKey(keys.degradationLevel)

/**
 * `degradation_transitions_total{from,to}` with levels written as their tag
 * (`Optimal`, `Degraded`, …).
 *
 * @since 0.1.0
 * @category degradation
 */
export const degradationTransitions = Metric.fromMetricKey(keys.degradationTransitions)

/**
 * `dependency_up{dependency}`: 1 when the dependency is up, 0 when down.
 *
 * @since 0.1.0
 * @category dependency
 */
export const dependencyUp = Metric.fromMetricKey(keys.dependencyUp)

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

/**
 * The series of `key` with `labels`, resolved once: updating a hook costs no
 * lookup, which is what the breaker's hot path needs. Unsafe: it creates the
 * series in the global registry at once, outside any Effect.
 *
 * @since 0.1.0
 * @category hooks
 */
export const unsafeHook = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): MetricHook.MetricHook<MetricKeyType.MetricKeyType.InType<Type>, MetricKeyType.MetricKeyType.OutType<Type>> =>
  Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(key, labels))
