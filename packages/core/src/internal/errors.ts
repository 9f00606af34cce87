import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

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
export { InvalidOptionError } from "../InvalidOptionError.js"
