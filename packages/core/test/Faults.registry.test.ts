/**
 * Faults in a running service: the registry the admin routes and the status
 * page read, and `Faults.layerConfig`, switched by `RESILIENCE_FAULTS` and
 * refused in the production profile unless allowed.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

interface CacheService {
  readonly get: (key: string) => Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly ping: Effect.Effect<void, CircuitBreaker.Unavailable>
}
class Cache extends Context.Tag("test/FaultsRegistry/Cache")<Cache, CacheService>() {}

interface DbService {
  readonly query: (sql: string) => Effect.Effect<number, CircuitBreaker.Unavailable>
}
class Db extends Context.Tag("test/FaultsRegistry/Db")<Db, DbService>() {}

const rawCache: CacheService = { get: (key) => Effect.succeed(`value of ${key}`), ping: Effect.void }
const rawDb: DbService = { query: () => Effect.succeed(1) }

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  assert(Exit.isFailure(exit), "expected a failure")
  return Cause.pretty(exit.cause)
}

describe("Faults.Registry", () => {
  it.scoped("lists the Faults layers built over it by name, with members and the faults in force since when", () => {
    const cache = uniqueName("redis")
    const db = uniqueName("db")
    const layer = Layer.mergeAll(
      Faults.layer(Cache, { name: cache }).pipe(Layer.provide(Layer.succeed(Cache, rawCache))),
      Faults.layer(Db, { name: db }).pipe(Layer.provide(Layer.succeed(Db, rawDb)))
    ).pipe(Layer.provideMerge(Faults.layerRegistry))
    return Effect.gen(function*() {
      const registry = yield* Faults.Registry
      const controls = yield* registry.dependencies
      expect(controls.map((c) => c.dependency)).toEqual([db, cache].sort())
      const control = Option.getOrThrow(yield* registry.get(cache))
      expect([...control.members].sort()).toEqual(["get", "ping"])
      expect(yield* registry.get("nope")).toEqual(Option.none())
      expect(yield* registry.injected).toEqual([])

      yield* TestClock.adjust("5 seconds")
      yield* Faults.inject(Cache, Faults.down)
      yield* TestClock.adjust("1 second")
      yield* control.inject(Faults.slow("2 seconds"), { member: "get" })
      yield* Faults.inject(Db, Faults.flaky(0.25))
      expect(yield* registry.injected).toEqual([
        ...[
          { dependency: cache, member: undefined, fault: Faults.down, since: 5000 },
          { dependency: cache, member: "get", fault: Faults.slow("2 seconds"), since: 6000 }
        ],
        { dependency: db, member: undefined, fault: Faults.flaky(0.25), since: 6000 }
      ].sort((a, b) => (a.dependency < b.dependency ? -1 : a.dependency > b.dependency ? 1 : 0)))
      // The registry's control is the one the layer provides.
      expect(control).toBe(yield* Faults.control(Cache))
      yield* control.recover()
      expect((yield* registry.injected).map((i) => i.dependency)).toEqual([db])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("announces every injection and recovery to its subscribers", () => {
    const cache = uniqueName("redis")
    const layer = Faults.layer(Cache, { name: cache }).pipe(
      Layer.provide(Layer.succeed(Cache, rawCache)),
      Layer.provideMerge(Faults.layerRegistry)
    )
    return Effect.gen(function*() {
      const registry = yield* Faults.Registry
      const changes = yield* registry.subscribe
      yield* TestClock.adjust("1 second")
      yield* Faults.inject(Cache, Faults.hang, { member: "ping" })
      yield* Faults.recover(Cache, { member: "ping" })
      yield* Faults.inject(Cache, Faults.down)
      yield* Faults.recover(Cache)
      const received = yield* Queue.takeAll(changes)
      expect([...received]).toEqual([
        { _tag: "Injection", dependency: cache, member: "ping", fault: Faults.hang, at: 1000 },
        { _tag: "Recovery", dependency: cache, member: "ping", at: 1000 },
        { _tag: "Injection", dependency: cache, member: undefined, fault: Faults.down, at: 1000 },
        { _tag: "Recovery", dependency: cache, member: undefined, at: 1000 }
      ])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a closed layer unregisters; two layers under one name are refused, naming name", () =>
    Effect.gen(function*() {
      const registry = yield* Faults.Registry
      const name = uniqueName("redis")
      const cacheLayer = Faults.layer(Cache, { name }).pipe(Layer.provide(Layer.succeed(Cache, rawCache)))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(cacheLayer)
        expect((yield* registry.dependencies).map((c) => c.dependency)).toEqual([name])
        const twin = Faults.layer(Db, { name }).pipe(Layer.provide(Layer.succeed(Db, rawDb)))
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(twin)))
        assert(Exit.isFailure(exit))
        expect(Cause.squash(exit.cause)).toMatchObject({
          _tag: "InvalidOptionError",
          module: "Faults.layer",
          option: "name"
        })
      }))
      expect(yield* registry.dependencies).toEqual([])
    }).pipe(Effect.provide(Faults.layerRegistry)))
})

describe("Faults.layerConfig", () => {
  /** The raw cache, `layerConfig`-wrapped, over a registry; what it provided and what the registry holds. */
  const build = (name: string) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Faults.layerConfig(Cache, { name }).pipe(
          Layer.provide(Layer.succeed(Cache, rawCache)),
          Layer.provideMerge(Faults.layerRegistry)
        )
      )
      const registry = Context.get(context, Faults.Registry)
      return {
        service: Context.get(context, Cache),
        registered: (yield* registry.dependencies).map((c) => c.dependency),
        control: Context.getOption(context, Faults.control(Cache))
      }
    })

  it.scoped("off by default: the raw service itself, nothing wrapped, nothing registered", () =>
    Effect.gen(function*() {
      for (
        const env of [{}, { RESILIENCE_FAULTS: "off" }, { RESILIENCE_FAULTS: " OFF " }, {
          RESILIENCE_PROFILE: "production"
        }]
      ) {
        const built = yield* build(uniqueName("redis")).pipe(withEnv(env))
        expect(built.service, JSON.stringify(env)).toBe(rawCache)
        expect(built.registered).toEqual([])
        expect(Option.isNone(built.control)).toBe(true)
      }
    }))

  it.scoped("on (outside production): wrapped, registered, and a warning names the dependency", () => {
    const logs: Array<{ level: string; message: string }> = []
    const capture = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel.label, message: String(Array.isArray(message) ? message.join(" ") : message) })
    })
    return Effect.gen(function*() {
      const name = uniqueName("redis")
      const built = yield* build(name).pipe(withEnv({ RESILIENCE_FAULTS: "On", RESILIENCE_PROFILE: "staging" }))
      expect(built.service).not.toBe(rawCache)
      expect(built.registered).toEqual([name])
      expect(Option.isSome(built.control)).toBe(true)
      expect(yield* built.service.get("k")).toBe("value of k")
      const warning = logs.find((log) => log.level === "WARN")
      assert(warning !== undefined, "expected a warning")
      expect(warning.message).toContain(name)
      expect(warning.message).toContain("RESILIENCE_FAULTS=on")
      expect(warning.message).toContain("staging")
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
  })

  it.scoped("refused in the production profile (explicit or default) unless RESILIENCE_FAULTS_ALLOW_PRODUCTION=true", () =>
    Effect.gen(function*() {
      for (
        const env of [{ RESILIENCE_FAULTS: "on" }, { RESILIENCE_FAULTS: "on", RESILIENCE_PROFILE: "Production" }, {
          RESILIENCE_FAULTS: "on",
          RESILIENCE_FAULTS_ALLOW_PRODUCTION: "false"
        }]
      ) {
        const exit = yield* Effect.exit(build(uniqueName("redis")).pipe(withEnv(env)))
        const message = failureOf(exit)
        expect(message, JSON.stringify(env)).toContain("RESILIENCE_FAULTS")
        expect(message).toContain("RESILIENCE_PROFILE")
        expect(message).toContain("RESILIENCE_FAULTS_ALLOW_PRODUCTION=true")
        assert(Exit.isFailure(exit))
        expect(Cause.squash(exit.cause)).toMatchObject({ _op: "InvalidData" })
      }
      const name = uniqueName("redis")
      const allowed = yield* build(name).pipe(
        withEnv({ RESILIENCE_FAULTS: "on", RESILIENCE_FAULTS_ALLOW_PRODUCTION: "true" })
      )
      expect(allowed.registered).toEqual([name])
    }))

  it.effect("a bad RESILIENCE_FAULTS, RESILIENCE_FAULTS_ALLOW_PRODUCTION or RESILIENCE_PROFILE is a ConfigError naming it", () =>
    Effect.gen(function*() {
      const cases: Array<[Record<string, string>, string]> = [
        [{ RESILIENCE_FAULTS: "yes please" }, "RESILIENCE_FAULTS"],
        [{ RESILIENCE_FAULTS: "" }, "RESILIENCE_FAULTS"],
        [
          { RESILIENCE_FAULTS: "on", RESILIENCE_PROFILE: "staging", RESILIENCE_FAULTS_ALLOW_PRODUCTION: "maybe" },
          "RESILIENCE_FAULTS_ALLOW_PRODUCTION"
        ],
        [{ RESILIENCE_FAULTS: "on", RESILIENCE_PROFILE: "prod" }, "RESILIENCE_PROFILE"]
      ]
      for (const [env, variable] of cases) {
        const exit = yield* Effect.exit(Effect.scoped(build(uniqueName("redis"))).pipe(withEnv(env)))
        expect(failureOf(exit), JSON.stringify(env)).toContain(variable)
      }
      // The switch alone, as the routes and a service's start-up read it.
      expect(yield* Faults.config.pipe(withEnv({ RESILIENCE_FAULTS: "on", RESILIENCE_PROFILE: "development" })))
        .toEqual({
          enabled: true,
          profile: "development",
          allowProduction: false
        })
    }))
})
