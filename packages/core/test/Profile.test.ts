import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  Dependency,
  Fallback,
  Presets,
  Profile
} from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { pipe } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { calls, delays, failures, observe, uniqueName } from "./utils.js"

const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

const threshold = (preset: Presets.Preset) => {
  const trip = preset.breaker.trip
  assert(trip._tag === "ConsecutiveFailures")
  return trip.threshold
}

class Api extends Context.Tag("test/Profile/Api")<Api, {
  readonly ok: Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly fail: Effect.Effect<string, "boom" | CircuitBreaker.Unavailable>
}>() {}

const RawApi = Layer.succeed(Api, { ok: Effect.succeed("ok"), fail: Effect.fail("boom" as const) })

const failN = (n: number) =>
  Effect.flatMap(Api, (api) => Effect.forEach(Array.from({ length: n }), () => Effect.flip(api.fail)))

/**
 * Runs `body` against `Api` wrapped by `Dependency.layerConfig` with `preset`
 * renamed to a unique name (the metric registry is global), under `env`
 * (whose keys may use `NAME` for the dependency's variable prefix).
 */
const withDependency = <A, E>(
  preset: Presets.Preset,
  env: ReadonlyArray<readonly [string, string]>,
  body: (name: string) => Effect.Effect<A, E, Api | Degradation>
): Effect.Effect<A, E | ConfigError.ConfigError> =>
  Effect.suspend(() => {
    const name = uniqueName(`profile-${preset.name}`)
    const prefix = Profile.variables(name).failMax.replace(/_FAIL_MAX$/, "")
    const layer = Dependency.layerConfig(Api, { ...preset, name }, {}).pipe(
      Layer.provide(RawApi),
      Layer.provideMerge(Degradation.layer())
    )
    return body(name).pipe(
      Effect.provide(layer),
      withEnv(env.map(([key, value]) => [key.replace("NAME", prefix), value] as const))
    )
  })

