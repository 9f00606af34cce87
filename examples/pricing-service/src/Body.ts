/**
 * Reading a request: every way a request can be refused, as a typed
 * {@link Refusal} that answers JSON `{ error, field, message }`.
 *
 * A JSON body is read only when it says `Content-Type: application/json`
 * (`415` otherwise: a form on any web page can POST `text/plain`, never
 * `application/json`), up to the route's `HttpIncomingMessage.MaxBodySize`
 * (`413` as soon as the declared length or the bytes received pass it: the
 * rest is never buffered), as strict UTF-8 and JSON, then decoded by the
 * route's schema with unknown fields refused; a `ParseError` names its path
 * (`items[0].price`). A request refused before its body was read has its
 * connection closed after the answer (see {@link answer}).
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Http from "node:http"

/** A request refused: its status, a code, the field at fault and what is wrong with it. */
export class Refusal extends Data.TaggedError("Refusal")<{
  readonly status: number
  readonly error: string
  readonly field?: string | undefined
  readonly message: string
  readonly headers?: Record<string, string> | undefined
  /** The methods the path answers (a `405`). */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Refused while the client may still be sending its body: the connection is closed after the answer. */
  readonly bodyLeftUnread?: boolean | undefined
}> {}

/** A JSON answer, not to be sniffed as anything else. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "x-content-type-options": "nosniff", ...headers } })

/** The refusal as JSON `{ error, field, message }`. */
export const respond = (refusal: Refusal) =>
  json(
    {
      error: refusal.error,
      ...(refusal.field === undefined ? {} : { field: refusal.field }),
      message: refusal.message,
      ...(refusal.allow === undefined ? {} : { allow: refusal.allow })
    },
    refusal.status,
    refusal.headers
  )

/** A `400` naming `field` and what is wrong with it. */
export const invalid = (field: string, message: string) =>
  new Refusal({ status: 400, error: "invalid_request", field, message })

/** Whether the request carries a body (declared by its length or by chunked encoding). */
export const hasBody = (request: HttpServerRequest.HttpServerRequest) => {
  const length = request.headers["content-length"]
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
}

/** `refusal`, for a request whose body (if it has one) is left unread. */
export const unread = (request: HttpServerRequest.HttpServerRequest, refusal: Refusal) =>
  hasBody(request)
    ? new Refusal({
      status: refusal.status,
      error: refusal.error,
      field: refusal.field,
      message: refusal.message,
      headers: refusal.headers,
      allow: refusal.allow,
      bodyLeftUnread: true
    })
    : refusal

/** How long a connection whose body was refused is still read (and dropped) after the answer. */
const lingerMillis = 2000

/**
 * Closes the connection of a request refused before its body was read,
 * without reading that body into memory: what is still coming is read and
 * dropped, the answer — with `connection: close`, so that no client reuses
 * the connection for its next request — is sent, then the connection is
 * half-closed and, at the latest {@link lingerMillis} later, closed. Node
 * destroys a `connection: close` socket as soon as the answer is written;
 * while the client is still sending, that makes its TCP stack reset the
 * connection, which can discard the answer before the client reads it: this
 * one socket (our own server's) lingers instead.
 */
const closeAfterAnswer = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() => {
    const source = NodeHttpServerRequest.toIncomingMessage(request)
    const socket = source.socket as typeof source.socket & { destroySoon?: () => void }
    source.resume()
    socket.destroySoon = () => {
      socket.end()
      const timer = setTimeout(() => socket.destroy(), lingerMillis)
      timer.unref()
      socket.once("close", () => clearTimeout(timer))
    }
  })

/** Answers `refusal`; a request refused before its body was read loses its connection after the answer. */
export const answer = (refusal: Refusal) =>
  refusal.bodyLeftUnread === true
    ? Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.as(
        closeAfterAnswer(request),
        HttpServerResponse.setHeader(respond(refusal), "connection", "close")
      ))
    : Effect.succeed(respond(refusal))

