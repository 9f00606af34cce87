import {
  CircuitBreaker,
  Classify,
  Degradation,
  DegradationLevel,
  Dependency,
  InvalidOptionError,
  Metrics,
  Retry
} from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { calls, uniqueName } from "./utils.js"

class ApiError extends Error {
  readonly _tag = "ApiError"
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

class Api extends Context.Tag("test/retry/Api")<Api, {
  readonly price: (id: number) => Effect.Effect<number, ApiError | CircuitBreaker.Unavailable>
  readonly save: (id: number) => Effect.Effect<void, ApiError | CircuitBreaker.Unavailable>
}>() {}

const retryCount = (dependency: string, outcome: string) =>
  Metric.value(Metrics.retryCalls.pipe(Metric.tagged("dependency", dependency), Metric.tagged("outcome", outcome)))
    .pipe(Effect.map((s) => s.count))
const retryAttempts = (dependency: string) =>
  Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", dependency))).pipe(Effect.map((s) => s.count))

/** A service failing each call with the next status of `script` (then answering). */
const scripted = (script: Array<number>) => {
  const seen = { price: 0, save: 0 }
  const answer = (member: "price" | "save") =>
    Effect.suspend(() => {
      seen[member]++
      const status = script.shift()
      return status === undefined
        ? Effect.succeed(member === "price" ? 42 : undefined)
        : Effect.fail(new ApiError(status))
    })
  const service: Context.Tag.Service<Api> = {
    price: () => answer("price") as Effect.Effect<number, ApiError>,
    save: () => answer("save") as Effect.Effect<void, ApiError>
  }
  return { script, seen, service }
}

const layerOf = (name: string, service: Context.Tag.Service<Api>, trip = 10, fallback = false) =>
  Dependency.layer(Api, {
    name,
    // Below the level that ends retries (`disableFrom`, Limited by default): the breaker alone stops them.
    whenDown: DegradationLevel.Degraded(),
    breaker: {
      trip: CircuitBreaker.consecutiveFailures(trip),
      reset: Schedule.spaced("1 minute"),
      isFailure: Classify.http
    },
    retry: {
      policy: Retry.policy({ schedule: Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))) }),
      members: ["price"]
    },
    ...(fallback ? { fallback: { price: () => Effect.succeed(-1) } } : {})
  }).pipe(Layer.provide(Layer.succeed(Api, service)), Layer.provideMerge(Degradation.layer()))

describe("Dependency retry", () => {
  it.scoped("only the members named are retried; each attempt is one breaker call; series carry the dependency's name", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const { script, seen, service } = scripted([503, 503])
      yield* Effect.gen(function*() {
        const api = yield* Api
        expect(yield* retryCount(name, "first_try")).toBe(0) // exists at 0 from creation
        const fiber = yield* Effect.fork(api.price(1))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBe(42)
        expect(seen.price).toBe(3)
        expect(yield* calls(name, "failure")).toBe(2)
        expect(yield* calls(name, "success")).toBe(1)
        expect(yield* retryCount(name, "after_retry")).toBe(1)
        expect(yield* retryAttempts(name)).toBe(2)
        // `save` is not named: its failure is not retried.
        script.push(503)
        const error = yield* Effect.flip(api.save(1))
        expect((error as ApiError).status).toBe(503)
        expect(seen.save).toBe(1)
        expect(yield* retryAttempts(name)).toBe(2)
      }).pipe(Effect.provide(layerOf(name, service)))
    }))

  it.scoped("a breaker that opens stops the retries (stopped_open) and the fallback answers after the last attempt", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const { seen, service } = scripted([503, 503, 503, 503, 503])
      yield* Effect.gen(function*() {
        const api = yield* Api
        const fiber = yield* Effect.fork(api.price(1))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBe(-1)
        // Two failures open the breaker; the third attempt is rejected and ends the retries.
        expect(seen.price).toBe(2)
        expect(yield* calls(name, "rejected")).toBe(1)
        expect(yield* retryCount(name, "stopped_open")).toBe(1)
      }).pipe(Effect.provide(layerOf(name, service, 2, true)))
    }))

  it.scoped("a rejection (what isFailure refuses) is never retried", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const { seen, service } = scripted([422])
      yield* Effect.gen(function*() {
        const api = yield* Api
        const error = yield* Effect.flip(api.price(1))
        expect((error as ApiError).status).toBe(422)
        expect(seen.price).toBe(1)
        expect(yield* retryAttempts(name)).toBe(0)
        expect(yield* calls(name, "ignored")).toBe(1)
      }).pipe(Effect.provide(layerOf(name, service)))
    }))

  it.effect("retry options are checked: an unknown member, a policy that is not one", () =>
    Effect.gen(function*() {
      const { service } = scripted([])
      for (
        const [retry, option] of [
          [{ policy: Retry.policy({ schedule: Schedule.recurs(1) }), members: ["nope"] }, "retry.members[0]"],
          [{ policy: { schedule: Schedule.recurs(1) }, members: ["price"] }, "retry.policy"]
        ] as const
      ) {
        const layer = Dependency.layer(Api, {
          name: uniqueName("api"),
          whenDown: DegradationLevel.Limited(),
          retry: retry as any
        }).pipe(Layer.provide(Layer.succeed(Api, service)), Layer.provide(Degradation.layer()))
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(defect).toBeInstanceOf(InvalidOptionError)
        expect((defect as InvalidOptionError).option).toBe(option)
      }
    }))
})
