/**
 * Requests on a raw `node:http` client: the request target goes on the wire
 * exactly as written (`//health`, `/HEALTH/`), which a URL-based client would
 * resolve first, and a body can be streamed chunk by chunk to see when the
 * server answers.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as http from "node:http"

export interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
  readonly json: any
  /** Body bytes the client had written when the response's headers arrived. */
  readonly sentBeforeResponse: number
  /** Milliseconds from the request's start to the end of the response. */
  readonly elapsed: number
}

/** The port of the `HttpServer` in context (a server on port 0). */
export const serverPort = Effect.map(HttpServer.HttpServer, (server) => (server.address as HttpServer.TcpAddress).port)

export interface RawOptions {
  readonly method?: string
  readonly path: string
  readonly headers?: Record<string, string>
  /** A body sent at once. */
  readonly body?: string | Uint8Array
  /** A body of `total` bytes, streamed in `chunk`-byte writes `every` ms apart; stops when the answer comes. */
  readonly stream?: { readonly total: number; readonly chunk: number; readonly every: number }
  /** Resolve once the response's headers are in (for event streams); the connection is then closed. */
  readonly headersOnly?: boolean
}

/**
 * Sends one request on a fresh connection and reads the answer. A socket error
 * after the answer arrived (the server closing a connection whose upload it
 * refused) is not a failure.
 */
export const rawRequest = (port: number, options: RawOptions): Effect.Effect<RawResponse, Error> =>
  Effect.async<RawResponse, Error>((resume) => {
    const started = Date.now()
    let sent = 0
    let answered = false
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish = (result: Effect.Effect<RawResponse, Error>) => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      resume(result)
    }
    const request = http.request({
      host: "127.0.0.1",
      port,
      method: options.method ?? "GET",
      path: options.path,
      headers: options.headers,
      agent: false
    }, (response) => {
      answered = true
      const sentBeforeResponse = sent
      if (timer !== undefined) clearTimeout(timer)
      if (options.headersOnly === true) {
        finish(Effect.succeed({
          status: response.statusCode!,
          headers: response.headers,
          text: "",
          json: undefined,
          sentBeforeResponse,
          elapsed: Date.now() - started
        }))
        request.destroy()
        return
      }
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("error", () => {})
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let json: unknown = undefined
        try {
          json = JSON.parse(text)
        } catch {
          // Not JSON: the test reads `text`.
        }
        finish(Effect.succeed({
          status: response.statusCode!,
          headers: response.headers,
          text,
          json,
          sentBeforeResponse,
          elapsed: Date.now() - started
        }))
        request.destroy()
      })
    })
    request.on("error", (error) => {
      if (!answered) finish(Effect.fail(error))
    })
    const stream = options.stream
    if (stream !== undefined) {
      const piece = Buffer.alloc(stream.chunk, 0x61)
      const write = () => {
        if (answered || done || sent >= stream.total) {
          if (!answered && !done && !request.writableEnded) request.end()
          return
        }
        const size = Math.min(stream.chunk, stream.total - sent)
        sent += size
        request.write(size === stream.chunk ? piece : piece.subarray(0, size))
        timer = setTimeout(write, stream.every)
      }
      request.flushHeaders()
      write()
    } else {
      if (options.body !== undefined) sent = Buffer.byteLength(options.body)
      request.end(options.body)
    }
    return Effect.sync(() => {
      done = true
      if (timer !== undefined) clearTimeout(timer)
      request.destroy()
    })
  })
