import { Degradation, Metrics } from "@effect-resilience/core"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"

let counter = 0

/** Effect's metric registry is global: every test gets its own breaker name. */
export const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${process.pid}`

/** Reads `circuit_breaker_calls_total{breaker,outcome}`. */
export const calls = (breaker: string, outcome: Metrics.CallOutcome) =>
  Metric.value(Metrics.breakerCalls.pipe(Metric.tagged("breaker", breaker), Metric.tagged("outcome", outcome))).pipe(
    Effect.map((state) => state.count)
  )

/** Reads `circuit_breaker_failures_total{breaker}`. */
export const failures = (breaker: string) =>
  Metric.value(Metrics.breakerFailures.pipe(Metric.tagged("breaker", breaker))).pipe(Effect.map((s) => s.count))

/** Reads `circuit_breaker_state{breaker}`. */
export const stateGauge = (breaker: string) =>
  Metric.value(Metrics.breakerState.pipe(Metric.tagged("breaker", breaker))).pipe(Effect.map((s) => s.value))

/** Reads `circuit_breaker_transitions_total{breaker,from,to}`. */
export const transitions = (breaker: string, from: string, to: string) =>
  Metric.value(
    Metrics.breakerTransitions.pipe(
      Metric.tagged("breaker", breaker),
      Metric.tagged("from", from),
      Metric.tagged("to", to)
    )
  ).pipe(Effect.map((s) => s.count))

/** The first `n` delays of a reset schedule in milliseconds, stepped as the breaker steps it. */
export const delays = (schedule: Schedule.Schedule<unknown, unknown>, n: number) =>
  Effect.gen(function*() {
    let state = schedule.initial
    let now = 0
    const out: Array<number> = []
    for (let i = 0; i < n; i++) {
      const [next, _, decision] = yield* schedule.step(now, i, state)
      if (ScheduleDecision.isDone(decision)) break
      state = next
      const start = ScheduleIntervals.start(decision.intervals)
      out.push(start - now)
      now = start
    }
    return out
  })

/** The breaker state of `name` and the level, as `Degradation` reports them. */
export const observe = (name: string) =>
  Effect.gen(function*() {
    const status = yield* Effect.flatMap(Degradation, (d) => d.status)
    const dependency = status.dependencies.find((d) => d.name === name)
    assert(dependency !== undefined, `dependency ${name} is registered`)
    return { breaker: dependency.breaker?._tag, level: status.level._tag }
  })
