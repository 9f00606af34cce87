import * as Context from "effect/Context"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as CircuitBreaker from "../CircuitBreaker.js"
import { Degradation } from "../Degradation.js"
import type * as Dependency from "../Dependency.js"
import { CallTimeoutError, CircuitOpenError, InvalidOptionError } from "./errors.js"
import { hooks, measure } from "./fallback.js"

type AnyFallback = (error: unknown, ...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>

/** @internal */
export const wrap = <S>(
  service: S,
  options: Dependency.Options<S, Record<string, AnyFallback>>
): Effect.Effect<Dependency.Wrapped<S>, never, Scope.Scope | Degradation> =>
  Effect.gen(function*() {
    if (service === null || typeof service !== "object") {
      return yield* Effect.die(
        new InvalidOptionError({
          module: "Dependency.layer",
          option: "service",
          expected: "an object whose members are Effects or functions returning Effects",
          actual: service
        })
      )
    }
    const fallbacks: Record<string, AnyFallback> = options.fallback ?? {}
    for (const key of Object.keys(fallbacks)) {
      if (typeof fallbacks[key] !== "function") {
        return yield* Effect.die(
          new InvalidOptionError({
            module: "Dependency.layer",
            option: `fallback.${key}`,
            expected: "a function (error, ...args) => Effect",
            actual: fallbacks[key]
          })
        )
      }
    }
    const degradation = yield* Degradation
    // The fallbacks may read other services (DB ↔ cache): capture them now.
    const context = yield* Effect.context<never>()
    const clock = yield* Effect.clock
    // A dependency is I/O: two Clock reads per call are noise there, so its
    // latency histogram is on unless turned off.
    const breaker = yield* CircuitBreaker.make({
      ...options.breaker,
      recordDurations: options.breaker?.recordDurations ?? true,
      name: options.name,
      callTimeout: options.callTimeout
    })
    const isFailure = options.breaker?.isFailure
    const fallbackHooks = hooks(options.name)

    /**
     * This breaker's rejections and timeouts, or a failure the breaker
     * counted (by `isFailure`, as the breaker classifies it — another
     * breaker's `CircuitOpenError` included): the errors a fallback recovers.
     */
    const recoverable = (error: unknown): boolean => {
      if ((error instanceof CircuitOpenError || error instanceof CallTimeoutError) && error.breaker === options.name) {
        return true
      }
      if (isFailure === undefined) return true
      try {
        return isFailure(error)
      } catch {
        return true
      }
    }

    const withFallback = (
      effect: Effect.Effect<unknown, unknown, unknown>,
      fallback: AnyFallback,
      args: ReadonlyArray<unknown>
    ) =>
      Effect.catchAll(breaker(effect), (error) =>
        recoverable(error)
          ? measure(fallbackHooks, clock, Effect.provide(fallback(error, ...args), context))
          : Effect.fail(error))

    const wrapEffect = (effect: Effect.Effect<unknown, unknown, unknown>, fallback: AnyFallback | undefined) =>
      fallback === undefined ? breaker(effect) : withFallback(effect, fallback, [])

    /**
     * `isEffect` for the results of one member: a member answers the same kind
     * of value every time, so the last prototype seen decides in one compare.
     */
    const effectCheck = () => {
      let lastProto: unknown = undefined
      let lastIs = false
      return (result: unknown): result is Effect.Effect<unknown, unknown, unknown> => {
        if (typeof result !== "object" || result === null) return isEffect(result)
        const proto = Object.getPrototypeOf(result)
        if (proto !== lastProto) {
          lastIs = isEffect(result)
          lastProto = proto
        }
        return lastIs
      }
    }

    const wrapAll = (fallbacks: Record<string, AnyFallback>): S => {
      const wrapped: object = Object.create(Object.getPrototypeOf(service))
      for (const key of allKeys(service)) {
        const fallback = typeof key === "string" ? fallbacks[key] : undefined
        const descriptor = findDescriptor(service, key)!
        if (descriptor.get !== undefined || descriptor.set !== undefined) {
          // An accessor: read it on the raw service at every access.
          Object.defineProperty(wrapped, key, {
            configurable: true,
            enumerable: descriptor.enumerable ?? false,
            get: () => {
              const value = (service as any)[key]
              return isEffect(value) ? wrapEffect(value, fallback) : value
            },
            set: (value) => {
              ;(service as any)[key] = value
            }
          })
          continue
        }
        const member = descriptor.value
        if (isEffect(member)) {
          define(wrapped, key, descriptor, wrapEffect(member, fallback))
        } else if (typeof member === "function") {
          const isEffectResult = effectCheck()
          define(
            wrapped,
            key,
            descriptor,
            fallback === undefined
              ? function() {
                // `arguments`, not a rest parameter: no array per call on the hot path.
                // eslint-disable-next-line prefer-rest-params
                const result = member.apply(service, arguments)
                return isEffectResult(result) ? breaker(result) : result
              }
              : function(...args: Array<unknown>) {
                const result = member.apply(service, args)
                return isEffectResult(result) ? withFallback(result, fallback, args) : result
              }
          )
        } else {
          // Plain data passes through, live: read and written on the raw service.
          Object.defineProperty(wrapped, key, {
            configurable: true,
            enumerable: descriptor.enumerable ?? false,
            get: () => (service as any)[key],
            set: (value) => {
              ;(service as any)[key] = value
            }
          })
        }
      }
      return wrapped as S
    }
    const wrapped = wrapAll(fallbacks)

    yield* degradation.register({
      name: options.name,
      whenDown: options.whenDown,
      breaker,
      health: options.health === undefined ? undefined : Effect.suspend(() => options.health!(service))
    })

    const replays = options.replay ?? []
    if (replays.length > 0) {
      // Replays go through the breaker but never through a fallback: a
      // write-behind fallback would queue the entry again.
      const guarded = wrapAll({})
      const replayAll = Effect.forEach(replays, (replay) =>
        replay.queue.replay((entry) => replay.run(guarded, entry)).pipe(
          Effect.tap((n) =>
            n > 0 ? Effect.logInfo(`Dependency ${options.name}: replayed ${n} queued write(s)`) : Effect.void
          ),
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`Dependency ${options.name}: replay stopped; the rest stays queued`, cause)
          )
        ), { discard: true })
      // One replayer, one pass at a time. A request is a slot in a sliding
      // queue of one: requests during a pass ask for exactly one more pass,
      // and none is dropped between a pass ending and the next request.
      const requests = yield* Queue.sliding<void>(1)
      yield* Queue.take(requests).pipe(Effect.zipRight(replayAll), Effect.forever, Effect.forkScoped)
      const request = () => Queue.unsafeOffer(requests, undefined)
      // When the breaker half-opens, the first replayed entry is its probe;
      // when it closes (or is disabled: calls go through), the dependency is
      // back or assumed to be. Either way: replay the queue.
      yield* breaker.onChange((change) => {
        if (change.to._tag !== "Open" && change.to._tag !== "ForcedOpen") request()
      })
      // A write queued by a failure that did not open the breaker has no
      // transition to wait for: retry what is queued every `replayInterval`
      // while calls go through — a disabled breaker (the development
      // profile) never changes state on its own.
      yield* Effect.sync(() => {
        const state = breaker.unsafeState()._tag
        if (state === "Closed" || state === "Disabled") request()
      }).pipe(
        Effect.repeat(Schedule.spaced(options.replayInterval ?? "30 seconds")),
        Effect.forkScoped
      )
      // Entries left by an earlier process (durable queues) are replayed at start.
      request()
    }

    return { service: wrapped, breaker }
  })

