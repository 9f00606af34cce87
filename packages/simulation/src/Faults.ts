/**
 * Fault injection moved to `@effect-resilience/core` (`Faults`), so that a
 * production HTTP package never needs the simulation package. This module
 * re-exports it unchanged for one release.
 *
 * ```ts
 * // before
 * import { Faults } from "@effect-resilience/simulation"
 * // now
 * import { Faults } from "@effect-resilience/core"
 * ```
 *
 * @since 0.1.0
 * @deprecated Import `Faults` from `@effect-resilience/core`.
 */

/**
 * Everything of `Faults` in `@effect-resilience/core`.
 *
 * @since 0.1.0
 * @deprecated Import `Faults` from `@effect-resilience/core`.
 */
export * from "@effect-resilience/core/Faults"
