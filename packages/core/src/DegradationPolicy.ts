/**
 * How the set of down dependencies maps to a {@link DegradationLevel}.
 *
 * A policy is a pure function. Policies built from the combinators here are
 * monotone: taking more dependencies down never gives a better level.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as Level from "./DegradationLevel.js"

/**
 * A dependency that is down, with the level its outage calls for.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownDependency {
  readonly name: string
  readonly whenDown: Level.DegradationLevel
}

/**
 * The level for a set of down dependencies (empty: nothing is down). Pure:
 * `Degradation` calls it on every event and every recovery tick. One that
 * throws, or answers something that is not a level, cannot silence the
 * other dependencies: {@link defaultPolicy} decides that evaluation instead,
 * and the failure is logged.
 *
 * @example
 * ```ts
 * import { Degradation, DegradationLevel, DegradationPolicy } from "@effect-resilience/core"
 * import { pipe } from "effect"
 *
 * // The worst `whenDown`, and Emergency when the database and its cache are both down.
 * const policy: DegradationPolicy.DegradationPolicy = pipe(
 *   DegradationPolicy.worstWhenDown,
 *   DegradationPolicy.whenAllDown(["db", "redis"], DegradationLevel.Emergency())
 * )
 *
 * const level = policy([
 *   { name: "db", whenDown: DegradationLevel.Minimal() },
 *   { name: "redis", whenDown: DegradationLevel.Degraded() }
 * ])
 * console.log(level._tag)
 * // Output: Emergency
 *
 * export const DegradationLive = Degradation.layer({ policy })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DegradationPolicy = (down: ReadonlyArray<DownDependency>) => Level.DegradationLevel

/**
 * The worst `whenDown` among the down dependencies; `Optimal` when none is.
 *
 * @since 0.1.0
 * @category policies
 */
export const worstWhenDown: DegradationPolicy = (down) => {
  let level = Level.Optimal()
  for (const dependency of down) level = Level.worst(level, dependency.whenDown)
  return level
}

/**
 * At least `level` when `count` or more dependencies are down at once.
 *
 * @since 0.1.0
 * @category combinators
 */
export const escalateAt: {
  (count: number, level?: Level.DegradationLevel): (self: DegradationPolicy) => DegradationPolicy
  (self: DegradationPolicy, count: number, level?: Level.DegradationLevel): DegradationPolicy
} = dual(
  (args) => typeof args[0] === "function",
  (self: DegradationPolicy, count: number, level: Level.DegradationLevel = Level.Emergency()): DegradationPolicy =>
  (down) => down.length >= count ? Level.worst(self(down), level) : self(down)
)

/**
 * At least `level` when every named dependency is down at once.
 *
 * @since 0.1.0
 * @category combinators
 */
export const whenAllDown: {
  (names: ReadonlyArray<string>, level: Level.DegradationLevel): (self: DegradationPolicy) => DegradationPolicy
  (self: DegradationPolicy, names: ReadonlyArray<string>, level: Level.DegradationLevel): DegradationPolicy
} = dual(
  3,
  (self: DegradationPolicy, names: ReadonlyArray<string>, level: Level.DegradationLevel): DegradationPolicy => (down) =>
    names.length > 0 && names.every((name) => down.some((d) => d.name === name))
      ? Level.worst(self(down), level)
      : self(down)
)

/**
 * The worst level any of the policies gives.
 *
 * @since 0.1.0
 * @category combinators
 */
export const worstOf = (...policies: ReadonlyArray<DegradationPolicy>): DegradationPolicy => (down) => {
  let level = Level.Optimal()
  for (const policy of policies) level = Level.worst(level, policy(down))
  return level
}

/**
 * Never better than `level` (a floor), e.g. during a known partial outage.
 *
 * @since 0.1.0
 * @category combinators
 */
export const atLeast: {
  (level: Level.DegradationLevel): (self: DegradationPolicy) => DegradationPolicy
  (self: DegradationPolicy, level: Level.DegradationLevel): DegradationPolicy
} = dual(
  2,
  (self: DegradationPolicy, level: Level.DegradationLevel): DegradationPolicy => (down) =>
    Level.worst(self(down), level)
)

/**
 * Never worse than `level` (a ceiling). Still monotone.
 *
 * @since 0.1.0
 * @category combinators
 */
export const atMost: {
  (level: Level.DegradationLevel): (self: DegradationPolicy) => DegradationPolicy
  (self: DegradationPolicy, level: Level.DegradationLevel): DegradationPolicy
} = dual(
  2,
  (self: DegradationPolicy, level: Level.DegradationLevel): DegradationPolicy => (down) => Level.best(self(down), level)
)

/**
 * The default: the worst `whenDown`, escalated to `Emergency` when three or
 * more dependencies are down at once.
 *
 * @since 0.1.0
 * @category policies
 */
export const defaultPolicy: DegradationPolicy = escalateAt(3)(worstWhenDown)
