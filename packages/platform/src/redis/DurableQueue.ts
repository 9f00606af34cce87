/**
 * `DurableQueue` with its Redis store: everything of
 * `@effect-resilience/platform`'s `DurableQueue` (`make`, `Store`, the
 * errors), plus {@link layerRedis}, which keeps the queues in Redis, shared
 * by several instances. Needs the optional peer `ioredis` (5 or 6).
 *
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/redis"
 *
 * const StoreLive = DurableQueue.layerRedis({ host: "redis", port: 6379, prefix: "uploads:" })
 * ```
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { RedisOptions } from "ioredis"
import type { DurableQueueError, Store, StoreOptions } from "../DurableQueue.js"
import * as internal from "../internal/durableQueueRedis.js"

/**
 * `make`, `Store`, `DurableQueueError` and the option types, as
 * `@effect-resilience/platform`'s `DurableQueue` has them (the same values).
 *
 * @since 0.1.0
 */
export * from "../DurableQueue.js"

/**
 * Options of {@link layerRedis}: ioredis' options plus the store's.
 *
 * @since 0.1.0
 * @category models
 */
export type RedisStoreOptions = RedisOptions & StoreOptions & {
  /** Prefix of every key of the store (default `"effectq:"`). */
  readonly prefix?: string | undefined
  /** Milliseconds the layer waits for Redis to answer at start (default 5000). */
  readonly connectTimeout?: number | undefined
}

/**
 * `@effect/experimental`'s Redis `PersistedQueue` store: several instances
 * sharing one queue. Redis must answer when the layer starts, else it fails
 * with a `DurableQueueError` naming the address.
 *
 * @example
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/redis"
 * import { Effect, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* DurableQueue.make({ name: "uploads", schema: Schema.String })
 *   yield* queue.offer("report.pdf")
 * })
 *
 * // Every instance on the same Redis and prefix shares the queue.
 * export const main = program.pipe(
 *   Effect.scoped,
 *   Effect.provide(DurableQueue.layerRedis({ host: "127.0.0.1", port: 6379, prefix: "uploads:" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis: (options: RedisStoreOptions) => Layer.Layer<Store, DurableQueueError> = internal.layerRedis
