/**
 * @since 0.1.0
 */

/**
 * Fault injection on any service: make its members fail, hang, slow down or flake, and recover.
 * Moved to `@effect-resilience/core`; re-exported here for one release.
 *
 * @since 0.1.0
 * @deprecated Import `Faults` from `@effect-resilience/core`.
 */
export * as Faults from "./Faults.js"

/**
 * Outage scenarios in virtual time: synthetic traffic, scripted faults, a report, a timeline and an SVG chart.
 *
 * @since 0.1.0
 */
export * as Simulation from "./Simulation.js"
