/**
 * Wraps a service in a circuit breaker, a call timeout and fallbacks, and
 * registers it with {@link Degradation}.
 *
 * ```ts
 * const OpenAILive = Dependency.layer(OpenAI, {
 *   name: "openai",
 *   breaker: { trip: CircuitBreaker.consecutiveFailures(5), reset: Schedule.spaced("60 seconds") },
 *   callTimeout: "10 seconds",
 *   whenDown: DegradationLevel.Limited(),
 *   health: (openai) => openai.ping,
 *   fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices.map((p) => p * 1.3)) }
 * }) // Layer<OpenAI, never, OpenAI | Degradation>
 * ```
 *
 * The layer provides the same tag it requires: build it on top of the raw
 * service (`Layer.provide(OpenAIRaw)`). Every member that is an Effect or a
 * Stream, or a method or getter answering one, goes through the breaker
 * (nothing bypasses it: a getter answering a method has its calls wrapped
 * too). A Stream is one call: its run until the first element goes through
 * the breaker (rejected while open, timed by `callTimeout`, counted), and a
 * failure after that counts as one more failed call. Because the service
 * type cannot change, a member without a fallback must declare
 * {@link CircuitBreaker.Unavailable} in its error type, or `layer` does not
 * type-check.
 *
 * Fallbacks run in the caller's context: its `Scope` (a finalizer added in a
 * fallback runs when the caller's scope closes), its FiberRefs and its
 * services. The services captured when the layer was built (a cache a DB read
 * falls back to) fill in only what the caller's context lacks — the caller
 * wins. Inside its own fallback, the dependency's tag is the protected
 * service (never the raw one). A fallback that needs a `Scope` gets the
 * caller's: declare `Scope` in the member's requirements.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import type { Degradation } from "./Degradation.js"
import type { DegradationLevel } from "./DegradationLevel.js"
import type * as Fallback from "./Fallback.js"
import * as internal from "./internal/dependency.js"
import * as errors from "./internal/errors.js"
import * as profile from "./internal/profile.js"
import type * as Presets from "./Presets.js"
import * as Retry from "./Retry.js"
import * as RetryBudget from "./RetryBudget.js"

/**
 * A member the layer wraps: an Effect or a Stream, or a function returning one.
 *
 * @since 0.1.0
 * @category type-level
 */
export type EffectMember =
  | Effect.Effect<any, any, any>
  | Stream.Stream<any, any, any>
  | ((...args: any) => Effect.Effect<any, any, any> | Stream.Stream<any, any, any>)

/**
 * The keys of the members the layer protects: Effects and Streams, and
 * functions returning them.
 *
 * @since 0.1.0
 * @category type-level
 */
export type EffectKeys<S> = { [K in keyof S]-?: IsEffectMember<S[K]> extends true ? K : never }[keyof S]

/**
 * In Effect 3 these are Effects too (yieldable), but as members of a service
 * they are data: never wrapped.
 *
 * @since 0.1.0
 * @category type-level
 */
export type DataMember =
  | Option.Option<any>
  | Either.Either<any, any>
  | Context.Tag<any, any>

type IsEffect<A> = [A] extends [never] ? false :
  A extends DataMember ? false :
  A extends Effect.Effect<any, any, any> ? true
  : false

type IsStream<A> = [A] extends [never] ? false :
  A extends DataMember ? false :
  A extends Stream.Stream<any, any, any> ? true
  : false

type IsProtected<A> = IsEffect<A> extends true ? true : IsStream<A>

type IsEffectMember<M> = M extends (...args: any) => infer R ? IsProtected<R> : IsProtected<M>

type ErrorOf<M> = M extends (...args: any) => Effect.Effect<any, infer E, any> ? E
  : M extends (...args: any) => Stream.Stream<any, infer E, any> ? E
  : M extends Effect.Effect<any, infer E, any> ? E
  : M extends Stream.Stream<any, infer E, any> ? E
  : never

/**
 * The errors the protected members of a service declare (what `isFailure`
 * classifies).
 *
 * @since 0.1.0
 * @category type-level
 */
export type MemberErrors<S> = { [K in EffectKeys<S>]: ErrorOf<S[K]> }[EffectKeys<S>]

/**
 * The Effect members whose error type lacks {@link CircuitBreaker.Unavailable}:
 * each needs a fallback.
 *
 * @since 0.1.0
 * @category type-level
 */
export type KeysNeedingFallback<S> = {
  [K in EffectKeys<S>]: [CircuitBreaker.Unavailable] extends [ErrorOf<S[K]>] ? never : K
}[EffectKeys<S>]

