/**
 * `DurableQueue` with its embedded store: everything of
 * `@effect-resilience/platform`'s `DurableQueue` (`make`, `Store`, the
 * errors), plus {@link layerSqlite}, which keeps the queues in a SQLite file
 * (WAL) of their own. Needs the optional peers `@effect/sql` and
 * `@effect/sql-sqlite-node`.
 *
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/sqlite"
 *
 * const StoreLive = DurableQueue.layerSqlite({ filename: "data/upload-queue.db" })
 * ```
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { DurableQueueError, Store } from "../DurableQueue.js"
import * as internal from "../internal/durableQueueSqlite.js"
import type { SqlOptions } from "../sql/DurableQueue.js"

/**
 * `make`, `Store`, `DurableQueueError` and the option types, as
 * `@effect-resilience/platform`'s `DurableQueue` has them (the same values).
 *
 * @since 0.1.0
 */
export * from "../DurableQueue.js"

/**
 * Options of {@link layerSqlite}: the file, and the SQL store's options
 * (`tableName`, `pollInterval`, `lockExpiration`).
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
 * The embedded default: a SQLite file (`@effect/sql-sqlite-node`, WAL) and
 * `@effect/sql`'s `PersistedQueue` store. The file is checked when the layer
 * starts (`PRAGMA quick_check`): a corrupt or unreadable file fails the
 * layer with a `DurableQueueError` naming it.
 *
 * Offers made together are committed together: those of the fibers ready
 * when one begins join it in one transaction (one commit instead of one each:
 * a commit is the cost of an offer). Each still returns only once its entry
 * is written; if the transaction fails, every offer of it fails and none of
 * its entries is kept. The connection is the layer's own, so no caller's
 * transaction can take other callers' entries with it.
 *
 * @example
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/sqlite"
 * import { Effect, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* DurableQueue.make({ name: "uploads", schema: Schema.String })
 *   yield* queue.offer("report.pdf")
 *   return yield* queue.replay((key, delivery) => Effect.log(`uploading ${key} as ${delivery.id}`))
 * })
 *
 * // A file in production; in memory here, to leave nothing behind.
 * const StoreLive = DurableQueue.layerSqlite({ filename: ":memory:" })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(StoreLive))).then(console.log)
 * // Output: 1 (entries delivered)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: (options: SqliteOptions) => Layer.Layer<Store, DurableQueueError> = internal.layerSqlite
