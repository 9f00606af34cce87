import * as Effect from "effect/Effect"
import * as Http from "node:http"
import * as Net from "node:net"

export interface Response {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** One HTTP request with node:http (an explicit agent lets tests keep connections alive). */
export const request = (url: string, options: { readonly agent?: Http.Agent; readonly method?: string } = {}) =>
  Effect.async<Response, Error>((resume) => {
    const req = Http.request(url, {
      method: options.method ?? "GET",
      ...(options.agent === undefined ? {} : { agent: options.agent })
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => body += chunk)
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body })))
      res.on("error", (e) => resume(Effect.fail(e)))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end()
    return Effect.sync(() => req.destroy())
  })

/** One HTTP GET. */
export const get = (url: string, agent?: Http.Agent) => request(url, agent === undefined ? {} : { agent })

/** A port nobody listens on (bound, read, released). */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Holds a port for the scope, as another process would. */
export const occupyPort = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

export interface Receiver {
  readonly port: number
  readonly requests: Array<{ readonly path: string; readonly contentType: string | undefined; readonly body: string }>
}

/**
 * A local OTLP/HTTP endpoint: `ok` answers 200 and records every request;
 * `hang` accepts requests and never answers (a black hole).
 */
export const receiver = (mode: "ok" | "hang") =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; receiver: Receiver }>((resume) => {
      const requests: Receiver["requests"] = []
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (chunk: string) => body += chunk)
        req.on("end", () => {
          requests.push({ path: req.url ?? "", contentType: req.headers["content-type"], body })
          if (mode === "ok") res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, receiver: { port: (server.address() as Net.AddressInfo).port, requests } })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() =>
          resume(Effect.void)
        )
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ receiver }) => receiver))
