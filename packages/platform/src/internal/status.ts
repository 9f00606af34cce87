/**
 * The JSON of `/status` (and of every admin answer), and the retry-after a
 * shed request is told.
 *
 * @internal
 */
import type { CircuitBreaker, Degradation } from "@effect-resilience/core"
import { DegradationLevel } from "@effect-resilience/core"
import * as Faults from "@effect-resilience/core/Faults"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fleet from "./fleetStatus.js"

/** A dependency as `/status` shows it. @internal */
export interface DependencyJson {
  readonly name: string
  readonly up: boolean
  readonly whenDown: DegradationLevel.Tag
  readonly breaker: CircuitBreaker.State["_tag"] | null
  readonly lastCheck: { readonly at: number; readonly healthy: boolean; readonly error: string | null } | null
}

/** A transition as `/status` shows it. @internal */
export interface TransitionJson {
  readonly from: DegradationLevel.Tag
  readonly to: DegradationLevel.Tag
  readonly at: number
  readonly kind: Degradation.Transition["kind"]
  readonly reason: string
}

/** A fault in force as `/status` shows it: `member` null for the whole service. @internal */
export interface FaultJson {
  readonly dependency: string
  readonly member: string | null
  readonly fault: "down" | "hang" | "slow" | "flaky"
  /** `down`, `slow 2s`, `flaky 25%`. */
  readonly description: string
  readonly since: number
  /** `slow`: the delay, in milliseconds. */
  readonly duration?: number
  /** `flaky`: the probability of a failure. */
  readonly probability?: number
}

/** The body of `/status`. @internal */
export interface StatusJson {
  readonly level: DegradationLevel.Tag
  readonly rank: 1 | 2 | 3 | 4 | 5
  readonly since: number
  readonly computed: DegradationLevel.Tag
  readonly forced: { readonly level: DegradationLevel.Tag; readonly reason: string; readonly since: number } | null
  readonly dependencies: ReadonlyArray<DependencyJson>
  readonly transitions: ReadonlyArray<TransitionJson>
  /** Only while fault injection is enabled (a `Faults.Registry` with a dependency): the faults in force. */
  readonly faults?: ReadonlyArray<FaultJson>
}

/** @internal */
export const dependencyJson = (dependency: Degradation.DependencyStatus): DependencyJson => ({
  name: dependency.name,
  up: dependency.up,
  whenDown: dependency.whenDown._tag,
  breaker: dependency.breaker === undefined ? null : dependency.breaker._tag,
  lastCheck: dependency.lastCheck === undefined ? null : {
    at: dependency.lastCheck.at,
    healthy: dependency.lastCheck.healthy,
    error: dependency.lastCheck.error ?? null
  }
})

/** @internal */
export const transitionJson = (transition: Degradation.Transition): TransitionJson => ({
  from: transition.from._tag,
  to: transition.to._tag,
  at: transition.at,
  kind: transition.kind,
  reason: transition.reason
})

/** @internal */
export const toJson = (
  status: Degradation.Status,
  history: ReadonlyArray<Degradation.Transition>
): StatusJson => ({
  level: status.level._tag,
  rank: DegradationLevel.rank(status.level),
  since: status.since,
  computed: status.computed._tag,
  forced: status.forced === undefined ? null : {
    level: status.forced.level._tag,
    reason: status.forced.reason,
    since: status.forced.since
  },
  dependencies: status.dependencies.map(dependencyJson),
  transitions: history.map(transitionJson)
})

/** @internal */
export const faultJson = (injected: Faults.Injected): FaultJson => {
  const fault = injected.fault
  return {
    dependency: injected.dependency,
    member: injected.member ?? null,
    fault: Faults.label(fault),
    description: Faults.describe(fault),
    since: injected.since,
    ...(fault._tag === "Slow" ? { duration: Duration.toMillis(fault.duration) } : {}),
    ...(fault._tag === "Flaky" ? { probability: fault.probability } : {})
  }
}

/**
 * The faults in force, when fault injection is enabled: a `Faults.Registry`
 * in context with at least one dependency registered (`RESILIENCE_FAULTS=off`
 * registers none). `undefined` otherwise.
 *
 * @internal
 */
export const activeFaults: Effect.Effect<ReadonlyArray<FaultJson> | undefined> = Effect.flatMap(
  Effect.serviceOption(Faults.Registry),
  Option.match({
    onNone: () => Effect.succeed(undefined),
    onSome: (registry) =>
      Effect.flatMap(
        registry.dependencies,
        (dependencies) =>
          dependencies.length === 0
            ? Effect.succeed(undefined)
            : Effect.map(registry.injected, (all) => all.map(faultJson))
      )
  })
)

/** `/status` of `degradation`, newest transitions first. @internal */
export const snapshot = (degradation: Degradation.Service): Effect.Effect<StatusJson> => {
  const base = Effect.zipWith(degradation.status, degradation.history, toJson)
  // The fleet status: the layer's service, else what `FleetOverride.make` recorded for this service.
  const fleetStatus = Effect.flatMap(
    Effect.serviceOption(fleet.Status),
    Option.match({ onNone: () => fleet.status(degradation), onSome: (status) => status })
  )
  const json = Effect.zipWith(
    base,
    fleetStatus,
    (json, status) => status === undefined ? json : { ...json, fleet: status }
  )
  return Effect.zipWith(json, activeFaults, (json, faults) => faults === undefined ? json : { ...json, faults })
}

/**
 * Whole seconds (at least 1) until a refused request is worth retrying: the
 * level only improves on a recovery tick, and not before the down breakers
 * admit a probe, so the later of the two; `fallback` for a forced level
 * (it lifts on `release`, not on a tick).
 *
 * @internal
 */
export const retryAfterSeconds = (
  degradation: Degradation.Service,
  fallback: Duration.Duration
): Effect.Effect<number> =>
  Effect.gen(function*() {
    const status = yield* degradation.status
    const breakers = yield* degradation.breakers
    let earliestBreaker: number | undefined
    for (const dependency of status.dependencies) {
      if (dependency.up) continue
      const breaker = breakers.get(dependency.name)
      if (breaker === undefined) continue
      const stats = yield* breaker.stats
      if (!Duration.isFinite(stats.retryAfter)) continue
      const millis = Duration.toMillis(stats.retryAfter)
      if (millis > 0 && (earliestBreaker === undefined || millis < earliestBreaker)) earliestBreaker = millis
    }
    const next = yield* degradation.nextRecoveryAt
    const now = yield* Clock.currentTimeMillis
    // A forced level lifts on `release`, not on a tick: nothing better is known than the fallback.
    const millis = status.forced !== undefined
      ? Duration.toMillis(fallback)
      : Math.max(Math.max(0, next - now), earliestBreaker ?? 0)
    return Math.max(1, Math.ceil(millis / 1000))
  })
