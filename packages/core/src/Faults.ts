/**
 * Fault injection on any service: `Faults.layer(Tag)` wraps the raw service
 * provided for `Tag` so that a script can make its members fail (`down`),
 * never answer (`hang`), answer late (`slow(d)`) or fail at random
 * (`flaky(p)`), per member or for the whole service, and `recover`.
 * `Dependency.layer` goes on top unchanged: the breaker, the fallbacks and
 * the level see what they would see in production.
 *
 * ```ts
 * import { Degradation, Dependency, Presets } from "@effect-resilience/core"
 * import { Faults } from "@effect-resilience/core"
 *
 * const CacheLive = Dependency.layer(Cache, { ...Presets.redis, fallback: { get: () => Effect.succeed(null) } }).pipe(
 *   Layer.provideMerge(Faults.layer(Cache, { name: "redis" })),
 *   Layer.provide(RawCacheLive),
 *   Layer.provideMerge(Degradation.layer())
 * )
 *
 * const drill = Effect.gen(function*() {
 *   yield* Faults.inject(Cache, Faults.down)            // every call fails with FaultInjectedError
 *   yield* Faults.inject(Cache, Faults.slow("2 seconds"), { member: "get" })
 *   yield* Faults.recover(Cache)                        // back to the raw service
 * })
 * ```
 *
 * In a running (staging) service, {@link layerConfig} wraps the raw service
 * only when `RESILIENCE_FAULTS=on`, and registers it with the {@link Registry}
 * that `FaultRoutes` (in `@effect-resilience/platform`) and the status page read:
 *
 * ```ts
 * const CacheLive = Dependency.layerConfig(Cache, Presets.redis).pipe(
 *   Layer.provide(Faults.layerConfig(Cache, { name: "redis" })), // off: RawCacheLive untouched
 *   Layer.provide(RawCacheLive)
 * )
 * const AppLive = CacheLive.pipe(Layer.provideMerge(Faults.layerRegistry))
 * ```
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Types from "effect/Types"
import * as internal from "./internal/faults.js"
import { InvalidOptionError } from "./InvalidOptionError.js"
import type * as Profile from "./Profile.js"

/**
 * Every call fails at once with a {@link FaultInjectedError}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Down {
  readonly _tag: "Down"
}

/**
 * Every call waits forever (it stays interruptible: a `callTimeout` ends it).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hang {
  readonly _tag: "Hang"
}

/**
 * Every call sleeps `duration` on the `Clock` (so `TestClock` drives it), then
 * runs. Calls made at the same instant share one timer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slow {
  readonly _tag: "Slow"
  readonly duration: Duration.Duration
}

/**
 * Every call fails with a {@link FaultInjectedError} with probability
 * `probability`, drawn from Effect's `Random` (seed it for a deterministic run).
 *
 * @since 0.1.0
 * @category models
 */
export interface Flaky {
  readonly _tag: "Flaky"
  readonly probability: number
}

/**
 * What a member can be made to do.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = Down | Hang | Slow | Flaky

/**
 * Calls fail with a {@link FaultInjectedError}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const down: Fault = Data.struct({ _tag: "Down" as const })

/**
 * Calls never complete (until interrupted, e.g. by the dependency's `callTimeout`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hang: Fault = Data.struct({ _tag: "Hang" as const })

/**
 * Calls sleep `duration` on the `Clock`, then run. A negative, NaN or
 * infinite duration throws an `InvalidOptionError` naming `slow.duration`.
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 *
 * const late = Faults.slow("2 seconds")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const slow = (duration: Duration.DurationInput): Fault =>
  Data.struct({ _tag: "Slow" as const, duration: internal.checkDuration("Faults.slow", "slow.duration", duration) })

/**
 * Calls fail with probability `probability` (in [0, 1]), drawn from Effect's
 * `Random`; anything else throws an `InvalidOptionError` naming `flaky.probability`.
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 *
 * const halfTheTime = Faults.flaky(0.5)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const flaky = (probability: number): Fault => {
  if (!(typeof probability === "number" && probability >= 0 && probability <= 1)) {
    throw new InvalidOptionError({
      module: "Faults.flaky",
      option: "flaky.probability",
      expected: "a probability in [0, 1]",
      actual: probability
    })
  }
  return Data.struct({ _tag: "Flaky" as const, probability })
}

/**
 * The error of a member made to fail by `down` or `flaky`: which dependency,
 * which member, which fault. A real failure for whatever sits on top — the
 * breaker counts it, a fallback recovers from it.
 *
 * @since 0.1.0
 * @category errors
 */
