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
 * - each refusal counts in `http_requests_shed_total{reason="writes_blocked"|"status_only"}`.
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
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Which requests are writes. Default: any method but `GET`, `HEAD` and `OPTIONS`. */
  readonly isWrite?: ((request: HttpServerRequest.HttpServerRequest) => boolean) | undefined
  /**
   * Requests that are never refused (they still get the level header).
   * Default: `/health`, `/ready`, `/status` and below, `/metrics`, `/admin` and below.
   */
  readonly exempt?: ((request: HttpServerRequest.HttpServerRequest) => boolean) | undefined
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
 *   exempt: (request) => request.url.startsWith("/health")
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
export const defaultIsWrite: (request: HttpServerRequest.HttpServerRequest) => boolean = internal.defaultIsWrite

/**
 * The default `exempt`: `/health`, `/ready`, `/status…`, `/metrics`, `/admin…`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const defaultExempt: (request: HttpServerRequest.HttpServerRequest) => boolean = internal.defaultExempt
