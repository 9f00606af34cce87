/**
 * The option errors of `Simulation.run`, `Simulation.calls` and
 * `Simulation.traffic`: core's checks (`Validation`), each error naming the
 * function the user called and the option as they wrote it, and its message
 * naming a value by its type where `String` of it says nothing
 * (`got an object`, `got an empty string`, never `got [object Object]` or
 * `got ` for `[]`).
 *
 * @internal
 */
import { InvalidOptionError } from "@effect-resilience/core"
import type { Validation } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** @internal */
export const modules = {
  run: "Simulation.run",
  calls: "Simulation.calls",
  traffic: "Simulation.traffic"
} as const

const article = (word: string): string => /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`

/**
 * A value in words, for an error message: strings quoted, numbers as they
 * are (`NaN`, `Infinity`), everything else by its type (`an object`,
 * `an empty array`, `a function`, `the Tag Cache`, `a Layer`).
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

/**
 * Core's `InvalidOptionError` — the same tag, fields and `instanceof`, `actual`
 * the value as given — whose message prints `actual` with
 * {@link describeValue} (core's prints it with `String`).
 *
 * @internal
 */
export class OptionError extends InvalidOptionError {
  override get message(): string {
    const actual = describeValue(this.actual)
    // Core's message, with `actual` in words: a non-string it prints with `String`.
    return new InvalidOptionError({
      module: this.module,
      option: this.option,
      expected: this.expected,
      actual: { toString: () => actual }
    }).message
  }
}

/** An `InvalidOptionError` thrown by a check, as an {@link OptionError}: `module` and `option` as given. */
const reprint = (error: InvalidOptionError, module = error.module, option = error.option): OptionError =>
  new OptionError({ module, option, expected: error.expected, actual: error.actual })

/**
 * Runs the checks of `f`: an `InvalidOptionError` they throw is rethrown as
 * an {@link OptionError}.
 *
 * @internal
 */
export const checked = <A>(f: () => A): A => {
  try {
    return f()
  } catch (error) {
    throw error instanceof InvalidOptionError && !(error instanceof OptionError) ? reprint(error) : error
  }
}

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
