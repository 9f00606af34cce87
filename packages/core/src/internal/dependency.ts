import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as CircuitBreaker from "../CircuitBreaker.js"
import { Degradation } from "../Degradation.js"
import type * as Dependency from "../Dependency.js"
import { stream as breakerStream } from "./breakerStream.js"
import { register as registerDependency } from "./degradation.js"
import { type AnyFallback, Fallbacks } from "./dependencyFallbacks.js"
import { MemberThrew } from "./errors.js"
import { type AnyEffect, type AnyStream, isEffect, isStream, wrapMembers } from "./members.js"
import * as Replayer from "./replayer.js"
import { isPolicy, makeRetrier, type Retrier } from "./retry.js"
import { validated } from "./validate.js"

/** The checks of `Dependency.layer`'s (or `make`'s) options, labelled by the module the user called. */
const checkOptions = (module: string, service: unknown, options: Dependency.Options<any, any>) =>
  validated(module, (v) => {
    if (service === null || typeof service !== "object") {
      v.fail("service", "an object whose members are Effects or functions returning Effects", service)
    }
    v.object("options", options)
    v.nonEmptyString("name", options.name)
    v.level("whenDown", options.whenDown)
    if (options.health !== undefined) v.func("health", options.health, "a function (service) => Effect")
    if (options.callTimeout !== undefined) v.duration("callTimeout", options.callTimeout, { timer: true })
    if (options.breaker !== undefined) v.object("breaker", options.breaker)
    if (options.fallback !== undefined) {
      const fallbacks = v.object("fallback", options.fallback) as Record<string, unknown>
      for (const key of Object.keys(fallbacks)) {
        v.func(`fallback.${key}`, fallbacks[key], "a function (error, ...args) => Effect")
      }
    }
    if (options.replay !== undefined) {
      if (!Array.isArray(options.replay)) v.fail("replay", "an array of { queue, run }", options.replay)
      options.replay.forEach((replay: unknown, i: number) => {
        const r = v.object(`replay[${i}]`, replay) as { queue?: unknown; run?: unknown }
        const queue = v.object(`replay[${i}].queue`, r.queue) as { replay?: unknown }
        v.func(`replay[${i}].queue`, queue.replay, "a WriteBehindQueue (with a replay function)")
        v.func(`replay[${i}].run`, r.run, "a function (service, entry, delivery) => Effect")
      })
    }
    if (options.replayInterval !== undefined) v.duration("replayInterval", options.replayInterval, { timer: true })
    if (options.retry !== undefined) {
      const retry = v.object("retry", options.retry) as { policy?: unknown; members?: unknown }
      if (!isPolicy(retry.policy)) v.fail("retry.policy", "a Retry.policy", retry.policy)
      if (!Array.isArray(retry.members)) v.fail("retry.members", "an array of member names", retry.members)
      const members = retry.members as ReadonlyArray<unknown>
      members.forEach((member, i) => {
        const value = typeof member === "string" ? (service as Record<string, unknown>)[member] : undefined
        if (!isEffect(value) && typeof value !== "function") {
          v.fail(`retry.members[${i}]`, "the name of an Effect member or method of the service", member)
        }
      })
    }
  })

/** How `wrap` was reached: the module named in errors, and the dependency's own tag when known. */
export interface WrapContext {
  readonly module: string
  readonly tag?: Context.Tag<any, any> | undefined
}

/**
 * `isEffect` for the results of one member: a member answers the same kind
 * of value every time, so the last prototype seen decides in one compare.
 */
const effectCheck = () => {
  let lastProto: unknown = undefined
  let lastIs = false
  return (result: unknown): result is AnyEffect => {
    if (typeof result !== "object" || result === null) return isEffect(result)
    const proto = Object.getPrototypeOf(result)
    if (proto !== lastProto) {
      lastIs = isEffect(result)
      lastProto = proto
    }
    return lastIs
  }
}

/**
 * Every member of a service through one breaker, each with its fallback (if
 * any): Effects and Effect-returning methods are calls through the breaker,
 * Streams one call per run, a throw a counted failure; plain data passes
 * through.
 */
class Protection<S> {
  constructor(
    readonly service: S,
    readonly breaker: CircuitBreaker.CircuitBreaker,
    readonly fallbacks: Fallbacks,
    /** The retries of the members in `retried`. */
    readonly retrier: Retrier | undefined,
    readonly retried: ReadonlySet<PropertyKey>
  ) {}

  /** How one call of member `key` is made: through the breaker, retried if `key` is. */
  pipeline(key: PropertyKey): (effect: AnyEffect) => AnyEffect {
    const breaker = this.breaker
    const retrier = this.retried.has(key) ? this.retrier : undefined
    return retrier === undefined ? breaker : (effect) => retrier.run(breaker(effect))
  }

  effect(
    call: (effect: AnyEffect) => AnyEffect,
    effect: AnyEffect,
    fallback: AnyFallback | undefined,
    args: ReadonlyArray<unknown>
  ): AnyEffect {
    return fallback === undefined ? call(effect) : this.fallbacks.recover(call(effect), fallback, args)
  }

  stream(stream: AnyStream, fallback: AnyFallback | undefined, args: ReadonlyArray<unknown>): AnyStream {
    const call = breakerStream(this.breaker, stream)
    return fallback === undefined ? call : this.fallbacks.recoverStream(call, fallback, args)
  }

  /**
   * A raw member that throws instead of answering an Effect: the call
   * failed, so the breaker counts it (a `MemberThrew` defect) and, unlike a
   * defect of the Effect a member answered, the fallback answers it, given
   * what was thrown — a throw must not slip past the protection.
   */
  thrown(member: PropertyKey, error: unknown, fallback: AnyFallback | undefined, args: ReadonlyArray<unknown>) {
    return this.effect(this.breaker, Effect.die(new MemberThrew({ member: String(member), error })), fallback, args)
  }

