/**
 * Operator controls over HTTP, behind `Authorization: Bearer <token>`.
 *
 * ```ts
 * const app = HttpRouter.empty.pipe(HttpRouter.concat(AdminRoutes.router))
 * const ServerLive = HttpServer.serve(app).pipe(
 *   Layer.provide(AdminRoutes.layerConfig)  // RESILIENCE_ADMIN_TOKEN
 * )
 * ```
 *
 * - `POST /admin/degradation/force` with `{ "level": "Minimal", "reason": "…" }`
 * - `POST /admin/degradation/release`
 * - `POST /admin/breakers/:name/force-open` | `disable` | `reset`
 *
 * Each answers 200 with the same JSON as `/status`. Without a token every
 * route answers 404 `{ error: "not_found", message: "Not found" }`, as a route
 * that does not exist would (nothing names the token or how to set it); a
 * missing or wrong bearer 401 with `www-authenticate: Bearer` (compared in
 * constant time). Request bodies are read under
 * `HttpIncomingMessage.withMaxBodySize` ({@link maxBodyBytes}, 64 KiB) and
 * only as far as that limit: a POST body whose `content-type` is not JSON
 * answers 415 `{ error: "unsupported_media_type", field: "content-type",
 * message }`, one over the limit 413 `{ error: "payload_too_large", field:
 * "body", message, limit }` — at once when its `content-length` says so, at the
 * limit when it is chunked — and the connection closes instead of draining the
 * rest; a bad body 400 `{ error, field, message }` naming the field (`level`,
 * `reason`, `body`); an unknown breaker 404. Every JSON answer carries
 * `cache-control: no-store` and `x-content-type-options: nosniff`. Every
 * action is logged with its outcome and remote address and counted in
 * `admin_actions_total{action, outcome="ok"|"denied"|"invalid"}`.
 *
 * @since 0.1.0
 */
import type { Degradation } from "@effect-resilience/core"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as ConfigError from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/adminRoutes.js"

/**
 * The admin token: `undefined` turns every admin route off (404).
 *
 * @since 0.1.0
 * @category tags
 */
export const Token: typeof internal.Token = internal.Token

/**
 * The identifier of {@link Token}.
 *
 * @since 0.1.0
 * @category tags
 */
export type Token = internal.Token

/**
 * What {@link Token} provides.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenService extends internal.TokenService {}

/**
 * The admin routes; they need {@link Token} (see {@link layer}, {@link layerConfig}).
 *
 * @since 0.1.0
 * @category routers
 */
export const router: HttpRouter.HttpRouter<never, Degradation | Token> = internal.router

/**
 * Provides {@link Token}. A token that is not a non-empty `Redacted` string is
 * a defect (`InvalidOptionError`) naming `token`.
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { AdminRoutes } from "@effect-resilience/platform"
 * import { HttpApp } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 *
 * const TokenLive = AdminRoutes.layer({ token: Redacted.make("s3cr3t-operator-token") })
 *
 * // `HttpServer.serve(AdminRoutes.router)` on a real server; a web handler here.
 * const { dispose, handler } = HttpApp.toWebHandlerLayer(AdminRoutes.router, Layer.merge(TokenLive, Degradation.layer()))
 * const response = await handler(
 *   new Request("http://localhost/admin/degradation/force", {
 *     method: "POST",
 *     headers: { authorization: "Bearer s3cr3t-operator-token", "content-type": "application/json" },
 *     body: JSON.stringify({ level: "Minimal", reason: "database maintenance" })
 *   })
 * )
 * console.log(response.status)
 * // Output: 200
 * await dispose()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options: { readonly token: Redacted.Redacted<string> | undefined }) => Layer.Layer<Token> =
  internal.layer

/**
 * {@link layer} with the token read from `RESILIENCE_ADMIN_TOKEN`: unset, the
 * admin routes are off; set but blank (empty or only whitespace), the layer
 * fails with a `ConfigError` (`InvalidData` at `RESILIENCE_ADMIN_TOKEN`) that
 * says it is blank — a blank token is a mistake, never a way to turn admin off.
 *
 * @example
 * ```ts
 * import { AdminRoutes } from "@effect-resilience/platform"
 * import { ConfigProvider, Effect, Layer } from "effect"
 *
 * const blank = Layer.build(AdminRoutes.layerConfig).pipe(
 *   Effect.scoped,
 *   Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RESILIENCE_ADMIN_TOKEN", " "]]))),
 *   Effect.flip
 * )
 * Effect.runPromise(blank).then((error) => console.log(error._op))
 * // Output: InvalidData
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Token, ConfigError.ConfigError> = internal.layerConfig

/**
 * The largest request body an admin or fault route reads (64 KiB, set with
 * `HttpIncomingMessage.withMaxBodySize`); a larger one is answered 413.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBodyBytes: number = internal.maxBodyBytes
