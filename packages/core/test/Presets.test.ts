import { CircuitBreaker, Degradation, Dependency, Fallback, Presets } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { delays, failures, observe, uniqueName } from "./utils.js"

class Api extends Context.Tag("test/Presets/Api")<Api, {
  readonly ok: Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly fail: Effect.Effect<string, "boom" | CircuitBreaker.Unavailable>
  readonly slow: Effect.Effect<string, CircuitBreaker.Unavailable>
}>() {}

const RawApi = Layer.succeed(Api, {
  ok: Effect.succeed("ok"),
  fail: Effect.fail("boom" as const),
  slow: Effect.as(Effect.sleep("1 hour"), "late")
})

const failN = (n: number) =>
  Effect.flatMap(
    Api,
    (api) => Effect.forEach(Array.from({ length: n }), () => Effect.either(api.fail), { discard: true })
  )

const table = [
  {
    preset: Presets.openai,
    name: "openai",
    failMax: 5,
    resetMillis: 60_000,
    callTimeoutMillis: 10_000,
    whenDown: "Limited"
  },
  { preset: Presets.db, name: "db", failMax: 3, resetMillis: 30_000, callTimeoutMillis: 5_000, whenDown: "Minimal" },
  {
    preset: Presets.redis,
    name: "redis",
    failMax: 5,
    resetMillis: 20_000,
    callTimeoutMillis: 1_000,
    whenDown: "Degraded"
  },
  { preset: Presets.s3, name: "s3", failMax: 5, resetMillis: 30_000, callTimeoutMillis: 10_000, whenDown: "Degraded" }
] as const

describe("Presets", () => {
  describe("match the design table", () => {
    for (const row of table) {
      it.effect(row.name, () =>
        Effect.gen(function*() {
          const { preset } = row
          expect(preset.name).toBe(row.name)
          expect(preset.breaker.trip).toEqual(CircuitBreaker.consecutiveFailures(row.failMax))
          // Every opening lasts the same: the delay does not grow.
          expect(yield* delays(preset.breaker.reset, 3)).toEqual([row.resetMillis, row.resetMillis, row.resetMillis])
          expect(Duration.toMillis(preset.callTimeout)).toBe(row.callTimeoutMillis)
          expect(preset.whenDown._tag).toBe(row.whenDown)
          expect(preset.breaker.disabled).toBeUndefined()
        }))
    }

    it("all lists the four presets in table order", () => {
      expect(Presets.all.map((p) => p.name)).toEqual(["openai", "db", "redis", "s3"])
    })
  })

  describe("a dependency layer built from a preset", () => {
    for (const row of table) {
      it.effect(
        `${row.name}: times out at its call timeout, opens at its fail max, reports ${row.whenDown}, probes after its reset`,
        () =>
          withPreset(row.preset, (name) =>
            Effect.gen(function*() {
              const api = yield* Api

              // Call timeout: still running 1 ms before, CallTimeoutError at it.
              const slow = yield* Effect.fork(Effect.flip(api.slow))
              yield* TestClock.adjust(row.callTimeoutMillis - 1)
              expect(Option.isNone(yield* Fiber.poll(slow))).toBe(true)
              yield* TestClock.adjust(1)
              const timeout = yield* Fiber.join(slow)
              assert(timeout instanceof CircuitBreaker.CallTimeoutError)
              expect(Duration.toMillis(timeout.timeout)).toBe(row.callTimeoutMillis)
              expect(yield* api.ok).toBe("ok") // clears the consecutive count

              // fail max - 1 consecutive failures keep it closed, the next one opens it.
              yield* failN(row.failMax - 1)
              expect(yield* observe(name)).toEqual({ breaker: "Closed", level: "Optimal" })
              yield* failN(1)
              expect(yield* observe(name)).toEqual({ breaker: "Open", level: row.whenDown })
              expect(yield* failures(name)).toBe(row.failMax + 1)

              const rejected = yield* Effect.flip(api.fail)
              assert(rejected instanceof CircuitBreaker.CircuitOpenError)
              expect(Duration.toMillis(rejected.retryAfter)).toBe(row.resetMillis)

              // Reset: open until the preset's delay has passed, half-open at it.
              yield* TestClock.adjust(row.resetMillis - 1)
              expect((yield* observe(name)).breaker).toBe("Open")
              yield* TestClock.adjust(1)
              expect((yield* observe(name)).breaker).toBe("HalfOpen")
            }))
      )
    }
  })

  describe("fallback helpers", () => {
    class Db extends Context.Tag("test/Presets/Db")<Db, {
      readonly savePrice: (id: string, price: number) => Effect.Effect<void, "db-error" | Fallback.UnavailableError>
    }>() {}

    const down = <I, S>(tag: Context.Tag<I, S>, service: S) => Layer.succeed(tag, service)

    it.effect("writesBlocked refuses writes with a clear, typed error naming the dependency", () =>
      Effect.gen(function*() {
        const name = uniqueName("preset-db-writes")
        const layer = Dependency.layer(Db, {
          ...Presets.db,
          name,
          fallback: { savePrice: Presets.writesBlocked("database") }
        }).pipe(
          Layer.provide(down(Db, { savePrice: () => Effect.fail("db-error" as const) })),
          Layer.provideMerge(Degradation.layer())
        )
        yield* Effect.gen(function*() {
          const db = yield* Db
          const first = yield* Effect.flip(db.savePrice("p1", 10))
          assert(first instanceof Fallback.UnavailableError)
          expect(first.dependency).toBe("database")
          expect(first.message).toBe("database is unavailable: writes are blocked until it recovers")
          expect(first.action).toBe("Retry in a few minutes; reads still work.")
          expect(first.cause).toBe("db-error")
          yield* Effect.flip(db.savePrice("p1", 10)).pipe(Effect.repeatN(1))
          expect((yield* observe(name)).breaker).toBe("Open")
          const blocked = yield* Effect.flip(db.savePrice("p1", 10))
          assert(blocked instanceof Fallback.UnavailableError)
          expect(blocked.cause).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
        }).pipe(Effect.provide(layer))
      }))

    it.effect("writesBlocked takes a custom message and action", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Presets.writesBlocked("db", { message: "Prices are read-only", action: "Try again at 10:00" })("cause")
        )
        expect(error).toMatchObject({
          dependency: "db",
          message: "Prices are read-only",
          action: "Try again at 10:00",
          cause: "cause"
        })
      }))
  })
})

/** Runs `body` against `Api` wrapped with `preset` under a unique name, with its own `Degradation`. */
const withPreset = <A, E>(
  preset: Presets.Preset,
  body: (name: string) => Effect.Effect<A, E, Api | Degradation>
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const name = uniqueName(`preset-${preset.name}`)
    return body(name).pipe(
      Effect.provide(
        Dependency.layer(Api, { ...preset, name }).pipe(
          Layer.provide(RawApi),
          Layer.provideMerge(Degradation.layer())
        )
      )
    )
  })
