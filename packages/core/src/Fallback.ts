/**
 * Fallback strategies: what a call answers when its dependency is
 * unavailable. A fallback is a function of the error and of the member's
 * arguments; `Dependency.layer` runs it, counts it in
 * `circuit_breaker_fallback_calls_total` and times it in
 * `fallback_duration_seconds`.
 *
 * ```ts
 * fallback: {
 *   getPrice: Fallback.fromDependency(Cache, (cache, _error, id) => cache.getPrice(id)),
 *   savePrice: Fallback.unavailable({ dependency: "db", message: "Prices are read-only", action: "Retry in a few minutes" }),
 *   enhancePrices: Fallback.sync((_error, prices) => prices.map((p) => p * 1.3)),
 *   upload: Fallback.writeBehind(queue, (key, body) => ({ key, body })) // the member's arguments only
 * }
 * ```
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Ref from "effect/Ref"
import * as internal from "./internal/fallback.js"

/**
 * A fallback for a member `(...args) => Effect<A, E, R>`: it receives the
 * error that made the call unavailable, then the call's arguments.
 *
 * @since 0.1.0
 * @category models
 */
export type Fallback<Args extends ReadonlyArray<any>, A, E, R = never> = (
  error: unknown,
  ...args: Args
) => Effect.Effect<A, E, R>

/**
 * Answers a constant.
 *
 * @since 0.1.0
 * @category constructors
 */
export const succeed = <A>(value: A) => (_error: unknown, ..._args: ReadonlyArray<any>): Effect.Effect<A> =>
  Effect.succeed(value)

/**
 * Answers a value computed from the error and the arguments.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sync = <Args extends ReadonlyArray<any>, A>(f: (error: unknown, ...args: Args) => A) =>
(error: unknown, ...args: Args): Effect.Effect<A> => Effect.sync(() => f(error, ...args))

/**
 * The generic factory: any effect computed from the error and the arguments.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Args extends ReadonlyArray<any>, A, E, R>(
  f: (error: unknown, ...args: Args) => Effect.Effect<A, E, R>
): Fallback<Args, A, E, R> => f

/**
 * The operation is refused while the dependency is down (writes blocked,
 * say): a clear message for the user and what to do about it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnavailableError extends Data.TaggedError("UnavailableError")<{
  /** The dependency that is down. */
  readonly dependency: string
  /** What the user is told. */
  readonly message: string
  /** What the user can do. */
  readonly action: string
  /** The error that made the dependency unavailable. */
  readonly cause?: unknown
}> {}

/**
 * Fails with an {@link UnavailableError} naming the dependency: the member's
 * error type must include it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unavailable = (options: {
  readonly dependency: string
  readonly message: string
  readonly action: string
}) =>
(error: unknown, ..._args: ReadonlyArray<any>): Effect.Effect<never, UnavailableError> =>
  Effect.fail(new UnavailableError({ ...options, cause: error }))

/**
 * Reads from another dependency instead (DB ↔ cache). The layer that uses
 * it requires that dependency.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDependency = <I, S, Args extends ReadonlyArray<any>, A, E, R>(
  tag: Context.Tag<I, S>,
  f: (service: S, error: unknown, ...args: Args) => Effect.Effect<A, E, R>
) =>
(error: unknown, ...args: Args): Effect.Effect<A, E, I | R> => Effect.flatMap(tag, (service) => f(service, error, ...args))

/**
 * A queue of writes kept while their dependency is down and replayed, in
 * order, once it is back. `offer` must not lose an accepted entry.
 *
 * @since 0.1.0
 * @category write-behind
 */
export interface WriteBehindQueue<A> {
  /** Keeps `entry` for a later replay. */
  readonly offer: (entry: A) => Effect.Effect<void, WriteBehindError>
  /**
   * Replays the entries in order, oldest first. An entry leaves the queue
   * only when `f` succeeds for it; the first failure stops the replay and
   * keeps it and every later entry. Returns how many were replayed.
   */
  readonly replay: <E, R>(f: (entry: A) => Effect.Effect<unknown, E, R>) => Effect.Effect<number, E | WriteBehindError, R>
  /** Entries waiting. */
  readonly size: Effect.Effect<number>
}

/**
 * The write-behind queue could not keep or read an entry.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteBehindError extends Data.TaggedError("WriteBehindError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A write-behind queue in memory: lost with the process. For a durable one,
 * see `@effect-resilience/platform`.
 *
 * @since 0.1.0
 * @category write-behind
 */
export const memoryQueue = <A>(options?: { readonly capacity?: number | undefined }): Effect.Effect<WriteBehindQueue<A>> =>
  Effect.gen(function*() {
    const capacity = options?.capacity ?? Number.POSITIVE_INFINITY
    const entries = yield* Ref.make<ReadonlyArray<A>>([])
    // One replay at a time: two would deliver the same entries twice.
    const lock = yield* Effect.makeSemaphore(1)
    return {
      offer: (entry) =>
        Ref.modify(entries, (xs) =>
          xs.length >= capacity
            ? [false, xs] as const
            : [true, [...xs, entry]] as const).pipe(
            Effect.flatMap((accepted) =>
              accepted
                ? Effect.void
                : Effect.fail(new WriteBehindError({ message: `write-behind queue is full (capacity ${capacity})` }))
            )
          ),
      replay: (f) =>
        lock.withPermits(1)(Effect.gen(function*() {
          let replayed = 0
          while (true) {
            // By length: `undefined` is a valid entry (a `WriteBehindQueue<void>`).
            const xs = yield* Ref.get(entries)
            if (xs.length === 0) return replayed
            yield* f(xs[0]!)
            yield* Ref.update(entries, (xs) => xs.slice(1))
            replayed++
          }
        })),
      size: Effect.map(Ref.get(entries), (xs) => xs.length)
    } satisfies WriteBehindQueue<A>
  })

/**
 * Queues the write for a later replay and answers `value` (the write is
 * accepted, not lost). Pair it with the `replay` option of `Dependency.layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeBehind = <Args extends ReadonlyArray<any>, Q, A = void>(
  queue: WriteBehindQueue<Q>,
  toEntry: (...args: Args) => Q,
  value?: A
) =>
(_error: unknown, ...args: Args): Effect.Effect<A, WriteBehindError> =>
  Effect.as(Effect.suspend(() => queue.offer(toEntry(...args))), value as A)

/**
 * Runs `fallback`, counting it in `circuit_breaker_fallback_calls_total` and
 * timing it in `fallback_duration_seconds` under the breaker's name: for
 * breakers used without `Dependency.layer`, which does this by itself.
 *
 * @since 0.1.0
 * @category metrics
 */
export const measured: {
  (breaker: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: string): Effect.Effect<A, E, R> =>
    Effect.flatMap(Effect.clock, (clock) => internal.measure(internal.hooks(breaker), clock, self))
)
