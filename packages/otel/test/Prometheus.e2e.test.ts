/**
 * End to end against a real Prometheus: it scrapes this process — once on the
 * exporter's own port and once through `Prometheus.httpApp` mounted on an
 * `@effect/platform` server (two instances of one job) — while the toolkit
 * runs; then every dashboard query goes through Prometheus' HTTP API and the
 * alert rules are evaluated on the live series.
 */
import { Degradation, DegradationLevel, Fallback } from "@effect-resilience/core"
import { AlertRules, Dashboards, Prometheus } from "@effect-resilience/otel"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { createServer } from "node:http"
import * as Scenario from "./fixtures/scenario.js"
import * as PrometheusServer from "./utils/PrometheusServer.js"

const job = "effect-resilience-e2e"
// Each dependency's breaker carries its name.
const names = {
  cycle: Scenario.uniqueName("e2e-cycle"),
  ok: Scenario.uniqueName("e2e-ok"),
  fallback: Scenario.uniqueName("e2e-fallback"),
  queue: Scenario.uniqueName("e2e-queue"),
  retry: Scenario.uniqueName("e2e-retry"),
  keyed: Scenario.uniqueName("e2e-keyed"),
  bulkhead: Scenario.uniqueName("e2e-bulkhead")
}

class E2E extends Context.Tag("test/E2E")<E2E, {
  readonly prometheus: PrometheusServer.PrometheusServer
  readonly targets: ReadonlyArray<string>
}>() {}

class Toolkit extends Context.Tag("test/Toolkit")<Toolkit, {
  readonly cycle: Scenario.TestDependency
  readonly fallback: Scenario.TestDependency
  readonly degradation: Degradation["Type"]
  readonly queue: Fallback.WriteBehindQueue<number>
}>() {}

// Platform's HTTP series (its middleware and admin routes make the same ones; otel does not depend on platform).
const shed = (reason: "writes_blocked" | "status_only") =>
  Metric.counter("http_requests_shed_total", { incremental: true }).pipe(Metric.tagged("reason", reason))
const adminAction = (action: string, outcome: string) =>
  Metric.counter("admin_actions_total", { incremental: true }).pipe(
    Metric.tagged("action", action),
    Metric.tagged("outcome", outcome)
  )

// The retry stage's, keyed breakers' and bulkheads' series, under the names and labels core exports
// them with, fed by hand until this scenario runs those modules: a budget that keeps running dry,
// most keys of a keyed breaker open, a bulkhead refusing 10 calls a second.
const retryCalls = (outcome: string) =>
  Metric.counter("retry_calls_total", { incremental: true }).pipe(
    Metric.tagged("dependency", names.retry),
    Metric.tagged("outcome", outcome)
  )
const retryAttempts = Metric.counter("retry_attempts_total", { incremental: true }).pipe(
  Metric.tagged("dependency", names.retry)
)
const retryBudget = Metric.gauge("retry_budget_available").pipe(Metric.tagged("dependency", names.retry))
const keys = (state: string) =>
  Metric.gauge("circuit_breaker_keys").pipe(Metric.tagged("breaker", names.keyed), Metric.tagged("state", state))
const bulkhead = {
  inflight: Metric.gauge("bulkhead_inflight").pipe(Metric.tagged("bulkhead", names.bulkhead)),
  limit: Metric.gauge("bulkhead_limit").pipe(Metric.tagged("bulkhead", names.bulkhead)),
  rejected: (criticality: string) =>
    Metric.counter("bulkhead_rejected_total", { incremental: true }).pipe(
      Metric.tagged("bulkhead", names.bulkhead),
      Metric.tagged("criticality", criticality)
    ),
  wait: Metric.histogram(
    "bulkhead_wait_seconds",
    MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 16 })
  ).pipe(Metric.tagged("bulkhead", names.bulkhead))
}

