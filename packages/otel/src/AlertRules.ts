/**
 * The Prometheus alerting rules shipped with this package
 * (`alerts/effect-resilience.rules.yml`) and their `promtool test rules`
 * unit tests.
 *
 * | alert | severity | fires when |
 * |---|---|---|
 * | `CircuitBreakerOpen` | critical | a breaker has been open on some instance for more than 5 minutes (half-open counts once a probe has failed: an idle half-open one does not page) |
 * | `KeyedCircuitBreakerOpen` | critical | more than half of a keyed breaker's live keys (summed over instances) have been open or forced open for 5 minutes |
 * | `DegradationLevelLimited` | warning | the degradation level is Limited (3) or worse |
 * | `HighFallbackRate` | warning | more than 10 % of a breaker's calls fell back over 5 minutes |
 * | `WriteBehindQueueGrowing` | warning | a write-behind queue is deeper than 15 minutes ago and nothing was replayed meanwhile |
 * | `WriteBehindDeadLettered` | warning | a write-behind entry was dead-lettered in the last 15 minutes |
 * | `RetryBudgetExhausted` | warning | calls of a dependency have found its retry budget empty for 5 minutes (rate over 2 minutes > 0) |
 * | `BulkheadRejecting` | warning | a bulkhead has refused more than 1 call per second (rate over 2 minutes, all instances and classes) for 5 minutes |
 * | `CircuitBreakerTransition` | info | a breaker changed state in the last 5 minutes |
 * | `DegradationLevelTransition` | info | the degradation level changed in the last 5 minutes |
 *
 * @since 0.1.0
 */
import { fileURLToPath } from "node:url"

/**
 * Absolute path of the directory holding the rule files (the same from `src/`
 * and from `dist/`).
 *
 * @since 0.1.0
 * @category files
 */
export const directory: string = fileURLToPath(new URL("../alerts/", import.meta.url))

/**
 * Absolute path of the rule file, for Prometheus' `rule_files`.
 *
 * @example
 * ```ts
 * import { AlertRules } from "@effect-resilience/otel"
 * import { readFileSync } from "node:fs"
 *
 * // prometheus.yml → rule_files: [<AlertRules.rulesFile>]; `promtool test rules <AlertRules.testFile>` tests them.
 * const rules = readFileSync(AlertRules.rulesFile, "utf8")
 * console.log(AlertRules.alerts.critical.every((alert) => rules.includes(`alert: ${alert}`)))
 * // Output: true
 * ```
 *
 * @since 0.1.0
 * @category files
 */
export const rulesFile: string = `${directory}effect-resilience.rules.yml`

/**
 * Absolute path of the `promtool test rules` file.
 *
 * @since 0.1.0
 * @category files
 */
export const testFile: string = `${directory}effect-resilience.rules.test.yml`

/**
 * The names of the alerts, by severity.
 *
 * @since 0.1.0
 * @category constants
 */
export const alerts = {
  critical: ["CircuitBreakerOpen", "KeyedCircuitBreakerOpen"],
  warning: [
    "DegradationLevelLimited",
    "HighFallbackRate",
    "WriteBehindQueueGrowing",
    "WriteBehindDeadLettered",
    "RetryBudgetExhausted",
    "BulkheadRejecting"
  ],
  info: ["CircuitBreakerTransition", "DegradationLevelTransition"]
} as const
