import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** @internal */
export interface ServeOptions<E> {
  readonly port: number
  readonly host: string | undefined
  readonly endpoint: string
  readonly contentType: string
  readonly shutdownTimeout: Duration.Duration
  /** Produces the exposition text; a failure is answered with 503. */
  readonly scrape: Effect.Effect<string, { readonly message: string }>
  readonly onListenError: (error: NodeJS.ErrnoException) => E
}

/** @internal */
export interface Listening {
  readonly host: string
  readonly port: number
  readonly url: string
}

const displayHost = (address: AddressInfo, requested: string | undefined): string => {
  // A wildcard bind is reachable on loopback; anything else is shown as bound.
  if (requested === undefined || address.address === "0.0.0.0" || address.address === "::") return "localhost"
  return address.family === "IPv6" ? `[${address.address}]` : address.address
}

/**
 * A dedicated HTTP server for scrapes. Written on `node:http` directly (not the
 * exporter's built-in server) so that a busy port fails the layer with a typed
 * error, late server errors are logged instead of crashing the process, and
 * shutdown answers in-flight scrapes with 503 and never waits longer than
 * `shutdownTimeout`.
 *
 * Not on `@effect/platform-node`'s `HttpServer` either, although it can answer
 * with the same bytes (`bench/scrape.mjs`, autocannon, compiled JS): its HTTP
 * part costs 2.2–2.5× the CPU per request (~90 µs against ~40 µs; 0.47–0.56×
 * the requests/s on a fixed 218-series text), and a whole scrape of those
 * series 1.11–1.16× the CPU — more than the 5 % a scrape endpoint may cost. It
 * would also need wrappers for what this server does: `NodeHttpServer.make`
 * dies on a bad port instead of failing, keeps no error listener once it
 * listens, and its release waits for every connection without a bound.
 *
 * @internal
 */
export const serve = <E>(options: ServeOptions<E>): Effect.Effect<Listening, E, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const runPromiseExit = Runtime.runPromiseExit(runtime)
    const runFork = Runtime.runFork(runtime)
    let closing = false

    const respond = (res: Http.ServerResponse, status: number, body: string, headers: Http.OutgoingHttpHeaders) => {
      if (res.writableEnded || res.destroyed) return
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers })
      res.end(body)
    }

    const server = Http.createServer((req, res) => {
      let pathname: string
      try {
        pathname = new URL(req.url ?? "/", "http://localhost").pathname
      } catch {
        return respond(res, 400, "Bad Request\n", {})
      }
      if (pathname !== options.endpoint) return respond(res, 404, "Not Found\n", {})
      if (req.method !== "GET" && req.method !== "HEAD") {
        return respond(res, 405, "Method Not Allowed\n", { allow: "GET, HEAD" })
      }
      if (closing) {
        return respond(res, 503, "# metrics exporter is shutting down\n", { connection: "close", "retry-after": "1" })
      }
      runPromiseExit(options.scrape).then((exit) => {
        if (Exit.isSuccess(exit)) {
          respond(res, 200, req.method === "HEAD" ? "" : exit.value, { "content-type": options.contentType })
        } else {
          const message = exit.cause._tag === "Fail" ? exit.cause.error.message : "scrape failed"
          respond(res, 503, `# ${message}\n`, closing ? { connection: "close" } : {})
        }
      })
    })
    // The process must not stay alive just to serve metrics.
    server.unref()

    const listening = yield* Effect.acquireRelease(
      Effect.async<Listening, E>((resume) => {
        const onError = (error: NodeJS.ErrnoException) => {
          server.off("listening", onListening)
          resume(Effect.fail(options.onListenError(error)))
        }
        const onListening = () => {
          server.off("error", onError)
          const address = server.address() as AddressInfo
          const host = displayHost(address, options.host)
          resume(Effect.succeed({ host, port: address.port, url: `http://${host}:${address.port}${options.endpoint}` }))
        }
        server.once("error", onError)
        server.once("listening", onListening)
        try {
          server.listen({ port: options.port, host: options.host })
        } catch (error) {
          // A port out of range throws synchronously (ERR_SOCKET_BAD_PORT).
          server.off("error", onError)
          server.off("listening", onListening)
          resume(Effect.fail(options.onListenError(error as NodeJS.ErrnoException)))
        }
        return Effect.sync(() => server.close())
      }),
      () =>
        Effect.async<void>((resume) => {
          closing = true
          server.close(() => resume(Effect.void))
          // Keep-alive connections from Prometheus would otherwise hold close() open.
          server.closeIdleConnections()
        }).pipe(
          // A finalizer is uninterruptible: without this the timeout could not
          // stop the wait, and a client holding a request open would hold it.
          Effect.interruptible,
          Effect.timeoutOption(options.shutdownTimeout),
          Effect.flatMap(Option.match({
            onSome: () => Effect.void,
            onNone: () =>
              Effect.sync(() => server.closeAllConnections()).pipe(
                Effect.zipRight(Effect.logWarning(
                  `Prometheus exporter: scrapes still open after ${
                    Duration.format(options.shutdownTimeout)
                  }, connections closed forcibly`
                ))
              )
          }))
        )
    )
    // Errors after a successful listen (accept failures such as EMFILE) must not crash the process.
    server.on("error", (error) => {
      runFork(Effect.logWarning(`Prometheus exporter server error on port ${listening.port}`, error))
    })
    return listening
  })
