import type { CircuitBreaker } from "@effect-resilience/core"
import { Degradation, Dependency, Metrics, Presets, Profile } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"

const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

class Busy extends Error {
  readonly status = 503
}

/** An AI service as the openai preset expects it: `enhancePrices` idempotent, failing `failures` times. */
class Ai extends Context.Tag("test/Profile.retries/Ai")<Ai, {
  readonly enhancePrices: (
    prices: ReadonlyArray<number>
  ) => Effect.Effect<ReadonlyArray<number>, Busy | CircuitBreaker.Unavailable>
}>() {}

let counter = 0

const setup = (failures: number) => {
  let calls = 0
  const name = `ai-retries-${++counter}-${process.pid}`
  const layer = Dependency.layerConfig(Ai, { ...Presets.openai, name }, {}).pipe(
    Layer.provide(Layer.succeed(Ai, {
      enhancePrices: (prices) =>
        Effect.suspend(() => ++calls <= failures ? Effect.fail(new Busy("busy")) : Effect.succeed(prices))
    })),
    Layer.provideMerge(Degradation.layer())
  )
  return { name, layer, calls: () => calls }
}

const attempts = (name: string) =>
  Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", name))).pipe(Effect.map((s) => s.count))

describe("Dependency.layerConfig: a preset's retries", () => {
  it.scoped("Presets.openai retries enhancePrices up to its maxAttempts, within its budget", () =>
    Effect.gen(function*() {
      const { calls, layer, name } = setup(2)
      yield* Effect.gen(function*() {
        const ai = yield* Ai
        const fiber = yield* Effect.fork(ai.enhancePrices([1]))
        yield* TestClock.adjust("10 seconds")
        expect(yield* Fiber.join(fiber)).toEqual([1])
        expect(calls()).toBe(3)
        expect(yield* attempts(name)).toBe(2)
      }).pipe(Effect.provide(layer), withEnv([]))
    }))

  it.scoped("RESILIENCE_<NAME>_RETRIES sets the attempts (1: none)", () =>
    Effect.gen(function*() {
      const { calls, layer, name } = setup(2)
      yield* Effect.gen(function*() {
        const ai = yield* Ai
        const error = yield* Effect.flip(ai.enhancePrices([1]))
        expect(error).toBeInstanceOf(Busy)
        expect(calls()).toBe(1)
        expect(yield* attempts(name)).toBe(0)
      }).pipe(Effect.provide(layer), withEnv([[Profile.variables(name).retries, "1"]]))
    }))

  it.effect("bad values, and retry variables for a preset without retries, fail naming the variable", () =>
    Effect.gen(function*() {
      const read = (preset: Presets.Preset, env: ReadonlyArray<readonly [string, string]>) =>
        Effect.exit(
          Effect.scoped(Layer.build(
            Dependency.layerConfig(Ai, preset as typeof Presets.openai, {}).pipe(
              Layer.provide(Layer.succeed(Ai, { enhancePrices: (p) => Effect.succeed(p) })),
              Layer.provide(Degradation.layer())
            )
          )).pipe(withEnv(env))
        )
      for (
        const [preset, variable, value] of [
          [Presets.openai, "RESILIENCE_OPENAI_RETRIES", "0"],
          [Presets.openai, "RESILIENCE_OPENAI_RETRY_BUDGET", "1.5"],
          [Presets.openai, "RESILIENCE_OPENAI_RETRY_BUDGET", "lots"],
          [Presets.db, "RESILIENCE_DB_RETRIES", "3"]
        ] as const
      ) {
        const exit = yield* read(preset, [[variable, value]])
        expect(Exit.isFailure(exit)).toBe(true)
        const text = Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
        expect(text).toContain(variable)
      }
      expect(Option.isSome(Option.fromNullable(Presets.openai.retries))).toBe(true)
      expect(Presets.db.retries).toBeUndefined()
    }))
})
