/**
 * The Node HTTP server, bounded: a client that sends its headers or its
 * request slowly is cut off (`408`, connection closed) after
 * `HTTP_HEADERS_TIMEOUT` / `HTTP_REQUEST_TIMEOUT`, an idle keep-alive
 * connection after `HTTP_KEEP_ALIVE_TIMEOUT`, and connections beyond
 * `HTTP_MAX_CONNECTIONS` are closed as they arrive — so slow or many
 * clients cannot hold every socket and file descriptor of the process.
 */
import { NodeHttpServer } from "@effect/platform-node"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as http from "node:http"
import type { AppConfig, HttpSettings } from "./Config.js"

const millis = (duration: Duration.Duration) => Math.max(1, Math.round(Duration.toMillis(duration)))

/** A `node:http` server with `settings`' timeouts and connection limit. */
export const make = (settings: HttpSettings): http.Server => {
  const headersTimeout = millis(settings.headersTimeout)
  const server = http.createServer({
    headersTimeout,
    requestTimeout: millis(settings.requestTimeout),
    keepAliveTimeout: millis(settings.keepAliveTimeout),
    // Node enforces both timeouts on this tick (30 s by default, longer than the timeouts themselves).
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(headersTimeout / 4)))
  })
  server.maxConnections = settings.maxConnections
  return server
}

/** The server of `config`, listening on its `PORT` (and `HOST`). */
export const layer = (config: AppConfig) =>
  NodeHttpServer.layer(() => make(config.http), {
    port: config.port,
    ...(Option.isSome(config.host) ? { host: config.host.value } : {})
  })
