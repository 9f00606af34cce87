/**
 * Option checks of the platform modules. Core's `internal/validate.ts` is not
 * exported across packages, so these few throw the same public
 * `InvalidOptionError`, naming the option the user wrote.
 *
 * @internal
 */
import { DegradationLevel, InvalidOptionError } from "@effect-resilience/core"
import * as Duration from "effect/Duration"

/** @internal */
export const fail = (module: string, option: string, expected: string, actual: unknown): never => {
  throw new InvalidOptionError({ module, option, expected, actual })
}

/** An integer in [1, 2⁵³−1]. @internal */
export const positiveInt = (module: string, option: string, value: unknown): number =>
  typeof value === "number" && Number.isInteger(value) && value > 0 && value <= Number.MAX_SAFE_INTEGER
    ? value
    : fail(module, option, "a positive integer", value)

/** @internal */
export const optionalFunction = <F>(module: string, option: string, value: unknown): F | undefined =>
  value === undefined || typeof value === "function" ? value as F | undefined : fail(module, option, "a function", value)

/** @internal */
export const optionalLevel = (module: string, option: string, value: unknown): DegradationLevel.DegradationLevel | undefined =>
  value === undefined ||
    (value !== null && typeof value === "object" &&
      DegradationLevel.all.some((level) => level._tag === (value as { _tag?: unknown })._tag))
    ? value as DegradationLevel.DegradationLevel | undefined
    : fail(module, option, "a DegradationLevel (e.g. DegradationLevel.Minimal())", value)

/** A positive finite duration (raw numbers checked first: `Duration.decode` clamps NaN and negatives to 0). @internal */
export const optionalDuration = (module: string, option: string, value: unknown): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const expected = "a positive finite duration"
  if (typeof value === "number" && !(Number.isFinite(value) && value > 0)) return fail(module, option, expected, value)
  let decoded: Duration.Duration
  try {
    decoded = Duration.decode(value as Duration.DurationInput)
  } catch {
    return fail(module, option, expected, value)
  }
  return Duration.isFinite(decoded) && Duration.toMillis(decoded) > 0 ? decoded : fail(module, option, expected, value)
}

/** A path starting with `/`. @internal */
export const optionalPath = (module: string, option: string, value: unknown): `/${string}` | undefined =>
  value === undefined || (typeof value === "string" && value.startsWith("/") && !/[\s?#]/.test(value))
    ? value as `/${string}` | undefined
    : fail(module, option, "a path starting with \"/\" (no query, no spaces)", value)
