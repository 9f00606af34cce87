/**
 * The fallbacks of one dependency: which errors they recover, and the
 * context, metrics and cycle guard they run with.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Stream from "effect/Stream"
import { CallTimeoutError, CircuitOpenError, FallbackCycleError, MemberThrew } from "./errors.js"
import { type FallbackHooks, hooks, measure } from "./fallback.js"
import type { AnyEffect, AnyStream } from "./members.js"

/** @internal */
export type AnyFallback = (error: unknown, ...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>

/**
 * The dependencies whose fallbacks the fiber is running, outermost first.
 * A fallback that reads another dependency (DB ↔ cache) whose own fallback
 * reads back the first would, with both down, loop without end: reaching a
 * dependency whose fallback is already running is a `FallbackCycleError`.
 */
const runningFallbacks = FiberRef.unsafeMake<ReadonlyArray<string>>([])

/** A defect that is a raw member's throw (here or under a fault layer): answered by the fallback. */
const thrownDefect = (cause: Cause.Cause<unknown>): MemberThrew | undefined => {
  if (Cause.isInterrupted(cause)) return undefined
  for (const defect of Cause.defects(cause)) if (defect instanceof MemberThrew) return defect
  return undefined
}

/** @internal */
export class Fallbacks {
  readonly hooks: FallbackHooks
  /**
   * What a fallback's caller lacks comes from here: the services the layer
   * was built with (the dependency's own tag is its protected service).
   */
  captured: Context.Context<never>
  // Contexts are immutable: a caller's context merged once serves its next fallbacks too
  // (a merge copies every service, and an outage runs a fallback per call).
  private lastCaller: Context.Context<any> | undefined = undefined
  private lastCaptured: Context.Context<never> | undefined = undefined
  private lastMerged: Context.Context<any> | undefined = undefined

  constructor(
    readonly name: string,
    readonly clock: Clock.Clock,
    readonly isFailure: ((error: unknown) => boolean) | undefined,
    captured: Context.Context<never>
  ) {
    this.hooks = hooks(name)
    this.captured = captured
  }

  /**
   * This breaker's rejections and timeouts, or a failure the breaker
   * counted (by `isFailure`, as the breaker classifies it — another
   * breaker's `CircuitOpenError` included): the errors a fallback recovers.
   * What `isFailure` refuses is a rejection of the request: never recovered.
   */
  recoverable(error: unknown): boolean {
    if ((error instanceof CircuitOpenError || error instanceof CallTimeoutError) && error.breaker === this.name) {
      return true
    }
    if (this.isFailure === undefined) return true
    try {
      return this.isFailure(error)
    } catch {
      return true
    }
  }

  mergeCaller(caller: Context.Context<any>): Context.Context<any> {
    if (caller !== this.lastCaller || this.captured !== this.lastCaptured) {
      this.lastCaller = caller
      this.lastCaptured = this.captured
      this.lastMerged = Context.merge(this.captured, caller)
    }
    return this.lastMerged!
  }

  /** Runs `fallback` in its caller's context (scope, services, FiberRefs), measured, guarded against cycles. */
  run(fallback: AnyFallback, error: unknown, args: ReadonlyArray<unknown>): AnyEffect {
    return Effect.flatMap(FiberRef.get(runningFallbacks), (running) => {
      if (running.includes(this.name)) {
        const dependencies = [...running.slice(running.indexOf(this.name)), this.name]
        return Effect.die(new FallbackCycleError({ dependencies }))
      }
      const call = Effect.mapInputContext(
        Effect.suspend(() => fallback(error, ...args)),
        (caller: Context.Context<any>) => this.mergeCaller(caller)
      )
      return Effect.locally(measure(this.hooks, this.clock, call), runningFallbacks, [...running, this.name])
    })
  }

  /**
   * `effect` recovered by `fallback`: from failures it recovers, and from a
   * raw member's throw; other defects are bugs of the Effect the member
   * answered, never recovered.
   */
  recover(effect: AnyEffect, fallback: AnyFallback, args: ReadonlyArray<unknown>): AnyEffect {
    return Effect.catchAllCause(effect, (cause) => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        return this.recoverable(failure.value) ? this.run(fallback, failure.value, args) : Effect.failCause(cause)
      }
      const threw = thrownDefect(cause)
      return threw === undefined ? Effect.failCause(cause) : this.run(fallback, threw.error, args)
    })
  }

  /**
   * `stream` recovered by `fallback` (a stream too) when it fails before its
   * first element: after that, elements were emitted and would be repeated.
   */
  recoverStream(stream: AnyStream, fallback: AnyFallback, args: ReadonlyArray<unknown>): AnyStream {
    return Stream.suspend(() => {
      let emitted = false
      const watched = Stream.mapChunks(stream, (chunk) => {
        emitted = true
        return chunk
      })
      return Stream.catchAll(watched, (error) =>
        !emitted && this.recoverable(error)
          ? Stream.unwrap(Effect.map(
            measure(this.hooks, this.clock, Effect.sync(() => fallback(error, ...args) as unknown as AnyStream)),
            (replacement) =>
              Stream.mapInputContext(
                replacement,
                (caller: Context.Context<any>) => Context.merge(this.captured, caller)
              )
          ))
          : Stream.fail(error))
    })
  }
}
