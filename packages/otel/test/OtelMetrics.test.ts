import { OtelMetrics } from "@effect-resilience/otel"
import { describe, expect, it } from "@effect/vitest"
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Scenario from "./fixtures/scenario.js"

describe("OtelMetrics.layer", () => {
  it.live("feeds any MetricReader with OTel types matching the Effect metrics, and shuts it down on release", () =>
    Effect.gen(function*() {
      const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(OtelMetrics.layer(() => reader, { resource: { serviceName: "reader-test" } }), scope)
      const name = Scenario.uniqueName("otel-reader")
      yield* Scenario.openedBreaker(name)
      yield* Effect.promise(() => reader.forceFlush())

      const [exported] = exporter.getMetrics()
      expect(exported?.resource.attributes["service.name"]).toBe("reader-test")
      const metrics = exported!.scopeMetrics.flatMap((s) => s.metrics)
      const byName = (n: string) => metrics.find((m) => m.descriptor.name === n)
      const failures = byName("circuit_breaker_failures_total")
      expect(failures).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true })
      expect(failures!.dataPoints.find((p) => p.attributes.breaker === name)?.value).toBe(2)
      expect(byName("circuit_breaker_state")?.dataPointType).toBe(DataPointType.GAUGE)
      expect(byName("circuit_breaker_call_duration_seconds")?.dataPointType).toBe(DataPointType.HISTOGRAM)

      yield* Scope.close(scope, Exit.void)
      const afterShutdown = yield* Effect.tryPromise(() => reader.collect()).pipe(Effect.flip)
      expect(String(afterShutdown.error)).toContain("MetricReader is shutdown")
    }).pipe(Effect.scoped))
})