export const FaultInjectedError: typeof internal.FaultInjectedError = internal.FaultInjectedError

/**
 * The instance type of {@link FaultInjectedError}: `{ dependency, member, fault }`.
 *
 * @since 0.1.0
 * @category errors
 */
export type FaultInjectedError = internal.FaultInjectedError

/**
 * The options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Names the dependency in errors, logs and metrics; by default the Tag's key. */
  readonly name?: string | undefined
}

/**
 * The faults in force: one for the whole service, and per member (a
 * member's own fault wins over the service's).
 *
 * @since 0.1.0
 * @category models
 */
export interface Active {
  readonly service: Fault | undefined
  readonly members: Readonly<Record<string, Fault>>
}

/**
 * The names of `S`'s members a fault can target.
 *
 * @since 0.1.0
 * @category models
 */
export type Member<S> = Extract<keyof S, string>

/**
 * The options of `inject` and `recover`: one member, or (without) the whole service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target<S> {
  readonly member?: Member<S> | undefined
}

/**
 * @since 0.1.0
 * @category symbols
 */
export const ControlTypeId: typeof internal.ControlTypeId = internal.ControlTypeId

/**
 * @since 0.1.0
 * @category symbols
 */
export type ControlTypeId = typeof ControlTypeId

/**
 * The handle that scripts the faults of the service `Faults.layer(Tag)`
 * wraps; found under {@link control}`(Tag)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Control<in out I, in out S = any> {
  readonly [ControlTypeId]: { readonly _I: Types.Invariant<I> }
  /** The dependency's name, as in errors, logs and `fault_injections_total{dependency}`. */
  readonly dependency: string
  /** The members a fault can target (Effects, Streams, functions, getters). */
  readonly members: ReadonlyArray<string>
  /**
   * Puts `fault` on one member, or on the whole service (replacing the
   * members' own faults); logged and counted. A bad fault or an unknown
   * member is a defect, `InvalidOptionError`, before anything changes.
   */
  readonly inject: (fault: Fault, options?: Target<S>) => Effect.Effect<void>
  /** Clears one member's fault, or (without `member`) every fault; logged. */
  readonly recover: (options?: Target<S>) => Effect.Effect<void>
  /** The faults in force now. */
  readonly active: Effect.Effect<Active>
  /** The faults in force now, each with the instant it was injected: the whole service's first, then by member. */
  readonly injected: Effect.Effect<ReadonlyArray<Injected>>
}

/**
 * A fault in force: on `member`, or (`undefined`) on the whole service,
 * since `since` (epoch milliseconds of the `Clock`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Injected {
  readonly dependency: string
  readonly member: string | undefined
  readonly fault: Fault
  readonly since: number
}

/**
 * A fault put on a dependency (or one of its members).
 *
 * @since 0.1.0
 * @category models
 */
export interface Injection {
  readonly _tag: "Injection"
  readonly dependency: string
  readonly member: string | undefined
  readonly fault: Fault
  readonly at: number
}

/**
 * The faults of a dependency cleared: all of them, or `member`'s own.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recovery {
  readonly _tag: "Recovery"
  readonly dependency: string
  readonly member: string | undefined
  readonly at: number
}

/**
 * What the {@link Registry} announces: an injection or a recovery.
 *
 * @since 0.1.0
 * @category models
 */
export type Change = Injection | Recovery

/**
 * The fault controls of a running service by dependency name, for admin
 * routes and status pages: every `Faults.layer` (and enabled
 * `Faults.layerConfig`) built with a registry in its context registers its
 * {@link Control} there, and unregisters when its scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegistryService {
  /** The registered controls, by dependency name. */
  readonly dependencies: Effect.Effect<ReadonlyArray<Control<unknown, any>>>
  /** The control of `dependency`, if registered. */
  readonly get: (dependency: string) => Effect.Effect<Option.Option<Control<unknown, any>>>
  /** Every fault in force, by dependency. */
  readonly injected: Effect.Effect<ReadonlyArray<Injected>>
  /** One {@link Change} per injection or recovery from now on (subscribed when the scope opens). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Change>, never, Scope.Scope>
  /** One {@link Change} per injection or recovery, from when the stream starts. */
  readonly changes: Stream.Stream<Change>
}

