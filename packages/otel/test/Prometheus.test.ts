import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { describe, expect, it } from "@effect/vitest"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Scenario from "./fixtures/scenario.js"
import * as Exposition from "./utils/exposition.js"
import { freePort, get, occupyPort, request } from "./utils/http.js"

const serveOnFreePort = Prometheus.layer({ port: 0, host: "127.0.0.1" })

const startIn = <E>(scope: Scope.Scope, layer: Layer.Layer<Prometheus.Exporter, E>) =>
  Layer.buildWithScope(layer, scope).pipe(Effect.map(Context.get(Prometheus.Exporter)))

const urlOf = (exporter: Prometheus.Exporter["Type"]) =>
  Option.getOrThrowWith(exporter.address, () => new Error("exporter has no server"))

const scrapeHttp = (url: string) =>
  Effect.gen(function*() {
    const response = yield* get(url)
    expect(response.status).toBe(200)
    return { response, families: Exposition.parse(response.body) }
  })

describe("Prometheus.layer", () => {
  it.scoped("exposes every metric of the toolkit with its Prometheus name, type, labels and value", () =>
    Effect.gen(function*() {
      const exporter = yield* Prometheus.Exporter
      const { url } = urlOf(exporter)
      const name = Scenario.uniqueName("otel-scrape")
      // The breaker is named after the dependency, so its metrics carry that name.
      const dependency = name
      const degradedBefore = yield* Scenario.levelTransitions("Optimal", "Limited")
      const recoveredBefore = yield* Scenario.levelTransitions("Limited", "Optimal")

      const degradation = yield* Degradation
      const dep = yield* Scenario.dependency(name, { whenDown: DegradationLevel.Limited() })
      expect(dep.breaker.name).toBe(name)

      // closed → open: both failing calls fall back; the dependency is down, the level drops at once.
      const opened = yield* Scenario.open(dep)
      expect(opened).toEqual({ answers: [130, 130], state: "Open" })
      const whileOpen = (yield* scrapeHttp(url)).families
      expect(Exposition.value(whileOpen, "circuit_breaker_state", { breaker: name })).toBe(1)
      expect(Exposition.value(whileOpen, "dependency_up", { dependency })).toBe(0)
      expect(Exposition.value(whileOpen, "degradation_level")).toBe(DegradationLevel.rank(DegradationLevel.Limited()))

      // open: a rejected call falls back; then half-open by itself after the reset delay.
      expect(yield* Scenario.halfOpen(dep, TestClock.adjust)).toEqual({ answer: 130, state: "HalfOpen" })
      const whileHalfOpen = (yield* scrapeHttp(url)).families
      expect(Exposition.value(whileHalfOpen, "circuit_breaker_state", { breaker: name })).toBe(2)

      // half-open → closed by a successful probe; the next recovery tick restores the level.
      expect(yield* Scenario.close(dep)).toEqual({ answer: 100, state: "Closed" })
      expect((yield* degradation.current)._tag).toBe("Limited")
      yield* TestClock.adjust("1 second")
      expect((yield* degradation.current)._tag).toBe("Optimal")

      const { families, response } = yield* scrapeHttp(url)
      expect(response.headers["content-type"]).toBe(Prometheus.contentType)

      const type = (metric: string) => families.get(metric)?.type
      const labelSets = (metric: string, match: Record<string, string>) =>
        Exposition.select(families, metric, match).map((s) => Object.keys(s.labels).sort().join(","))
      const b = { breaker: name }

      // circuit_breaker_state: gauge {breaker}, back to 0 (closed) after reset
      expect(type("circuit_breaker_state")).toBe("gauge")
      expect(Exposition.value(families, "circuit_breaker_state", b)).toBe(0)
      expect(labelSets("circuit_breaker_state", b)).toEqual(["breaker"])

      // circuit_breaker_failures_total: counter {breaker}
      expect(type("circuit_breaker_failures_total")).toBe("counter")
      expect(Exposition.value(families, "circuit_breaker_failures_total", b)).toBe(2)
      expect(labelSets("circuit_breaker_failures_total", b)).toEqual(["breaker"])

      // circuit_breaker_fallback_calls_total: counter {breaker}
      expect(type("circuit_breaker_fallback_calls_total")).toBe("counter")
      expect(Exposition.value(families, "circuit_breaker_fallback_calls_total", b)).toBe(3)
      expect(labelSets("circuit_breaker_fallback_calls_total", b)).toEqual(["breaker"])

      // circuit_breaker_calls_total: counter {breaker, outcome}, every outcome present from creation
      expect(type("circuit_breaker_calls_total")).toBe("counter")
      const calls = Object.fromEntries(
        Exposition.select(families, "circuit_breaker_calls_total", b).map((s) => [s.labels.outcome, s.value])
      )
      expect(calls).toEqual({ success: 1, failure: 2, timeout: 0, rejected: 1, ignored: 0 })
      expect(new Set(labelSets("circuit_breaker_calls_total", b))).toEqual(new Set(["breaker,outcome"]))

      // circuit_breaker_transitions_total: counter {breaker, from, to}
      expect(type("circuit_breaker_transitions_total")).toBe("counter")
      const t = (from: string, to: string) =>
        Exposition.value(families, "circuit_breaker_transitions_total", { breaker: name, from, to })
      expect(t("closed", "open")).toBe(1)
      expect(t("open", "half_open")).toBe(1)
      expect(t("half_open", "closed")).toBe(1)
      expect(t("half_open", "open")).toBe(0)
      expect(new Set(labelSets("circuit_breaker_transitions_total", b))).toEqual(new Set(["breaker,from,to"]))

      // circuit_breaker_call_duration_seconds: histogram {breaker}, the 3 calls let through
      expect(type("circuit_breaker_call_duration_seconds")).toBe("histogram")
      expect(Exposition.value(families, "circuit_breaker_call_duration_seconds_count", b)).toBe(3)
      expect(Exposition.value(families, "circuit_breaker_call_duration_seconds_bucket", { ...b, le: "+Inf" })).toBe(3)
      expect(Exposition.value(families, "circuit_breaker_call_duration_seconds_sum", b)).toBeGreaterThanOrEqual(0)
      const buckets = Exposition.select(families, "circuit_breaker_call_duration_seconds_bucket", b)
      expect(buckets.length).toBeGreaterThan(2)
      expect(new Set(buckets.map((s) => Object.keys(s.labels).sort().join(",")))).toEqual(new Set(["breaker,le"]))

      // fallback_duration_seconds: histogram {breaker}
      expect(type("fallback_duration_seconds")).toBe("histogram")
      expect(Exposition.value(families, "fallback_duration_seconds_count", b)).toBe(3)
      expect(labelSets("fallback_duration_seconds_count", b)).toEqual(["breaker"])

      // degradation_level: gauge, no labels, back to Optimal
      expect(type("degradation_level")).toBe("gauge")
      expect(Exposition.select(families, "degradation_level").map((s) => s.labels)).toEqual([{}])
      expect(Exposition.value(families, "degradation_level")).toBe(1)

      // degradation_transitions_total: counter {from, to}; down once, up once
      expect(type("degradation_transitions_total")).toBe("counter")
      expect(Exposition.value(families, "degradation_transitions_total", { from: "Optimal", to: "Limited" }))
        .toBe(degradedBefore + 1)
      expect(Exposition.value(families, "degradation_transitions_total", { from: "Limited", to: "Optimal" }))
        .toBe(recoveredBefore + 1)
      expect(new Set(labelSets("degradation_transitions_total", {}))).toEqual(new Set(["from,to"]))

      // dependency_up: gauge {dependency}, up again
      expect(type("dependency_up")).toBe("gauge")
      expect(Exposition.value(families, "dependency_up", { dependency })).toBe(1)
      expect(labelSets("dependency_up", { dependency })).toEqual(["dependency"])

      // The resource is described once, as target_info; no scope label on our series.
      expect(type("target_info")).toBe("gauge")
      expect(Exposition.select(families, "circuit_breaker_state", b)[0]!.labels).not.toHaveProperty("otel_scope_name")
    }).pipe(Effect.provide(Layer.merge(serveOnFreePort, Degradation.layer({ recoveryInterval: "1 second" })))))

  it.scoped("serves GET and HEAD on a custom endpoint, 405 for other methods, 404 elsewhere", () =>
    Effect.gen(function*() {
      const exporter = yield* Prometheus.Exporter
      const { port, url } = urlOf(exporter)
      expect(url).toBe(`http://127.0.0.1:${port}/custom/metrics`)
      const full = yield* get(url)
      expect(full.status).toBe(200)
      expect(full.body).toContain("# TYPE")
      const head = yield* request(url, { method: "HEAD" })
      expect(head).toMatchObject({ status: 200, body: "" })
      expect(head.headers["content-type"]).toBe(Prometheus.contentType)
      expect((yield* request(url, { method: "POST" })).status).toBe(405)
      expect((yield* get(`http://127.0.0.1:${port}/metrics`)).status).toBe(404)
    }).pipe(Effect.provide(Prometheus.layer({ port: 0, host: "127.0.0.1", endpoint: "custom/metrics" }))))

  it.scoped("withScopeInfo and prefix are passed to the exporter", () =>
    Effect.gen(function*() {
      const exporter = yield* Prometheus.Exporter
      const name = Scenario.uniqueName("otel-prefix")
      yield* Scenario.openedBreaker(name)
      const families = Exposition.parse(yield* exporter.scrape)
      const [sample] = Exposition.select(families, "app_circuit_breaker_state", { breaker: name })
      expect(sample?.labels.otel_scope_name).toBe("@effect/opentelemetry/Metrics")
      expect(families.get("app_circuit_breaker_failures_total")?.type).toBe("counter")
    }).pipe(Effect.provide(Prometheus.layerHttpApp({ prefix: "app", withScopeInfo: true }))))

  it.live("the readers option feeds other OpenTelemetry readers from the same registry and shuts them down", () =>
    Effect.gen(function*() {
      const memory = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const reader = new PeriodicExportingMetricReader({ exporter: memory, exportIntervalMillis: 3_600_000 })
      const scope = yield* Scope.make()
      const exporter = yield* startIn(scope, Prometheus.layer({ port: 0, host: "127.0.0.1", readers: () => [reader] }))
      const name = Scenario.uniqueName("otel-readers")
      yield* Scenario.openedBreaker(name).pipe(Effect.scoped)
      yield* Effect.promise(() => reader.forceFlush())
      const pushed = memory.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      const failures = pushed.find((m) => m.descriptor.name === "circuit_breaker_failures_total")
      expect(failures?.dataPoints.find((p) => p.attributes.breaker === name)?.value).toBe(2)
      expect(
        Exposition.value(Exposition.parse(yield* exporter.scrape), "circuit_breaker_failures_total", { breaker: name })
      )
        .toBe(2)
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.tryPromise(() => reader.collect()).pipe(Effect.flip)
      expect(String(error.error)).toContain("MetricReader is shutdown")
    }))

  it.live("a port in use fails the layer with PortInUseError naming the port", () =>
    Effect.gen(function*() {
      const port = yield* occupyPort
      for (const host of ["127.0.0.1", undefined]) {
        const exit = yield* Layer.build(Prometheus.layer({ port, host })).pipe(Effect.scoped, Effect.exit)
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          const error = exit.cause.error
          expect(error._tag).toBe("PortInUseError")
          expect(error).toMatchObject({ port, host })
          expect(error.message).toContain(`port ${port} is already in use`)
        } else {
          throw new Error(`expected a typed failure, got ${String(exit)}`)
        }
      }
    }).pipe(Effect.scoped))

  it.live("a port out of range fails the layer with a typed ListenError", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(Prometheus.layer({ port: 70_000 })).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(Prometheus.ListenError)
      expect(error.port).toBe(70_000)
      expect(error.message).toContain("70000")
    }))

  it.live("a second exporter on the same port gets PortInUseError; the first keeps serving", () =>
    Effect.gen(function*() {
      const first = yield* Prometheus.Exporter
      const { port, url } = urlOf(first)
      const error = yield* Layer.build(Prometheus.layer({ port, host: "127.0.0.1" })).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(Prometheus.PortInUseError)
      expect(error.port).toBe(port)
      expect((yield* get(url)).status).toBe(200)
    }).pipe(Effect.provide(serveOnFreePort)))

  it.live("releasing the layer closes the port, even with a keep-alive connection open", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exporter = yield* startIn(scope, serveOnFreePort)
      const { url } = urlOf(exporter)
      const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
      expect((yield* get(url, agent)).status).toBe(200)
      expect((yield* get(url, agent)).status).toBe(200)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - started).toBeLessThan(1_000)
      const after = yield* get(url).pipe(Effect.flip)
      expect((after as NodeJS.ErrnoException).code).toBe("ECONNREFUSED")
      const scrapeAfter = yield* exporter.scrape.pipe(Effect.flip)
      expect(scrapeAfter).toBeInstanceOf(Prometheus.ScrapeError)
      expect(scrapeAfter.reason).toBe("ShuttingDown")
      agent.destroy()
    }))

  it.live("a client holding a request half-sent cannot hold the release past shutdownTimeout", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exporter = yield* startIn(
        scope,
        Prometheus.layer({ port: 0, host: "127.0.0.1", shutdownTimeout: "300 millis" })
      )
      const { port } = urlOf(exporter)
      // headers never finished: the connection is active, not idle
      const socket = Net.connect(port, "127.0.0.1")
      yield* Effect.async<void>((resume) => {
        socket.once("connect", () => resume(Effect.void))
      })
      socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n")
      yield* Effect.sleep("50 millis")
      const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"), Effect.exit)
      socket.destroy()
      // (it used to wait for the client: here, forever)
      expect(Exit.isSuccess(closed)).toBe(true)
      const after = yield* get(`http://127.0.0.1:${port}/metrics`).pipe(Effect.flip)
      expect((after as NodeJS.ErrnoException).code).toBe("ECONNREFUSED")
    }))

  it.live("scrapes racing the shutdown get 200, 503 or a refused connection, never a crash or a hang", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exporter = yield* startIn(scope, serveOnFreePort)
      const { url } = urlOf(exporter)
      const agent = new Http.Agent({ keepAlive: true, maxSockets: 8 })
      expect((yield* get(url, agent)).status).toBe(200)
      const scrapes = Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) =>
          Effect.sleep(Duration.millis(i % 10)).pipe(
            Effect.zipRight(get(url, agent)),
            Effect.map((r) => r.status),
            Effect.catchAll((e) => Effect.succeed((e as NodeJS.ErrnoException).code ?? e.message))
          ),
        { concurrency: 8 }
      )
      const [results] = yield* Effect.all([
        scrapes,
        Effect.sleep(Duration.millis(15)).pipe(Effect.zipRight(Scope.close(scope, Exit.void)))
      ], { concurrency: "unbounded" }).pipe(Effect.timeout(Duration.seconds(5)))
      for (const r of results) expect([200, 503, "ECONNREFUSED", "ECONNRESET", "socket hang up"]).toContain(r)
      // Whatever raced, the port is closed now.
      expect(yield* get(url).pipe(Effect.flip, Effect.map((e) => (e as NodeJS.ErrnoException).code))).toBe(
        "ECONNREFUSED"
      )
      agent.destroy()
    }))

  it.live("layerConfig reads OTEL_EXPORTER_PROMETHEUS_PORT and _HOST", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const exporter = yield* Layer.build(Prometheus.layerConfig()).pipe(
        Effect.map(Context.get(Prometheus.Exporter)),
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["OTEL_EXPORTER_PROMETHEUS_PORT", String(port)],
            ["OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1"]
          ])
        ))
      )
      expect(urlOf(exporter).url).toBe(`http://127.0.0.1:${port}/metrics`)
      expect((yield* get(urlOf(exporter).url)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.live("layerConfig fails with a ConfigError naming a bad port variable", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(Prometheus.layerConfig()).pipe(
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_PROMETHEUS_PORT", "99999"]]))),
        Effect.flip
      )
      expect(error._tag).not.toBe("PortInUseError")
      expect(String(error)).toContain("OTEL_EXPORTER_PROMETHEUS_PORT")
    }))

  it.live("target_info describes the service from the resource option or OTEL_SERVICE_NAME", () =>
    Effect.gen(function*() {
      const labelsWith = <E>(layer: Layer.Layer<Prometheus.Exporter, E>) =>
        Layer.build(layer).pipe(
          Effect.flatMap((ctx) => Context.get(ctx, Prometheus.Exporter).scrape),
          Effect.map((text) => Exposition.select(Exposition.parse(text), "target_info")[0]!.labels),
          Effect.scoped
        )
      expect(
        yield* labelsWith(Prometheus.layerHttpApp({ resource: { serviceName: "pricing", serviceVersion: "1.2.3" } }))
      )
        .toMatchObject({ service_name: "pricing", service_version: "1.2.3" })
      expect(yield* labelsWith(Prometheus.layerHttpApp())).toMatchObject({ service_name: "unknown_service:node" })
      expect(
        yield* labelsWith(Prometheus.layerHttpApp()).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_SERVICE_NAME", "from-env"]])))
        )
      ).toMatchObject({ service_name: "from-env" })
    }))
})

