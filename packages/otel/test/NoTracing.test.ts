/**
 * Metrics-only setups must not load the OpenTelemetry tracing SDK. The
 * OpenTelemetry packages are CommonJS: whatever Node loads of them, through
 * `import` too, is in `require.cache`. This file runs in its own worker, so the
 * cache only holds what this file loads.
 */
import { OtelMetrics, Otlp, Prometheus } from "@effect-resilience/otel"
import { describe, expect, it } from "@effect/vitest"
import { InMemoryMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const loaded = (pattern: RegExp) => Object.keys(require.cache).filter((path) => pattern.test(path))
const tracing = /@opentelemetry[/+]sdk-trace|@opentelemetry[/+]sdk-logs|@opentelemetry[/+]context-async-hooks/

describe("metrics only", () => {
  it.live("Prometheus, OTLP and custom readers run without loading the tracing SDK", () =>
    Effect.gen(function*() {
      yield* Layer.build(Prometheus.layerHttpApp())
      // OTLP is imported on first use only.
      expect(loaded(/exporter-metrics-otlp-http/)).toEqual([])
      expect(loaded(/@opentelemetry[/+]sdk-metrics/).length).toBeGreaterThan(0)

      yield* Layer.build(
        Otlp.layer({ url: "http://127.0.0.1:9/v1/metrics", exportInterval: "1 hour", shutdownTimeout: "100 millis" })
      )
      yield* Layer.build(OtelMetrics.layer(() =>
        new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(0), exportIntervalMillis: 3_600_000 })
      ))
      expect(loaded(/exporter-metrics-otlp-http/).length).toBeGreaterThan(0)
      expect(loaded(tracing)).toEqual([])

      // Control: the same check does see the tracing SDK once NodeSdk is loaded.
      yield* Effect.promise(() =>
        import("@effect/opentelemetry/NodeSdk")
      )
      expect(loaded(tracing).length).toBeGreaterThan(0)
    }).pipe(Effect.scoped))
})