/**
 * The registry of a running service's fault controls (see {@link layerRegistry}).
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 * import { Effect, Option } from "effect"
 *
 * // The members an operator can target on "redis", if it is registered.
 * export const redisMembers = Effect.gen(function*() {
 *   const registry = yield* Faults.Registry
 *   const redis = yield* registry.get("redis")
 *   return Option.map(redis, (control) => control.members)
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Registry: typeof internal.Registry = internal.Registry

/**
 * The identifier of {@link Registry}.
 *
 * @since 0.1.0
 * @category tags
 */
export type Registry = internal.Registry

/**
 * An empty {@link Registry}. Provide it under the `Faults` layers
 * (`Layer.provideMerge`) so that they register into it and the HTTP server
 * sees it. Registering two dependencies under one name is a defect
 * (`InvalidOptionError` naming `name`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRegistry: Layer.Layer<Registry> = internal.layerRegistry

/**
 * What {@link config} reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** `RESILIENCE_FAULTS` is `on`. */
  readonly enabled: boolean
  /** `RESILIENCE_PROFILE` (core's `Profile.config`, default `production`). */
  readonly profile: Profile.Profile
  /** `RESILIENCE_FAULTS_ALLOW_PRODUCTION` (a boolean, default `false`). */
  readonly allowProduction: boolean
}

/**
 * `RESILIENCE_FAULTS` (`on` or `off`, case-insensitive, default `off`; anything
 * else is a `ConfigError` naming it), the profile, and
 * `RESILIENCE_FAULTS_ALLOW_PRODUCTION`. Faults `on` in the `production`
 * profile without `RESILIENCE_FAULTS_ALLOW_PRODUCTION=true` is a `ConfigError`
 * whose message names the three variables.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Settings> = internal.config

/**
 * {@link layer}, switched by configuration ({@link config}): with
 * `RESILIENCE_FAULTS=off` (the default) the raw service passes through
 * untouched — the same object, nothing wrapped, nothing registered; with
 * `on` it is wrapped, registered with the {@link Registry} in context (if
 * any), and a warning is logged. In the `production` profile it refuses to
 * build (a `ConfigError` naming the variables) unless
 * `RESILIENCE_FAULTS_ALLOW_PRODUCTION=true`.
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Cache extends Context.Tag("Cache")<Cache, { readonly get: (key: string) => Effect.Effect<string> }>() {}
 * const RawCacheLive = Layer.succeed(Cache, { get: (key) => Effect.succeed(`value of ${key}`) })
 *
 * // Layer<Cache, ConfigError>: the raw cache itself while RESILIENCE_FAULTS is off
 * export const CacheLive = Faults.layerConfig(Cache, { name: "redis" }).pipe(Layer.provide(RawCacheLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  options?: Options
) => Layer.Layer<I, ConfigError.ConfigError, I> = internal.layerConfig

/**
 * The Tag of the {@link Control} of `tag`'s faults (the same for every call with that tag).
 *
 * For example `Effect.flatMap(Faults.control(Cache), (control) => control.active)`.
 *
 * @since 0.1.0
 * @category tags
 */
export const control: <I, S>(tag: Context.Tag<I, S>) => Context.Tag<Control<I, S>, Control<I, S>> = internal.control

