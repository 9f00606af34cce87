import type { DegradationLevel } from "@effect-resilience/core"
import { CircuitBreaker, Degradation, Dependency } from "@effect-resilience/core"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"

let counter = 0

/** Effect's metric registry is global: every test names its own dependencies. */
export const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${process.pid}`

/** A raw service the tests wrap: its only member fails while `down` is set. */
export interface Probe {
  readonly call: Effect.Effect<void, CircuitBreaker.Unavailable | Error>
}

/**
 * Registers a dependency `name` with the Degradation in context; its breaker
 * opens on the first failure and stays open `reset`.
 */
export const dependency = (
  name: string,
  whenDown: DegradationLevel.DegradationLevel,
  reset: Duration.DurationInput = "45 seconds"
): Layer.Layer<never, never, Degradation> =>
  Layer.scopedDiscard(
    Dependency.wrap({ call: Effect.fail(new Error("down")) } as Probe, {
      name,
      whenDown,
      breaker: { trip: CircuitBreaker.consecutiveFailures(1), reset: Schedule.spaced(reset) }
    })
  )

/** The breaker of the registered dependency `name`. */
export const breakerOf = (name: string) =>
  Effect.flatMap(Degradation, (degradation) =>
    Effect.flatMap(degradation.breakers, (breakers) => {
      const breaker = breakers.get(name)
      return breaker === undefined ? Effect.dieMessage(`no breaker ${name}`) : Effect.succeed(breaker)
    }))

/** Reads a counter series by its labels. */
export const counterValue = (name: string, labels: Record<string, string>) =>
  Effect.map(
    Metric.value(
      Object.entries(labels).reduce(
        (metric, [key, value]) => metric.pipe(Metric.tagged(key, value)),
        Metric.counter(name, { incremental: true })
      )
    ),
    (state) => state.count
  )

/** Sends `request` and reads its body as text, whatever the status. */
export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text, response }
  }).pipe(Effect.scoped)

/** Sends `request` and parses the body as JSON. */
export const sendJson = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.map(send(request), (result) => {
    let json: any = undefined
    try {
      json = JSON.parse(result.text)
    } catch {
      // Not JSON: the test looks at `text`.
    }
    return { ...result, json }
  })

export const get = (path: string, headers?: Record<string, string>) =>
  sendJson(HttpClientRequest.get(path, headers === undefined ? undefined : { headers }))

export const post = (path: string, body?: unknown, headers?: Record<string, string>) =>
  sendJson(
    HttpClientRequest.post(path, headers === undefined ? undefined : { headers }).pipe(
      body === undefined ? (request) => request : HttpClientRequest.bodyText(JSON.stringify(body), "application/json")
    )
  )

export type Response = HttpClientResponse.HttpClientResponse

/** A log line as the tests read it: the message and its annotations. */
export interface CapturedLog {
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** Replaces the default logger with one that appends every line to `logs` (tests clear it as they go). */
export const captureLogs = (): { readonly logs: Array<CapturedLog>; readonly layer: Layer.Layer<never> } => {
  const logs: Array<CapturedLog> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, message }) => {
      logs.push({
        message: String(Array.isArray(message) ? message.join(" ") : message),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
  )
  return { logs, layer }
}
