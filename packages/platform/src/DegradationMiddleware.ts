/**
 * An `HttpMiddleware` that sheds load by degradation level.
 *
 * ```ts
 * const ServerLive = HttpServer.serve(app, DegradationMiddleware.make()).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
 * )
 * ```
 *
 * - every response it passes carries `x-degradation-level: <level>`;
 * - from `blockWritesFrom` (default `Minimal`) a non-exempt write is answered
 *   `503` with `retry-after` and `{ error, message, action, level }`; reads
 *   still reach the handler;
 * - from `statusOnlyFrom` (default `Emergency`) every non-exempt request is
 *   answered `503` with `retry-after` and `{ status: "system_degraded", level }`;
 * - each refusal counts in `http_requests_shed_total{reason="writes_blocked"|"status_only"}`;
 * - every 503 it answers is JSON with `cache-control: no-store` and
 *   `x-content-type-options: nosniff`.
 *
 * `exempt` and `isWrite` get the request and its path as the router matches
 * it ({@link routePath}): `/HEALTH`, `//health`, `/health/` and `/%68ealth`
 * all reach the `/health` route, so the default `exempt` lets all of them
 * through. `request.url` is the raw request target; a predicate that looks
 * at the path should use the `path` argument, not `request.url`.
 *
 * The same function works with `HttpServer.serve(app, middleware)`,
 * `HttpRouter.use`, `HttpApiBuilder.serve(middleware)` and
 * `HttpLayerRouter.serve(layer, { middleware })`; {@link layer} installs it as
 * a global `HttpLayerRouter` middleware.
 *
 * @since 0.1.0
 */
import { Degradation } from "@effect-resilience/core"
import type { DegradationLevel } from "@effect-resilience/core"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/middleware.js"

/**
 * A predicate over a request, given with its path as the router matches it
 * ({@link routePath} of `request.url`: lowercase, no query, duplicate and
 * trailing slashes dropped), computed once per request.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestPredicate = (request: HttpServerRequest.HttpServerRequest, path: string) => boolean

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Which requests are writes. Default: any method but `GET`, `HEAD` and `OPTIONS`. */
  readonly isWrite?: RequestPredicate | undefined
  /**
   * Requests that are never refused (they still get the level header).
   * Default: `/health`, `/ready`, `/status` and below, `/metrics`, `/admin` and
   * below, on the path as the router matches it.
   */
  readonly exempt?: RequestPredicate | undefined
  /** From this level on, writes are refused (default `Minimal`). */
  readonly blockWritesFrom?: DegradationLevel.DegradationLevel | undefined
  /** From this level on, every non-exempt request is refused (default `Emergency`). */
  readonly statusOnlyFrom?: DegradationLevel.DegradationLevel | undefined
  /**
   * The `retry-after` when neither a down breaker nor the next recovery tick
   * says better (default 30 s, the default recovery interval).
   */
  readonly retryAfter?: Duration.DurationInput | undefined
}

/**
 * The middleware: `(app) => app`, requiring {@link Degradation}. Invalid
 * options are a defect (`InvalidOptionError`) naming the option, thrown here.
 *
 * @example
 * ```ts
 * import { DegradationMiddleware } from "@effect-resilience/platform"
 * import { DegradationLevel } from "@effect-resilience/core"
 * import { HttpRouter, HttpServer } from "@effect/platform"
 *
 * const middleware = DegradationMiddleware.make({
 *   blockWritesFrom: DegradationLevel.Limited(),
 *   // `path` is what the router matches: `/Internal//Jobs/` is `/internal/jobs`.
 *   exempt: (request, path) => DegradationMiddleware.defaultExempt(request, path) || path.startsWith("/internal/")
 * })
 * const ServerLive = HttpServer.serve(HttpRouter.empty, middleware)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R | Degradation> = internal.make

/**
 * {@link make} as a global `HttpLayerRouter` middleware.
 *
 * @example
 * ```ts
 * import { Degradation, DegradationLevel } from "@effect-resilience/core"
 * import { DegradationMiddleware } from "@effect-resilience/platform"
 * import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const Routes = HttpLayerRouter.add("POST", "/prices", HttpServerResponse.text("saved"))
 * const AppLive = Layer.mergeAll(Routes, DegradationMiddleware.layer())
 *
 * // Maintenance: the level is forced to Minimal, so writes are refused.
 * const DegradationLive = Layer.effectDiscard(Degradation.force(DegradationLevel.Minimal(), "maintenance")).pipe(
 *   Layer.provideMerge(Degradation.layer())
 * )
 *
 * // `HttpLayerRouter.serve(AppLive)` on a real server; a web handler here.
 * const { dispose, handler } = HttpLayerRouter.toWebHandler(AppLive.pipe(Layer.provide(DegradationLive)), {
 *   disableLogger: true
 * })
 * const response = await handler(new Request("http://localhost/prices", { method: "POST" }))
 * console.log(response.status, response.headers.get(DegradationMiddleware.levelHeader))
 * // Output: 503 Minimal
 * await dispose()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | Degradation> => {
  const middleware = internal.make(options)
  return HttpLayerRouter.use((router) =>
    Effect.flatMap(
      Degradation,
      (degradation) =>
        router.addGlobalMiddleware((effect) => Effect.provideService(middleware(effect), Degradation, degradation))
    )
  )
}

/**
 * The header every response passed by the middleware carries.
 *
 * @since 0.1.0
 * @category constants
 */
export const levelHeader: "x-degradation-level" = internal.levelHeader

/**
 * The default `isWrite`: any method but `GET`, `HEAD` and `OPTIONS`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const defaultIsWrite: (request: HttpServerRequest.HttpServerRequest, path?: string) => boolean =
  internal.defaultIsWrite

/**
 * The default `exempt`: `/health`, `/ready`, `/status…`, `/metrics`, `/admin…`,
 * on `path` (by default {@link routePath} of `request.url`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const defaultExempt: (request: HttpServerRequest.HttpServerRequest, path?: string) => boolean =
  internal.defaultExempt

/**
 * The path of a request URL as `HttpRouter` and `HttpLayerRouter` match it
 * with their default options: the query (after `?` or `;`) and fragment cut
 * off, duplicate slashes merged, a trailing slash dropped, percent-escapes
 * decoded except reserved ones (`%2F`, `%3F`, … stay encoded, as the router
 * keeps them), and lowercased. Use it to compare paths, not to read
 * parameters: their case is lost. A malformed escape (`%zz`, which no route
 * matches) is left as it is. A router given other options
 * (`HttpRouter.setRouterConfig({ caseSensitive: true })`, …) matches
 * differently: give the middleware predicates of your own then.
 *
 * @example
 * ```ts
 * import { DegradationMiddleware } from "@effect-resilience/platform"
 *
 * console.log(DegradationMiddleware.routePath("//Status/Events/?since=1"))
 * // Output: /status/events
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const routePath: (url: string) => string = internal.routePath
