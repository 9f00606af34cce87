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
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as errors from "./internal/errors.js"
import * as internal from "./internal/fallback.js"
import * as queues from "./internal/writeBehind.js"

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
 * @example
 * ```ts
 * import { Degradation, DegradationLevel, Dependency, Fallback } from "@effect-resilience/core"
 * import { Context, Data, Effect, Layer } from "effect"
 *
 * class RecommendationsError extends Data.TaggedError("RecommendationsError")<{}> {}
 *
 * class Recommendations extends Context.Tag("Recommendations")<Recommendations, {
 *   readonly forUser: (id: string) => Effect.Effect<ReadonlyArray<string>, RecommendationsError>
 * }>() {}
 *
 * const RecommendationsLive = Dependency.layer(Recommendations, {
 *   name: "recommendations",
 *   whenDown: DegradationLevel.Degraded(),
 *   // No recommendations while the service is down, rather than an error page.
 *   fallback: { forUser: Fallback.succeed([]) }
 * }).pipe(
 *   Layer.provide(Layer.succeed(Recommendations, { forUser: () => Effect.fail(new RecommendationsError()) })),
 *   Layer.provideMerge(Degradation.layer())
 * )
 *
 * const program = Effect.flatMap(Recommendations, (recommendations) => recommendations.forUser("user-1"))
 *
 * Effect.runPromise(program.pipe(Effect.provide(RecommendationsLive))).then(console.log)
 * // Output: []
 * ```
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
export const sync =
  <Args extends ReadonlyArray<any>, A>(f: (error: unknown, ...args: Args) => A) =>
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
 * it requires that dependency. When the other dependency's own fallback
 * reads back this one and both are down, the call dies with a
 * {@link FallbackCycleError} naming the cycle instead of looping.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDependency = <I, S, Args extends ReadonlyArray<any>, A, E, R>(
  tag: Context.Tag<I, S>,
  f: (service: S, error: unknown, ...args: Args) => Effect.Effect<A, E, R>
) =>
(error: unknown, ...args: Args): Effect.Effect<A, E, I | R> =>
  Effect.flatMap(tag, (service) => f(service, error, ...args))

/**
 * The defect of a fallback that reached its own dependency again: the
 * fallback of `db` reads the cache, whose fallback reads `db` — with both
 * down, that would loop without end. The call dies with this error naming the
 * cycle (`db → redis → db`) instead; break it by giving one side a fallback
 * that does not read the other (a static value, `unavailable`).
 *
 * @since 0.2.0
 * @category errors
 */
export const FallbackCycleError: typeof errors.FallbackCycleError = errors.FallbackCycleError

/**
 * @since 0.2.0
 * @category errors
 */
export type FallbackCycleError = errors.FallbackCycleError

/**
 * A queue of writes kept while their dependency is down and replayed, in
 * order, once it is back. `offer` must not lose an accepted entry, and no
 * entry is ever dropped silently: one that keeps failing is dead-lettered —
 * moved aside, listed by `deadLetters`, re-queued by `redrive`.
 *
 * Implementations: {@link memoryQueue}; `DurableQueue` in
 * `@effect-resilience/platform`.
 *
 * @since 0.1.0
 * @category write-behind
 */
export interface WriteBehindQueue<A> {
  /** Keeps `entry` for a later replay (durable before it returns, for a durable queue). Full: `WriteBehindError`. */
  readonly offer: (entry: A) => Effect.Effect<void, WriteBehindError>
  /**
   * Replays the live entries oldest first, calling `f(entry, { id, attempts })`:
   * `id` is stable across redeliveries (an idempotency key), `attempts` the
   * deliveries so far, this one included. An entry leaves the queue when `f`
   * succeeds. When `f` fails, the attempt is recorded; once an entry has
   * failed `maxAttempts` times it is dead-lettered (counted in
   * `write_behind_dead_lettered_total`, logged at error level with its id and
   * cause) and the replay goes on with the next entry; before that, the
   * failure stops the replay, keeping that entry and every later one in
   * order, and the replay fails with it. A delivery that is only interrupted
   * is not an attempt. Returns how many entries were delivered. One replay
   * at a time per queue (a second waits).
   *
   * A failure for which `options.rejected` holds is the dependency refusing
   * that entry: redelivering it cannot help, so it is dead-lettered at once
   * (whatever its attempts) and the replay goes on with the next entry.
   */
  readonly replay: <E, R>(
    f: (entry: A, delivery: WriteBehindQueue.Delivery) => Effect.Effect<unknown, E, R>,
    options?: WriteBehindQueue.ReplayOptions<E>
  ) => Effect.Effect<number, E | WriteBehindError, R>
  /** The dead-lettered entries, oldest first. */
  readonly deadLetters: Effect.Effect<ReadonlyArray<WriteBehindQueue.DeadLetter<A>>, WriteBehindError>
  /** Moves a dead letter back to the tail of the live queue, attempts reset to 0. Unknown id: `WriteBehindError`. */
  readonly redrive: (id: string) => Effect.Effect<void, WriteBehindError>
  /** Live entries waiting (dead letters not included). */
  readonly size: Effect.Effect<number, WriteBehindError>
}

