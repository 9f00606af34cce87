/**
 * A short, printable description of an error or a cause, for logs and
 * reports: never throws, whatever it is given.
 *
 * - a failure is described by its message, else by its tag and fields
 *   (`RedisError { code: "ECONNREFUSED" }`);
 * - a `Cause` by what it holds: its failures and its defects (a defect by
 *   its message), `interrupted` when it holds only interruptions;
 * - an `UnknownException` (`Effect.tryPromise` without `catch`) by the
 *   rejection it wraps.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** @internal */
export const describeError = (error: unknown): string => {
  try {
    return describe(error, 0)
  } catch {
    return safeString(error)
  }
}

/**
 * Why an effect failed, for a dead letter or a log line: what `describeError`
 * says of each failure and defect, each followed by the errors it wraps (its
 * `cause`: a store's "Failed to offer element" says little without the
 * driver's reason), and `defect: ` before a cause that holds defects only.
 *
 * @internal
 */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  try {
    const failures = Chunk.toArray(Cause.failures(cause))
    const defects = Chunk.toArray(Cause.defects(cause))
    const parts = [...failures, ...defects].map(withWrapped)
    if (parts.length === 0) return Cause.isInterrupted(cause) ? "interrupted" : "no error (empty cause)"
    const text = [...new Set(parts)].join("; ")
    return failures.length === 0 ? `defect: ${text}` : text
  } catch {
    return safeString(cause)
  }
}

/** `outer: inner: innermost`, down the `cause` chain; a wrapped error that says nothing new is left out. */
const withWrapped = (error: unknown): string => {
  let text = describe(error, 0)
  let current = error
  for (let depth = 1; depth < maxDepth; depth++) {
    const inner = wrappedError(current)
    if (inner === undefined) break
    const described = describe(inner, 0)
    if (!text.includes(described)) text = `${text}: ${described}`
    current = inner
  }
  return text
}

const wrappedError = (error: unknown): unknown => {
  if (error === null || typeof error !== "object") return undefined
  const inner = (error as { readonly cause?: unknown }).cause
  return inner === error ? undefined : inner
}

/** Nested causes and wrapped errors are followed this deep, no further (a cycle, say). */
const maxDepth = 4

const describe = (error: unknown, depth: number): string => {
  if (typeof error === "string") return error
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return String(error)
  if (depth < maxDepth) {
    if (Cause.isCause(error)) return describeCause(error, depth + 1)
    const wrapped = unknownExceptionError(error)
    if (wrapped !== undefined) return describe(wrapped, depth + 1)
  }
  const message = (error as { readonly message?: unknown }).message
  if (typeof message === "string" && message.length > 0) return message
  const tag = (error as { readonly _tag?: unknown })._tag
  if (typeof tag === "string") return withFields(tag, error)
  if (error instanceof Error) return withFields(error.name || "Error", error)
  return json(error)
}

const describeCause = (cause: Cause.Cause<unknown>, depth: number): string => {
  const parts = [
    ...Chunk.toArray(Cause.failures(cause)),
    ...Chunk.toArray(Cause.defects(cause))
  ].map((error) => describe(error, depth))
  if (parts.length === 0) return Cause.isInterrupted(cause) ? "interrupted" : "no error (empty cause)"
  return [...new Set(parts)].join("; ")
}

/** The rejection an `UnknownException` wraps; `undefined` for anything else. */
const unknownExceptionError = (error: object): unknown =>
  (error as { readonly _tag?: unknown })._tag === "UnknownException" && "error" in error
    ? (error as { readonly error: unknown }).error
    : undefined

/** Not part of what a failure says: its tag, message and stack are shown otherwise or not at all. */
const hidden: ReadonlySet<string> = new Set(["_tag", "message", "stack", "name", "cause"])

/** `Tag { field: value, … }`, or `Tag` alone when it has no fields. */
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
