/**
 * What the admin and fault routes share: how a request ended (`Outcome`),
 * their JSON answers (`nosniff`, never cached), and their bounded body
 * reader (64 KiB, JSON only: `413`, `415`, `400` naming the field).
 *
 * @internal
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as metrics from "./metrics.js"

/** The body limit of the admin and fault routes. @internal */
export const maxBodyBytes = 64 * 1024

/** How an admin request ended: counted by `outcome`, answered with `response`, logged with `detail`. @internal */
export type Outcome = {
  readonly outcome: metrics.AdminOutcome
  readonly response: HttpServerResponse.HttpServerResponse
  readonly detail?: string
}

/** @internal */
export const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  HttpServerResponse.unsafeJson(body, {
    status,
    headers: { "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers }
  })

/** @internal */
export const invalid = (status: number, field: string, message: string, extra?: Record<string, unknown>): Outcome => ({
  outcome: "invalid",
  response: json(status, { error: "invalid_request", field, message, ...extra })
})

/** Whether the request carries a body: a non-zero `content-length`, or a chunked one. */
export const hasBody = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const length = request.headers["content-length"]
  return (length !== undefined && Number(length) !== 0) || request.headers["transfer-encoding"] !== undefined
}

/** `application/json`, `application/problem+json`, …, with any parameters. */
const isJsonType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase()
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"))
}

const tooLarge = (limit: number): Outcome => ({
  outcome: "invalid",
  detail: "body too large",
  // The rest of the body is not read: the connection closes after this answer.
  response: json(413, {
    error: "payload_too_large",
    field: "body",
    message: `The request body exceeds ${limit} bytes`,
    limit
  }, { connection: "close" })
})

/** The limit `withMaxBodySize` set (admin routes run under {@link maxBodyBytes}). */
const currentLimit: Effect.Effect<number> = Effect.map(
  HttpIncomingMessage.MaxBodySize,
  (size) => Option.isSome(size) ? Number(size.value) : maxBodyBytes
)

/**
 * A POST's body before anything reads it: `415` for a body that is not JSON, `413` for one
 * whose declared length is over the `MaxBodySize` in force.
 *
 * @internal
 */
export const checkBody = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<void, Outcome> => {
  if (request.method !== "POST" || !hasBody(request)) return Effect.void
  const contentType = request.headers["content-type"]
  if (!isJsonType(contentType)) {
    return Effect.fail({
      outcome: "invalid",
      detail: "body not JSON",
      response: json(415, {
        error: "unsupported_media_type",
        field: "content-type",
        message: `Expected a JSON body (content-type: application/json), got ${
          contentType === undefined ? "no content-type" : JSON.stringify(contentType.slice(0, 100))
        }`
      }, { connection: "close" })
    })
  }
  const declared = request.headers["content-length"]
  if (declared === undefined) return Effect.void
  return Effect.flatMap(
    currentLimit,
    (limit) => Number(declared) > limit ? Effect.fail(tooLarge(limit)) : Effect.void
  )
}

/**
 * The body's bytes, at most the `HttpIncomingMessage.MaxBodySize` in force. Pulled in the
 * request's scope, and not through `request.arrayBuffer`: Node's reader destroys the request
 * (and its socket) the moment a body goes over the limit, so the 413 would never reach the
 * client; here the unread rest stays unread until the answer is sent, then the connection closes.
 */
const readBytes = (
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<Uint8Array, Outcome, Scope.Scope> =>
  Effect.gen(function*() {
    const limit = yield* currentLimit
    const pull = yield* Stream.toPull(request.stream)
    const chunks: Array<Uint8Array> = []
    let size = 0
    while (true) {
      const next = yield* Effect.either(pull)
      if (next._tag === "Left") {
        if (Option.isNone(next.left)) break
        return yield* Effect.fail(invalid(400, "body", "The request body could not be read"))
      }
      for (const chunk of next.right) {
        size += chunk.byteLength
        // Stop reading at the limit instead of buffering whatever the client sends.
        if (size > limit) return yield* Effect.fail(tooLarge(limit))
        chunks.push(chunk)
      }
    }
    const bytes = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    return bytes
  })

/**
 * The JSON body, at most the `MaxBodySize` in force (admin routes: {@link maxBodyBytes}),
 * strictly UTF-8: an {@link Outcome} when it is not.
 *
 * @internal
 */
export const readJson = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<unknown, Outcome, Scope.Scope> =>
  Effect.flatMap(checkBody(request), () => readBytes(request)).pipe(
    Effect.flatMap((bytes) => {
      let text: string
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
      } catch {
        return Effect.fail(invalid(400, "body", "The request body is not valid UTF-8"))
      }
      if (text.trim() === "") return Effect.fail(invalid(400, "body", "A JSON body is required"))
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch (error) {
        return Effect.fail(
          invalid(
            400,
            "body",
            `The request body is not valid JSON: ${error instanceof Error ? error.message : "parse error"}`
          )
        )
      }
    })
  )
