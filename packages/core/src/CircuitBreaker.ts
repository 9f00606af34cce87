/**
 * A circuit breaker: closed → open → half-open → closed.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "db",
 *     trip: CircuitBreaker.consecutiveFailures(3),
 *     reset: Schedule.exponential("10 seconds")
 *   })
 *   return yield* breaker(queryRows)
 * })
 * ```
 *
 * All timing runs on Effect's `Clock` (so `TestClock` drives it), the
 * half-open timer is a fiber in the scope of `make`, and every call updates
 * the metrics of {@link Metrics} synchronously.
 *
 * @since 0.1.0
 */
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as streams from "./internal/breakerStream.js"
import * as internal from "./internal/circuitBreaker.js"
import * as errors from "./internal/errors.js"
import * as keyedInternal from "./internal/keyed.js"

/**
 * Marks a {@link CircuitBreaker}; see {@link isCircuitBreaker}.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A breaker is a function: `breaker(effect)` runs `effect` when the breaker
 * admits it and fails with {@link CircuitOpenError} when it does not.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker extends Pipeable {
  readonly [TypeId]: TypeId
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R>
  /** The breaker's name, used as the `breaker` label of its metrics. */
  readonly name: string
  /**
   * The current state. Reading it never changes it: when the reset delay has
   * passed, the breaker's timer fiber moves it to `HalfOpen` (or the next call does).
   */
  readonly state: Effect.Effect<State>
  /**
   * Every transition from the moment the stream is run. Subscription happens
   * when the stream starts: to observe a transition, start the stream first.
   */
  readonly changes: Stream.Stream<StateChange>
  /**
   * Calls `listener` synchronously on every transition, in order, for the
   * lifetime of the scope. An Effect it returns is run by the fiber that made
   * the transition (the failing call, the timer, the caller of `reset`),
   * uninterruptibly and before that fiber goes on: the hook for reacting
   * within the same fiber turn — `Degradation` moves the level this way before
   * the call that opened the breaker returns. Failures of that Effect are ignored.
   */
  readonly onChange: (
    listener: (change: StateChange) => Effect.Effect<void> | void
  ) => Effect.Effect<void, never, Scope.Scope>
  /** The current state, read synchronously. */
  readonly unsafeState: () => State
  /** Counters and timings of the current state. */
  readonly stats: Effect.Effect<Stats>
  /** Rejects every call (`retryAfter` infinite) until {@link CircuitBreaker.reset}. */
  readonly forceOpen: Effect.Effect<void>
  /** Lets every call through and only records metrics, until {@link CircuitBreaker.reset}. */
  readonly disable: Effect.Effect<void>
  /** Closes the breaker and clears its counts and its reset schedule. */
  readonly reset: Effect.Effect<void>
}

/**
 * The state of a breaker.
 *
 * @since 0.1.0
 * @category models
 */
export type State = Data.TaggedEnum<{
  Closed: {}
  Open: {}
  HalfOpen: {}
  ForcedOpen: {}
  Disabled: {}
}>

/**
 * Constructors, guards and `$match` for {@link State}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const State: Data.TaggedEnum.Constructor<State> = internal.State

/**
 * A transition, with `at` in epoch milliseconds from `Clock`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateChange {
  readonly breaker: string
  readonly from: State
  readonly to: State
  readonly at: number
}

/**
 * A snapshot of a breaker.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly state: State
  /** Counted failures held by the trip policy (consecutive, or in the window). */
  readonly failures: number
  /** Calls held by the window (0 for `consecutiveFailures`). */
  readonly calls: number
  /** Consecutive openings since the breaker last closed. */
  readonly openings: number
  /** How long until an open breaker admits a probe. */
  readonly retryAfter: Duration.Duration
}

/**
 * When a breaker opens: see {@link consecutiveFailures} and {@link failureRate}.
 *
 * @since 0.1.0
 * @category trip policies
 */
export type TripPolicy = ConsecutiveFailures | FailureRate

/**
 * The policy of {@link consecutiveFailures}.
 *
 * @since 0.2.0
 * @category trip policies
 */
export interface ConsecutiveFailures {
  readonly _tag: "ConsecutiveFailures"
  readonly threshold: number
}