/**
 * The fallback a member accepts: the error, then the member's arguments; it
 * answers the member's success type and may fail only with its error type.
 * A Stream member's fallback is a Stream (it replaces the stream only when
 * that fails before its first element).
 *
 * @since 0.1.0
 * @category type-level
 */
export type FallbackFor<M, R = any> = M extends (...args: infer Args) => Effect.Effect<infer A, infer E, any>
  ? (error: E | CircuitBreaker.Unavailable, ...args: Args) => Effect.Effect<A, E, R>
  : M extends (...args: infer Args) => Stream.Stream<infer A, infer E, any>
    ? (error: E | CircuitBreaker.Unavailable, ...args: Args) => Stream.Stream<A, E, R>
  : M extends Effect.Effect<infer A, infer E, any> ? (error: E | CircuitBreaker.Unavailable) => Effect.Effect<A, E, R>
  : M extends Stream.Stream<infer A, infer E, any> ? (error: E | CircuitBreaker.Unavailable) => Stream.Stream<A, E, R>
  : never

/**
 * The `fallback` option: optional for members that declare
 * {@link CircuitBreaker.Unavailable}, required for the others. `R` is what
 * the fallbacks may require; `layer` infers it from the fallbacks given.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Fallbacks<S, R = any> =
  & { readonly [K in EffectKeys<S>]?: FallbackFor<S[K], R> }
  & { readonly [K in KeysNeedingFallback<S>]-?: FallbackFor<S[K], R> }

/**
 * What the fallbacks need from the context (e.g. the cache a DB read falls
 * back to): the layer requires it. `Scope` is not among them — a fallback's
 * scope is its caller's.
 *
 * @since 0.1.0
 * @category type-level
 */
export type FallbackContext<F> = Exclude<
  {
    [K in keyof F]-?: NonNullable<F[K]> extends (...args: any) => Effect.Effect<any, any, infer R> ? R
      : NonNullable<F[K]> extends (...args: any) => Stream.Stream<any, any, infer R> ? R
      : never
  }[keyof F],
  Scope.Scope
>

/**
 * Replays a write-behind queue through the wrapped service, so the breaker
 * still protects it (but no fallback runs). `run` gets the entry's
 * `delivery`: its stable `id` (an idempotency key for the write) and its
 * `attempts`. An entry that fails `maxAttempts` deliveries is dead-lettered
 * by its queue; a replay rejected by this dependency's own breaker
 * (`CircuitOpenError`) is not counted as a delivery.
 *
 * @since 0.1.0
 * @category models
 */
export interface Replay<S, Q> {
  readonly queue: Fallback.WriteBehindQueue<Q>
  readonly run: (service: S, entry: Q, delivery: Fallback.WriteBehindQueue.Delivery) => Effect.Effect<unknown, unknown>
}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<S, F> {
  /** Names the dependency, its breaker and the labels of their metrics. */
  readonly name: string
  /**
   * Breaker options (its name is the dependency's). Unlike a bare breaker, a
   * dependency records call durations unless `recordDurations: false`, and
   * its `isFailure` is typed by the errors the service's members declare.
   */
  readonly breaker?:
    | Omit<CircuitBreaker.Options, "name" | "callTimeout" | "isFailure"> & {
      readonly isFailure?: ((error: MemberErrors<S>) => boolean) | undefined
    }
    | undefined
  /** A call that takes longer is interrupted and counted as a failure. */
  readonly callTimeout?: Duration.DurationInput | undefined
  /** The level this dependency's outage calls for. */
  readonly whenDown: DegradationLevel
  /** A health check on the raw service (it bypasses the breaker). */
  readonly health?: ((service: S) => Effect.Effect<unknown, unknown>) | undefined
  /** Per-member fallbacks. */
  readonly fallback?: F | undefined
  /**
   * Replays of write-behind queues: when the breaker half-opens (the first
   * entry is the probe) or closes, at start (entries a durable queue kept),
   * and every `replayInterval` while it admits calls (closed, half-open or
   * disabled). Delivery is at least once and in queue order; an entry that
   * keeps failing is dead-lettered by its queue after its `maxAttempts` and
   * the rest proceeds. A queue whose replay fails, throws or dies is logged
   * and retried next time; the other queues replay regardless. Writes that
   * succeed directly are not ordered against queued ones.
   */
  readonly replay?: ReadonlyArray<Replay<S, any>> | undefined
  /** How often queued writes are retried while the breaker admits calls (default 30 s; 1 ms … 2³¹−1 ms). */
  readonly replayInterval?: Duration.DurationInput | undefined
  /**
   * Retries of the members named, and only those: retrying a write that is
   * not idempotent is the caller's explicit choice. Each attempt is one call
   * through the breaker and its `callTimeout` (fallback ∘ retry ∘ breaker ∘
   * callTimeout ∘ member), so a breaker that opens stops the retries of
   * every caller at once, and the fallback runs after the last attempt. The
   * retry series carry the dependency's name; rejections (what the
   * breaker's `isFailure` refuses) are never retried; the level is read from
   * the `Degradation` the dependency registers with.
   */
  readonly retry?: RetryOptions<S> | undefined
}