/**
 * A real Effect. In Effect 3, `Option`, `Either` and tags are Effects too
 * (yieldable), but as members of a service they are data: never wrapped.
 * (`Exit`s stay Effects: `Effect.succeed` returns one.)
 */
const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, unknown> => {
  if (typeof u !== "object" || u === null) return typeof u === "function" && isRealEffect(u)
  // What a value is, is decided by its prototype: remember it per prototype,
  // so a wrapped call pays one lookup, not four type-id checks.
  const proto = Object.getPrototypeOf(u) as object | null
  if (proto === null) return isRealEffect(u)
  let known = effectPrototypes.get(proto)
  if (known === undefined) {
    known = isRealEffect(u)
    effectPrototypes.set(proto, known)
  }
  return known
}

const effectPrototypes = new WeakMap<object, boolean>()

const isRealEffect = (u: unknown): boolean =>
  Effect.isEffect(u) && !Option.isOption(u) && !Either.isEither(u) && !Context.isTag(u)

/** The property descriptor of `key` on `service` or the nearest prototype that has it. */
const findDescriptor = (service: object, key: PropertyKey): PropertyDescriptor | undefined => {
  for (let o: object | null = service; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key)
    if (descriptor !== undefined) return descriptor
  }
  return undefined
}

/** Defines a wrapped member as a data property (assignment would hit a prototype's getter). */
const define = (target: object, key: PropertyKey, descriptor: PropertyDescriptor, value: unknown) =>
  Object.defineProperty(target, key, {
    configurable: true,
    enumerable: descriptor.enumerable ?? false,
    writable: true,
    value
  })

/** Own and inherited keys (class methods live on the prototype), but not Object's. */
const allKeys = (service: object): Array<PropertyKey> => {
  const keys = new Set<PropertyKey>()
  for (let o: object | null = service; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) if (key !== "constructor") keys.add(key)
  }
  return [...keys]
}

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: Dependency.Options<S, Record<string, AnyFallback>>
): Layer.Layer<I, never, I | Degradation> =>
  Layer.scoped(
    tag,
    Effect.flatMap(tag, (service) => Effect.map(wrap(service, options), (wrapped) => wrapped.service))
  )
