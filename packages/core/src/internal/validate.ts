/**
 * The one place options are checked. Every check names the option the user
 * wrote (`halfOpen.permits`, `whenDown`) and the module they called, and
 * throws an {@link InvalidOptionError}; {@link validated} turns that into the
 * defect a constructor dies with.
 *
 * Raw inputs are checked before `Duration.decode`, which clamps: it reads
 * `NaN` and negative numbers as zero, so a check after decoding would accept
 * them.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Level from "../DegradationLevel.js"
import { InvalidOptionError } from "./errors.js"

/** Node's timers (and so Effect's `Clock.sleep`) never fire past this many milliseconds. */
export const maxTimerMillis = 2 ** 31 - 1

const levelTags: ReadonlySet<string> = new Set(["Optimal", "Degraded", "Limited", "Minimal", "Emergency"])

/** The checks of one module: each returns the valid value or throws an {@link InvalidOptionError}. */
export interface Validator {
  readonly module: string
  readonly fail: (option: string, expected: string, actual: unknown) => never
  readonly object: (option: string, value: unknown) => object
  readonly nonEmptyString: (option: string, value: unknown) => string
  readonly boolean: (option: string, value: unknown) => boolean
  readonly func: (option: string, value: unknown, expected?: string) => Function
  /** An integer in [1, max] (default max: 2³¹−1, far past any sensible count). */
  readonly positiveInt: (option: string, value: unknown, max?: number) => number
  /** A number in (0, 1]. */
  readonly rate: (option: string, value: unknown) => number
  /** A number in [0, 1]. */
  readonly probability: (option: string, value: unknown) => number
  /**
   * A finite duration: positive (the default) or, with `allowZero`, non-negative.
   * With `timer`, it is also at least 1 ms and at most 2³¹−1 ms — what a
   * `Clock.sleep` can wait for.
   */
  readonly duration: (
    option: string,
    value: unknown,
    options?: { readonly allowZero?: boolean; readonly timer?: boolean }
  ) => Duration.Duration
  readonly schedule: (option: string, value: unknown) => Schedule.Schedule<unknown, unknown>
  readonly level: (option: string, value: unknown) => Level.DegradationLevel
}

const describeDuration = (allowZero: boolean, timer: boolean) =>
  timer
    ? `a finite duration between 1 millisecond and ${maxTimerMillis} milliseconds`
    : allowZero
    ? "a non-negative finite duration"
    : "a positive finite duration"

/** @internal */
export const validator = (module: string): Validator => {
  const fail = (option: string, expected: string, actual: unknown): never => {
    throw new InvalidOptionError({ module, option, expected, actual })
  }
  const positiveInt = (option: string, value: unknown, max = maxTimerMillis): number =>
    typeof value === "number" && Number.isInteger(value) && value > 0 && value <= max
      ? value
      : fail(option, max >= maxTimerMillis ? "a positive integer" : `an integer between 1 and ${max}`, value)
  const duration: Validator["duration"] = (option, value, options) => {
    const allowZero = options?.allowZero === true
    const timer = options?.timer === true
    const expected = describeDuration(allowZero, timer)
    // Numbers first: `Duration.decode` would read NaN and negatives as 0.
    if (typeof value === "number" && !(Number.isFinite(value) && value >= 0)) return fail(option, expected, value)
    if (typeof value === "bigint" && value < 0n) return fail(option, expected, value)
    // "-5 seconds" decodes to zero too.
    if (typeof value === "string" && /^\s*-/.test(value)) return fail(option, expected, value)
    if (Array.isArray(value) && !value.every((n) => typeof n === "number" && Number.isFinite(n) && n >= 0)) {
      return fail(option, expected, value)
    }
    let decoded: Duration.Duration
    try {
      decoded = Duration.decode(value as Duration.DurationInput)
    } catch {
      return fail(option, expected, value)
    }
    if (!Duration.isFinite(decoded)) return fail(option, expected, value)
    const millis = Duration.toMillis(decoded)
    if (!(millis >= 0) || (!allowZero && Duration.isZero(decoded))) return fail(option, expected, value)
    if (timer && (millis < 1 || millis > maxTimerMillis)) return fail(option, expected, value)
    return decoded
  }
  return {
    module,
    fail,
    object: (option, value) => value !== null && typeof value === "object" ? value : fail(option, "an object", value),
    nonEmptyString: (option, value) =>
      typeof value === "string" && value.trim().length > 0 ? value : fail(option, "a non-empty string", value),
    boolean: (option, value) => typeof value === "boolean" ? value : fail(option, "a boolean", value),
    func: (option, value, expected = "a function") =>
      typeof value === "function" ? value : fail(option, expected, value),
    positiveInt,
    rate: (option, value) =>
      typeof value === "number" && value > 0 && value <= 1 ? value : fail(option, "a rate in (0, 1]", value),
    probability: (option, value) =>
      typeof value === "number" && value >= 0 && value <= 1 ? value : fail(option, "a probability in [0, 1]", value),
    duration,
    schedule: (option, value) =>
      Schedule.isSchedule(value) ? value as Schedule.Schedule<unknown, unknown> : fail(option, "a Schedule", value),
    level: (option, value) =>
      value !== null && typeof value === "object" && levelTags.has((value as { _tag?: unknown })._tag as string)
        ? value as Level.DegradationLevel
        : fail(option, "a DegradationLevel (e.g. DegradationLevel.Degraded())", value)
  }
}

/**
 * Runs the checks of `f` and dies with the first {@link InvalidOptionError}
 * it throws; anything else it throws is a defect too.
 *
 * @internal
 */
export const validated = <A>(module: string, f: (v: Validator) => A): Effect.Effect<A> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f(validator(module)))
    } catch (error) {
      return Effect.die(error)
    }
  })

/**
 * The checks of `f`, synchronously: the {@link InvalidOptionError} thrown,
 * or `undefined` when every check passed.
 *
 * @internal
 */
export const check = (module: string, f: (v: Validator) => void): InvalidOptionError | undefined => {
  try {
    f(validator(module))
    return undefined
  } catch (error) {
    if (error instanceof InvalidOptionError) return error
    throw error
  }
}
