/**
 * A durable `Fallback.WriteBehindQueue` on `@effect/experimental`'s
 * `PersistedQueue` stores: SQLite (the embedded default), any `SqlClient`
 * (Postgres), or Redis (several instances sharing one queue).
 *
 * The store layers need optional peers, so each lives at a subpath of its
 * own, whose `DurableQueue` is this module plus that layer — import
 * `DurableQueue` from there and nothing else changes:
 *
 * | import `DurableQueue` from | layer | needs |
 * |---|---|---|
 * | `@effect-resilience/platform/sqlite` | `layerSqlite({ filename })` | `@effect/sql`, `@effect/sql-sqlite-node` |
 * | `@effect-resilience/platform/sql` | `layerSql(options?)` on the `SqlClient` in context | `@effect/sql` and a driver (`@effect/sql-pg`, …) |
 * | `@effect-resilience/platform/redis` | `layerRedis(options)` | `ioredis` |
 *
 * This module itself (`make`, `Store`, the errors) loads none of them.
 *
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/sqlite"
 *
 * const Upload = Schema.Struct({ key: Schema.String, body: Schema.String })
 *
 * const S3Live = Layer.unwrapScoped(Effect.gen(function*() {
 *   const queue = yield* DurableQueue.make({ name: "s3", schema: Upload, capacity: 100_000 })
 *   return Dependency.layer(S3, {
 *     ...Presets.s3,
 *     fallback: { upload: Fallback.writeBehind(queue, (key, body) => ({ key, body })) },
 *     replay: [{ queue, run: (s3, entry) => s3.upload(entry.key, entry.body) }]
 *   })
 * })).pipe(Layer.provide(DurableQueue.layerSqlite({ filename: "data/s3-queue.db" })))
 * ```
 *
 * Semantics (the contract of `Fallback.WriteBehindQueue`):
 * - An accepted `offer` is written to the store before it returns: it
 *   survives `kill -9` (SQLite in WAL mode: `synchronous: "full"` to survive
 *   a power loss too, at one fsync per offer). Entries are stored as the
 *   schema encodes them (JSON).
 * - `replay` delivers oldest first, at least once, with a stable id (an
 *   idempotency key: the same across redeliveries, processes and
 *   instances) and the attempts so far, this one included. A failure before
 *   `maxAttempts` stops the replay and keeps the entry first; at
 *   `maxAttempts` the entry is dead-lettered (kept in the store, listed by
 *   `deadLetters`, re-queued by `redrive`) and the replay goes on.
 * - A full queue (`capacity`) refuses `offer` with `WriteBehindError`.
 * - `write_behind_*{dependency=name}` metrics from creation.
 *
 * "In order" with several consumers: every instance sharing a store (one
 * Postgres table, one Redis prefix) holds a replay lease in that store
 * while it replays a queue, so one replay runs at a time per queue across
 * all of them and entries are delivered strictly one after another, oldest
 * first — a later entry is never delivered before an earlier one has been
 * delivered or dead-lettered. A second replay (same process or another)
 * waits for the lease; the lease expires after `lockExpiration` if its
 * holder dies, and the entry it was delivering goes back to the head.
 * Writes that reach the dependency directly (its breaker closed) are not
 * ordered against queued ones, and offers from several instances are
 * ordered by when the store received them.
 *
 * `PersistedQueue` alone does not hold this contract: its SQL store orders
 * by a whole-second `updated_at` and its Redis store pushes a failed entry
 * to the tail (both put it behind later entries), and both dead-letter on
 * their own. This module keeps the failed entry first, dead-letters itself,
 * and counts live entries for `size` and `capacity`.
 *
 * @since 0.1.0
 */
import type { Fallback } from "@effect-resilience/core"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/durableQueue.js"
import * as errors from "./internal/durableQueueError.js"
import * as stores from "./internal/durableQueueStore.js"

/**
 * A store of durable queues could not be opened or used: it names the
 * store and where it lives (the file, the table, the Redis address), e.g. a
 * corrupt or unreadable SQLite file fails `layerSqlite` with it — never an
 * empty queue.
 *
 * @since 0.1.0
 * @category errors
 */
export const DurableQueueError: typeof errors.DurableQueueError = errors.DurableQueueError

/**
 * @since 0.1.0
 * @category errors
 */
export type DurableQueueError = errors.DurableQueueError

/**
 * The store that {@link make} keeps its queues in; provided by `layerSqlite`
 * (`@effect-resilience/platform/sqlite`), `layerSql` (`…/sql`) or
 * `layerRedis` (`…/redis`). One store holds any number of queues, told apart
 * by name.
 *
 * @since 0.1.0
 * @category tags
 */
export const Store: typeof stores.Store = stores.Store

/**
 * @since 0.1.0
 * @category tags
 */
export type Store = stores.Store

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, I, R> {
  /** The queue's name in the store and the `dependency` label of its metrics (at most 100 characters). */
  readonly name: string
  /** Encodes entries for the store (to JSON) and decodes them for the replay. */
  readonly schema: Schema.Schema<A, I, R>
  /** Live entries kept at most (default: unbounded); a full queue refuses `offer` with `WriteBehindError`. */
  readonly capacity?: number | undefined
  /** Failed deliveries after which an entry is dead-lettered (default 10). */
  readonly maxAttempts?: number | undefined
}

/**
 * A durable write-behind queue in the {@link Store}. Bad options are a
 * defect, `InvalidOptionError`, naming the option; an
 * entry the schema cannot encode fails `offer` with `WriteBehindError`.
 * Queues made with the same name in the same store are the same queue.
 *
 * @example
 * ```ts
 * // This module plus `layerSqlite`: the same `make`, the same `Store`.
 * import { DurableQueue } from "@effect-resilience/platform/sqlite"
 * import { Effect, Schema } from "effect"
 *
 * const Upload = Schema.Struct({ key: Schema.String, body: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* DurableQueue.make({ name: "uploads", schema: Upload, capacity: 10_000 })
 *   // While the object store is down: written to SQLite before `offer` returns.
 *   yield* queue.offer({ key: "report.pdf", body: "%PDF-1.7" })
 *   // Once it is back: oldest first, with a stable id per entry (an idempotency key).
 *   return yield* queue.replay((entry, delivery) => Effect.log(`uploading ${entry.key} (attempt ${delivery.attempts})`))
 * })
 *
 * // A file in production (`{ filename: "data/uploads.db" }`); in memory here, to leave nothing behind.
 * const StoreLive = DurableQueue.layerSqlite({ filename: ":memory:" })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(StoreLive))).then(console.log)
 * // Output: 1 (entries delivered)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, I, R>(
  options: Options<A, I, R>
) => Effect.Effect<Fallback.WriteBehindQueue<A>, Fallback.WriteBehindError, Scope.Scope | Store | R> = internal.make

/**
 * Timing options of every store (the options of `layerSql`, `layerSqlite`
 * and `layerRedis` extend them).
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** How often a waiting consumer polls the store (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * How long an entry in delivery, or a replay lease, stays held after its
   * holder stops refreshing it — died, say (default 30 s; at least 3 s).
   */
  readonly lockExpiration?: Duration.DurationInput | undefined
}