/**
 * The policy of {@link failureRate}.
 *
 * @since 0.2.0
 * @category trip policies
 */
export interface FailureRate {
  readonly _tag: "FailureRate"
  readonly threshold: number
  readonly minimumCalls: number
  readonly window: Window
  readonly slowCall: { readonly duration: Duration.DurationInput; readonly threshold: number } | undefined
}

/**
 * The window of a {@link failureRate} policy.
 *
 * @since 0.1.0
 * @category trip policies
 */
export type Window = CountWindow | TimeWindow

/**
 * The last `size` calls: see {@link countWindow}.
 *
 * @since 0.2.0
 * @category trip policies
 */
export interface CountWindow {
  readonly _tag: "CountWindow"
  readonly size: number
}

/**
 * The calls of the last `duration`, in `buckets` slices: see {@link timeWindow}.
 *
 * @since 0.2.0
 * @category trip policies
 */
export interface TimeWindow {
  readonly _tag: "TimeWindow"
  /** As given: decoded and checked when the breaker is made, not by the constructor. */
  readonly duration: Duration.DurationInput
  readonly buckets: number
}

/**
 * Opens on the `threshold`-th consecutive counted failure; a success resets
 * the count.
 *
 * @since 0.1.0
 * @category trip policies
 */
export const consecutiveFailures = (threshold: number): TripPolicy => ({ _tag: "ConsecutiveFailures", threshold })

/**
 * Opens when at least `minimumCalls` are in the window and the share of
 * failed calls reaches `threshold` — or, with `slowCall`, the share of calls
 * that took at least `slowCall.duration` reaches `slowCall.threshold`.
 *
 * @since 0.1.0
 * @category trip policies
 */
export const failureRate = (options: {
  readonly threshold: number
  readonly minimumCalls: number
  readonly window: Window
  readonly slowCall?: { readonly duration: Duration.DurationInput; readonly threshold: number } | undefined
}): TripPolicy => ({
  _tag: "FailureRate",
  threshold: options.threshold,
  minimumCalls: options.minimumCalls,
  window: options.window,
  // Decoded and checked by `make`: `Duration.decode` here would read NaN as 0.
  slowCall: options.slowCall === undefined ? undefined : {
    duration: options.slowCall.duration,
    threshold: options.slowCall.threshold
  }
})

/**
 * The last `size` calls.
 *
 * @since 0.1.0
 * @category trip policies
 */
export const countWindow = (size: number): Window => ({ _tag: "CountWindow", size })

/**
 * The calls of the last `duration`, kept in `buckets` slices (default 10):
 * a slice ages out as a whole.
 *
 * @since 0.1.0
 * @category trip policies
 */
export const timeWindow = (duration: Duration.DurationInput, buckets = 10): Window => ({
  _tag: "TimeWindow",
  duration,
  buckets
})

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Names the breaker in errors and in the `breaker` label of its metrics. */
  readonly name: string
  /** When to open. Default: `consecutiveFailures(5)`. */
  readonly trip?: TripPolicy | undefined
  /**
   * How long each successive opening lasts: the k-th consecutive opening
   * waits the k-th delay; a schedule that ends keeps its last delay. Closing
   * starts it over. Default: `Schedule.spaced("30 seconds")`.
   */
  readonly reset?: Schedule.Schedule<unknown, unknown> | undefined
  /** Concurrent probes while half-open (default 1) and successes needed to close (default 1). */
  readonly halfOpen?: {
    readonly permits?: number | undefined
    readonly successesToClose?: number | undefined
  } | undefined
  /**
   * A call that takes longer fails with {@link CallTimeoutError} at the
   * deadline, counted as a failure, and is interrupted. The caller never
   * waits past the deadline: a call stuck in an uninterruptible region
   * finishes in the background and its result is discarded. The
   * interruption reaches the call at once, so an
   * `Effect.tryPromise((signal) => fetch(url, { signal }))` has its
   * `AbortSignal` aborted: hand the signal to your client and the request is
   * really cancelled, not just abandoned. Deadlines are monotonic: a step of
   * the wall clock does not move them. Between 1 ms and 2³¹−1 ms.
   */
  readonly callTimeout?: Duration.DurationInput | undefined
  /**
   * Which typed errors count as failures (default: all). An error for which it
   * is `false` passes through and counts as neither success nor failure.
   * Defects and this breaker's own `callTimeout` always count; a
   * `CallTimeoutError` raised by the wrapped code is an error like any other.
   */
  readonly isFailure?: ((error: unknown) => boolean) | undefined
  /** Start disabled: every call goes through, only metrics are recorded. */
  readonly disabled?: boolean | undefined
  /**
   * Record every call in `circuit_breaker_call_duration_seconds` (default
   * `false`; `Dependency` turns it on). Timing a call reads the Clock twice —
   * more than the rest of the closed path costs — which is noise around I/O
   * but not around a cheap in-process call. Off, the histogram series still
   * exists (at 0) and calls are still counted by outcome.
   */
  readonly recordDurations?: boolean | undefined
}

