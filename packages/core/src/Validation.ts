/**
 * The option checks every constructor of the toolkit uses, for the packages
 * built on it (platform, simulation) and for libraries of your own: each
 * check returns the valid value or throws an `InvalidOptionError` naming the
 * option the user wrote and the module they called.
 *
 * ```ts
 * import { Validation } from "@effect-resilience/core"
 * import type * as Duration from "effect/Duration"
 *
 * export const make = (options: { readonly retries: number; readonly every: Duration.DurationInput }) =>
 *   Validation.validated("MyLib.make", (v) => ({
 *     retries: v.positiveInt("retries", options.retries),
 *     every: v.duration("every", options.every, { timer: true })
 *   })) // dies with an InvalidOptionError naming the bad option
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/validate.js"

/**
 * The checks of one module; see {@link validator}.
 *
 * @since 0.1.0
 * @category models
 */
export type Validator = internal.Validator

/**
 * Node's timers (and so Effect's `Clock.sleep`) never fire past this many
 * milliseconds (2³¹−1): what `duration(…, { timer: true })` accepts at most.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxTimerMillis: number = internal.maxTimerMillis

/**
 * The checks of `module` (the name the user called, e.g. `"MyLib.make"`):
 * raw inputs are checked before `Duration.decode`, which reads NaN and
 * negatives as zero.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validator: (module: string) => Validator = internal.validator

/**
 * Runs the checks of `f` and dies with the first `InvalidOptionError` it throws.
 *
 * @example
 * ```ts
 * import { Validation } from "@effect-resilience/core"
 * import { Effect, Exit } from "effect"
 * import type { Duration } from "effect"
 *
 * const make = (options: { readonly retries: number; readonly every: Duration.DurationInput }) =>
 *   Validation.validated("MyLib.make", (v) => ({
 *     retries: v.positiveInt("retries", options.retries),
 *     every: v.duration("every", options.every, { timer: true })
 *   }))
 *
 * console.log(Effect.runSync(make({ retries: 3, every: "1 second" })).retries)
 * // Output: 3
 * console.log(Exit.isFailure(Effect.runSyncExit(make({ retries: 0, every: "1 second" }))))
 * // Output: true (it dies with an InvalidOptionError naming `retries` and `MyLib.make`)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const validated: <A>(module: string, f: (v: Validator) => A) => Effect.Effect<A> = internal.validated
