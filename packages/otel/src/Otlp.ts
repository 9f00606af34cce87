/**
 * OTLP push of every Effect metric (to an OpenTelemetry Collector, Grafana
 * Alloy, Mimir, …) over OTLP/HTTP.
 *
 * An unreachable endpoint never stops the application: failed exports are
 * logged as a warning (once per outage, with an info when it recovers) and the
 * shutdown flush is bounded by `shutdownTimeout`.
 *
 * @since 0.1.0
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import type { InstrumentType, MetricReader, PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { AggregationTemporality, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as OtelMetrics from "./OtelMetrics.js"

/**
 * The default OTLP/HTTP metrics endpoint of a local collector.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUrl = "http://localhost:4318/v1/metrics"

/**
 * Options of the OTLP push.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends OtelMetrics.Options {
  /** The OTLP/HTTP metrics endpoint. Default: `http://localhost:4318/v1/metrics`. */
  readonly url?: string | undefined
  /** Extra HTTP headers, e.g. an authorization header. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Time between two pushes. Default: 60 seconds. */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** Upper bound of one push (request included). Default: 10 seconds. */
  readonly exportTimeout?: Duration.DurationInput | undefined
}

type ExportResult = Parameters<Parameters<PushMetricExporter["export"]>[1]>[0]

// `ExportResultCode.SUCCESS` of @opentelemetry/core, not a dependency of ours.
const SUCCESS = 0

class LoggingExporter implements PushMetricExporter {
  private failing = false
  constructor(
    readonly inner: PushMetricExporter,
    readonly url: string,
    readonly runtime: Runtime.Runtime<never>
  ) {}
  export(metrics: Parameters<PushMetricExporter["export"]>[0], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code !== SUCCESS) {
        // Once per outage, not once per interval.
        if (!this.failing) {
          this.failing = true
          Runtime.runFork(this.runtime)(
            Effect.logWarning(
              `OTLP metrics export to ${this.url} failed: ${result.error?.message ?? "unknown error"}. ` +
                `The application keeps running; the next interval retries.`
            )
          )
        }
      } else if (this.failing) {
        this.failing = false
        Runtime.runFork(this.runtime)(Effect.logInfo(`OTLP metrics export to ${this.url} recovered`))
      }
      resultCallback(result)
    })
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush()
  }
  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(instrumentType) ?? AggregationTemporality.CUMULATIVE
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
}

/**
 * Builds a `MetricReader` that pushes over OTLP/HTTP every `exportInterval`
 * and logs failed pushes as warnings, for `OtelMetrics.layer` or the
 * `readers` option of `Prometheus.layer`. The OTLP exporter is imported on
 * first use, so setups without OTLP never load it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeReader = (options: Omit<Options, "resource" | "shutdownTimeout"> = {}): Effect.Effect<MetricReader> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const { OTLPMetricExporter } = yield* Effect.promise(() => import("@opentelemetry/exporter-metrics-otlp-http"))
    const url = options.url ?? defaultUrl
    const exportTimeout = Duration.toMillis(Duration.decode(options.exportTimeout ?? Duration.seconds(10)))
    const exportInterval = Duration.toMillis(Duration.decode(options.exportInterval ?? Duration.seconds(60)))
    const exporter = new OTLPMetricExporter({
      url,
      timeoutMillis: exportTimeout,
      ...(options.headers === undefined ? {} : { headers: { ...options.headers } })
    })
    return new PeriodicExportingMetricReader({
      exporter: new LoggingExporter(exporter, url, runtime),
      exportIntervalMillis: exportInterval,
      // The SDK requires timeout <= interval.
      exportTimeoutMillis: Math.min(exportTimeout, exportInterval)
    })
  })

/**
 * Pushes every Effect metric over OTLP/HTTP. Combine freely with
 * `Prometheus.layer`: each bridge reads the same registry.
 *
 * @example
 * ```ts
 * import { Otlp, Prometheus } from "@effect-resilience/otel"
 * import { Layer } from "effect"
 *
 * const MetricsLive = Layer.merge(Prometheus.layer(), Otlp.layer({ url: "http://collector:4318/v1/metrics" }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never> =>
  Layer.unwrapEffect(
    Effect.map(makeReader(options), (reader) =>
      Metrics.layer(() => reader, {
        shutdownTimeout: options.shutdownTimeout ?? OtelMetrics.defaultShutdownTimeout
      }).pipe(Layer.provide(OtelMetrics.layerResource(options.resource))))
  )

const httpUrl = (name: string): Config.Config<string> =>
  Config.nonEmptyString(name).pipe(
    Config.validate({
      message: "Expected an http(s) URL such as http://collector:4318",
      validation: (raw) => {
        try {
          const protocol = new URL(raw).protocol
          return protocol === "http:" || protocol === "https:"
        } catch {
          return false
        }
      }
    })
  )

/**
 * `layer`, with the endpoint read from `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`
 * (a full URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, `/v1/metrics` is
 * appended), and the interval from `OTEL_METRIC_EXPORT_INTERVAL`
 * (milliseconds), as the OpenTelemetry specification names them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url" | "exportInterval"> = {}
): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      // Checked here: the SDK would throw on a bad URL or a non-positive
      // interval, a defect instead of a ConfigError naming the variable.
      const metricsUrl = yield* Config.option(httpUrl("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
      const baseUrl = yield* Config.option(httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT"))
      const interval = yield* Config.option(
        Config.integer("OTEL_METRIC_EXPORT_INTERVAL").pipe(
          // Node's timers take at most 2^31 - 1 ms (and fire at once above it).
          Config.validate({
            message: "Expected a positive number of milliseconds, at most 2147483647",
            validation: (n) => n > 0 && n <= 2_147_483_647
          })
        )
      )
      const url = Option.orElse(
        metricsUrl,
        () => Option.map(baseUrl, (base) => `${base.replace(/\/+$/, "")}/v1/metrics`)
      )
      return layer({
        ...options,
        url: Option.getOrUndefined(url),
        exportInterval: Option.getOrUndefined(Option.map(interval, Duration.millis))
      })
    })
  )
