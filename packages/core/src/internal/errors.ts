import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * Builds an error without capturing a stack trace: rejections are expected,
 * frequent and on the hot path, and a stack costs ~2 µs each.
 *
 * @internal
 */
export const withoutStack = <A>(f: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return f()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** @internal */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  /** The name of the breaker that rejected the call. */
  readonly breaker: string
  /** How long until the breaker lets a probe through (infinite when forced open). */
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return Duration.isFinite(this.retryAfter)
      ? `Circuit breaker "${this.breaker}" is open: retry after ${Duration.format(this.retryAfter)}`
      : `Circuit breaker "${this.breaker}" is forced open`
  }
}

/** @internal */
export class FallbackCycleError extends Data.TaggedError("FallbackCycleError")<{
  /** The dependencies whose fallbacks were running, outermost first, ending with the one reached again. */
  readonly dependencies: ReadonlyArray<string>
}> {
  override get message(): string {
    const [first] = this.dependencies
    return `The fallback of ${first} reached ${first} again (${this.dependencies.join(" → ")}): ` +
      "each of these dependencies falls back on the next, and all of them are unavailable"
  }
}

/** @internal */
export class MemberThrew extends Data.TaggedError("MemberThrew")<{
  /** The member of the service that threw. */
  readonly member: string
  /** What it threw. */
  readonly error: unknown
}> {
  override get message(): string {
    const error = this.error
    const what = error instanceof Error ? error.message : typeof error === "string" ? error : String(error)
    return `${this.member} threw instead of answering an Effect: ${what}`
  }
}

/** @internal */
export class CallTimeoutError extends Data.TaggedError("CallTimeoutError")<{
  /** The name of the breaker whose call timed out. */
  readonly breaker: string
  /** The configured `callTimeout`. */
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `Call through circuit breaker "${this.breaker}" timed out after ${Duration.format(this.timeout)}`
  }
}

/** @internal */
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

const article = (word: string): string => /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`

/**
 * A value in words, for an error message: strings quoted, numbers as they
 * are (`NaN`, `Infinity`), everything else by its type (`an object`,
 * `an empty array`, `a function`, `the Tag Cache`, `a Layer`) — never
 * `[object Object]` or an empty string.
 *
 * @internal
 */
export const describeValue = (value: unknown): string => {
  // A Tag class is a function, and a Tag an Effect: it comes first.
  if (Context.isTag(value)) return `the Tag ${(value as Context.Tag<unknown, unknown>).key}`
  switch (typeof value) {
    case "string":
      if (value === "") return "an empty string"
      return value.trim() === "" ? `a blank string (${JSON.stringify(value)})` : JSON.stringify(value)
    case "number":
    case "boolean":
    case "undefined":
      return String(value)
    case "bigint":
      return `${value}n`
    case "symbol":
      return value.toString()
    case "function":
      return value.name === "" ? "a function" : `a function (${value.name})`
  }
  if (value === null) return "null"
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : `an array of length ${value.length}`
  if (Effect.isEffect(value)) return "an Effect"
  if (Layer.isLayer(value)) return "a Layer"
  if (Duration.isDuration(value)) return `a Duration (${Duration.format(value)})`
  const tag = (value as { readonly _tag?: unknown })._tag
  if (typeof tag === "string") return `an object with _tag ${JSON.stringify(tag)}`
  const prototype = Object.getPrototypeOf(value) as { readonly constructor?: { readonly name?: unknown } } | null
  const name = prototype?.constructor?.name
  return prototype === null || prototype === Object.prototype || typeof name !== "string" || name === ""
    ? "an object"
    : article(name)
}
