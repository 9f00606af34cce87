/**
 * The metric keys and the pre-resolved series the breakers, fallbacks and
 * queues update on their hot paths. Internal: a hook writes the global
 * registry directly, past `Effect.tagMetrics` and any other metric aspect,
 * which is what the hot path needs and what no user code should do.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"

/** Latency buckets in seconds: 0.5 ms … ~16 s, doubling. @internal */
export const durationBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.exponential({
  start: 0.0005,
  factor: 2,
  count: 16
})

/** The keys of the public metrics of `Metrics.ts`, in one place. @internal */
export const keys = {
  breakerState: MetricKey.gauge("circuit_breaker_state"),
  breakerFailures: MetricKey.counter("circuit_breaker_failures_total", { incremental: true }),
  breakerFallbackCalls: MetricKey.counter("circuit_breaker_fallback_calls_total", { incremental: true }),
  breakerCalls: MetricKey.counter("circuit_breaker_calls_total", { incremental: true }),
  breakerTransitions: MetricKey.counter("circuit_breaker_transitions_total", { incremental: true }),
  breakerCallDuration: MetricKey.histogram("circuit_breaker_call_duration_seconds", durationBoundaries),
  breakerKeys: MetricKey.gauge("circuit_breaker_keys"),
  fallbackDuration: MetricKey.histogram("fallback_duration_seconds", durationBoundaries),
  degradationLevel: MetricKey.gauge("degradation_level"),
  degradationTransitions: MetricKey.counter("degradation_transitions_total", { incremental: true }),
  dependencyUp: MetricKey.gauge("dependency_up"),
  writeBehindQueueDepth: MetricKey.gauge("write_behind_queue_depth"),
  writeBehindEnqueued: MetricKey.counter("write_behind_enqueued_total", { incremental: true }),
  writeBehindReplayed: MetricKey.counter("write_behind_replayed_total", { incremental: true }),
  writeBehindRejected: MetricKey.counter("write_behind_rejected_total", { incremental: true }),
  writeBehindDeadLettered: MetricKey.counter("write_behind_dead_lettered_total", { incremental: true }),
  retryCalls: MetricKey.counter("retry_calls_total", { incremental: true }),
  retryAttempts: MetricKey.counter("retry_attempts_total", { incremental: true }),
  retryBudgetAvailable: MetricKey.gauge("retry_budget_available")
} as const

/** The label set `{ breaker }` for a breaker name. @internal */
export const breakerLabels = (breaker: string): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("breaker", breaker)
]

/**
 * The series of `key` with `labels`, resolved once: updating it costs no
 * lookup. It creates the series in the global registry at once, outside any
 * Effect.
 *
 * @internal
 */
export const unsafeHook = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): MetricHook.MetricHook<MetricKeyType.MetricKeyType.InType<Type>, MetricKeyType.MetricKeyType.OutType<Type>> =>
  Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(key, labels))

/** The keys of the bulkhead metrics of `Metrics.ts`. @internal */
export const bulkheadKeys = {
  inFlight: MetricKey.gauge("bulkhead_inflight"),
  limit: MetricKey.gauge("bulkhead_limit"),
  rejected: MetricKey.counter("bulkhead_rejected_total", { incremental: true }),
  wait: MetricKey.histogram("bulkhead_wait_seconds", durationBoundaries)
} as const
