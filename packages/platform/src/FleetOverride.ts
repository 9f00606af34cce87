/**
 * One forced level for the whole fleet. Behind a load balancer, a
 * maintenance override forced through any instance (an admin route,
 * `Degradation.force`) must hold on all of them: this layer decorates
 * `Degradation` so that `force` and `release` go to Redis first — a key holds
 * the override in force, a channel announces each change — and then apply
 * here; every other instance applies what the channel announces.
 *
 * ```ts
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
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import * as internal from "./internal/fleetOverride.js"

/**
 * Options of {@link layer} and {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A `redis://` URL or ioredis options (default `redis://127.0.0.1:6379`); the layer opens two connections. */
  readonly redis?: string | RedisOptions | undefined
  /**
   * The prefix of the keys and channel (default `effect-resilience:degradation`):
   * `<prefix>:override`, `<prefix>:override:seq`, `<prefix>:override:changes`.
   * One prefix per fleet.
   */
  readonly prefix?: string | undefined
  /** This instance in logs and records (default `<hostname>:<pid>:<random>`). */
  readonly instance?: string | undefined
  /** How long a Redis command (and the first connection) may take (default 2 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** How often the override is read again, for a change announced while a connection blipped (default 15 s). */
  readonly syncInterval?: Duration.DurationInput | undefined
}

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
 * Decorates the `Degradation` it is given. Invalid options are a defect
 * (`InvalidOptionError`) naming the option.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  degradation: Degradation.Service,
  options?: Options
) => Effect.Effect<Degradation.Service, never, Scope.Scope> = internal.make

/**
 * Replaces the `Degradation` it is given with the decorated one; dependencies
 * registered through either see the same level.
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { FleetOverride } from "@effect-resilience/platform"
 * import { Layer } from "effect"
 *
 * const DegradationLive = FleetOverride.layer({ redis: process.env.REDIS_URL }).pipe(
 *   Layer.provide(Degradation.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<Degradation, never, Degradation> = internal.layer

/**
 * {@link layer} with `redis` read from `REDIS_URL` (required: a missing
 * variable is a `ConfigError` naming it).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  options?: Omit<Options, "redis">
) => Layer.Layer<Degradation, ConfigError.ConfigError, Degradation> = internal.layerConfig

/**
 * The fleet status of a decorated `Degradation`; `undefined` for one that is not.
 *
 * @since 0.1.0
 * @category accessors
 */
export const status: (degradation: Degradation.Service) => Effect.Effect<FleetStatus | undefined> = internal.status
