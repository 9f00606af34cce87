/**
 * Prometheus export of every Effect metric, through OpenTelemetry.
 *
 * The metrics of the global Effect registry go through `@effect/opentelemetry`
 * to the OpenTelemetry `PrometheusExporter`, which gives them their Prometheus
 * names and types (an incremental Effect counter becomes a `counter` named
 * `…_total`). They are served on a port of their own (`layer`, default 9464),
 * or as an `HttpApp` that an `@effect/platform` server mounts at `/metrics`
 * (`layerHttpApp` + `httpApp`), or both.
 *
 * @example
 * ```ts
 * import { Prometheus } from "@effect-resilience/otel"
 *
 * const MetricsLive = Prometheus.layer({ port: 9464 })   // scrape http://host:9464/metrics
 * ```
 *
 * @since 0.1.0
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as internalServer from "./internal/server.js"
import * as OtelMetrics from "./OtelMetrics.js"

/**
 * The exporter's default port (the one registered for the OpenTelemetry
 * Prometheus exporter).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPort = 9464

/**
 * The content type of the Prometheus text exposition format. Sent explicitly:
 * Prometheus 3 refuses a bare `text/plain`.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The exporter's own server could not listen because another process (or
 * another exporter) already holds the port.
 *
 * @since 0.1.0
 * @category errors
 */
export class PortInUseError extends Data.TaggedError("PortInUseError")<{
  readonly port: number
  readonly host: string | undefined
  readonly cause: unknown
}> {
  /**
   * Names the port, who may hold it and how to pick another.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `Prometheus exporter cannot listen on ${
      this.host ?? "*"
    }:${this.port}: port ${this.port} is already in use. ` +
      `Stop the process holding it or choose another port (option \`port\`, or OTEL_EXPORTER_PROMETHEUS_PORT with layerConfig).`
  }
}

/**
 * The exporter's own server could not listen for another reason than a busy
 * port (permission denied, unknown host, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly port: number
  readonly host: string | undefined
  readonly cause: unknown
}> {
  /**
   * Names the address and why listening failed.
   *
   * @since 0.1.0
   */
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Prometheus exporter cannot listen on ${this.host ?? "*"}:${this.port}: ${reason}`
  }
}

/**
 * A scrape could not be answered: the exporter is shutting down, or the
 * collection failed. Served as HTTP 503, never as a crash.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScrapeError extends Data.TaggedError("ScrapeError")<{
  readonly reason: "ShuttingDown" | "CollectFailed"
  readonly cause?: unknown
}> {
  /**
   * Shutting down, or why collecting the metrics failed.
   *
   * @since 0.1.0
   */
  override get message(): string {
    if (this.reason === "ShuttingDown") return "metrics exporter is shutting down"
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `metrics collection failed: ${reason}`
  }
}

/**
 * Where the exporter's own server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  /** The bound port (the actual one when `0` was asked for). */
  readonly port: number
  /** The scrape URL, e.g. `http://localhost:9464/metrics`. */
  readonly url: string
}

/**
 * What the running exporter offers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExporterService {
  /** Collects every metric now and renders it in the Prometheus text format. */
  readonly scrape: Effect.Effect<string, ScrapeError>
  /** The exporter's own server, when it runs one (`layer`, not `layerHttpApp`). */
  readonly address: Option.Option<Address>
}

/**
 * The running exporter.
 *
 * @since 0.1.0
 * @category tags
 */
export class Exporter extends Context.Tag("@effect-resilience/otel/Prometheus/Exporter")<Exporter, ExporterService>() {}

/**
 * Options of the Prometheus layers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends OtelMetrics.Options {
  /** Port of the exporter's own server; `0` picks a free one. Default: 9464. */
  readonly port?: number | undefined
  /** Interface to bind. Default: every interface. */
  readonly host?: string | undefined
  /** Path of the scrape endpoint on the exporter's own server. Default: `/metrics`. */
  readonly endpoint?: string | undefined
  /**
   * More OpenTelemetry readers fed from the same registry, e.g. a
   * `PeriodicExportingMetricReader` pushing over OTLP. See also `Otlp.layer`.
   */
  readonly readers?: LazyArg<ReadonlyArray<MetricReader>> | undefined
  /** Prefix prepended to every metric name. Default: none. */
  readonly prefix?: string | undefined
  /**
   * Add the `otel_scope_name` label to every series. Default: false, so every
   * series carries exactly the labels its metric defines.
   */
  readonly withScopeInfo?: boolean | undefined
  /** Omit the `target_info` series that describes the resource. Default: false. */
  readonly withoutTargetInfo?: boolean | undefined
}

const normalizeEndpoint = (endpoint: string | undefined): string => {
  const path = endpoint ?? "/metrics"
  return path.startsWith("/") ? path : `/${path}`
}

