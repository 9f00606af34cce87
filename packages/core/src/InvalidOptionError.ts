/**
 * The error of an invalid option. One rule for the whole toolkit: every
 * constructor and runner dies with it (`CircuitBreaker.make`,
 * `Dependency.layer`, `Degradation.layer`, `Fallback.memoryQueue`, the
 * platform's layers, `Simulation.run`): bad options are a bug of the caller,
 * not an outcome to handle, so the error is a defect, never in an Effect's
 * error channel. A plain function that builds a value (`Faults.flaky`,
 * `Simulation.calls`) throws it.
 *
 * A test tells it apart with `Cause.squash(exit.cause) instanceof
 * InvalidOptionError`, as the example of {@link InvalidOptionError} shows.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { describeValue } from "./internal/describe.js"

/**
 * An option was invalid. `module` is what the user called
 * (`CircuitBreaker.make`), `option` the option's path as they wrote it
 * (`halfOpen.permits`), `expected` what it must be and `actual` what was
 * given; the message says all four.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, InvalidOptionError } from "@effect-resilience/core"
 * import { Cause, Effect, Exit } from "effect"
 *
 * const exit = Effect.runSyncExit(Effect.scoped(CircuitBreaker.make({ name: "db", halfOpen: { permits: 0 } })))
 * if (Exit.isFailure(exit)) {
 *   const defect = Cause.squash(exit.cause)
 *   if (defect instanceof InvalidOptionError) console.log(defect.module, defect.option)
 *   // Output: CircuitBreaker.make halfOpen.permits
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptionError extends Data.TaggedError("InvalidOptionError")<{
  /** Where the option was given, e.g. `CircuitBreaker.make`. */
  readonly module: string
  /** The option's path, e.g. `halfOpen.permits`. */
  readonly option: string
  /** What it must be. */
  readonly expected: string
  /** What was given. */
  readonly actual: unknown
}> {
  override get message(): string {
    let actual: string
    try {
      actual = describeValue(this.actual)
    } catch {
      actual = "<unprintable>"
    }
    return `${this.module}: option "${this.option}" must be ${this.expected}, got ${actual}`
  }
}