/** `items[0].price` for the path `["items", 0, "price"]`; `body` for the body itself. */
export const fieldOf = (path: ReadonlyArray<PropertyKey>, root = "body") =>
  path.length === 0 ? root : path.reduce<string>(
    (field, key, i) => typeof key === "number" ? `${field}[${key}]` : i === 0 ? String(key) : `${field}.${String(key)}`,
    ""
  )

/** A `ParseError` as a `400` naming the first field at fault and what is wrong with it. */
export const fromParseError = (error: ParseResult.ParseError, root = "body"): Refusal => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const field = fieldOf(issue?.path ?? [], root)
  return invalid(field, `${field} ${issue?.message ?? "is invalid"}`)
}

/** Decodes `input` by `schema`, unknown fields refused. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, input: unknown, root = "body"): Effect.Effect<A, Refusal> =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error", errors: "first" })(input).pipe(
    Effect.mapError((error) => fromParseError(error, root))
  )

/** `application/json`, with no parameter but an optional UTF-8 charset. */
const isJson = (contentType: string | undefined) => {
  if (contentType === undefined) return false
  const [type, ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase())
  return type === "application/json" &&
    parameters.every((parameter) => /^charset="?utf-8"?$/.test(parameter))
}

class TooLarge {
  readonly _tag = "TooLarge"
}

class Unreadable {
  readonly _tag = "Unreadable"
}

/**
 * The body's bytes, at most `limit`. Past the limit it stops collecting
 * (the rest is dropped by {@link answer}), where the platform's readers
 * would destroy the socket before any answer could be sent.
 */
const readBytes = (source: Http.IncomingMessage, limit: number) =>
  Effect.async<Uint8Array, TooLarge | Unreadable>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        resume(Effect.fail(new TooLarge()))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(new Unreadable()))
    }
    if (source.readableEnded) return resume(Effect.succeed(new Uint8Array(0)))
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(cleanup)
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The request's JSON body decoded by `schema`, or the {@link Refusal} that
 * answers it: `415` without `Content-Type: application/json`, `413` past the
 * route's `HttpIncomingMessage.MaxBodySize` (set it per route with
 * `HttpIncomingMessage.withMaxBodySize`; 64 KiB where none is set),
 * `400` for a body that is not UTF-8, not JSON, or not what `schema` accepts.
 */
export const readJson = <A, I>(
  request: HttpServerRequest.HttpServerRequest,
  schema: Schema.Schema<A, I>
): Effect.Effect<A, Refusal> =>
  Effect.gen(function*() {
    if (!isJson(request.headers["content-type"])) {
      return yield* Effect.fail(unread(
        request,
        new Refusal({
          status: 415,
          error: "unsupported_media_type",
          field: "content-type",
          message: "The body must be JSON, sent with Content-Type: application/json"
        })
      ))
    }
    const limit = Option.match(yield* HttpIncomingMessage.MaxBodySize, {
      onNone: () => 64 * 1024,
      onSome: (size) => Number(size)
    })
    const tooLarge = new Refusal({
      status: 413,
      error: "payload_too_large",
      field: "body",
      message: `The request body must be at most ${limit} bytes`,
      bodyLeftUnread: true
    })
    const declared = request.headers["content-length"]
    if (declared !== undefined && Number(declared) > limit) return yield* Effect.fail(tooLarge)
    const bytes = yield* readBytes(NodeHttpServerRequest.toIncomingMessage(request), limit).pipe(
      Effect.mapError((error) =>
        error._tag === "TooLarge" ? tooLarge : invalid("body", "The request body could not be read")
      )
    )
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      return yield* Effect.fail(invalid("body", "The request body is not valid UTF-8"))
    }
    if (text.trim() === "") return yield* Effect.fail(invalid("body", "A JSON body is required"))
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return yield* Effect.fail(
        invalid("body", `The request body is not valid JSON: ${error instanceof Error ? error.message : "parse error"}`)
      )
    }
    return yield* decode(schema, parsed)
  })
