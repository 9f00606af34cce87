/**
 * @since 0.1.0
 */

/**
 * Bulkheads: at most `limit` calls in flight (fixed or adaptive), a bounded
 * queue, and room kept for the most critical calls.
 *
 * @since 0.2.0
 */
export * as Bulkhead from "./Bulkhead.js"

/**
 * Circuit breakers: closed → open → half-open, driven by Effect's `Clock`.
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * An outage or the caller's fault: predicates for SQL, HTTP, Redis and Node
 * errors, to use as a breaker's `isFailure`.
 *
 * @since 0.2.0
 */
export * as Classify from "./Classify.js"

/**
 * How much a request matters (`CriticalPlus` … `Sheddable`), carried in a
 * `FiberRef` into every call it makes.
 *
 * @since 0.2.0
 */
export * as Criticality from "./Criticality.js"

export {
  /**
   * The system-wide degradation service, exported as the Tag class itself so
   * that `yield* Degradation` and `Degradation.layer(...)` both work.
   *
   * @since 0.1.0
   * @category exports
   */
  Degradation
} from "./Degradation.js"

/**
 * The five degradation levels, their rank, order and `$match`.
 *
 * @since 0.1.0
 */
export * as DegradationLevel from "./DegradationLevel.js"

/**
 * Pure policies from the set of down dependencies to a level.
 *
 * @since 0.1.0
 */
export * as DegradationPolicy from "./DegradationPolicy.js"

/**
 * `Dependency.layer`: a service wrapped in a breaker, a timeout and fallbacks.
 *
 * @since 0.1.0
 */
export * as Dependency from "./Dependency.js"

/**
 * Errors in words, for logs, status pages and reports.
 *
 * @since 0.1.0
 */
export * as Describe from "./Describe.js"

export {
  /**
   * The defect every constructor dies with when an option is invalid, naming
   * the module called and the option.
   *
   * @since 0.1.0
   * @category exports
   */
  InvalidOptionError
} from "./InvalidOptionError.js"

/**
 * The Effect 3 internals the toolkit reads on its hot paths, guarded and pinned by a test.
 *
 * @since 0.2.0
 */
export * as EffectInternals from "./EffectInternals.js"

/**
 * Fault injection on any service: make its members fail, hang, slow down or
 * flake, and recover — in a simulation or a live drill.
 *
 * @since 0.2.0
 */
export * as Faults from "./Faults.js"

/**
 * Fallback strategies: static value, typed refusal, another dependency, write-behind.
 *
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"

/**
 * The metrics every breaker, dependency and the degradation manager report.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * Settings for an AI API, a database, a cache and an object store (`openai`, `db`, `redis`, `s3`).
 *
 * @since 0.1.0
 */
export * as Presets from "./Presets.js"

/**
 * `RESILIENCE_PROFILE` and per-dependency overrides from Effect `Config`, and the layers that apply them.
 *
 * @since 0.1.0
 */
export * as Profile from "./Profile.js"

/**
 * Retries with a budget: a `Schedule` for back-off, the server's
 * `Retry-After` honoured, never while a breaker is open or the system is degraded.
 *
 * @since 0.2.0
 */
export * as Retry from "./Retry.js"

/**
 * A retry budget shared by its callers: retries ≤ ratio × first attempts + a
 * reserve per second, over any window.
 *
 * @since 0.2.0
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * The option checks of every constructor, for packages and libraries built on the toolkit.
 *
 * @since 0.1.0
 */
export * as Validation from "./Validation.js"