/**
 * The `retry` option of {@link Options}.
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryOptions<S> {
  readonly policy: Retry.Policy<MemberErrors<S>, never>
  /** The members retried: Effect members or methods returning Effects. */
  readonly members: ReadonlyArray<Extract<EffectKeys<S>, string>>
}

/**
 * The defect of a call whose raw member threw instead of answering an
 * Effect. The breaker counts it as a failure and, unlike other defects, a
 * member's fallback answers it (given `error`, what was thrown): a throw
 * never slips past the protection. A fault-injection layer between the
 * dependency and the raw service reports a throw the same way.
 *
 * @since 0.2.0
 * @category errors
 */
export const MemberThrew: typeof errors.MemberThrew = errors.MemberThrew

/**
 * @since 0.2.0
 * @category errors
 */
export type MemberThrew = errors.MemberThrew

/**
 * The wrapped service's breaker, for status pages and admin routes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Wrapped<S> {
  readonly service: S
  readonly breaker: CircuitBreaker.CircuitBreaker
}

// The casts below (make, wrap, layer): the implementation works on any object and checks the
// fallbacks at run time; these signatures carry the type-level rules
// (`KeysNeedingFallback`, `FallbackContext`) that TypeScript cannot verify
// against it. The rules themselves are tested with `expectTypeOf`.

/**
 * The protected service of `tag` and its breaker, without the layer: for
 * handlers that recover themselves, tag by tag, where the reflective
 * `fallback` option would hide it.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const { service: openai, breaker } = yield* Dependency.make(OpenAI, { name: "openai", whenDown: DegradationLevel.Limited() })
 *   return yield* openai.enhancePrices(prices).pipe(
 *     Effect.catchTags({ CircuitOpenError: () => baseline(prices), CallTimeoutError: () => baseline(prices) })
 *   )
 * }) // requires OpenAI (the raw service), Degradation and a Scope
 * ```
 *
 * Members keep their types, so a member without a fallback must declare
 * `Unavailable` as with {@link layer}; fallbacks given here run as in
 * `layer`. The breaker lives as long as the scope and is registered with
 * `Degradation`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <I, S, F extends Fallbacks<S> = Fallbacks<S, never>>(
  tag: Context.Tag<I, S>,
  options: Options<S, F> & ([KeysNeedingFallback<S>] extends [never] ? {} : { readonly fallback: F })
) => Effect.Effect<Wrapped<S>, never, I | Scope.Scope | Degradation | FallbackContext<F>> = internal.make as any

/**
 * Wraps a service value in the current scope, like {@link make} with the
 * service instead of its tag (inside its fallbacks, no tag stands for the
 * protected service).
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap: <S, F extends Fallbacks<S> = Fallbacks<S, never>>(
  service: S,
  options: Options<S, F> & { readonly fallback?: F }
) => Effect.Effect<Wrapped<S>, never, Scope.Scope | Degradation | FallbackContext<F>> = internal.wrap as any

/**
 * What {@link layerConfig} needs beyond a preset.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions<S, F> {
  /** A health check on the raw service (it bypasses the breaker). */
  readonly health?: ((service: S) => Effect.Effect<unknown, unknown>) | undefined
  /** Per-member fallbacks. */
  readonly fallback?: F | undefined
  /** Write-behind queues replayed through the wrapped service. */
  readonly replay?: ReadonlyArray<Replay<S, any>> | undefined
  /** How often queued writes are retried while calls go through (default 30 s). */
  readonly replayInterval?: Duration.DurationInput | undefined
  /** Retries; default: the preset's `retries` (with `RESILIENCE_<NAME>_RETRIES` and `_RETRY_BUDGET`), if any. */
  readonly retry?: RetryOptions<S> | undefined
}

