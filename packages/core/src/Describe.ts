/**
 * Errors in words, for logs, status pages and reports: the same description
 * `Degradation` gives a failed health check and a breaker gives the error
 * that tripped it.
 *
 * ```ts
 * import { Describe } from "@effect-resilience/core"
 *
 * Describe.describe(new Error("ECONNREFUSED")) // "ECONNREFUSED"
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as internal from "./internal/describe.js"

/**
 * A short, printable description of an error or a `Cause`: a failure by its
 * message, else its tag and fields (`RedisError { code: "ECONNREFUSED" }`);
 * a defect by its message; never `""` or `[object Object]`, and it never throws.
 *
 * @example
 * ```ts
 * import { Describe } from "@effect-resilience/core"
 * import { Cause, Data } from "effect"
 *
 * class RedisError extends Data.TaggedError("RedisError")<{ readonly code: string }> {}
 *
 * console.log(Describe.describe(new Error("ECONNREFUSED")))
 * // Output: ECONNREFUSED
 * console.log(Describe.describe(new RedisError({ code: "ECONNREFUSED" })))
 * // Output: RedisError { code: "ECONNREFUSED" }
 * console.log(Describe.describe(Cause.die(new Error("boom"))))
 * // Output: boom
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const describe: (error: unknown) => string = internal.describeError

/**
 * Why an effect failed, in words — what a dead letter records and a log line
 * says: {@link describe} of each failure and defect of the `Cause`, each
 * followed by the errors it wraps (its `cause` chain, a few levels deep: a
 * store's "Failed to offer element" says little without the driver's
 * reason), `defect: ` before a cause that holds defects only, and
 * `interrupted` for one that holds only interruptions. Never throws.
 *
 * @example
 * ```ts
 * import { Describe } from "@effect-resilience/core"
 * import { Cause, FiberId } from "effect"
 *
 * const driver = new Error("SQLITE_FULL: database or disk is full")
 * console.log(Describe.cause(Cause.fail(new Error("cannot insert", { cause: driver }))))
 * // Output: cannot insert: SQLITE_FULL: database or disk is full
 * console.log(Describe.cause(Cause.die(new Error("boom"))))
 * // Output: defect: boom
 * console.log(Describe.cause(Cause.interrupt(FiberId.none)))
 * // Output: interrupted
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const cause: (cause: Cause.Cause<unknown>) => string = internal.describeFailure

/**
 * A value in words, for an error message about it: strings quoted, numbers
 * as they are (`NaN`, `Infinity`), everything else by its type — `an
 * object`, `an empty array`, `a function (f)`, `the Tag Cache`, `a Layer` —
 * never `[object Object]` or an empty string. What `InvalidOptionError`
 * says of the value it got.
 *
 * @example
 * ```ts
 * import { Describe } from "@effect-resilience/core"
 *
 * console.log(Describe.value({ a: 1 }))
 * // Output: an object
 * console.log(Describe.value(""))
 * // Output: an empty string
 * console.log(Describe.value(NaN))
 * // Output: NaN
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const value: (value: unknown) => string = internal.describeValue
