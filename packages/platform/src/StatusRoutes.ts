/**
 * Liveness, readiness, the status of the degradation level, and its changes
 * as server-sent events.
 *
 * ```ts
 * const app = HttpRouter.empty.pipe(
 *   HttpRouter.get("/prices/:id", getPrice),
 *   HttpRouter.concat(StatusRoutes.router)
 * )
 * ```
 *
 * - `GET /health` → 200 `{ "status": "ok" }` at every level;
 * - `GET /ready` → 200 below `Emergency`, 503 at `Emergency`, with `level`;
 * - `GET /status` → `{ level, rank, since, computed, forced, dependencies, transitions }`
 *   (levels and breaker states as tag strings, times in epoch ms, transitions
 *   newest first); with `Accept: text/html` a self-contained page that
 *   updates itself through `/status/events`;
 * - `GET /status/events` → `text/event-stream`: the current level first
 *   (`{ "type": "level", "level": "Optimal", … }`), then one event per change
 *   of level or of a breaker's state (`{ "type": "breaker", "breaker": "db",
 *   "from": "Closed", "to": "Open", "at": … }`); keep-alives are comments. At
 *   most `maxStreams` (default 100) are open at once: one more is `503` with
 *   `retry-after`.
 *
 * Every JSON answer carries `cache-control: no-store` and
 * `x-content-type-options: nosniff`. The page's Content-Security-Policy allows
 * nothing from elsewhere, and its one inline script and stylesheet by their
 * SHA-256 hashes (no `'unsafe-inline'`); when the page's event stream is
 * refused it polls `/status` and tries again later.
 *
 * While fault injection is enabled (a `Faults.Registry` from
 * `@effect-resilience/core` in the server's context, with a dependency
 * registered), `/status` also carries `faults` — the faults in force, `{
 * dependency, member, fault, description, since }` — the page shows them in a
 * "Fault injection active" section, and the stream sends one `{ "type":
 * "faults", "change": "inject" | "recover", … }` event per change.
 *
 * @since 0.1.0
 */
import type { Degradation } from "@effect-resilience/core"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as Duration from "effect/Duration"
import * as internal from "./internal/statusRoutes.js"

/**
 * Options of {@link make}: where each route lives, and the page's title.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Liveness (default `/health`). */
  readonly health?: string | undefined
  /** Readiness (default `/ready`). */
  readonly ready?: string | undefined
  /** JSON or the HTML page (default `/status`). */
  readonly status?: string | undefined
  /** Server-sent events (default: the status path + `/events`). */
  readonly events?: string | undefined
  /** How often an idle event stream sends a keep-alive comment (default 15 s). */
  readonly keepAlive?: Duration.DurationInput | undefined
  /**
   * How long one event stream stays open (default 30 s). Node's `server.close`
   * waits for open connections, so an endless stream would hold a graceful
   * shutdown forever; a browser's `EventSource` reconnects after 2 s.
   */
  readonly maxStreamDuration?: Duration.DurationInput | undefined
  /** The heading of the HTML page (default "Service status"). */
  readonly title?: string | undefined
  /**
   * How many event streams may be open at once (default 100, a positive
   * integer). One more is answered `503` with `retry-after` (until the oldest
   * open stream ends by itself) and `{ error: "too_many_streams", message,
   * limit, retryAfter }`; a slot frees as soon as a stream ends or its client
   * goes away. Counted per router: each `make` has its own count, and
   * {@link router} is one router.
   */
  readonly maxStreams?: number | undefined
}

/**
 * The routes at custom paths. Invalid options are a defect
 * (`InvalidOptionError`) naming the option, thrown here.
 *
 * @example
 * ```ts
 * import { StatusRoutes } from "@effect-resilience/platform"
 *
 * const routes = StatusRoutes.make({ status: "/internal/status", title: "Pricing service" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => HttpRouter.HttpRouter<never, Degradation> = internal.make

/**
 * The routes at `/health`, `/ready`, `/status` and `/status/events`.
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { StatusRoutes } from "@effect-resilience/platform"
 * import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
 *
 * const app = HttpRouter.empty.pipe(
 *   HttpRouter.get("/prices/:id", HttpServerResponse.text("42")),
 *   HttpRouter.concat(StatusRoutes.router)
 * )
 *
 * // `HttpServer.serve(app)` on a real server; a web handler here.
 * const { dispose, handler } = HttpApp.toWebHandlerLayer(app, Degradation.layer())
 * const response = await handler(new Request("http://localhost/ready"))
 * console.log(response.status, await response.text())
 * // Output: 200 {"status":"ready","level":"Optimal","rank":1}
 * await dispose()
 * ```
 *
 * @since 0.1.0
 * @category routers
 */
export const router: HttpRouter.HttpRouter<never, Degradation> = internal.make()