const StandInsLive = Layer.scopedDiscard(Effect.gen(function*() {
  const outcomes = ["first_try", "after_retry", "gave_up", "budget_exhausted", "stopped_open"]
  for (const outcome of outcomes) yield* Metric.incrementBy(retryCalls(outcome), 0)
  yield* Metric.incrementBy(retryAttempts, 0)
  const criticalities = ["critical_plus", "critical", "sheddable_plus", "sheddable"]
  for (const criticality of criticalities) yield* Metric.incrementBy(bulkhead.rejected(criticality), 0)
  // 4 of 7 keys open or forced open: above the alert's half.
  const states = { closed: 2, open: 3, half_open: 1, forced_open: 1, disabled: 0 }
  for (const [state, count] of Object.entries(states)) yield* Metric.set(keys(state), count)
  yield* Metric.set(bulkhead.limit, 8)
  let tick = 0
  yield* Effect.suspend(() => {
    tick++
    return Effect.all([
      Metric.increment(retryCalls("first_try")),
      Metric.increment(retryCalls("after_retry")),
      Metric.increment(retryCalls("budget_exhausted")),
      Metric.incrementBy(retryAttempts, 2),
      Metric.set(retryBudget, tick % 5),
      Metric.set(bulkhead.inflight, tick % 9),
      Metric.increment(bulkhead.rejected("sheddable")),
      Metric.update(bulkhead.wait, 0.002 + (tick % 10) / 1000)
    ])
  }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(100))), Effect.forkScoped)
}))

// The exporter's own port.
const ExporterLive = Prometheus.layer({ port: 0, host: "127.0.0.1", resource: { serviceName: job } })

// The same registry served by the application's server at /metrics.
const AppServerLive = HttpRouter.empty.pipe(
  HttpRouter.get("/metrics", Prometheus.httpApp),
  HttpServer.serve(),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// The service as it starts: its dependencies are created (every series at 0)
// before the first scrape. Steady traffic gives rates, ratios and quantiles
// data: one dependency always healthy, one whose calls fall back once its
// breaker is forced open.
const ToolkitLive = Layer.scoped(
  Toolkit,
  Effect.gen(function*() {
    const degradation = yield* Degradation
    const cycle = yield* Scenario.dependency(names.cycle, { whenDown: DegradationLevel.Degraded() })
    const ok = yield* Scenario.dependency(names.ok, {
      whenDown: DegradationLevel.Degraded(),
      latency: Duration.millis(2)
    })
    const fallback = yield* Scenario.dependency(names.fallback, {
      whenDown: DegradationLevel.Limited(),
      latency: Duration.millis(3),
      fallbackLatency: Duration.millis(1)
    })
    yield* Effect.all([ok.quotes.quote(1), fallback.quotes.quote(1)]).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(50))),
      Effect.forkScoped
    )
    // A write-behind queue that keeps being fed and drained; the scenario dead-letters one entry.
    const queue = yield* Fallback.memoryQueue<number>({ name: names.queue, maxAttempts: 1 })
    yield* queue.offer(1).pipe(Effect.repeat(Schedule.spaced(Duration.millis(100))), Effect.forkScoped)
    yield* queue.replay(() => Effect.void).pipe(
      Effect.ignore,
      Effect.repeat(Schedule.spaced(Duration.millis(300))),
      Effect.forkScoped
    )
    // Every series at 0 first, as platform does, then traffic.
    for (const reason of ["writes_blocked", "status_only"] as const) yield* Metric.incrementBy(shed(reason), 0)
    for (const action of ["force", "release"]) {
      for (const outcome of ["ok", "denied", "invalid"]) yield* Metric.incrementBy(adminAction(action, outcome), 0)
    }
    yield* Metric.increment(shed("writes_blocked")).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(100))),
      Effect.forkScoped
    )
    return { cycle, fallback, degradation, queue }
  })
).pipe(Layer.provide(Degradation.layer({ recoveryInterval: "300 millis" })))

const levelIs = (degradation: Degradation["Type"], tag: DegradationLevel.Tag) =>
  degradation.current.pipe(
    Effect.filterOrFail((level) => level._tag === tag),
    Effect.retry(Schedule.spaced(Duration.millis(20))),
    Effect.timeout(Duration.seconds(3))
  )

const hostPort = (url: string) => new URL(url).host

