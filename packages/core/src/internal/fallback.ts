import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as MetricLabel from "effect/MetricLabel"
import * as Metrics from "../Metrics.js"

/**
 * Counts a fallback and records its duration, synchronously and on the
 * breaker's `Clock`.
 *
 * @internal
 */
export const measure = <A, E, R>(
  labels: ReadonlyArray<MetricLabel.MetricLabel>,
  clock: Clock.Clock,
  fallback: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    Metrics.breakerFallbackCalls.unsafeUpdate(1, labels)
    const start = clock.unsafeCurrentTimeMillis()
    return Effect.onExit(fallback, () =>
      Effect.sync(() => Metrics.fallbackDuration.unsafeUpdate((clock.unsafeCurrentTimeMillis() - start) / 1000, labels)))
  })
