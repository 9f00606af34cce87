/**
 * @since 0.1.0
 */

/**
 * The shipped Prometheus alerting rules and their unit tests.
 *
 * @since 0.1.0
 */
export * as AlertRules from "./AlertRules.js"

/**
 * The shipped Grafana dashboards and the tools to run their queries.
 *
 * @since 0.1.0
 */
export * as Dashboards from "./Dashboards.js"

/**
 * The bridge from Effect's metric registry to any OpenTelemetry `MetricReader`,
 * without the tracing SDK.
 *
 * @since 0.1.0
 */
export * as OtelMetrics from "./OtelMetrics.js"

/**
 * OTLP/HTTP push of every Effect metric.
 *
 * @since 0.1.0
 */
export * as Otlp from "./Otlp.js"

/**
 * Prometheus export: the exporter's own port, or an `HttpApp` for `/metrics`.
 *
 * @since 0.1.0
 */
export * as Prometheus from "./Prometheus.js"