const E2ELive = Layer.scoped(
  E2E,
  Effect.gen(function*() {
    const exporter = yield* Prometheus.Exporter
    const server = yield* HttpServer.HttpServer
    const toolkit = yield* Toolkit
    const own = hostPort(Option.getOrThrow(exporter.address).url)
    const app = server.address._tag === "TcpAddress" ? `127.0.0.1:${server.address.port}` : ""
    const targets = [own, app]
    const prometheus = yield* PrometheusServer.start({ job, targets, ruleFiles: [AlertRules.rulesFile] })
    // Two scrapes of each target before anything happens, so that increases are seen.
    yield* prometheus.waitFor(`count_over_time(up{job="${job}"}[1m]) >= 2`, (s) => s.length === 2)

    // closed → open (Degraded at once) → half-open → closed, then recovery to Optimal.
    yield* Scenario.cycle(toolkit.cycle, Effect.sleep)
    yield* levelIs(toolkit.degradation, "Optimal")
    // The fallback breaker's dependency goes down: Limited, and its calls fall back.
    yield* toolkit.fallback.breaker.forceOpen
    yield* levelIs(toolkit.degradation, "Limited")
    yield* Metric.increment(adminAction("force", "ok"))
    yield* Metric.increment(adminAction("force", "denied"))
    // One delivery that fails (maxAttempts 1): dead-lettered.
    yield* toolkit.queue.offer(-1)
    yield* toolkit.queue.replay((n) => n < 0 ? Effect.fail("rejected by the dependency") : Effect.void).pipe(
      Effect.ignore
    )
    if ((yield* toolkit.queue.deadLetters.pipe(Effect.orDie)).length === 0) {
      return yield* Effect.dieMessage("the scenario expected a dead letter")
    }

    // Both instances have scraped the end of the scenario, then enough samples for 10s rate windows.
    yield* prometheus.waitFor(
      `degradation_transitions_total{job="${job}", from="Optimal", to="Limited"} >= 1`,
      (s) => s.length === 2
    )
    yield* Effect.sleep(Duration.seconds(3))
    return { prometheus, targets }
  })
).pipe(
  Layer.provide(Layer.mergeAll(AppServerLive, ToolkitLive, StandInsLive)),
  Layer.provide(ExporterLive),
  Layer.provideMerge(NodeContext.layer)
)

const variables = { ...Dashboards.testVariables, job }

const resultOf = (r: PrometheusServer.QueryResult) => (r.data?.result ?? []) as ReadonlyArray<unknown>

