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
