/**
 * The platform's series: shed requests and admin actions. Every series is
 * created (at 0) when its middleware or admin layer is, so a dashboard sees
 * it before the first event.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"

/** @internal */
export const keys = {
  shed: MetricKey.counter("http_requests_shed_total", { incremental: true }),
  adminActions: MetricKey.counter("admin_actions_total", { incremental: true })
} as const

/** @internal */
export type ShedReason = "writes_blocked" | "status_only"

/** @internal */
export const shedReasons: ReadonlyArray<ShedReason> = ["writes_blocked", "status_only"]

/** @internal */
export type AdminAction =
  | "force"
  | "release"
  | "force-open"
  | "disable"
  | "reset"
  | "faults-list"
  | "fault-inject"
  | "fault-recover"

/** @internal */
export const adminActions: ReadonlyArray<AdminAction> = [
  "force",
  "release",
  "force-open",
  "disable",
  "reset",
  "faults-list",
  "fault-inject",
  "fault-recover"
]

/** @internal */
export type AdminOutcome = "ok" | "denied" | "invalid"

/** @internal */
export const adminOutcomes: ReadonlyArray<AdminOutcome> = ["ok", "denied", "invalid"]

type Counter = { readonly update: (input: number) => void }

/** The series of counter `key` with `labels`, created now, through the public `Metric` API. */
const counter = (key: MetricKey.MetricKey.Counter<number>, labels: ReadonlyArray<MetricLabel.MetricLabel>): Counter =>
  series(Metric.fromMetricKey(key), labels)

/**
 * One series of a core metric (`Metrics.writeBehindQueueDepth`, …), created
 * now. The same `labels` array on every update lets the metric resolve the
 * series once.
 *
 * @internal
 */
export const series = <In>(
  metric: Metric.Metric<any, In, any>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): { readonly update: (input: In) => void } => {
  metric.unsafeValue(labels)
  return { update: (input) => metric.unsafeUpdate(input, labels) }
}

/** Resolves (and so creates, at 0) the two `http_requests_shed_total` series. @internal */
export const shedCounters = (): Record<ShedReason, Counter> => ({
  writes_blocked: counter(keys.shed, [MetricLabel.make("reason", "writes_blocked")]),
  status_only: counter(keys.shed, [MetricLabel.make("reason", "status_only")])
})

/** Resolves (and so creates, at 0) every `admin_actions_total` series. @internal */
export const adminCounters = (): (action: AdminAction, outcome: AdminOutcome) => Counter => {
  const hooks = new Map<string, Counter>()
  for (const action of adminActions) {
    for (const outcome of adminOutcomes) {
      hooks.set(
        `${action}/${outcome}`,
        counter(keys.adminActions, [
          MetricLabel.make("action", action),
          MetricLabel.make("outcome", outcome)
        ])
      )
    }
  }
  return (action, outcome) => hooks.get(`${action}/${outcome}`)!
}
