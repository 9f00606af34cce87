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
 * route answers 404; a missing or wrong bearer 401 with `www-authenticate:
 * Bearer` (compared in constant time); a bad body 400 naming the field
 * (`level`, `reason`, `body`), a body over 64 KiB 413; an unknown breaker
 * 404. Every action is logged with its outcome and remote address and counted
 * in `admin_actions_total{action, outcome="ok"|"denied"|"invalid"}`.
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
 * {@link layer} with the token read from `RESILIENCE_ADMIN_TOKEN` (unset: admin
 * routes off). An empty value fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Token, ConfigError.ConfigError> = internal.layerConfig

/**
 * The largest request body an admin route reads (64 KiB); a larger one is answered 413.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBodyBytes: number = internal.maxBodyBytes
