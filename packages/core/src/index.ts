/**
 * @since 0.1.0
 */

/**
 * Circuit breakers: closed → open → half-open, driven by Effect's `Clock`.
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * The metrics every breaker, dependency and the degradation manager report.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"
