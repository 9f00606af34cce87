import { Dashboards } from "@effect-resilience/otel"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

// Every series the toolkit exports, as Prometheus names them.
const histograms = ["circuit_breaker_call_duration_seconds", "fallback_duration_seconds", "bulkhead_wait_seconds"]
const metrics = new Set([
  "circuit_breaker_state",
  "circuit_breaker_failures_total",
  "circuit_breaker_fallback_calls_total",
  "circuit_breaker_calls_total",
  "circuit_breaker_transitions_total",
  "degradation_level",
  "degradation_transitions_total",
  "dependency_up",
  "write_behind_queue_depth",
  "write_behind_enqueued_total",
  "write_behind_replayed_total",
  "write_behind_rejected_total",
  "write_behind_dead_lettered_total",
  "http_requests_shed_total",
  "admin_actions_total",
  "retry_calls_total",
  "retry_attempts_total",
  "retry_budget_available",
  "circuit_breaker_keys",
  "bulkhead_inflight",
  "bulkhead_limit",
  "bulkhead_rejected_total",
  ...histograms.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`])
])
const metricRefs = (expr: string) =>
  [...expr.matchAll(
    /\b((?:circuit_breaker|fallback|degradation|dependency|write_behind|http_requests|admin_actions|retry|bulkhead)_[a-z_]+)\b/g
  )].map((m) => m[1]!)

const load = Dashboards.load.pipe(Effect.provide(NodeContext.layer))

const panelsOf = (dashboard: Dashboards.Dashboard) => dashboard.panels.filter((p) => p.type !== "row")

describe("Grafana dashboards", () => {
  it.effect("are Grafana 10+ dashboards with a Prometheus datasource variable used by every panel and query", () =>
    Effect.gen(function*() {
      const dashboards = yield* load
      expect(dashboards.map((d) => d.title)).toEqual([
        "effect-resilience / Circuit Breakers",
        "effect-resilience / Degradation",
        "effect-resilience / Fallback Usage"
      ])
      expect(new Set(dashboards.map((d) => d.uid)).size).toBe(3)
      for (const dashboard of dashboards) {
        const raw = dashboard as unknown as Record<string, any>
        expect(raw.schemaVersion).toBeGreaterThanOrEqual(36)
        expect(raw.id).toBeNull()
        expect(Array.isArray(raw.__inputs)).toBe(true)
        expect(raw.__requires.find((r: any) => r.id === "grafana").version).toMatch(/^10\./)
        const datasource = dashboard.templating.list.find((v) => v.name === "datasource")
        expect(datasource).toMatchObject({ type: "datasource", query: "prometheus" })
        const ids = dashboard.panels.map((p) => p.id)
        expect(new Set(ids).size).toBe(ids.length)
        for (const panel of panelsOf(dashboard)) {
          expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" })
          expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
          for (const target of panel.targets ?? []) {
            expect(target.datasource, `${panel.title} ${target.refId}`).toEqual({
              type: "prometheus",
              uid: "${datasource}"
            })
            expect(target.expr, panel.title).toBeTruthy()
          }
        }
        for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
          expect(variable, variable.name).toMatchObject({ datasource: { type: "prometheus", uid: "${datasource}" } })
        }
      }
    }))

  it.effect("lay panels out on the 24-column grid without overlaps", () =>
    Effect.gen(function*() {
      for (const dashboard of yield* load) {
        const boxes = dashboard.panels.map((p) => {
          const { h, w, x, y } = (p as unknown as { gridPos: Record<"h" | "w" | "x" | "y", number> }).gridPos
          return { title: p.title, h, w, x, y }
        })
        for (const [i, a] of boxes.entries()) {
          expect(a.x + a.w, a.title).toBeLessThanOrEqual(24)
          for (const b of boxes.slice(i + 1)) {
            const overlap = a.x! < b.x! + b.w! && b.x! < a.x + a.w && a.y! < b.y! + b.h! && b.y! < a.y! + a.h!
            expect(overlap, `${dashboard.title}: ${a.title} overlaps ${b.title}`).toBe(false)
          }
        }
      }
    }))

  it.effect("query only the toolkit's metrics, and together show all of them", () =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      for (const dashboard of yield* load) {
        for (const query of Dashboards.queries(dashboard)) {
          for (const metric of metricRefs(query.expr)) {
            expect(metrics.has(metric), `${query.panel}: ${metric}`).toBe(true)
            seen.add(metric)
          }
        }
      }
      for (const metric of metrics) {
        if (!/_(sum|count)$/.test(metric) || !histograms.some((h) => metric.startsWith(h))) {
          expect(seen.has(metric), `no panel shows ${metric}`).toBe(true)
        }
      }
    }))

  it.effect("aggregate across instances: every query is an aggregation, counters are summed after rate/increase", () =>
    Effect.gen(function*() {
      for (const dashboard of yield* load) {
        for (const query of Dashboards.queries(dashboard)) {
          const where = `${query.dashboard} / ${query.panel} / ${query.refId}`
          const expr = query.expr.replace(/\s+/g, " ")
          expect(expr, where).toMatch(/^(sum|max|min|count|histogram_quantile)\b/)
          // A bare selector of ours outside any aggregation would split the panel per instance.
          const calls = [...expr.matchAll(/\b(rate|increase)\(/g)].length
          const summed = [...expr.matchAll(/\bsum(?: by \([^)]*\))? ?\((?:rate|increase)\(/g)].length
          expect(summed, `${where}: every rate()/increase() must be summed`).toBe(calls)
          if (/_bucket\b/.test(expr)) expect(expr, where).toMatch(/sum by \([^)]*\ble\b[^)]*\)/)
          for (
            const selector of expr.matchAll(
              /\b(circuit_breaker_\w+|fallback_\w+|degradation_\w+|dependency_\w+|write_behind_\w+|http_requests_\w+|admin_actions_\w+|retry_\w+|bulkhead_\w+)\{([^}]*)\}/g
            )
          ) {
            expect(selector[2], `${where}: ${selector[1]} must honour $job`).toContain("job=~\"$job\"")
          }
        }
      }
    }))

  it.effect("carry the panels an operator needs", () =>
    Effect.gen(function*() {
      const titles = Object.fromEntries((yield* load).map((d) => [d.uid, panelsOf(d).map((p) => p.title)]))
      expect(titles["effect-resilience-breakers"]).toEqual(expect.arrayContaining([
        "State per breaker",
        "Openings",
        "Failures",
        "Fallbacks",
        "Retry ratio",
        "Retry budget tokens",
        "Calls by retry outcome",
        "Retry budget exhausted",
        "Keys per state",
        "Keyed breakers: open ratio",
        "Bulkhead in flight vs limit",
        "Bulkhead rejections by criticality",
        "Bulkhead wait p99"
      ]))
      const rows = Object.fromEntries(
        (yield* load).map((d) => [d.uid, d.panels.filter((p) => p.type === "row").map((p) => p.title)])
      )
      expect(rows["effect-resilience-breakers"]).toEqual(["Retries", "Keyed breakers", "Bulkheads"])
      expect(titles["effect-resilience-degradation"]).toEqual(expect.arrayContaining([
        "Level timeline",
        "Time at each level",
        "Transitions",
        "Requests affected",
        "Requests shed",
        "Admin actions"
      ]))
      expect(titles["effect-resilience-fallbacks"]).toEqual(expect.arrayContaining([
        "Fallbacks per breaker",
        "Latency p95: fallback vs normal",
        "Share of calls that fell back",
        "Write-behind queue depth",
        "Write-behind enqueued, replayed, dead-lettered",
        "Dead-lettered in range"
      ]))
    }))

  it("interpolate replaces every Grafana variable form and leaves unknown ones", () => {
    const vars = { job: "svc", __rate_interval: "1m" }
    expect(Dashboards.interpolate("rate(x{job=~\"$job\"}[$__rate_interval])", vars)).toBe("rate(x{job=~\"svc\"}[1m])")
    expect(Dashboards.interpolate("${job} ${job:regex} [[job]] $unknown", vars)).toBe("svc svc svc $unknown")
  })
})