describe("Prometheus.httpApp", () => {
  const AppLive = HttpRouter.empty.pipe(
    HttpRouter.get("/metrics", Prometheus.httpApp),
    HttpServer.serve(),
    Layer.provide(Prometheus.layerHttpApp()),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

  it.live("serves every metric when mounted at /metrics on an @effect/platform server", () =>
    Effect.gen(function*() {
      const name = Scenario.uniqueName("otel-httpapp")
      yield* Scenario.openedBreaker(name)
      const response = yield* HttpClient.get("/metrics")
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toBe(Prometheus.contentType)
      const families = Exposition.parse(yield* response.text)
      expect(families.get("circuit_breaker_transitions_total")?.type).toBe("counter")
      expect(
        Exposition.value(families, "circuit_breaker_transitions_total", { breaker: name, from: "closed", to: "open" })
      )
        .toBe(1)
    }).pipe(Effect.provide(AppLive), Effect.scoped))

  it.live("answers 503, not a crash, once the exporter is shut down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exporter = yield* startIn(scope, Prometheus.layerHttpApp())
      const request = HttpServerRequest.fromWeb(new Request("http://localhost/metrics"))
      const run = Prometheus.httpApp.pipe(
        Effect.provideService(Prometheus.Exporter, exporter),
        Effect.provideService(HttpServerRequest.HttpServerRequest, request)
      )
      expect((yield* run).status).toBe(200)
      yield* Scope.close(scope, Exit.void)
      const response = yield* run
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toBe("1")
    }))
})
