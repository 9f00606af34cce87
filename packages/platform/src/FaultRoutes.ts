/**
 * Fault injection in a running service over HTTP — a drill in staging, on
 * the vocabulary of `Faults` (`@effect-resilience/core`): make a
 * dependency (or one of its members) fail, hang, slow down or flake, watch
 * the breakers, fallbacks and level react, then clear it.
 *
 * ```ts
 * const CacheLive = Dependency.layerConfig(Cache, Presets.redis).pipe(
 *   Layer.provide(Faults.layerConfig(Cache, { name: "redis" })), // RESILIENCE_FAULTS=on|off
 *   Layer.provide(RawCacheLive),
 *   Layer.provideMerge(Faults.layerRegistry)
 * )
 * const app = HttpRouter.empty.pipe(
 *   HttpRouter.concat(StatusRoutes.router),
 *   HttpRouter.concat(AdminRoutes.router),
 *   HttpRouter.concat(FaultRoutes.router)
 * )
 * ```
 *
 * - `GET /admin/faults` → `{ dependencies: [{ name, members, faults }], faults }`;
 * - `POST /admin/faults/:dependency` with `{ "fault": "down" | "hang" | "slow" | "flaky",
 *   "member"?: "get", "duration"?: "2 seconds" | 2000, "probability"?: 0.3 }`
 *   (`duration` for `slow` only, a string or milliseconds; `probability` for
 *   `flaky` only, in [0, 1]) → 200 with the JSON of `/status`;
 * - `DELETE /admin/faults/:dependency` (`?member=get` for one member) and
 *   `DELETE /admin/faults` (every dependency) → 200 with the JSON of `/status`.
 *
 * Behind the admin token, as `AdminRoutes`: without a token 404 (naming
 * nothing), a missing or wrong bearer 401 with `www-authenticate: Bearer`.
 * While fault injection is off — no `Faults.Registry` in context, or none of
 * its dependencies registered (`RESILIENCE_FAULTS=off`) — every route answers
 * 404 (to an authorized operator only, it says how to turn it on). An unknown
 * dependency is 404; a POST body that is not JSON 415, one over 64 KiB 413
 * (read under `HttpIncomingMessage.withMaxBodySize`, never past the limit); a
 * bad body is 400 naming the field (`body`, `fault`, `member`, `duration`,
 * `probability`, or an unknown field). Every JSON answer carries
 * `x-content-type-options: nosniff`. Every action is logged and counted in
 * `admin_actions_total{action = "faults-list" | "fault-inject" |
 * "fault-recover", outcome}`; injections in
 * `fault_injections_total{dependency,fault}` too. `/status`, its page and its
 * event stream show the faults in force.
 *
 * @since 0.1.0
 */
import type { Degradation } from "@effect-resilience/core"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as AdminRoutes from "./AdminRoutes.js"
import * as internal from "./internal/faultRoutes.js"

/**
 * The fault routes; they need `AdminRoutes.Token` and find the
 * `Faults.Registry` in the server's context.
 *
 * @example
 * ```ts
 * import { FaultRoutes, StatusRoutes } from "@effect-resilience/platform"
 * import { HttpRouter } from "@effect/platform"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.concat(StatusRoutes.router), HttpRouter.concat(FaultRoutes.router))
 * ```
 *
 * @since 0.1.0
 * @category routers
 */
export const router: HttpRouter.HttpRouter<never, Degradation | AdminRoutes.Token> = internal.router

/**
 * What `GET /admin/faults` lists for each registered dependency: its
 * members and the faults in force (`member: null` for the whole service,
 * `since` in epoch milliseconds, `duration` in milliseconds for `slow`,
 * `probability` for `flaky`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DependencyFaults extends internal.DependencyFaultsJson {}
