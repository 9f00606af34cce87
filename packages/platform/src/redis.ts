/**
 * `@effect-resilience/platform/redis`: the modules whose layers need the
 * optional peer `ioredis` (5 or 6). Each is the main entry's module of the
 * same name plus its Redis layers.
 *
 * @since 0.1.0
 */

/**
 * `DurableQueue` plus `layerRedis`: durable queues in Redis, shared by several instances.
 *
 * @since 0.1.0
 */
export * as DurableQueue from "./redis/DurableQueue.js"

/**
 * `FleetOverride` plus `layer`, `layerConfig` and `make`: one forced level for the whole fleet, through Redis.
 *
 * @since 0.1.0
 */
export * as FleetOverride from "./redis/FleetOverride.js"
