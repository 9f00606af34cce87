/**
 * What a server asked for: `retry-after-ms`, `retry-after` (seconds or an
 * HTTP date) and `x-amz-retry-after`, read from the headers where the real
 * clients keep them on their errors.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { chain } from "./classify.js"

/** A non-negative decimal, as servers write delays; `parseFloat` would read `"2abc"` as 2. */
const decimal = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*$/

const read = (o: object, key: string): unknown => {
  try {
    return (o as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

/**
 * One header of a fetch `Headers` (`get`), a plain record (Node's, the AWS
 * SDK's, `@effect/platform`'s), any case; the first of several values.
 */
const header = (headers: unknown, name: string): string | undefined => {
  if (headers === null || typeof headers !== "object") return undefined
  let value: unknown
  try {
    const get = (headers as { readonly get?: unknown }).get
    if (typeof get === "function") {
      value = get.call(headers, name)
    } else {
      value = read(headers, name)
      if (value === undefined) {
        const key = Object.keys(headers).find((key) => key.toLowerCase() === name)
        if (key !== undefined) value = read(headers, key)
      }
    }
  } catch {
    return undefined
  }
  if (Array.isArray(value)) value = value[0]
  if (typeof value === "number") return String(value)
  return typeof value === "string" ? value : undefined
}

const millis = (value: string | undefined, scale: number): Option.Option<Duration.Duration> | undefined => {
  if (value === undefined) return undefined
  const match = decimal.exec(value)
  return match === null ? undefined : Option.some(Duration.millis(Number(match[1]) * scale))
}

/** @internal */
export const fromHeaders = (headers: unknown, now: number): Option.Option<Duration.Duration> => {
  const ms = millis(header(headers, "retry-after-ms"), 1) ?? millis(header(headers, "x-amz-retry-after"), 1)
  if (ms !== undefined) return ms
  const retryAfter = header(headers, "retry-after")
  if (retryAfter === undefined) return Option.none()
  const seconds = millis(retryAfter, 1000)
  if (seconds !== undefined) return seconds
  // An HTTP date: how long from now (a date already past asks for no wait).
  const at = /[a-z]/i.test(retryAfter) ? Date.parse(retryAfter) : NaN
  return Number.isNaN(at) ? Option.none() : Option.some(Duration.millis(Math.max(0, at - now)))
}

/** Where a client keeps the headers of the response an error is about, on one link of the cause chain. */
type HeadersOf = (link: object) => unknown

/** `openai`'s `APIError`: `headers`, with `status`. */
export const openaiHeaders: HeadersOf = (link) =>
  typeof read(link, "status") === "number" ? read(link, "headers") : undefined

/** `@aws-sdk/*`'s service exceptions: the raw `HttpResponse` in `$response`. */
export const awsHeaders: HeadersOf = (link) => {
  const response = read(link, "$response")
  return typeof response === "object" && response !== null ? read(response, "headers") : undefined
}

/** `@effect/platform`'s `ResponseError` (and any error holding a fetch `Response`): `response.headers`. */
export const responseHeaders: HeadersOf = (link) => {
  const response = read(link, "response")
  return typeof response === "object" && response !== null ? read(response, "headers") : undefined
}

/** The first Retry-After found along the cause chain, in the headers `places` point to. */
export const reader =
  (places: ReadonlyArray<HeadersOf>) => (error: unknown, now: number): Option.Option<Duration.Duration> => {
    for (const link of chain(error)) {
      for (const place of places) {
        const headers = place(link)
        if (headers === undefined || headers === null) continue
        const found = fromHeaders(headers, now)
        if (Option.isSome(found)) return found
      }
    }
    return Option.none()
  }
