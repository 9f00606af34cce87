import { Metrics } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

let counter = 0

/** Effect's metric registry is global: every test gets its own breaker name. */
export const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${process.pid}`

/** Reads `circuit_breaker_calls_total{breaker,outcome}`. */
export const calls = (breaker: string, outcome: Metrics.CallOutcome) =>
  Metric.value(Metrics.breakerCalls.pipe(Metric.tagged("breaker", breaker), Metric.tagged("outcome", outcome))).pipe(
    Effect.map((state) => state.count)
  )
