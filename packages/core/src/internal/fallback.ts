import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import * as Metrics from "./metrics.js"

/** @internal */
export interface FallbackHooks {
  readonly calls: MetricHook.MetricHook<number, unknown>
  readonly duration: MetricHook.MetricHook<number, unknown>
}

/** @internal */
export const hooks = (breaker: string): FallbackHooks => {
  const labels = [MetricLabel.make("breaker", breaker)]
  return {
    calls: Metrics.unsafeHook(Metrics.keys.breakerFallbackCalls, labels),
    duration: Metrics.unsafeHook(Metrics.keys.fallbackDuration, labels)
  }
}

/**
 * Counts a fallback and records its duration, synchronously and on the
 * breaker's `Clock`.
 *
 * @internal
 */
export const measure = <A, E, R>(
  hooks: FallbackHooks,
  clock: Clock.Clock,
  fallback: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    hooks.calls.update(1)
    const start = clock.unsafeCurrentTimeMillis()
    return Effect.onExit(fallback, () =>
      Effect.sync(() => hooks.duration.update((clock.unsafeCurrentTimeMillis() - start) / 1000)))
  })