const makeBridge = (options: Options) =>
  Effect.gen(function*() {
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? OtelMetrics.defaultShutdownTimeout)
    const withoutScopeInfo = options.withScopeInfo !== true
    const withoutTargetInfo = options.withoutTargetInfo === true
    // Used as a pull-based MetricReader only: the HTTP side is ours (see internal/server).
    const reader = new PrometheusExporter({
      preventServerStart: true,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      withoutScopeInfo,
      withoutTargetInfo
    })
    const serializer = new PrometheusSerializer(options.prefix, false, undefined, withoutTargetInfo, withoutScopeInfo)

    // Registered first so that it is released last: the server stops before the readers do.
    yield* Layer.build(
      Metrics.layer(() => [reader, ...(options.readers?.() ?? [])], { shutdownTimeout }).pipe(
        Layer.provide(OtelMetrics.layerResource(options.resource))
      )
    )

    let closing = false
    yield* Effect.addFinalizer(() => Effect.sync(() => closing = true))

    const scrape: Effect.Effect<string, ScrapeError> = Effect.suspend(() =>
      closing
        ? Effect.fail(new ScrapeError({ reason: "ShuttingDown" }))
        : Effect.tryPromise({
          try: () => reader.collect(),
          catch: (cause) => new ScrapeError({ reason: closing ? "ShuttingDown" : "CollectFailed", cause })
        }).pipe(Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics)))
    )

    return { scrape, shutdownTimeout }
  })

const makeServed = (options: Options) =>
  Effect.gen(function*() {
    const { scrape, shutdownTimeout } = yield* makeBridge(options)
    const port = options.port ?? defaultPort
    const host = options.host
    const address = yield* internalServer.serve({
      port,
      host,
      endpoint: normalizeEndpoint(options.endpoint),
      contentType,
      shutdownTimeout,
      scrape,
      onListenError: (cause): PortInUseError | ListenError =>
        cause.code === "EADDRINUSE"
          ? new PortInUseError({ port, host, cause })
          : new ListenError({ port, host, cause })
    })
    yield* Effect.annotateLogs(Effect.logDebug(`Prometheus exporter listening on ${address.url}`), "port", address.port)
    return Exporter.of({ scrape, address: Option.some(address) })
  })

/**
 * Exports every Effect metric for Prometheus on the exporter's own HTTP
 * server (default `:9464/metrics`). Fails with `PortInUseError` when the port
 * is taken. Releasing the layer closes the port within `shutdownTimeout`;
 * scrapes that arrive meanwhile get 503.
 *
 * The `Exporter` it provides can also back `httpApp`, to serve the same
 * metrics on the application's own server.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Prometheus } from "@effect-resilience/otel"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "db" })
 *   yield* breaker(Effect.succeed("rows"))
 *   const exporter = yield* Prometheus.Exporter
 *   // What Prometheus reads from the exporter's address.
 *   const metrics = yield* exporter.scrape
 *   console.log(metrics.split("\n").find((line) => line.startsWith("circuit_breaker_calls_total{breaker=\"db\",outcome=\"success\"}")))
 *   // Output: circuit_breaker_calls_total{breaker="db",outcome="success"} 1
 * })
 *
 * // Port 0 picks a free port; the default is 9464 on every interface.
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Prometheus.layer({ port: 0, host: "127.0.0.1" }))))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Exporter, PortInUseError | ListenError> =>
  Layer.scoped(Exporter, makeServed(options))

/**
 * `layer`, with the port and interface read from
 * `OTEL_EXPORTER_PROMETHEUS_PORT` (default 9464) and
 * `OTEL_EXPORTER_PROMETHEUS_HOST` (default: every interface). A bad value
 * fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "port" | "host"> = {}
): Layer.Layer<Exporter, PortInUseError | ListenError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const port = yield* Config.port("OTEL_EXPORTER_PROMETHEUS_PORT").pipe(Config.withDefault(defaultPort))
      const host = yield* Config.option(Config.nonEmptyString("OTEL_EXPORTER_PROMETHEUS_HOST"))
      return layer({ ...options, port, host: Option.getOrUndefined(host) })
    })
  )

/**
 * Bridges every Effect metric to OpenTelemetry and provides the `Exporter`
 * without opening a port of its own: serve `httpApp` from the application's
 * `@effect/platform` server instead.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { Prometheus } from "@effect-resilience/otel"
 *
 * const router = HttpRouter.empty.pipe(HttpRouter.get("/metrics", Prometheus.httpApp))
 * // … HttpServer.serve(router), provided with Prometheus.layerHttpApp()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpApp = (
  options: Omit<Options, "port" | "host" | "endpoint"> = {}
): Layer.Layer<Exporter> =>
  Layer.scoped(
    Exporter,
    Effect.map(makeBridge(options), ({ scrape }) => Exporter.of({ scrape, address: Option.none() }))
  )

/**
 * Answers a scrape: every metric in the Prometheus text format, or 503 with a
 * one-line reason while the exporter shuts down.
 *
 * @since 0.1.0
 * @category http
 */
export const httpApp: HttpApp.Default<never, Exporter> = Effect.flatMap(
  Exporter,
  ({ scrape }) =>
    scrape.pipe(
      Effect.map((body) => HttpServerResponse.text(body, { contentType })),
      Effect.catchAll((error) =>
        Effect.succeed(HttpServerResponse.text(`# ${error.message}\n`, {
          status: 503,
          headers: { "retry-after": "1" }
        }))
      )
    )
)