/**
 * The call was rejected: the breaker is open (`retryAfter` until it probes
 * again), half-open with every probe permit taken (`retryAfter` zero) or
 * forced open (`retryAfter` infinite).
 *
 * @since 0.1.0
 * @category errors
 */
export const CircuitOpenError = errors.CircuitOpenError

/**
 * The instance type of {@link CircuitOpenError}: `{ breaker, retryAfter }`.
 *
 * @since 0.1.0
 * @category errors
 */
export type CircuitOpenError = errors.CircuitOpenError

/**
 * The call took longer than `callTimeout`: the caller is answered at the
 * deadline and the call is interrupted.
 *
 * @since 0.1.0
 * @category errors
 */
export const CallTimeoutError = errors.CallTimeoutError

/**
 * The instance type of {@link CallTimeoutError}: `{ breaker, timeout }`.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallTimeoutError = errors.CallTimeoutError

/**
 * What a call through a breaker adds to the error channel, and what a
 * `Dependency.layer` member without a fallback must declare in its own.
 *
 * @since 0.1.0
 * @category errors
 */
export type Unavailable = CircuitOpenError | CallTimeoutError

/**
 * Creates a breaker whose half-open timer lives in the current scope.
 * Invalid options are a defect, an `InvalidOptionError` naming the option.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect, Schedule } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "db",
 *     trip: CircuitBreaker.consecutiveFailures(3),
 *     reset: Schedule.exponential("10 seconds"),
 *     callTimeout: "5 seconds"
 *   })
 *   const query = Effect.fail(new Error("connection refused"))
 *   // Three consecutive failures open the breaker…
 *   for (let i = 0; i < 3; i++) yield* Effect.ignore(breaker(query))
 *   // …and the next call is rejected without running.
 *   return yield* breaker(Effect.succeed("rows")).pipe(
 *     Effect.catchTag("CircuitOpenError", (error) => Effect.succeed(`rejected by ${error.breaker}`))
 *   )
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: rejected by db
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<CircuitBreaker, never, Scope.Scope> = internal.make

/**
 * Options of {@link keyed}: those of a breaker, which every key's breaker
 * takes, and the bounds of the set of keys.
 *
 * @since 0.2.0
 * @category keyed
 */
export interface KeyedOptions extends Options {
  /** At most this many live keys (default 1000). */
  readonly capacity?: number | undefined
  /** A key unused this long (closed, or half-open) is evicted, within twice that (default 10 minutes). */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /**
   * `"aggregate"` (default): every key counts into the breaker's own series,
   * and `circuit_breaker_keys{breaker,state}` counts the keys per state.
   * `"per-key"`: each key also has the full set of series with a `key` label —
   * one set per distinct key ever seen (Effect's registry never drops a
   * series): only for a small key space (models, buckets, regions).
   */
  readonly metrics?: "aggregate" | "per-key" | undefined
}

/**
 * A transition of one key of a {@link Keyed} breaker.
 *
 * @since 0.2.0
 * @category keyed
 */
export interface KeyedStateChange<K> extends StateChange {
  readonly key: K
  /** The transition is the overflow breaker's, shared by the keys that found every slot taken. */
  readonly overflow: boolean
}

