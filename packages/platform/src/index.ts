/**
 * @since 0.1.0
 */

/**
 * Admin routes: force or release the level, force-open, disable or reset a breaker, behind a bearer token.
 *
 * @since 0.1.0
 */
export * as AdminRoutes from "./AdminRoutes.js"

/**
 * An `HttpMiddleware` that tags every response with the level and sheds writes or everything by level.
 *
 * @since 0.1.0
 */
export * as DegradationMiddleware from "./DegradationMiddleware.js"

/**
 * `/admin/faults`: inject and clear `Faults` on a running service's dependencies, behind the admin token.
 *
 * @since 0.1.0
 */
export * as FaultRoutes from "./FaultRoutes.js"

/**
 * A durable write-behind queue on `PersistedQueue` stores: SQLite (embedded default), any `SqlClient`, Redis.
 * Its store layers are at `@effect-resilience/platform/sqlite`, `/sql` and `/redis`.
 *
 * @since 0.1.0
 */
export * as DurableQueue from "./DurableQueue.js"

/**
 * One forced level for the whole fleet: force/release shared through Redis; automatic levels stay per instance.
 * Its layers are at `@effect-resilience/platform/redis`; here, the fleet status.
 *
 * @since 0.1.0
 */
export * as FleetOverride from "./FleetOverride.js"

/**
 * `/health`, `/ready`, `/status` (JSON or a live HTML page) and `/status/events` (server-sent events).
 *
 * @since 0.1.0
 */
export * as StatusRoutes from "./StatusRoutes.js"
