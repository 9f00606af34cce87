/**
 * A bulkhead: at most `limit` calls in flight, a bounded queue, and room
 * kept for the calls that matter most.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "db", limit: 20, maxQueue: 50, maxWait: "100 millis" })
 *   return yield* bulkhead(queryRows)
 * })
 * ```
 *
 * A call beyond the limit waits in the queue (up to `maxQueue` calls, each
 * up to `maxWait`) or fails at once with {@link BulkheadFullError}. Each
 * {@link Criticality} class is admitted only while the calls in flight stay
 * below its share of the limit (by default `Sheddable` 50 %, `SheddablePlus`
 * 75 %, `Critical` and `CriticalPlus` 100 %), and the queue serves
 * `CriticalPlus` first, then in arrival order; when it is full, a more
 * critical call takes the place of the newest less critical one.
 *
 * The limit is a number or {@link adaptive}: AIMD, Gradient2 or Vegas,
 * following the latency of the calls. All timing runs on Effect's `Clock`
 * (`TestClock` drives it). An admitted call costs synchronous counters and
 * two Effect operations — no fiber, no `Deferred`; only a call that waits
 * allocates.
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Criticality from "./Criticality.js"
import * as internal from "./internal/bulkhead.js"

/**
 * Marks a {@link Bulkhead}; see {@link isBulkhead}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(Bulkhead.make({ name: "db", limit: 4 }), (bulkhead) => Bulkhead.TypeId in bulkhead)
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const id: Bulkhead.TypeId = Bulkhead.TypeId
 * console.log(typeof id)
 * // Output: symbol
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A bulkhead is a function: `bulkhead(effect)` runs `effect` once it holds
 * a permit and fails with {@link BulkheadFullError} when it gets none.
 *
 * A call holds its permit until it has ended, its finalizers included; an
 * interrupted call holds it until its fiber has run its finalizers.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // A service method behind a bulkhead: its type says it may be refused.
 * const guarded = (bulkhead: Bulkhead.Bulkhead) =>
 *   (id: string): Effect.Effect<string, Bulkhead.BulkheadFullError> => bulkhead(Effect.succeed(`row ${id}`))
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "rows", limit: 2 })
 *   const row = yield* guarded(bulkhead)("42")
 *   return `${row}, ${yield* bulkhead.inFlight} in flight after`
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: row 42, 0 in flight after
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Bulkhead extends Pipeable {
  readonly [TypeId]: TypeId
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R>
  /** The bulkhead's name, used as the `bulkhead` label of its metrics. */
  readonly name: string
  /** Calls holding a permit now. */
  readonly inFlight: Effect.Effect<number>
  /** Calls waiting in the queue now. */
  readonly waiting: Effect.Effect<number>
  /**
   * The limit in force: `SubscriptionRef.get` reads it, `changes` streams
   * it (an adaptive limit moves at most once per window). Writing it sets
   * the limit — an operator's override; an adaptive bulkhead keeps it within
   * its `[min, max]` and adapts on from there. A write takes effect as soon
   * as the bulkhead's fiber sees it, within the same scheduler turn.
   */
  readonly limit: SubscriptionRef.SubscriptionRef<number>
  /** Counts since creation and the state now, for status pages. */
  readonly stats: Effect.Effect<Stats>
  /** {@link Bulkhead.stats}, read synchronously. */
  readonly unsafeStats: () => Stats
}

/**
 * A snapshot of a bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "stats", limit: 3 })
 *   yield* bulkhead(Effect.void)
 *   return yield* bulkhead.stats
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: { limit: 3, inFlight: 0, waiting: 0, completed: 1, rejected: 0 }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Stats {
  readonly limit: number
  readonly inFlight: number
  readonly waiting: number
  /** Calls that got a permit and ended (an interrupted call, whose permit comes back with its fiber's end, is not counted). */
  readonly completed: number
  /** Calls refused: at once, after waiting `maxWait`, or displaced from the queue. */
  readonly rejected: number
}

/**
 * An adaptive algorithm: see {@link adaptive}.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const algorithms: ReadonlyArray<Bulkhead.Algorithm> = ["aimd", "gradient2", "vegas"]
 * console.log(algorithms.length)
 * // Output: 3
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Algorithm = "aimd" | "gradient2" | "vegas"

/**
 * An adaptive limit, made by {@link adaptive}, given as the `limit` option.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const limit: Bulkhead.Adaptive = Bulkhead.adaptive({ algorithm: "vegas", min: 4, max: 100, initial: 20 })
 * console.log(limit._tag, limit.initial)
 * // Output: Adaptive 20
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Adaptive {
  readonly _tag: "Adaptive"
  readonly algorithm: Algorithm
  readonly min: number
  readonly max: number
  readonly initial: number
  readonly window: Duration.DurationInput | undefined
}

/**
 * What a bulkhead enforces: everything but its name. `Dependency` takes
 * these as its `bulkhead` option and names the bulkhead after the dependency.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * // Settings kept apart from the name, to reuse for several bulkheads.
 * const settings: Bulkhead.Settings = { limit: 16, maxQueue: 32, maxWait: "200 millis", shares: { Sheddable: 0.25 } }
 * const options: Bulkhead.Options = { name: "s3", ...settings }
 * console.log(options.name, options.limit)
 * // Output: s3 16
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /** At most this many calls in flight: a positive integer, or {@link adaptive}. */
  readonly limit: number | Adaptive
  /** How many calls may wait for a permit (default 0: refuse at once). */
  readonly maxQueue?: number | undefined
  /**
   * How long a queued call waits at most before it is refused (default 0;
   * positive when `maxQueue` is, or `Duration.infinity`). Measured on the
   * Clock's monotonic time.
   */
  readonly maxWait?: Duration.DurationInput | undefined
  /**
   * The share of the limit each class may fill: a class is admitted only
   * while the calls in flight are below `share × limit`. Each in (0, 1], a
   * more critical class never below a less critical one. Defaults:
   * `Sheddable` 0.5, `SheddablePlus` 0.75, `Critical` 1, `CriticalPlus` 1.
   */
  readonly shares?: { readonly [K in Criticality.Tag]?: number | undefined } | undefined
}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const options: Bulkhead.Options = { name: "redis", limit: 64 }
 * console.log(options.maxQueue ?? 0)
 * // Output: 0
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Settings {
  /** Names the bulkhead in errors and in the `bulkhead` label of its metrics. */
  readonly name: string
}

