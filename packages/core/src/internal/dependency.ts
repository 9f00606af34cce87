import * as Cause from "effect/Cause"
import type * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CircuitBreaker from "../CircuitBreaker.js"
import { Degradation } from "../Degradation.js"
import type * as Dependency from "../Dependency.js"
import { register as registerDependency } from "./degradation.js"
import { CallTimeoutError, CircuitOpenError, FallbackCycleError, MemberThrew } from "./errors.js"
import { hooks, measure } from "./fallback.js"
import { type AnyStream, isEffect, isStream, wrapMembers } from "./members.js"
import { validated } from "./validate.js"

type Pull = Effect.Effect<Chunk.Chunk<unknown>, Option.Option<unknown>, unknown>

type AnyFallback = (error: unknown, ...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>

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
  })

/**
 * The dependencies whose fallbacks the fiber is running, outermost first.
 * A fallback that reads another dependency (DB ↔ cache) whose own fallback
 * reads back the first would, with both down, loop without end: reaching a
 * dependency whose fallback is already running is a `FallbackCycleError`.
 */
const runningFallbacks = FiberRef.unsafeMake<ReadonlyArray<string>>([])

/** How `wrap` was reached: the module named in errors, and the dependency's own tag when known. */
export interface WrapContext {
  readonly module: string
  readonly tag?: Context.Tag<any, any> | undefined
}