/**
 * @since 0.1.0
 * @category write-behind
 */
export declare namespace WriteBehindQueue {
  /**
   * What a replay tells the handler about the entry it delivers.
   *
   * @since 0.1.0
   * @category write-behind
   */
  export interface Delivery {
    /** Stable across redeliveries and instances: an idempotency key. */
    readonly id: string
    /** Deliveries so far, this one included (the first is 1). */
    readonly attempts: number
  }

  /**
   * How a replay treats failures.
   *
   * @since 0.2.0
   * @category write-behind
   */
  export interface ReplayOptions<E> {
    /**
     * Errors that refuse the entry itself (a constraint violation, a `4xx`):
     * the entry is dead-lettered at once instead of being retried. A
     * `rejected` that throws counts as `false`.
     */
    readonly rejected?: ((error: E) => boolean) | undefined
  }

  /**
   * An entry moved aside after `maxAttempts` failed deliveries, or at once
   * when the dependency rejected it.
   *
   * @since 0.1.0
   * @category write-behind
   */
  export interface DeadLetter<A> {
    readonly id: string
    readonly entry: A
    /** Failed deliveries (1 for an entry rejected at its first delivery). */
    readonly attempts: number
    /** The last failure, described (its message, else its tag and fields). */
    readonly error: string
  }
}

/**
 * The write-behind queue could not keep or read an entry (full, say), or
 * has no dead letter by the id given to `redrive`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteBehindError extends Data.TaggedError("WriteBehindError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * For implementations of {@link WriteBehindQueue}: whether a failed
 * delivery was refused by the dependency, by the replay's `rejected` option
 * (a typed failure only: a defect or an interruption never is; a `rejected`
 * that throws says no). Such an entry is dead-lettered at once.
 *
 * @example
 * ```ts
 * import { Fallback } from "@effect-resilience/core"
 * import { Cause } from "effect"
 *
 * const options = { rejected: (error: { status: number }) => error.status === 400 }
 * assert.strictEqual(Fallback.isRejectedDelivery(Cause.fail({ status: 400 }), options), true)
 * assert.strictEqual(Fallback.isRejectedDelivery(Cause.fail({ status: 503 }), options), false)
 * ```
 *
 * @since 0.2.0
 * @category write-behind
 */
export const isRejectedDelivery = <E>(
  cause: Cause.Cause<E>,
  options?: WriteBehindQueue.ReplayOptions<E> | undefined
): boolean => queues.isRejected(cause, options?.rejected)

/**
 * Options of every write-behind queue.
 *
 * @since 0.1.0
 * @category write-behind
 */
export interface QueueOptions {
  /** The `dependency` label of the queue's `write_behind_*` metrics. */
  readonly name: string
  /** Live entries kept at most; a full queue refuses `offer` with `WriteBehindError`. */
  readonly capacity?: number | undefined
  /** Failed deliveries after which an entry is dead-lettered (default 10). */
  readonly maxAttempts?: number | undefined
}

/**
 * A write-behind queue in memory, unbounded unless given a `capacity`: lost
 * with the process (dead letters too). For a durable one, see
 * `@effect-resilience/platform`. Its `write_behind_*` series exist from
 * creation; a bad option is a defect, `InvalidOptionError`, naming it.
 *
 * @since 0.1.0
 * @category write-behind
 */
export const memoryQueue: <A>(options: QueueOptions) => Effect.Effect<WriteBehindQueue<A>> = queues.memoryQueue

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