  /** Not an Effect: a Stream is protected too, anything else passes through. */
  other(result: unknown, fallback: AnyFallback | undefined, args: ReadonlyArray<unknown>): unknown {
    return isStream(result) ? this.stream(result, fallback, args) : result
  }

  method(key: PropertyKey, member: Function, fallback: AnyFallback | undefined): Function {
    const isEffectResult = effectCheck()
    const service = this.service
    const call = this.pipeline(key)
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    return fallback === undefined
      ? function() {
        let result: unknown
        try {
          // `arguments`, not a rest parameter: no array per call on the hot path.
          // eslint-disable-next-line prefer-rest-params
          result = member.apply(service, arguments)
        } catch (error) {
          return self.thrown(key, error, undefined, [])
        }
        return isEffectResult(result) ? call(result) : self.other(result, undefined, [])
      }
      : function(...args: Array<unknown>) {
        let result: unknown
        try {
          result = member.apply(service, args)
        } catch (error) {
          return self.thrown(key, error, fallback, args)
        }
        return isEffectResult(result)
          ? self.effect(call, result, fallback, args)
          : self.other(result, fallback, args)
      }
  }

  /** The protected service: `fallbacks` by member name (none for the replayer's view). */
  all(fallbacks: Record<string, AnyFallback>): S {
    const fallbackOf = (key: PropertyKey) => typeof key === "string" ? fallbacks[key] : undefined
    return wrapMembers(this.service, {
      accessor: (key, read) => {
        const fallback = fallbackOf(key)
        let value: unknown
        try {
          value = read()
        } catch (error) {
          return this.thrown(key, error, fallback, [])
        }
        if (isEffect(value)) return this.effect(this.pipeline(key), value, fallback, [])
        if (isStream(value)) return this.stream(value, fallback, [])
        // A getter answering a method: its calls are protected like a method's.
        return typeof value === "function" ? this.method(key, value, fallback) : value
      },
      member: (key, member) => {
        const fallback = fallbackOf(key)
        if (isEffect(member)) return this.effect(this.pipeline(key), member, fallback, [])
        if (typeof member === "function") return this.method(key, member, fallback)
        return this.stream(member, fallback, [])
      }
    })
  }
}

/** @internal */
export const wrap = <S>(
  service: S,
  options: Dependency.Options<S, Record<string, AnyFallback>>,
  via: WrapContext = { module: "Dependency.wrap" }
): Effect.Effect<Dependency.Wrapped<S>, never, Scope.Scope | Degradation> =>
  Effect.gen(function*() {
    yield* checkOptions(via.module, service, options)
    const degradation = yield* Degradation
    // `isFailure` is typed by the members' errors; the breaker sees it as it is: on any error.
    const breakerOptions = options.breaker as Omit<CircuitBreaker.Options, "name"> | undefined
    // A dependency is I/O: two Clock reads per call are noise there, so its
    // latency histogram is on unless turned off.
    const breaker = yield* CircuitBreaker.make({
      ...breakerOptions,
      recordDurations: breakerOptions?.recordDurations ?? true,
      name: options.name,
      callTimeout: options.callTimeout
    })
    // The fallbacks may read services the layer requires (DB ↔ cache): capture
    // them now, but never the layer's Scope — a fallback's finalizers belong to its caller.
    const captured = Context.omit(Scope.Scope)(yield* Effect.context<never>()) as Context.Context<never>
    const fallbacks = new Fallbacks(options.name, yield* Effect.clock, breakerOptions?.isFailure, captured)
    const retrier = options.retry === undefined ? undefined : yield* makeRetrier(options.retry.policy, {
      dependency: options.name,
      // What a fallback would not recover is the dependency refusing the request: never retried.
      isRejection: (error) => !fallbacks.recoverable(error),
      degradation
    })
    const protection = new Protection(service, breaker, fallbacks, retrier, new Set(options.retry?.members ?? []))
    const wrapped = protection.all(options.fallback ?? {})
    // Inside its own fallback, the dependency's tag is the protected service
    // (the caller's, when the caller has it): never the raw one.
    if (via.tag !== undefined) fallbacks.captured = Context.add(captured, via.tag, wrapped)

    yield* registerDependency(degradation, {
      module: via.module,
      name: options.name,
      whenDown: options.whenDown,
      breaker,
      health: options.health === undefined ? undefined : Effect.suspend(() => options.health!(service))
    })

    const replays = options.replay ?? []
    if (replays.length > 0) {
      yield* Replayer.start({
        name: options.name,
        breaker,
        guarded: protection.all({}),
        replays,
        replayInterval: options.replayInterval ?? "30 seconds",
        recoverable: (error) => fallbacks.recoverable(error)
      })
    }
    return { service: wrapped, breaker }
  })

/** @internal */
export const make = <I, S>(
  tag: Context.Tag<I, S>,
  options: Dependency.Options<S, Record<string, AnyFallback>>
): Effect.Effect<Dependency.Wrapped<S>, never, I | Scope.Scope | Degradation> =>
  Effect.flatMap(tag, (service) => wrap(service, options, { module: "Dependency.make", tag }))

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: Dependency.Options<S, Record<string, AnyFallback>>
): Layer.Layer<I, never, I | Degradation> =>
  Layer.scoped(
    tag,
    Effect.flatMap(tag, (service) =>
      Effect.map(wrap(service, options, { module: "Dependency.layer", tag }), (wrapped) => wrapped.service))
  )
