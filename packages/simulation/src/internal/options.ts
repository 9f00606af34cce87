/**
 * The option errors of `Simulation.run`, `Simulation.calls` and
 * `Simulation.traffic`: core's checks (`Validation`), each error naming the
 * function the user called and the option as they wrote it.
 *
 * @internal
 */
import { InvalidOptionError } from "@effect-resilience/core"
import type { Validation } from "@effect-resilience/core"

/** @internal */
export const modules = {
  run: "Simulation.run",
  calls: "Simulation.calls",
  traffic: "Simulation.traffic"
} as const

/** An `InvalidOptionError` thrown by a check, naming `module` and `option` as given. */
const reprint = (error: InvalidOptionError, module = error.module, option = error.option): InvalidOptionError =>
  new InvalidOptionError({ module, option, expected: error.expected, actual: error.actual })

/**
 * Runs the checks of `f`.
 *
 * @internal
 */
export const checked = <A>(f: () => A): A => f()

/**
 * Runs the checks of a nested value (a fault of `faults[2]`): its error names
 * `module` and the option's whole path (`faults[2].flaky.probability`).
 *
 * @internal
 */
export const nested = <A>(module: string, prefix: string, f: () => A): A => {
  try {
    return f()
  } catch (error) {
    throw error instanceof InvalidOptionError ? reprint(error, module, `${prefix}.${error.option}`) : error
  }
}

/**
 * A rate of traffic: a finite number of runs per second, 0 or more.
 *
 * @internal
 */
export const perSecond = (v: Validation.Validator, option: string, value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value >= 0
    ? value
    : v.fail(option, "a finite number ≥ 0", value)