/**
 * Wraps the raw service provided for `tag` so that every Effect member,
 * method returning an Effect or a Stream, and Stream member consults the
 * fault in force when it runs. Provides the same Tag (wrapped) and its
 * {@link control}. Counts injections in `fault_injections_total{dependency,fault}`
 * (every series created with the layer). A bad `name` is a defect,
 * `InvalidOptionError`, when the layer is built. With a {@link Registry} in
 * context, the control is registered there under its name.
 *
 * The service type is unchanged: an injected `FaultInjectedError` is a
 * failure the member does not declare, as a real outage's errors often are.
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Cache extends Context.Tag("Cache")<Cache, {
 *   readonly get: (key: string) => Effect.Effect<string>
 * }>() {}
 *
 * const RawCacheLive = Layer.succeed(Cache, { get: (key) => Effect.succeed(`price of ${key}`) })
 *
 * // The same Tag, wrapped, and its control.
 * const CacheFaulty = Faults.layer(Cache, { name: "redis" }).pipe(Layer.provide(RawCacheLive))
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* Cache
 *   yield* Faults.inject(Cache, Faults.down)
 *   const during = yield* Effect.either(cache.get("p1"))
 *   yield* Faults.recover(Cache)
 *   const after = yield* cache.get("p1")
 *   console.log(during._tag, after)
 *   // Output: Left price of p1
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(CacheFaulty)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, S>(tag: Context.Tag<I, S>, options?: Options) => Layer.Layer<I | Control<I, S>, never, I> =
  internal.layer

/**
 * `fault_injections_total{dependency,fault}`: one per injection (not per
 * faulted call), `fault` one of `down`, `hang`, `slow`, `flaky`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const injections: Metric.Metric.Counter<number> = internal.injections

/**
 * Puts `fault` on the service of `tag` (or on `options.member` only).
 *
 * For example `Faults.inject(Cache, Faults.down)`, or
 * `Faults.inject(Cache, Faults.flaky(0.2), { member: "get" })` (see {@link layer}).
 *
 * @since 0.1.0
 * @category combinators
 */
export const inject: {
  <S>(fault: Fault, options?: Target<S>): <I>(tag: Context.Tag<I, S>) => Effect.Effect<void, never, Control<I, S>>
  <I, S>(tag: Context.Tag<I, S>, fault: Fault, options?: Target<S>): Effect.Effect<void, never, Control<I, S>>
} = dual(
  (args) => isTagArg(args[0]),
  <I, S>(tag: Context.Tag<I, S>, fault: Fault, options?: Target<S>): Effect.Effect<void, never, Control<I, S>> =>
    internal.withControl(tag, (c) => c.inject(fault, options))
)

/**
 * Clears the faults of `tag`'s service: all of them, or `options.member`'s own.
 *
 * For example `Faults.recover(Cache)` (see {@link layer}).
 *
 * @since 0.1.0
 * @category combinators
 */
export const recover: {
  <S>(options?: Target<S>): <I>(tag: Context.Tag<I, S>) => Effect.Effect<void, never, Control<I, S>>
  <I, S>(tag: Context.Tag<I, S>, options?: Target<S>): Effect.Effect<void, never, Control<I, S>>
} = dual(
  (args) => isTagArg(args[0]),
  <I, S>(tag: Context.Tag<I, S>, options?: Target<S>): Effect.Effect<void, never, Control<I, S>> =>
    internal.withControl(tag, (c) => c.recover(options))
)

/**
 * The faults in force on `tag`'s service.
 *
 * @since 0.1.0
 * @category getters
 */
export const active = <I, S>(tag: Context.Tag<I, S>): Effect.Effect<Active, never, Control<I, S>> =>
  internal.withControl(tag, (c) => c.active)

/**
 * How logs and pages name a fault: `down`, `hang`, `slow 2s`, `flaky 50%`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe: (fault: Fault) => string = internal.describe

/**
 * The `fault` label of a fault: `down`, `hang`, `slow` or `flaky`.
 *
 * @since 0.1.0
 * @category utils
 */
export const label: (fault: Fault) => "down" | "hang" | "slow" | "flaky" = internal.label

const isTagArg = internal.isTag

/**
 * Checks that `fault` is one of {@link down}, {@link hang}, {@link slow} or
 * {@link flaky} with valid settings, answering it; anything else throws an
 * `InvalidOptionError` naming `module` and the field (`flaky.probability`,
 * `slow.duration`). For libraries whose own options hold faults (a scenario
 * script), to check them where they are given.
 *
 * @example
 * ```ts
 * import { Faults } from "@effect-resilience/core"
 *
 * assert.strictEqual(Faults.unsafeValidate("MyDrill", Faults.down), Faults.down)
 * assert.throws(() => Faults.unsafeValidate("MyDrill", { _tag: "Flaky", probability: 2 }), /flaky\.probability/)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const unsafeValidate: (module: string, fault: unknown) => Fault = internal.checkFault
