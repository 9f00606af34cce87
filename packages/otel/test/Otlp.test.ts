import { Otlp } from "@effect-resilience/otel"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as Http from "node:http"
import * as Scenario from "./fixtures/scenario.js"
import { freePort, receiver } from "./utils/http.js"

/** Collects log lines of the effects it is provided to. */
const captureLogs = () => {
  const lines: Array<{ level: string; message: string }> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) =>
      lines.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
    )
  )
  return { lines, layer }
}

const eventually = <A>(check: () => A | undefined, timeout = Duration.seconds(5)) =>
  Effect.suspend(() => {
    const value = check()
    return value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value)
  }).pipe(Effect.retry(Schedule.spaced(Duration.millis(25))), Effect.timeout(timeout))

/** Builds the layer in its own scope; returns how long releasing it took. */
const runThenRelease = <E>(layer: Layer.Layer<never, E>, during: Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Layer.buildWithScope(layer, scope)
    yield* during
    const started = Date.now()
    yield* Scope.close(scope, Exit.void)
    return Date.now() - started
  })

describe("Otlp.layer", () => {
  it.live("pushes every metric to the OTLP/HTTP endpoint", () =>
    Effect.gen(function*() {
      const endpoint = yield* receiver("ok")
      const name = Scenario.uniqueName("otel-otlp")
      yield* Scenario.openedBreaker(name)
      yield* Layer.build(Otlp.layer({
        url: `http://127.0.0.1:${endpoint.port}/v1/metrics`,
        exportInterval: "100 millis",
        resource: { serviceName: "otlp-test" }
      }))
      const request = yield* eventually(() => endpoint.requests.find((r) => r.body.includes(name)))
      expect(request.path).toBe("/v1/metrics")
      expect(request.contentType).toContain("application/json")
      expect(request.body).toContain("circuit_breaker_transitions_total")
      expect(request.body).toContain("otlp-test")
    }).pipe(Effect.scoped))

  it.live("an unreachable endpoint logs a warning once, the application keeps running, shutdown is quick", () =>
    Effect.gen(function*() {
      const { lines, layer } = captureLogs()
      const port = yield* freePort
      const released = yield* runThenRelease(
        Otlp.layer({
          url: `http://127.0.0.1:${port}/v1/metrics`,
          exportInterval: "50 millis",
          exportTimeout: "50 millis",
          shutdownTimeout: "500 millis"
        }),
        Effect.gen(function*() {
          yield* eventually(() => lines.find((l) => l.level === "WARN"))
          // Still failing, several intervals later: still one warning.
          yield* Effect.sleep(Duration.millis(300))
        })
      ).pipe(Effect.provide(layer))
      const warnings = lines.filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.message).toContain(`OTLP metrics export to http://127.0.0.1:${port}/v1/metrics failed`)
      expect(released).toBeLessThan(1_500)
    }))

  it.live("an endpoint that never answers cannot hang the shutdown", () =>
    Effect.gen(function*() {
      const endpoint = yield* receiver("hang")
      const released = yield* runThenRelease(
        Otlp.layer({
          url: `http://127.0.0.1:${endpoint.port}/v1/metrics`,
          exportInterval: "1 hour",
          exportTimeout: "30 seconds",
          shutdownTimeout: "300 millis"
        }),
        Effect.void
      )
      // The final flush reached the endpoint and was abandoned after shutdownTimeout.
      expect(endpoint.requests.length).toBeGreaterThanOrEqual(1)
      expect(released).toBeGreaterThanOrEqual(250)
      expect(released).toBeLessThan(1_500)
    }).pipe(Effect.scoped))

  it.live("a failed push is followed by an info line once the endpoint recovers", () =>
    Effect.gen(function*() {
      const { lines, layer } = captureLogs()
      const port = yield* freePort
      yield* Layer.build(Otlp.layer({
        url: `http://127.0.0.1:${port}/v1/metrics`,
        exportInterval: "50 millis",
        exportTimeout: "50 millis",
        shutdownTimeout: "500 millis"
      })).pipe(Effect.provide(layer))
      yield* eventually(() => lines.find((l) => l.level === "WARN"))
      // The collector comes up on that port.
      const http = yield* Effect.promise(() => import("node:http"))
      const requests: Array<string> = []
      yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const server = http.createServer((req, res) => {
            requests.push(req.url ?? "")
            req.resume()
            req.on("end", () => res.writeHead(200).end("{}"))
          })
          server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
            server.closeAllConnections()
          })
      )
      const info = yield* eventually(() => lines.find((l) => l.level === "INFO" && l.message.includes("recovered")))
      expect(info.message).toContain(`http://127.0.0.1:${port}/v1/metrics`)
      expect(requests.length).toBeGreaterThan(0)
    }).pipe(Effect.scoped))

  it.live("layerConfig reads OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_METRIC_EXPORT_INTERVAL", () =>
    Effect.gen(function*() {
      const endpoint = yield* receiver("ok")
      yield* Layer.build(Otlp.layerConfig()).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${endpoint.port}/`],
            ["OTEL_METRIC_EXPORT_INTERVAL", "100"]
          ])
        ))
      )
      const request = yield* eventually(() => endpoint.requests[0])
      expect(request.path).toBe("/v1/metrics")
    }).pipe(Effect.scoped))

  for (
    const [variable, value] of [
      ["OTEL_METRIC_EXPORT_INTERVAL", "soon"],
      // the SDK itself would throw on these: a defect, not a ConfigError
      ["OTEL_METRIC_EXPORT_INTERVAL", "0"],
      ["OTEL_METRIC_EXPORT_INTERVAL", "-5"],
      ["OTEL_METRIC_EXPORT_INTERVAL", "2147483648"],
      ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "not a url"],
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"]
    ] as const
  ) {
    it.live(`layerConfig fails with a ConfigError naming ${variable}=${JSON.stringify(value)}`, () =>
      Effect.gen(function*() {
        const exit = yield* Layer.build(Otlp.layerConfig()).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([[variable, value]]))),
          Effect.exit
        )
        assert(Exit.isFailure(exit))
        const error = Cause.failureOption(exit.cause)
        assert(Option.isSome(error) && ConfigError.isConfigError(error.value))
        expect(String(error.value)).toContain(variable)
      }))
  }
})