/**
 * The call got no permit: the bulkhead was full and its queue too (or it
 * has none), its wait reached `maxWait`, or a more critical call took its
 * place in the queue. `retryAfter` is how long its recent calls took to
 * free a slot for one more caller. Stackless: refusals are frequent.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "reports", limit: 1 })
 *   // One call holds the only permit…
 *   yield* Effect.fork(bulkhead(Effect.never))
 *   yield* Effect.yieldNow()
 *   // …so the next is refused.
 *   return yield* bulkhead(Effect.succeed("report")).pipe(
 *     Effect.catchTag("BulkheadFullError", (error) => Effect.succeed(`${error.bulkhead} is full (${error.limit})`))
 *   )
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: reports is full (1)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const BulkheadFullError = internal.BulkheadFullError

/**
 * The instance type of {@link BulkheadFullError}: `{ bulkhead, limit, retryAfter }`.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * const describe = (error: Bulkhead.BulkheadFullError) =>
 *   `${error.bulkhead}: retry in ${Duration.toSeconds(error.retryAfter)} s`
 * console.log(describe(new Bulkhead.BulkheadFullError({ bulkhead: "db", limit: 8, retryAfter: Duration.seconds(2) })))
 * // Output: db: retry in 2 s
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export type BulkheadFullError = internal.BulkheadFullError

/**
 * A limit that follows the latency of the calls, as the `limit` option.
 *
 * Calls are grouped in windows of `window` (default 1 second; a window also
 * needs 10 calls to close). Each window compares its average latency with a
 * baseline — the dependency's latency when not congested: the fastest window
 * seen, never re-measured by dropping the limit — and, when the limit is
 * what holds the load back (a call was refused or queued, or half the limit
 * was in use), moves the limit between `min` and `max`, from `initial`:
 *
 * - `"aimd"`: 10 % slower than the baseline → × 0.9; otherwise + 1 (or + 5 %).
 * - `"gradient2"`: halfway towards limit × 1.05 × baseline / latency (at most
 *   halving); within 5 % of the baseline, + √limit.
 * - `"vegas"`: keeps the calls queued at the dependency — in flight × (1 −
 *   baseline / latency) — between log₁₀ limit and twice that (at least 1 and 2).
 *
 * Growth doubles with each window in a row that grew the limit, up to 8×,
 * until the first decrease. When bringing the limit down by 30 % has not made
 * calls 10 % faster, the dependency is slower for everyone: its latency
 * becomes the baseline instead of the limit sinking to `min`.
 *
 * Latency is read in Clock milliseconds: around a dependency that answers
 * in well under a millisecond, the limit can only grow.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect, SubscriptionRef } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({
 *     name: "openai",
 *     limit: Bulkhead.adaptive({ algorithm: "gradient2", min: 2, max: 64, initial: 8 })
 *   })
 *   yield* bulkhead(Effect.succeed("completion"))
 *   return yield* SubscriptionRef.get(bulkhead.limit)
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: 8
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const adaptive = (options: {
  readonly algorithm: Algorithm
  readonly min: number
  readonly max: number
  readonly initial: number
  readonly window?: Duration.DurationInput | undefined
}): Adaptive => ({
  _tag: "Adaptive",
  algorithm: options.algorithm,
  min: options.min,
  max: options.max,
  initial: options.initial,
  // Checked by `make`, which names the option: `Duration.decode` here would read NaN as 0.
  window: options.window
})

/**
 * Creates a bulkhead; its queue timer and the fiber that follows writes to
 * `limit` live in the current scope. Every metric series exists from
 * creation: `bulkhead_inflight` and `bulkhead_limit`, `bulkhead_rejected_total`
 * per class (at 0) and `bulkhead_wait_seconds`. Invalid options are a
 * defect, an `InvalidOptionError` naming the option.
 *
 * @example
 * ```ts
 * import { Bulkhead, Criticality } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "search", limit: 4 })
 *   // Two long calls fill half the limit: the share of Sheddable calls.
 *   yield* Effect.fork(bulkhead(Effect.never))
 *   yield* Effect.fork(bulkhead(Effect.never))
 *   yield* Effect.yieldNow()
 *   const prefetch = bulkhead(Effect.succeed("prefetched")).pipe(Criticality.with(Criticality.Sheddable()))
 *   const search = bulkhead(Effect.succeed("results"))
 *   return yield* Effect.all([Effect.either(prefetch), search])
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(([prefetch, search]) => console.log(prefetch._tag, search))
 * // Output: Left results
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Bulkhead, never, Scope.Scope> = internal.make

/**
 * Whether `u` is a bulkhead made by {@link make}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * console.log(Bulkhead.isBulkhead(() => undefined))
 * // Output: false
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isBulkhead: (u: unknown) => u is Bulkhead = internal.isBulkhead
