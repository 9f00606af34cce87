/**
 * One forced level for the whole fleet. Behind a load balancer, a
 * maintenance override forced through any instance (an admin route,
 * `Degradation.force`) must hold on all of them: `FleetOverride.layer`
 * decorates `Degradation` so that `force` and `release` go to Redis first —
 * a key holds the override in force, a channel announces each change — and
 * then apply here; every other instance applies what the channel announces.
 *
 * The layers need the optional peer `ioredis`, so they live at
 * `@effect-resilience/platform/redis`, whose `FleetOverride` is this module
 * plus `layer`, `layerConfig` and `make`. This module — the fleet status of
 * a decorated `Degradation` — loads no Redis client.
 *
 * ```ts
 * import { FleetOverride } from "@effect-resilience/platform/redis"
 *
 * const DegradationLive = FleetOverride.layer({ redis: "redis://redis:6379" }).pipe(
 *   Layer.provide(Degradation.layer())
 * )
 * ```
 *
 * - A new instance reads the override in force before the layer is built
 *   (waiting at most `timeout` for Redis).
 * - An instance that loses Redis keeps its last known override, says so in
 *   `/status` (`fleet: { connected: false, lastSync, … }`), and syncs again
 *   when Redis is back: Redis wins, except for a change made here meanwhile
 *   that nobody contradicted (it is then shared), and a Redis that came back
 *   empty is given the last known override again.
 * - Only the override is shared. Automatic levels (breakers, health checks,
 *   `set`, `evaluate`) stay per instance: each instance sees its own
 *   dependencies; the fleet view is Prometheus's job.
 *
 * @since 0.1.0
 */
import type { Degradation } from "@effect-resilience/core"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/fleetStatus.js"

/**
 * What `/status` shows under `fleet`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FleetStatus {
  /** Both connections to Redis are up. */
  readonly connected: boolean
  /** Epoch millis of the last time this instance knew it agreed with Redis; `null` before the first time. */
  readonly lastSync: number | null
  /** A force or release made here while Redis was unreachable, not shared yet. */
  readonly pending: boolean
  readonly instance: string
}

/**
 * The fleet status of a decorated `Degradation`; `undefined` for one that is not.
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { FleetOverride } from "@effect-resilience/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const fleet = yield* FleetOverride.status(yield* Degradation)
 *   yield* Effect.log(fleet === undefined ? "not shared with a fleet" : `in sync: ${fleet.connected && !fleet.pending}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const status: (degradation: Degradation.Service) => Effect.Effect<FleetStatus | undefined> = internal.status

/**
 * The fleet status, as a service: `FleetOverride.layer` provides it beside
 * the `Degradation` it decorates, and `StatusRoutes` reads it (with
 * `Effect.serviceOption`) to show `fleet` in `/status`:
 * `Effect.serviceOption(FleetOverride.Status)`.
 *
 * @since 0.2.0
 * @category tags
 */
export const Status: Context.Tag<Status, Effect.Effect<FleetStatus>> = internal.Status

/**
 * @since 0.2.0
 * @category tags
 */
export type Status = internal.Status
