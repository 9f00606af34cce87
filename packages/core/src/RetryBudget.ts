/**
 * A retry budget: retries may add at most a share of the traffic, so that
 * retrying can never turn a brown-out into an outage.
 *
 * Over any window, retries ≤ `ratio` × first attempts + `minPerSecond` ×
 * the window's seconds (Finagle's and Envoy's rule). The reserve lets a
 * quiet caller retry at all; the ratio lets a busy one retry in proportion.
 * During a full outage, callers that would each retry three times add at
 * most `ratio` (20 % by default) of load, plus the reserve.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make({ ratio: 0.1, name: "openai" })
 *   const policy = Retry.policy({ schedule: Schedule.exponential("100 millis"), budget })
 *   return yield* Retry.retry(callOpenAI, policy)
 * })
 * ```
 *
 * A budget runs on Effect's `Clock` (so `TestClock` drives it), holds no
 * fiber and no timer, and is shared: every policy given the same budget —
 * every caller, every member of a dependency — draws on the same tokens.
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/retryBudget.js"

/**
 * Marks a {@link RetryBudget}; see {@link isRetryBudget}.
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Tokens for retries, shared by every policy it is given to.
 *
 * `Retry.retry` deposits one first attempt each time a first attempt ends
 * (success or failure) and takes a token each time it decides to retry;
 * `deposit` and `withdraw` do the same for a retry loop of your own.
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryBudget extends Pipeable {
  readonly [TypeId]: TypeId
  /** The `dependency` label of `retry_budget_available`; without one, no gauge. */
  readonly name: string | undefined
  /** Retries allowed per first attempt. */
  readonly ratio: number
  /** Retries allowed per second whatever the traffic. */
  readonly minPerSecond: number
  /** The window over which retries are counted. */
  readonly window: Duration.Duration
  /** How many retries it would allow now. */
  readonly available: Effect.Effect<number>
  /** Records a first attempt. */
  readonly deposit: Effect.Effect<void>
  /** Takes a token for a retry: `false`, and nothing taken, when none is left. */
  readonly withdraw: Effect.Effect<boolean>
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Retries per first attempt, in [0, 1] (default 0.2). */
  readonly ratio?: number | undefined
  /** Retries per second allowed whatever the traffic, a non-negative number (default 10). */
  readonly minPerSecond?: number | undefined
  /** The window the bound holds over, at least 10 ms (default 10 seconds). */
  readonly window?: Duration.DurationInput | undefined
  /**
   * The `dependency` label of its gauge `retry_budget_available` (inside a
   * `Dependency`, its name). Without one, the budget reports no gauge.
   */
  readonly name?: string | undefined
}

/**
 * Creates a budget. The bound is exact over windows aligned on tenths of
 * `window` from this moment: in every `[t, t + window)` with `t` a multiple
 * of `window / 10` after creation, retries ≤ `ratio` × first attempts +
 * `minPerSecond` × the window's seconds. And whatever the traffic, it allows
 * `minPerSecond` retries per second, averaged over two windows.
 *
 * `Retry.retry` counts a first attempt when it ends. A failed one is placed
 * at that instant; a successful one is counted without reading the Clock
 * (the cost of a call that succeeds stays a few nanoseconds) and placed at
 * the budget's previous Clock read — every 16 of them, or at the next
 * failure — never later than it happened: a budget may allow a little less
 * than the bound after a quiet spell, never more. The gauge
 * `retry_budget_available{dependency}` shows the tokens each time the
 * budget reads the Clock.
 *
 * Invalid options are a defect, an `InvalidOptionError` naming the option.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // A reserve of 1 retry per 10 s window, and none earned from traffic.
 *   const budget = yield* RetryBudget.make({ ratio: 0, minPerSecond: 0.1, window: "10 seconds" })
 *   const first = yield* budget.withdraw
 *   const second = yield* budget.withdraw
 *   return [first, second]
 * })
 *
 * Effect.runPromise(Effect.scoped(program)).then(console.log)
 * // Output: [ true, false ]
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<RetryBudget, never, Scope.Scope> = internal.make

/**
 * Whether `u` is a budget made by {@link make}.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * console.log(RetryBudget.isRetryBudget({ ratio: 0.2 }))
 * // Output: false
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isRetryBudget: (u: unknown) => u is RetryBudget = internal.isRetryBudget