/**
 * {@link layer} with `preset` as configured: the `RESILIENCE_PROFILE` and the
 * dependency's own overrides (`RESILIENCE_<NAME>_FAIL_MAX`, `_RESET_TIMEOUT`,
 * `_CALL_TIMEOUT`; see `Profile`). A bad value fails with a `ConfigError`
 * naming the variable. The same type rule as {@link layer} holds: members
 * whose error type lacks `CircuitBreaker.Unavailable` need a fallback.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <I, S, F extends Fallbacks<S> = Fallbacks<S, never>>(
  tag: Context.Tag<I, S>,
  preset: Presets.Preset,
  rest: ConfigOptions<S, F> & ([KeysNeedingFallback<S>] extends [never] ? {} : { readonly fallback: F })
): Layer.Layer<I, ConfigError.ConfigError, I | Degradation | FallbackContext<F>> =>
  Layer.unwrapScoped(
    Effect.flatMap(
      profile.dependency(preset),
      // `rest` was checked against the same rule as `layer`'s options.
      (options) =>
        Effect.map(
          rest.retry !== undefined || options.retries === undefined
            ? Effect.succeed(rest.retry)
            : Effect.flatMap(tag, (service) => retryOf(options.name, options.retries!, service)),
          (retry) => layer<I, S, F>(tag, { ...options, ...rest, retry } as any)
        )
    )
    // `FallbackContext` of optional fallbacks includes `undefined`, which is no service.
  ) as Layer.Layer<I, ConfigError.ConfigError, I | Degradation | FallbackContext<F>>

/** A preset's retries as a `retry` option: its budget made in the layer's scope, the members the service has. */
const retryOf = <S>(name: string, retries: Presets.Retries, service: S) =>
  Effect.map(
    RetryBudget.make({ name, ratio: retries.budgetRatio }),
    (budget): RetryOptions<S> | undefined => {
      const members = retries.members.filter((member) => {
        const value = (service as Record<string, unknown>)[member]
        return typeof value === "function" || Effect.isEffect(value)
      }) as ReadonlyArray<string> as ReadonlyArray<Extract<EffectKeys<S>, string>>
      if (members.length === 0 || retries.maxAttempts <= 1) return undefined
      const schedule = Schedule.intersect(retries.backoff, Schedule.recurs(retries.maxAttempts - 1))
      return {
        policy: Retry.policy<any>({ schedule, budget, retryAfter: retries.retryAfter, name }),
        members
      }
    }
  )

/**
 * A layer that provides `tag` wrapped, on top of the raw `tag`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Degradation, DegradationLevel, Dependency } from "@effect-resilience/core"
 * import { Context, Data, Effect, Layer, Schedule } from "effect"
 *
 * class AiError extends Data.TaggedError("AiError")<{}> {}
 *
 * class Pricing extends Context.Tag("Pricing")<Pricing, {
 *   // No fallback: the member declares what the breaker adds to its errors.
 *   readonly quote: (sku: string) => Effect.Effect<number, CircuitBreaker.Unavailable>
 *   // A fallback below: the member keeps its own error type.
 *   readonly enhance: (prices: ReadonlyArray<number>) => Effect.Effect<Array<number>, AiError>
 * }>() {}
 *
 * // The raw client; here its AI call always fails.
 * const PricingRaw = Layer.succeed(Pricing, {
 *   quote: () => Effect.succeed(10),
 *   enhance: () => Effect.fail(new AiError())
 * })
 *
 * const PricingLive = Dependency.layer(Pricing, {
 *   name: "pricing",
 *   breaker: { trip: CircuitBreaker.consecutiveFailures(5), reset: Schedule.spaced("60 seconds") },
 *   callTimeout: "10 seconds",
 *   whenDown: DegradationLevel.Limited(),
 *   fallback: {
 *     enhance: (_error, prices) => Effect.succeed(prices.map((price) => price * 2))
 *   }
 * }).pipe(Layer.provide(PricingRaw), Layer.provideMerge(Degradation.layer()))
 *
 * const program = Effect.gen(function*() {
 *   const pricing = yield* Pricing
 *   return yield* pricing.enhance([10, 20])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(PricingLive))).then(console.log)
 * // Output: [ 20, 40 ] (answered by the fallback)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, S, F extends Fallbacks<S> = Fallbacks<S, never>>(
  tag: Context.Tag<I, S>,
  options: Options<S, F> & ([KeysNeedingFallback<S>] extends [never] ? {} : { readonly fallback: F })
) => Layer.Layer<I, never, I | Degradation | FallbackContext<F>> = internal.layer as any
