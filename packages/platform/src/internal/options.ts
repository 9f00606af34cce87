/**
 * Option checks of the platform modules, on core's `Validation`: each throws
 * the public `InvalidOptionError`, naming the option the user wrote.
 *
 * @internal
 */
import { type DegradationLevel, Validation } from "@effect-resilience/core"
import type * as Duration from "effect/Duration"

/** @internal */
export const fail = (module: string, option: string, expected: string, actual: unknown): never =>
  Validation.validator(module).fail(option, expected, actual)

/** An integer in [1, 2⁵³−1]. @internal */
export const positiveInt = (module: string, option: string, value: unknown): number =>
  Validation.validator(module).positiveInt(option, value, Number.MAX_SAFE_INTEGER)

/** @internal */
export const optionalFunction = <F>(module: string, option: string, value: unknown): F | undefined =>
  value === undefined ? undefined : Validation.validator(module).func(option, value) as F

/** @internal */
export const optionalLevel = (
  module: string,
  option: string,
  value: unknown
): DegradationLevel.DegradationLevel | undefined =>
  value === undefined ? undefined : Validation.validator(module).level(option, value)

/** A positive finite duration. @internal */
export const optionalDuration = (module: string, option: string, value: unknown): Duration.Duration | undefined =>
  value === undefined ? undefined : Validation.validator(module).duration(option, value)

/** A path starting with `/`. @internal */
export const optionalPath = (module: string, option: string, value: unknown): `/${string}` | undefined =>
  value === undefined || (typeof value === "string" && value.startsWith("/") && !/[\s?#]/.test(value))
    ? value as `/${string}` | undefined
    : fail(module, option, "a path starting with \"/\" (no query, no spaces)", value)