describe("Profile", () => {
  describe("config (RESILIENCE_PROFILE)", () => {
    it.effect("defaults to production", () =>
      Effect.gen(function*() {
        expect(yield* Profile.config.pipe(withEnv([]))).toBe("production")
      }))

    it.effect("reads each profile, case-insensitively", () =>
      Effect.gen(function*() {
        for (const profile of Profile.profiles) {
          expect(yield* Profile.config.pipe(withEnv([["RESILIENCE_PROFILE", profile]]))).toBe(profile)
        }
        expect(yield* Profile.config.pipe(withEnv([["RESILIENCE_PROFILE", " Staging "]]))).toBe("staging")
        expect(yield* Profile.config.pipe(withEnv([["RESILIENCE_PROFILE", "DEVELOPMENT"]]))).toBe("development")
      }))

    it.effect("an unknown profile fails with a ConfigError naming the variable and listing the profiles", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Profile.config.pipe(withEnv([["RESILIENCE_PROFILE", "chaos"]])))
        assert(ConfigError.isInvalidData(error))
        expect(error.path).toEqual(["RESILIENCE_PROFILE"])
        expect(String(error)).toContain("RESILIENCE_PROFILE")
        expect(String(error)).toContain("production, staging, development")
        expect(String(error)).toContain(`"chaos"`)
      }))
  })

  describe("variables", () => {
    it("upper-cases the name and replaces non-alphanumerics with _", () => {
      expect(Profile.variables("db")).toEqual({
        failMax: "RESILIENCE_DB_FAIL_MAX",
        resetTimeout: "RESILIENCE_DB_RESET_TIMEOUT",
        callTimeout: "RESILIENCE_DB_CALL_TIMEOUT",
        retries: "RESILIENCE_DB_RETRIES",
        retryBudget: "RESILIENCE_DB_RETRY_BUDGET"
      })
      expect(Profile.variables("open-ai.v2").failMax).toBe("RESILIENCE_OPEN_AI_V2_FAIL_MAX")
    })
  })

  describe("apply", () => {
    for (const preset of Presets.all) {
      it.effect(`${preset.name}: production keeps it, staging is more permissive with shorter timeouts, development disables it`, () =>
        Effect.gen(function*() {
          expect(Profile.apply(preset, "production")).toBe(preset)

          const staging = Profile.apply(preset, "staging")
          expect(threshold(staging)).toBe(threshold(preset) * 2)
          const reset = yield* delays(preset.breaker.reset, 3)
          expect(yield* delays(staging.breaker.reset, 3)).toEqual(reset.map((d) => d / 2))
          expect(Duration.toMillis(staging.callTimeout)).toBe(Duration.toMillis(preset.callTimeout) / 2)
          expect(staging.breaker.disabled).toBeUndefined()
          expect(staging.name).toBe(preset.name)
          expect(staging.whenDown).toBe(preset.whenDown)

          const development = Profile.apply(preset, "development")
          expect(development.breaker.disabled).toBe(true)
          expect(development.breaker.trip).toBe(preset.breaker.trip)
          expect(development.breaker.reset).toBe(preset.breaker.reset)
          expect(development.callTimeout).toBe(preset.callTimeout)
        }))
    }

    it.effect("is dual: data-first and data-last give the same preset", () =>
      Effect.gen(function*() {
        for (const profile of Profile.profiles) {
          const [first, last] = [Profile.apply(Presets.db, profile), pipe(Presets.db, Profile.apply(profile))]
          expect([threshold(last), last.breaker.disabled, Duration.toMillis(last.callTimeout)]).toEqual(
            [threshold(first), first.breaker.disabled, Duration.toMillis(first.callTimeout)]
          )
          expect(yield* delays(last.breaker.reset, 3)).toEqual(yield* delays(first.breaker.reset, 3))
        }
        const staging = pipe(Presets.redis, Profile.apply("staging"))
        expect(threshold(staging)).toBe(threshold(Presets.redis) * 2)
      }))

    it("staging moves a failure-rate threshold halfway to 100 % and keeps the other breaker options", () => {
      const isFailure = (error: unknown) => error !== "not-found"
      const preset: Presets.Preset = {
        ...Presets.db,
        breaker: {
          ...Presets.db.breaker,
          trip: CircuitBreaker.failureRate({
            threshold: 0.5,
            minimumCalls: 10,
            window: CircuitBreaker.countWindow(20),
            slowCall: { duration: "2 seconds", threshold: 0.6 }
          }),
          halfOpen: { permits: 2 },
          isFailure
        }
      }
      const staging = Profile.apply(preset, "staging")
      const trip = staging.breaker.trip
      assert(trip._tag === "FailureRate")
      expect(trip.threshold).toBeCloseTo(0.75, 10)
      expect(trip.minimumCalls).toBe(10)
      expect(trip.slowCall?.threshold).toBeCloseTo(0.8, 10)
      expect(staging.breaker.halfOpen).toEqual({ permits: 2 })
      expect(staging.breaker.isFailure).toBe(isFailure)
    })
  })

  describe("dependency (profile, then overrides)", () => {
    it.effect("without variables: the preset as it is", () =>
      Effect.gen(function*() {
        const db = yield* Profile.dependency(Presets.db).pipe(withEnv([]))
        expect(db).toEqual(Presets.db)
      }))

    it.effect("RESILIENCE_<NAME>_FAIL_MAX sets the consecutive failures", () =>
      Effect.gen(function*() {
        const db = yield* Profile.dependency(Presets.db).pipe(withEnv([["RESILIENCE_DB_FAIL_MAX", "7"]]))
        expect(db.breaker.trip).toEqual(CircuitBreaker.consecutiveFailures(7))
        expect(yield* delays(db.breaker.reset, 1)).toEqual([30_000])
        expect(Duration.toMillis(db.callTimeout)).toBe(5_000)
      }))

    it.effect("RESILIENCE_<NAME>_RESET_TIMEOUT takes a duration or a number of seconds", () =>
      Effect.gen(function*() {
        for (const value of ["45 seconds", "45", " 45 ", "45.0", "0.75 minutes"]) {
          const redis = yield* Profile.dependency(Presets.redis).pipe(
            withEnv([["RESILIENCE_REDIS_RESET_TIMEOUT", value]])
          )
          expect(yield* delays(redis.breaker.reset, 2)).toEqual([45_000, 45_000])
          expect(threshold(redis)).toBe(5)
        }
      }))

    it.effect("RESILIENCE_<NAME>_CALL_TIMEOUT sets the call timeout", () =>
      Effect.gen(function*() {
        const openai = yield* Profile.dependency(Presets.openai).pipe(
          withEnv([["RESILIENCE_OPENAI_CALL_TIMEOUT", "2.5"]])
        )
        expect(Duration.toMillis(openai.callTimeout)).toBe(2_500)
        const s3 = yield* Profile.dependency(Presets.s3).pipe(withEnv([["RESILIENCE_S3_CALL_TIMEOUT", "30 seconds"]]))
        expect(Duration.toMillis(s3.callTimeout)).toBe(30_000)
      }))

    it.effect("overrides of one dependency leave the others alone", () =>
      Effect.gen(function*() {
        const redis = yield* Profile.dependency(Presets.redis).pipe(withEnv([["RESILIENCE_DB_FAIL_MAX", "9"]]))
        expect(redis).toEqual(Presets.redis)
      }))

    it.effect("overrides win over the profile and are not scaled by it", () =>
      Effect.gen(function*() {
        const db = yield* Profile.dependency(Presets.db).pipe(withEnv([
          ["RESILIENCE_PROFILE", "staging"],
          ["RESILIENCE_DB_FAIL_MAX", "4"],
          ["RESILIENCE_DB_RESET_TIMEOUT", "10 seconds"]
        ]))
        expect(threshold(db)).toBe(4)
        expect(yield* delays(db.breaker.reset, 1)).toEqual([10_000])
        // Not overridden: staging's halved call timeout.
        expect(Duration.toMillis(db.callTimeout)).toBe(2_500)

        const dev = yield* Profile.dependency(Presets.db).pipe(withEnv([
          ["RESILIENCE_PROFILE", "development"],
          ["RESILIENCE_DB_FAIL_MAX", "4"]
        ]))
        expect(dev.breaker.disabled).toBe(true)
        expect(threshold(dev)).toBe(4)
      }))

    it.effect("a FAIL_MAX override turns a failure-rate preset into consecutive failures", () =>
      Effect.gen(function*() {
        const preset: Presets.Preset = {
          ...Presets.db,
          name: "ledger",
          breaker: {
            ...Presets.db.breaker,
            trip: CircuitBreaker.failureRate({
              threshold: 0.5,
              minimumCalls: 4,
              window: CircuitBreaker.countWindow(10)
            })
          }
        }
        const ledger = yield* Profile.dependency(preset).pipe(withEnv([["RESILIENCE_LEDGER_FAIL_MAX", "2"]]))
        expect(ledger.breaker.trip).toEqual(CircuitBreaker.consecutiveFailures(2))
      }))

    it.effect("overrides reads the variables that are set", () =>
      Effect.gen(function*() {
        const values = yield* Profile.overrides("db").pipe(withEnv([["RESILIENCE_DB_CALL_TIMEOUT", "3 seconds"]]))
        expect(Option.isNone(values.failMax)).toBe(true)
        expect(Option.isNone(values.resetTimeout)).toBe(true)
        expect(Option.map(values.callTimeout, Duration.toMillis)).toEqual(Option.some(3_000))
      }))
  })

  describe("override", () => {
    const overrides: Profile.Overrides = {
      failMax: Option.some(7),
      resetTimeout: Option.some(Duration.seconds(12)),
      callTimeout: Option.none(),
      retries: Option.none(),
      retryBudget: Option.none()
    }

    it.effect("replaces what is set and keeps the rest", () =>
      Effect.gen(function*() {
        const db = Profile.override(Presets.db, overrides)
        expect(db.breaker.trip).toEqual(CircuitBreaker.consecutiveFailures(7))
        expect(yield* delays(db.breaker.reset, 2)).toEqual([12_000, 12_000])
        expect(db.callTimeout).toBe(Presets.db.callTimeout)
        expect(db.whenDown).toBe(Presets.db.whenDown)
      }))

    it.effect("is dual: data-last composes with apply in a pipe, overrides winning", () =>
      Effect.gen(function*() {
        const piped = pipe(Presets.db, Profile.apply("staging"), Profile.override(overrides))
        const nested = Profile.override(Profile.apply(Presets.db, "staging"), overrides)
        for (const preset of [piped, nested]) {
          expect(threshold(preset)).toBe(7)
          expect(yield* delays(preset.breaker.reset, 1)).toEqual([12_000])
          // not overridden: staging's halved call timeout
          expect(Duration.toMillis(preset.callTimeout)).toBe(Duration.toMillis(Presets.db.callTimeout) / 2)
        }
      }))
  })

  describe("recoveryInterval (RESILIENCE_RECOVERY_INTERVAL)", () => {
    it.effect("defaults to 30 s and takes a duration or a number of seconds", () =>
      Effect.gen(function*() {
        expect(Duration.toMillis(yield* Profile.recoveryInterval.pipe(withEnv([])))).toBe(30_000)
        for (const value of ["10 seconds", "10"]) {
          const interval = yield* Profile.recoveryInterval.pipe(withEnv([["RESILIENCE_RECOVERY_INTERVAL", value]]))
          expect(Duration.toMillis(interval)).toBe(10_000)
        }
      }))

    for (
      const [env, millis] of [
        [[["RESILIENCE_RECOVERY_INTERVAL", "10 seconds"]], 10_000],
        [[], 30_000]
      ] as const
    ) {
      it.effect(`Degradation.layerConfig recovers on the configured interval (${millis} ms)`, () =>
        Effect.gen(function*() {
          const degradation = yield* Degradation
          yield* degradation.set(DegradationLevel.Limited())
          yield* TestClock.adjust(millis - 1)
          expect((yield* degradation.current)._tag).toBe("Limited")
          yield* TestClock.adjust(1)
          expect((yield* degradation.current)._tag).toBe("Optimal")
        }).pipe(Effect.provide(Degradation.layerConfig()), withEnv(env)))
    }
  })

  describe("Dependency.layerConfig", () => {
    it.effect("production: opens at the preset's fail max and reports its whenDown level", () =>
      withDependency(Presets.db, [], (name) =>
        Effect.gen(function*() {
          yield* failN(2)
          expect(yield* observe(name)).toEqual({ breaker: "Closed", level: "Optimal" })
          yield* failN(1)
          expect(yield* observe(name)).toEqual({ breaker: "Open", level: "Minimal" })
          const [rejected] = yield* failN(1)
          assert(rejected instanceof CircuitBreaker.CircuitOpenError)
          expect(Duration.toMillis(rejected.retryAfter)).toBe(30_000)
        })))

    it.effect("staging: still closed where production opens; opens at twice the fail max, for half the reset", () =>
      withDependency(Presets.db, [["RESILIENCE_PROFILE", "staging"]], (name) =>
        Effect.gen(function*() {
          yield* failN(5)
          expect(yield* observe(name)).toEqual({ breaker: "Closed", level: "Optimal" })
          yield* failN(1)
          expect(yield* observe(name)).toEqual({ breaker: "Open", level: "Minimal" })
          yield* TestClock.adjust("15 seconds")
          expect((yield* observe(name)).breaker).toBe("HalfOpen")
        })))

    it.effect("development: the breaker is Disabled, failures pass through and are only counted", () =>
      withDependency(Presets.redis, [["RESILIENCE_PROFILE", "development"]], (name) =>
        Effect.gen(function*() {
          expect(yield* observe(name)).toEqual({ breaker: "Disabled", level: "Optimal" })
          const errors = yield* failN(50)
          expect(errors.every((error) => error === "boom")).toBe(true)
          expect(yield* observe(name)).toEqual({ breaker: "Disabled", level: "Optimal" })
          expect(yield* failures(name)).toBe(50)
          expect(yield* calls(name, "failure")).toBe(50)
          expect(yield* calls(name, "rejected")).toBe(0)
          expect(yield* Effect.flatMap(Api, (api) => api.ok)).toBe("ok")
          expect(yield* calls(name, "success")).toBe(1)
        })))

    it.effect("applies the overrides of the dependency's own name", () =>
      withDependency(
        Presets.s3,
        [["NAME_FAIL_MAX", "2"], ["NAME_RESET_TIMEOUT", "1.5"]],
        (name) =>
          Effect.gen(function*() {
            yield* failN(2)
            expect(yield* observe(name)).toEqual({ breaker: "Open", level: "Degraded" })
            yield* TestClock.adjust(1_499)
            expect((yield* observe(name)).breaker).toBe("Open")
            yield* TestClock.adjust(1)
            expect((yield* observe(name)).breaker).toBe("HalfOpen")
          })
      ))

    it.effect("requires a fallback for members that do not declare Unavailable, and runs it", () =>
      Effect.gen(function*() {
        class Db extends Context.Tag("test/Profile/Db")<Db, {
          readonly save: (price: number) => Effect.Effect<void, "db-error" | Fallback.UnavailableError>
        }>() {}
        const raw = Layer.succeed(Db, { save: () => Effect.fail("db-error" as const) })
        // @ts-expect-error `save` lacks Unavailable in its error type: a fallback is required
        Dependency.layerConfig(Db, Presets.db, {})
        const name = uniqueName("profile-db-writes")
        const layer = Dependency.layerConfig(Db, { ...Presets.db, name }, {
          fallback: { save: Presets.writesBlocked("db") }
        }).pipe(Layer.provide(raw), Layer.provideMerge(Degradation.layer()))
        const error = yield* Effect.flatMap(Db, (db) => Effect.flip(db.save(1))).pipe(
          Effect.provide(layer),
          withEnv([])
        )
        assert(error instanceof Fallback.UnavailableError)
        expect(error.dependency).toBe("db")
      }))
  })

  describe("bad values fail layer construction with a ConfigError naming the variable", () => {
    const dependency = (preset: Presets.Preset) =>
      Dependency.layerConfig(Api, { ...preset, name: preset.name }, {}).pipe(
        Layer.provide(RawApi),
        Layer.provideMerge(Degradation.layer())
      )
    const cases: ReadonlyArray<{
      readonly variable: string
      readonly value: string
      readonly layer: Layer.Layer<never, ConfigError.ConfigError>
      readonly mentions?: string
    }> = [
      {
        variable: "RESILIENCE_PROFILE",
        value: "chaos",
        layer: dependency(Presets.db),
        mentions: "production, staging, development"
      },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "0", layer: dependency(Presets.db), mentions: "positive integer" },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "-1", layer: dependency(Presets.db), mentions: "positive integer" },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "abc", layer: dependency(Presets.db), mentions: `"abc"` },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "1.5", layer: dependency(Presets.db) },
      // `Number()` would take these: hex, exponent, empty (as 0)
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "0x10", layer: dependency(Presets.db), mentions: `"0x10"` },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "1e1", layer: dependency(Presets.db), mentions: `"1e1"` },
      { variable: "RESILIENCE_DB_FAIL_MAX", value: "", layer: dependency(Presets.db), mentions: `""` },
      {
        variable: "RESILIENCE_REDIS_RESET_TIMEOUT",
        value: "soon",
        layer: dependency(Presets.redis),
        mentions: `"soon"`
      },
      { variable: "RESILIENCE_REDIS_RESET_TIMEOUT", value: "-1 seconds", layer: dependency(Presets.redis) },
      {
        variable: "RESILIENCE_OPENAI_CALL_TIMEOUT",
        value: "0",
        layer: dependency(Presets.openai),
        mentions: "from 1 millisecond"
      },
      { variable: "RESILIENCE_OPENAI_CALL_TIMEOUT", value: "0 millis", layer: dependency(Presets.openai) },
      { variable: "RESILIENCE_S3_CALL_TIMEOUT", value: "", layer: dependency(Presets.s3) },
      {
        variable: "RESILIENCE_RECOVERY_INTERVAL",
        value: "never",
        layer: Degradation.layerConfig(),
        mentions: `"never"`
      },
      { variable: "RESILIENCE_RECOVERY_INTERVAL", value: "Infinity", layer: Degradation.layerConfig() },
      // Outside what a timer can wait (1 ms … 2³¹−1 ms): the breaker or the level would never recover.
      {
        variable: "RESILIENCE_REDIS_RESET_TIMEOUT",
        value: "500 micros",
        layer: dependency(Presets.redis),
        mentions: "2147483647 milliseconds"
      },
      { variable: "RESILIENCE_REDIS_RESET_TIMEOUT", value: "0.0005", layer: dependency(Presets.redis) },
      { variable: "RESILIENCE_DB_RESET_TIMEOUT", value: "25 days", layer: dependency(Presets.db) },
      {
        variable: "RESILIENCE_DB_RESET_TIMEOUT",
        value: "2147484",
        layer: dependency(Presets.db),
        mentions: `"2147484"`
      },
      { variable: "RESILIENCE_OPENAI_CALL_TIMEOUT", value: "0.9 millis", layer: dependency(Presets.openai) },
      { variable: "RESILIENCE_S3_CALL_TIMEOUT", value: "2147483648 millis", layer: dependency(Presets.s3) },
      { variable: "RESILIENCE_RECOVERY_INTERVAL", value: "100 micros", layer: Degradation.layerConfig() },
      { variable: "RESILIENCE_RECOVERY_INTERVAL", value: "30 days", layer: Degradation.layerConfig() },
      {
        variable: "RESILIENCE_HEALTH_CHECK_TIMEOUT",
        value: "soon",
        layer: Degradation.layerConfig(),
        mentions: `"soon"`
      },
      { variable: "RESILIENCE_HEALTH_CHECK_TIMEOUT", value: "0", layer: Degradation.layerConfig() }
    ]
    for (const { layer, mentions, value, variable } of cases) {
      it.scoped(`${variable}=${JSON.stringify(value)}`, () =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(Layer.build(layer).pipe(withEnv([[variable, value]])))
          assert(Exit.isFailure(exit))
          const error = Cause.failureOption(exit.cause)
          assert(Option.isSome(error))
          assert(ConfigError.isConfigError(error.value))
          assert(ConfigError.isInvalidData(error.value))
          expect(error.value.path).toEqual([variable])
          expect(String(error.value)).toContain(variable)
          // What a user sees when the layer fails.
          expect(Cause.pretty(exit.cause)).toContain(variable)
          if (mentions !== undefined) expect(String(error.value)).toContain(mentions)
        }))
    }

    it.scoped("every bad variable of a dependency is reported at once", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Layer.build(dependency(Presets.db)).pipe(withEnv([
            ["RESILIENCE_DB_FAIL_MAX", "0"],
            ["RESILIENCE_DB_CALL_TIMEOUT", "soon"]
          ]))
        )
        expect(String(error)).toContain("RESILIENCE_DB_FAIL_MAX")
        expect(String(error)).toContain("RESILIENCE_DB_CALL_TIMEOUT")
      }))

    it.effect("the bounds themselves are accepted: 1 ms and 2³¹−1 ms, as a duration or in seconds", () =>
      Effect.gen(function*() {
        for (
          const [value, millis] of [
            ["1 millis", 1],
            ["0.001", 1],
            ["2147483647 millis", 2 ** 31 - 1],
            ["2147483.647", 2 ** 31 - 1],
            ["24 days", 24 * 86_400_000]
          ] as const
        ) {
          const db = yield* Profile.dependency(Presets.db).pipe(withEnv([
            ["RESILIENCE_DB_RESET_TIMEOUT", value],
            ["RESILIENCE_DB_CALL_TIMEOUT", value]
          ]))
          expect(yield* delays(db.breaker.reset, 1)).toEqual([millis])
          expect(Duration.toMillis(db.callTimeout)).toBe(millis)
          const interval = yield* Profile.recoveryInterval.pipe(withEnv([["RESILIENCE_RECOVERY_INTERVAL", value]]))
          expect(Duration.toMillis(interval)).toBe(millis)
        }
      }))

    it.scoped("the same values are accepted when valid", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(Layer.merge(dependency(Presets.db), Degradation.layerConfig())).pipe(
          withEnv([
            ["RESILIENCE_PROFILE", "staging"],
            ["RESILIENCE_DB_FAIL_MAX", "1"],
            ["RESILIENCE_DB_RESET_TIMEOUT", "1 second"],
            ["RESILIENCE_DB_CALL_TIMEOUT", "1"],
            ["RESILIENCE_RECOVERY_INTERVAL", "1 minute"]
          ])
        )
        expect(Context.getOption(context, Api)._tag).toBe("Some")
      }))
  })
})
