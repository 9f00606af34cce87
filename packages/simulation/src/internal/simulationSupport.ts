/**
 * Option checks and error descriptions for `Simulation`, copied in their
 * minimal form from core's internals (which a package on core's public API
 * cannot import).
 *
 * @internal
 */
import { InvalidOptionError } from "@effect-resilience/core"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"

// -----------------------------------------------------------------------------
// validation (core's internal/validate.ts: `fail` and `duration`)
// -----------------------------------------------------------------------------

/** The checks `Simulation.run` needs: each returns the valid value or throws an `InvalidOptionError`. */
export interface Validator {
  readonly fail: (option: string, expected: string, actual: unknown) => never
  /** A finite duration: positive, or non-negative with `allowZero`. */
  readonly duration: (option: string, value: unknown, options?: { readonly allowZero?: boolean }) => Duration.Duration
}

/** @internal */
export const validator = (module: string): Validator => {
  const fail = (option: string, expected: string, actual: unknown): never => {
    throw new InvalidOptionError({ module, option, expected, actual })
  }
  const duration: Validator["duration"] = (option, value, options) => {
    const allowZero = options?.allowZero === true
    const expected = allowZero ? "a non-negative finite duration" : "a positive finite duration"
    // Raw inputs first: `Duration.decode` reads NaN, negatives and "-5 seconds" as 0.
    if (typeof value === "number" && !(Number.isFinite(value) && value >= 0)) return fail(option, expected, value)
    if (typeof value === "bigint" && value < 0n) return fail(option, expected, value)
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
    return decoded
  }
  return { fail, duration }
}

// -----------------------------------------------------------------------------
// describing errors (core's internal/describe.ts)
// -----------------------------------------------------------------------------

/** A short, printable description of an error or a cause: never throws. */
export const describeError = (error: unknown): string => {
  try {
    return describe(error, 0)
  } catch {
    return safeString(error)
  }
}

/** Nested causes and wrapped errors are followed this deep, no further (a cycle, say). */
const maxDepth = 4

const describe = (error: unknown, depth: number): string => {
  if (typeof error === "string") return error
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return String(error)
  if (depth < maxDepth) {
    if (Cause.isCause(error)) return describeCause(error, depth + 1)
    if ((error as { readonly _tag?: unknown })._tag === "UnknownException" && "error" in error) {
      return describe((error as { readonly error: unknown }).error, depth + 1)
    }
  }
  const message = (error as { readonly message?: unknown }).message
  if (typeof message === "string" && message.length > 0) return message
  const tag = (error as { readonly _tag?: unknown })._tag
  if (typeof tag === "string") return withFields(tag, error)
  if (error instanceof Error) return withFields(error.name || "Error", error)
  return json(error)
}

const describeCause = (cause: Cause.Cause<unknown>, depth: number): string => {
  const parts = [...Chunk.toArray(Cause.failures(cause)), ...Chunk.toArray(Cause.defects(cause))]
    .map((error) => describe(error, depth))
  if (parts.length === 0) return Cause.isInterrupted(cause) ? "interrupted" : "no error (empty cause)"
  return [...new Set(parts)].join("; ")
}

/** Not part of what a failure says: its tag, message and stack are shown otherwise or not at all. */
const hidden: ReadonlySet<string> = new Set(["_tag", "message", "stack", "name", "cause"])

const withFields = (tag: string, error: object): string => {
  const fields = Object.keys(error)
    .filter((key) => !hidden.has(key))
    .map((key) => `${key}: ${json((error as Record<string, unknown>)[key])}`)
  return fields.length === 0 ? tag : `${tag} { ${fields.join(", ")} }`
}

const json = (value: unknown): string => {
  try {
    const text = JSON.stringify(value, (_key, v) => typeof v === "bigint" ? `${v}n` : v)
    return text === undefined ? safeString(value) : text
  } catch {
    return safeString(value)
  }
}

const safeString = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return "<unprintable>"
  }
}
