/**
 * A durable `Fallback.WriteBehindQueue` on `@effect/experimental`'s
 * `PersistedQueue` stores: SQLite (the embedded default), any `SqlClient`
 * (Postgres), or Redis (several instances sharing one queue).
 *
 * ```ts
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
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import * as internal from "./internal/durableQueue.js"
import * as errors from "./internal/durableQueueError.js"
import * as stores from "./internal/durableQueueStore.js"

/**
 * A store of durable queues could not be opened or used: it names the
 * store and where it lives (the file, the table, the Redis address), e.g. a
 * corrupt or unreadable SQLite file fails {@link layerSqlite} with it —
 * never an empty queue.
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
 * The store that {@link make} keeps its queues in; provided by
 * {@link layerSqlite}, {@link layerSql} or {@link layerRedis}. One store
 * holds any number of queues, told apart by name.
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
 * import { DurableQueue } from "@effect-resilience/platform"
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
 * Timing options of every store.
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

/**
 * Options of {@link layerSql}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqlOptions extends StoreOptions {
  /**
   * The queue table (default `effect_resilience_queue`); the dead letters
   * and replay leases live in `<table>_dead` and `<table>_lease`.
   */
  readonly tableName?: string | undefined
}

/**
 * Options of {@link layerSqlite}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions extends SqlOptions {
  /** The database file, created if missing. */
  readonly filename: string
  /**
   * `"normal"` (the default): an accepted offer survives the process being
   * killed (WAL); `"full"`: it survives a power loss too, at one fsync per offer.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

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
 * The embedded default: a SQLite file (`@effect/sql-sqlite-node`, WAL) and
 * `@effect/sql`'s `PersistedQueue` store. The file is checked when the layer
 * starts (`PRAGMA quick_check`): a corrupt or unreadable file fails the
 * layer with a {@link DurableQueueError} naming it.
 *
 * Offers made together are committed together: those of the fibers ready
 * when one begins join it in one transaction (one commit instead of one each:
 * a commit is the cost of an offer). Each still returns only once its entry
 * is written; if the transaction fails, every offer of it fails and none of
 * its entries is kept. The connection is the layer's own, so no caller's
 * transaction can take other callers' entries with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: (options: SqliteOptions) => Layer.Layer<Store, DurableQueueError> = stores.layerSqlite

/**
 * `@effect/sql`'s `PersistedQueue` store on the `SqlClient` in context
 * (SQLite or Postgres dialect): several instances can share one table.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: (options?: SqlOptions) => Layer.Layer<Store, DurableQueueError, SqlClient.SqlClient> =
  stores.layerSql

/**
 * `@effect/experimental`'s Redis `PersistedQueue` store: several instances
 * sharing one queue. Redis must answer when the layer starts, else it fails
 * with a {@link DurableQueueError} naming the address.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis: (options: RedisStoreOptions) => Layer.Layer<Store, DurableQueueError> = stores.layerRedis