describe("end to end against a real Prometheus", () => {
  layer(E2ELive, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("Prometheus scrapes both endpoints with our content type", () =>
      Effect.gen(function*() {
        const { prometheus, targets } = yield* E2E
        const active = (yield* prometheus.api("/api/v1/targets")).data.activeTargets as ReadonlyArray<any>
        const ours = active.filter((t) => t.labels.job === job)
        expect(ours.map((t) => t.labels.instance).sort()).toEqual([...targets].sort())
        for (const target of ours) {
          expect({ instance: target.labels.instance, health: target.health, error: target.lastError })
            .toEqual({ instance: target.labels.instance, health: "up", error: "" })
        }
        const state = yield* prometheus.query(`circuit_breaker_state{job="${job}", breaker="${names.fallback}"}`)
        expect(resultOf(state).map((s: any) => s.value[1])).toEqual(["1", "1"])
        const level = yield* prometheus.query(`max(degradation_level{job="${job}"})`)
        expect(resultOf(level).map((s: any) => s.value[1])).toEqual(["3"])
      }))

    it.effect("every query of every dashboard panel parses and returns data", () =>
      Effect.gen(function*() {
        const { prometheus } = yield* E2E
        const dashboards = yield* Dashboards.load
        expect(dashboards.length).toBe(3)
        let checked = 0
        for (const dashboard of dashboards) {
          for (const query of Dashboards.queries(dashboard)) {
            const expr = Dashboards.interpolate(query.expr, variables)
            const where = `${query.dashboard} / ${query.panel} / ${query.refId}: ${expr}`
            expect(expr, where).not.toMatch(/\$|\[\[/)
            const instant = yield* prometheus.query(expr)
            expect({ where, status: instant.status, error: instant.error }).toEqual({
              where,
              status: "success",
              error: undefined
            })
            expect(resultOf(instant).length, `no data: ${where}`).toBeGreaterThan(0)
            if (!query.instant) {
              const range = yield* prometheus.queryRange(expr, 20)
              expect({ where, status: range.status, error: range.error }).toEqual({
                where,
                status: "success",
                error: undefined
              })
              expect(resultOf(range).length, `no data over 20s: ${where}`).toBeGreaterThan(0)
            }
            checked++
          }
        }
        expect(checked).toBeGreaterThanOrEqual(30)
      }))

    it.effect("every dashboard variable query finds our series", () =>
      Effect.gen(function*() {
        const { prometheus } = yield* E2E
        const dashboards = yield* Dashboards.load
        const expected: Record<string, string> = { job, breaker: names.cycle, dependency: names.cycle }
        for (const dashboard of dashboards) {
          for (const variable of dashboard.templating.list) {
            if (variable.type === "datasource") {
              expect(variable.query).toBe("prometheus")
              continue
            }
            const definition = typeof variable.query === "string" ? variable.query : variable.query?.query ?? ""
            const m = /^label_values\((.+),\s*(\w+)\)$/.exec(Dashboards.interpolate(definition, variables))
            expect(m, `${dashboard.title} $${variable.name}: ${definition}`).not.toBeNull()
            const values = (yield* prometheus.api(`/api/v1/label/${m![2]}/values`, { "match[]": m![1]! })).data
            const want = dashboard.uid === "effect-resilience-fallbacks" && variable.name === "breaker"
              ? names.fallback
              : dashboard.uid === "effect-resilience-fallbacks" && variable.name === "dependency"
              ? names.queue
              : expected[variable.name]
            expect(values, `${dashboard.title} $${variable.name}`).toContain(want)
          }
        }
      }))

    it.effect("the alert rules load, evaluate and fire on the live series", () =>
      Effect.gen(function*() {
        const { prometheus } = yield* E2E
        const groups = (yield* prometheus.api("/api/v1/rules")).data.groups as ReadonlyArray<any>
        const rules = groups.find((g) => g.name === "effect-resilience")?.rules as ReadonlyArray<any>
        expect(rules.map((r) => r.name).sort()).toEqual(
          [...AlertRules.alerts.critical, ...AlertRules.alerts.warning, ...AlertRules.alerts.info].sort()
        )
        const severity = (name: string) =>
          (Object.keys(AlertRules.alerts) as Array<keyof typeof AlertRules.alerts>)
            .find((s) => (AlertRules.alerts[s] as ReadonlyArray<string>).includes(name))
        for (const rule of rules) {
          expect({ rule: rule.name, health: rule.health, severity: rule.labels.severity })
            .toEqual({ rule: rule.name, health: "ok", severity: severity(rule.name) })
          // What is down and what users see, for the person on call.
          expect(rule.annotations.summary, rule.name).toMatch(/\S/)
          expect(rule.annotations.description, rule.name).toMatch(/[Uu]sers/)
        }
        expect(rules.find((r) => r.name === "CircuitBreakerOpen").duration).toBe(300)

        const alert = (name: string, labels: string, state = "firing") =>
          prometheus.waitFor(`ALERTS{alertname="${name}", alertstate="${state}", ${labels}}`, (s) => s.length > 0)
        yield* alert("CircuitBreakerTransition", `breaker="${names.cycle}", from="closed", to="open"`)
        yield* alert("CircuitBreakerTransition", `breaker="${names.cycle}", from="half_open", to="closed"`)
        yield* alert("DegradationLevelTransition", `job="${job}", from="Optimal", to="Degraded"`)
        yield* alert("DegradationLevelTransition", `job="${job}", from="Degraded", to="Optimal"`)
        yield* alert("DegradationLevelTransition", `job="${job}", from="Optimal", to="Limited"`)
        yield* alert("DegradationLevelLimited", `job="${job}", severity="warning"`)
        yield* alert("HighFallbackRate", `breaker="${names.fallback}", severity="warning"`)
        yield* alert("WriteBehindDeadLettered", `dependency="${names.queue}", severity="warning"`)
        // Open for seconds, not 5 minutes: pending, not firing.
        yield* alert("CircuitBreakerOpen", `breaker="${names.fallback}", severity="critical"`, "pending")
        yield* alert("KeyedCircuitBreakerOpen", `breaker="${names.keyed}", severity="critical"`, "pending")
        yield* alert("RetryBudgetExhausted", `dependency="${names.retry}", severity="warning"`, "pending")
        yield* alert("BulkheadRejecting", `bulkhead="${names.bulkhead}", severity="warning"`, "pending")

        const quiet = yield* prometheus.query(
          `ALERTS{breaker="${names.ok}"} or ALERTS{alertname="CircuitBreakerOpen", alertstate="firing", job="${job}"}`
        )
        expect(resultOf(quiet)).toEqual([])
      }))
  })
})