/**
 * One breaker per key, bounded in memory: `keyed(key)` answers, synchronously,
 * the breaker of that key (made on first use), with the callable shape,
 * states and controls of any {@link CircuitBreaker}. One key's failures never
 * reject another key's calls.
 *
 * Bounds: at most `capacity` live keys (`size` is never above it). A key
 * unused for `idleTimeToLive` is evicted within twice that, if nothing waits
 * on it (closed, disabled or half-open); under capacity pressure the least
 * recently used such key makes room. An open or forced key is never evicted
 * before its reset delay has passed: churn of new keys must not make an
 * outage forgotten. When every slot holds such a key, new keys share one
 * overflow breaker (logged once per fill-up) until a slot frees up: calls
 * stay protected and counted, memory stays bounded. An evicted key leaves no
 * fiber or timer; the keyed breaker itself keeps one sweeper and one
 * call-timeout watchdog for all its keys.
 *
 * @since 0.2.0
 * @category keyed
 */
export interface Keyed<K> extends Pipeable {
  (key: K): CircuitBreaker
  readonly name: string
  /** The live keys and their states. */
  readonly states: Effect.Effect<ReadonlyMap<K, State>>
  /** How many keys are live. */
  readonly size: Effect.Effect<number>
  /** {@link size}, read synchronously. */
  readonly unsafeSize: () => number
  /** Closes the breaker of `key` (nothing to do for a key that is not live). */
  readonly reset: (key: K) => Effect.Effect<void>
  /** Forces every key open, and the keys made from now on, until {@link resetAll}. */
  readonly forceOpenAll: Effect.Effect<void>
  /** Disables every key, and the keys made from now on, until {@link resetAll}. */
  readonly disableAll: Effect.Effect<void>
  /** Closes every key and ends {@link forceOpenAll} / {@link disableAll}. */
  readonly resetAll: Effect.Effect<void>
  /** Every transition of every key, as `onChange` of a breaker: synchronously, in order, for the scope. */
  readonly onChange: (
    listener: (change: KeyedStateChange<K>) => Effect.Effect<void> | void
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Every transition of every key, from the moment the stream runs. */
  readonly changes: Stream.Stream<KeyedStateChange<K>>
}

/**
 * A breaker per key — per host, tenant, model or bucket — bounded in memory.
 * See {@link Keyed}. Invalid options are a defect, an `InvalidOptionError`
 * naming the option.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const byModel = yield* CircuitBreaker.keyed<string>({
 *     name: "openai",
 *     trip: CircuitBreaker.consecutiveFailures(2),
 *     capacity: 100
 *   })
 *   const overloaded = Effect.fail(new Error("503 overloaded"))
 *   for (let i = 0; i < 2; i++) yield* Effect.ignore(byModel("gpt-large")(overloaded))
 *   // gpt-large is open; gpt-small still answers.
 *   const small = yield* byModel("gpt-small")(Effect.succeed("ok"))
 *   return [byModel("gpt-large").unsafeState()._tag, small]
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: [ 'Open', 'ok' ]
 * ```
 *
 * @since 0.2.0
 * @category keyed
 */
export const keyed: <K>(options: KeyedOptions) => Effect.Effect<Keyed<K>, never, Scope.Scope> = keyedInternal.keyed

/**
 * Whether `u` is a breaker made by {@link make}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCircuitBreaker: (u: unknown) => u is CircuitBreaker = internal.isCircuitBreaker

/**
 * A stream through a breaker, as one call: running it until its first
 * element (or its end) goes through `breaker` — rejected while open, timed by
 * its `callTimeout`, counted as a success or a failure — and a failure after
 * that counts as one more failed call (the stream still fails with its own
 * error).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "events" })
 *   const events = Stream.make(1, 2, 3).pipe(CircuitBreaker.stream(breaker))
 *   return yield* Stream.runCollect(events)
 * })
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const stream: {
  (
    breaker: CircuitBreaker
  ): <A, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E | CircuitOpenError | CallTimeoutError, R>
  <A, E, R>(
    self: Stream.Stream<A, E, R>,
    breaker: CircuitBreaker
  ): Stream.Stream<A, E | CircuitOpenError | CallTimeoutError, R>
} = dual(2, <A, E, R>(self: Stream.Stream<A, E, R>, breaker: CircuitBreaker) => streams.stream(breaker, self))
