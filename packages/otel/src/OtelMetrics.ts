/**
 * The bridge from Effect's global metric registry to OpenTelemetry.
 *
 * Built on `@effect/opentelemetry`'s `Metrics` and `Resource` modules only:
 * unlike `NodeSdk.layer`, nothing here loads the OpenTelemetry tracing SDK, so a
 * metrics-only service pays for metrics only.
 *
 * @since 0.1.0
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import type { Attributes } from "@opentelemetry/api"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"

/**
 * Describes the service that emits the metrics (the OpenTelemetry resource).
 * Prometheus shows it as the `target_info` series.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceOptions {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  readonly attributes?: Attributes | undefined
}

/**
 * Options shared by every metrics layer of this package.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The OpenTelemetry resource. Default: read from `OTEL_SERVICE_NAME` and
   * `OTEL_RESOURCE_ATTRIBUTES`.
   */
  readonly resource?: ResourceOptions | undefined
  /**
   * Upper bound for each shutdown step (closing the server, flushing and
   * shutting down the readers). Default: 3 seconds.
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * The default upper bound of every shutdown step.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultShutdownTimeout: Duration.Duration = Duration.seconds(3)

// `service.name` per the OpenTelemetry specification when nothing names the service.
const fallbackResource = resourceFromAttributes(Resource.configToAttributes({ serviceName: "unknown_service:node" }))

/**
 * The OpenTelemetry resource layer for the given options: the explicit
 * resource when given, otherwise the standard `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES` environment variables, on top of
 * `service.name=unknown_service:node` and the `telemetry.sdk.*` attributes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerResource = (resource?: ResourceOptions | undefined): Layer.Layer<Resource.Resource> =>
  resource === undefined
    ? Layer.effect(Resource.Resource, Effect.map(Resource.Resource, (fromEnv) => fallbackResource.merge(fromEnv))).pipe(
      Layer.provide(Resource.layerFromEnv())
    )
    : Resource.layer({
      serviceName: resource.serviceName,
      ...(resource.serviceVersion === undefined ? {} : { serviceVersion: resource.serviceVersion }),
      ...(resource.attributes === undefined ? {} : { attributes: resource.attributes })
    })

/**
 * Feeds every Effect metric to the given OpenTelemetry `MetricReader`s (a
 * `PeriodicExportingMetricReader` with an OTLP exporter, a
 * `PrometheusExporter`, …). The readers are created when the layer is built
 * and shut down, within `shutdownTimeout`, when it is released.
 *
 * @example
 * ```ts
 * import { OtelMetrics } from "@effect-resilience/otel"
 * import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
 *
 * const MetricsLive = OtelMetrics.layer(() =>
 *   new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter() })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  readers: LazyArg<MetricReader | NonEmptyReadonlyArray<MetricReader>>,
  options: Options = {}
): Layer.Layer<never> =>
  Metrics.layer(readers, { shutdownTimeout: options.shutdownTimeout ?? defaultShutdownTimeout }).pipe(
    Layer.provide(layerResource(options.resource))
  )