/** @internal */
export const wrap = <S>(
  service: S,
  options: Dependency.Options<S, Record<string, AnyFallback>>,
  via: WrapContext = { module: "Dependency.wrap" }
): Effect.Effect<Dependency.Wrapped<S>, never, Scope.Scope | Degradation> =>
  Effect.gen(function*() {
    yield* checkOptions(via.module, service, options)
    const fallbacks: Record<string, AnyFallback> = options.fallback ?? {}
    const degradation = yield* Degradation
    // The fallbacks may read services the layer requires (DB ↔ cache): capture
    // them now, but never the layer's Scope — a fallback's finalizers belong to its caller.
    let captured: Context.Context<never> = Context.omit(Scope.Scope)(yield* Effect.context<never>()) as Context.Context<
      never
    >
    const clock = yield* Effect.clock
    // A dependency is I/O: two Clock reads per call are noise there, so its
    // latency histogram is on unless turned off.
    // `isFailure` is typed by the members' errors; the breaker sees it as it is: on any error.
    const breakerOptions = options.breaker as Omit<CircuitBreaker.Options, "name"> | undefined
    const breaker = yield* CircuitBreaker.make({
      ...breakerOptions,
      recordDurations: breakerOptions?.recordDurations ?? true,
      name: options.name,
      callTimeout: options.callTimeout
    })
    const isFailure = breakerOptions?.isFailure
    const isOwnRejection = (error: unknown): boolean =>
      error instanceof CircuitOpenError && error.breaker === options.name
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

    // Contexts are immutable: a caller's context merged once serves its next fallbacks too
    // (a merge copies every service, and an outage runs a fallback per call).
    let lastCaller: Context.Context<any> | undefined
    let lastCaptured: Context.Context<never> | undefined
    let lastMerged: Context.Context<any> | undefined
    const mergeCaller = (caller: Context.Context<any>): Context.Context<any> => {
      if (caller !== lastCaller || captured !== lastCaptured) {
        lastCaller = caller
        lastCaptured = captured
        lastMerged = Context.merge(captured, caller)
      }
      return lastMerged!
    }
    /**
     * A fallback runs in its caller's context (scope, services, FiberRefs);
     * what the caller lacks comes from the services captured at build.
     */
    const inCallerContext = (fallback: Effect.Effect<unknown, unknown, unknown>) =>
      Effect.mapInputContext(fallback, mergeCaller)

    const runFallback = (fallback: AnyFallback, error: unknown, args: ReadonlyArray<unknown>) =>
      Effect.flatMap(FiberRef.get(runningFallbacks), (running) =>
        running.includes(options.name)
          ? Effect.die(
            new FallbackCycleError({ dependencies: [...running.slice(running.indexOf(options.name)), options.name] })
          )
          : Effect.locally(
            measure(fallbackHooks, clock, inCallerContext(Effect.suspend(() => fallback(error, ...args)))),
            runningFallbacks,
            [...running, options.name]
          ))

    /** A defect that is a raw member's throw (here or under a fault layer): answered by the fallback. */
    const thrownDefect = (cause: Cause.Cause<unknown>): MemberThrew | undefined => {
      for (const defect of Cause.defects(cause)) if (defect instanceof MemberThrew) return defect
      return undefined
    }

    const withFallback = (
      effect: Effect.Effect<unknown, unknown, unknown>,
      fallback: AnyFallback,
      args: ReadonlyArray<unknown>
    ) =>
      Effect.catchAllCause(breaker(effect), (cause) => {
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          return recoverable(failure.value) ? runFallback(fallback, failure.value, args) : Effect.failCause(cause)
        }
        // Other defects are bugs of the Effect the member answered: not recovered.
        const threw = Cause.isInterrupted(cause) ? undefined : thrownDefect(cause)
        return threw === undefined ? Effect.failCause(cause) : runFallback(fallback, threw.error, args)
      })

    const wrapEffect = (effect: Effect.Effect<unknown, unknown, unknown>, fallback: AnyFallback | undefined) =>
      fallback === undefined ? breaker(effect) : withFallback(effect, fallback, [])

    /**
     * A raw member that throws instead of answering an Effect: the call
     * failed, so the breaker counts it (a `MemberThrew` defect) and, unlike a
     * defect of the Effect a member answered, the fallback answers it, given
     * what was thrown — a throw must not slip past the protection.
     */
    const thrown = (
      member: PropertyKey,
      error: unknown,
      fallback: AnyFallback | undefined,
      args: ReadonlyArray<unknown>
    ) => {
      const call = Effect.die(new MemberThrew({ member: String(member), error }))
      return fallback === undefined ? breaker(call) : withFallback(call, fallback, args)
    }

    /**
     * A stream is one call: running it until its first element (or its end)
     * goes through the breaker — rejected while open, timed by `callTimeout`,
     * counted — and a failure after that counts as one more failed call. The
     * fallback, a stream too, replaces it only if it fails before its first
     * element: after that, elements were emitted and would be repeated.
     */
    const wrapStream = (
      stream: Stream.Stream<unknown, unknown, unknown>,
      fallback: AnyFallback | undefined,
      args: ReadonlyArray<unknown>
    ): Stream.Stream<unknown, unknown, unknown> =>
      Stream.suspend(() => {
        let emitted = false
        const guarded = Stream.unwrapScoped(Effect.map(Stream.toPull(stream), (pull) =>
          Stream.repeatEffectChunkOption(Effect.suspend((): Pull => {
            if (emitted) {
              return Effect.catchAll(pull, (end): Pull =>
                Option.isNone(end)
                  ? Effect.fail(end)
                  // Counted as a failed call; while open, the stream still fails with its own error.
                  : Effect.zipRight(Effect.ignore(breaker(Effect.fail(end.value))), Effect.fail(end)))
            }
            const first = Effect.catchAll(
              Effect.map(pull, Option.some),
              (end) => Option.isNone(end) ? Effect.succeed(Option.none()) : Effect.fail(end.value)
            )
            return breaker(first).pipe(
              Effect.mapError(Option.some),
              Effect.flatMap((chunk) => {
                emitted = true
                return Option.isNone(chunk) ? Effect.fail(Option.none()) : Effect.succeed(chunk.value)
              })
            )
          }))))
        return fallback === undefined ? guarded : Stream.catchAll(guarded, (error) =>
          !emitted && recoverable(error)
            ? Stream.unwrap(Effect.map(
              measure(
                fallbackHooks,
                clock,
                Effect.sync(() => fallback(error, ...args) as unknown as AnyStream)
              ),
              inCallerStreamContext
            ))
            : Stream.fail(error))
      })

    const inCallerStreamContext = (stream: AnyStream) =>
      Stream.mapInputContext(stream, (caller: Context.Context<any>) =>
        Context.merge(captured, caller))

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

    /** Not an Effect: a Stream is protected too, anything else passes through. */
    const other = (result: unknown, fallback: AnyFallback | undefined, args: ReadonlyArray<unknown>) =>
      isStream(result) ? wrapStream(result, fallback, args) : result

    const wrapMethod = (key: PropertyKey, member: Function, fallback: AnyFallback | undefined) => {
      const isEffectResult = effectCheck()
      return fallback === undefined
        ? function() {
          let result: unknown
          try {
            // `arguments`, not a rest parameter: no array per call on the hot path.
            // eslint-disable-next-line prefer-rest-params
            result = member.apply(service, arguments)
          } catch (error) {
            return thrown(key, error, undefined, [])
          }
          return isEffectResult(result) ? breaker(result) : other(result, undefined, [])
        }
        : function(...args: Array<unknown>) {
          let result: unknown
          try {
            result = member.apply(service, args)
          } catch (error) {
            return thrown(key, error, fallback, args)
          }
          return isEffectResult(result) ? withFallback(result, fallback, args) : other(result, fallback, args)
        }
    }

    const wrapAll = (fallbacks: Record<string, AnyFallback>): S =>
      wrapMembers(service, {
        accessor: (key, read) => {
          const fallback = typeof key === "string" ? fallbacks[key] : undefined
          let value: unknown
          try {
            value = read()
          } catch (error) {
            return thrown(key, error, fallback, [])
          }
          if (isEffect(value)) return wrapEffect(value, fallback)
          if (isStream(value)) return wrapStream(value, fallback, [])
          // A getter answering a method: its calls are protected like a method's.
          return typeof value === "function" ? wrapMethod(key, value, fallback) : value
        },
        member: (key, member) => {
          const fallback = typeof key === "string" ? fallbacks[key] : undefined
          if (isEffect(member)) return wrapEffect(member, fallback)
          if (typeof member === "function") return wrapMethod(key, member, fallback)
          return wrapStream(member, fallback, [])
        }
      })
    const wrapped = wrapAll(fallbacks)
    // Inside its own fallback, the dependency's tag is the protected service
    // (the caller's, when the caller has it): never the raw one.
    if (via.tag !== undefined) captured = Context.add(captured, via.tag, wrapped)

    yield* registerDependency(degradation, {
      module: via.module,
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
      const replayOne = (replay: Dependency.Replay<S, unknown>) =>
        Effect.suspend(() =>
          replay.queue.replay(
            (entry, delivery) =>
              Effect.suspend(() => replay.run(guarded, entry, delivery)).pipe(
                // Rejected by this breaker, the entry was not delivered: no attempt against it.
                Effect.catchIf(isOwnRejection, () => Effect.interrupt)
              ),
            // Refused by the dependency (not a counted failure): redelivering cannot help.
            { rejected: (error) => !recoverable(error) }
          )
        ).pipe(
          Effect.tap((n) =>
            n > 0 ? Effect.logInfo(`Dependency ${options.name}: replayed ${n} queued write(s)`) : Effect.void
          ),
          // A queue that fails, throws or dies is logged and retried next time;
          // the other queues replay regardless.
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.logDebug(`Dependency ${options.name}: replay rejected by the breaker; the queue waits`)
              : Effect.logWarning(`Dependency ${options.name}: replay stopped; the rest stays queued`, cause)
          )
        )
      const replayAll = Effect.forEach(replays, replayOne, { discard: true })
      // One replayer, one pass at a time. A request is a slot in a sliding
      // queue of one: requests during a pass ask for exactly one more pass,
      // and none is dropped between a pass ending and the next request.
      const requests = yield* Queue.sliding<void>(1)
      yield* Queue.take(requests).pipe(Effect.zipRight(replayAll), Effect.forever, Effect.forkScoped)
      const request = () => Queue.unsafeOffer(requests, undefined)
      const admitsCalls = () => {
        const state = breaker.unsafeState()._tag
        return state !== "Open" && state !== "ForcedOpen"
      }
      // When the breaker half-opens, the first replayed entry is its probe;
      // when it closes (or is disabled: calls go through), the dependency is
      // back or assumed to be. Either way: replay the queue.
      yield* breaker.onChange((change) => {
        if (change.to._tag !== "Open" && change.to._tag !== "ForcedOpen") request()
      })
      // Not every queued write has a transition to wait for (a failure that
      // did not open the breaker, a disabled breaker, a half-open permit
      // taken by a call that was then ignored or interrupted): retry every
      // `replayInterval` whenever the breaker admits calls.
      yield* Effect.sync(() => {
        if (admitsCalls()) request()
      }).pipe(
        Effect.repeat(Schedule.spaced(options.replayInterval ?? "30 seconds")),
        Effect.forkScoped
      )
      // Entries left by an earlier process (durable queues) are replayed at start.
      request()
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
