/**
 * `FleetOverride` with its Redis layers: everything of
 * `@effect-resilience/platform`'s `FleetOverride` (`status`, `FleetStatus`),
 * plus {@link layer}, {@link layerConfig} and {@link make}, which share the
 * forced level of every instance through Redis. Needs the optional peer
 * `ioredis` (5 or 6).
 *
 * ```ts
 * import { FleetOverride } from "@effect-resilience/platform/redis"
 *
 * const DegradationLive = FleetOverride.layer({ redis: "redis://redis:6379" }).pipe(
 *   Layer.provide(Degradation.layer())
 * )
 * ```
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
import type { Status } from "../FleetOverride.js"
import * as internal from "../internal/fleetOverride.js"

/**
 * `status` and `FleetStatus`, as `@effect-resilience/platform`'s
 * `FleetOverride` has them (the same values).
 *
 * @since 0.1.0
 */
export * from "../FleetOverride.js"

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
 * Decorates the `Degradation` it is given. Invalid options are a defect
 * (`InvalidOptionError`) naming the option.
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { FleetOverride } from "@effect-resilience/platform/redis"
 * import { Effect } from "effect"
 *
 * // Scoped: the Redis connections close with the scope.
 * export const shared = Effect.gen(function*() {
 *   const local = yield* Degradation.make()
 *   return yield* FleetOverride.make(local, { redis: "redis://127.0.0.1:6379", instance: "api-1" })
 * })
 * ```
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
 * import { FleetOverride } from "@effect-resilience/platform/redis"
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
export const layer: (options?: Options) => Layer.Layer<Degradation | Status, never, Degradation> = internal.layer

/**
 * {@link layer} with `redis` read from `REDIS_URL` (required: a missing
 * variable is a `ConfigError` naming it).
 *
 * @example
 * ```ts
 * import { Degradation } from "@effect-resilience/core"
 * import { FleetOverride } from "@effect-resilience/platform/redis"
 * import { Layer } from "effect"
 *
 * const DegradationLive = FleetOverride.layerConfig({ prefix: "pricing:degradation" }).pipe(
 *   Layer.provide(Degradation.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  options?: Omit<Options, "redis">
) => Layer.Layer<Degradation | Status, ConfigError.ConfigError, Degradation> = internal.layerConfig
