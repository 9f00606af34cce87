/**
 * `DurableQueue` with its SQL store: everything of
 * `@effect-resilience/platform`'s `DurableQueue` (`make`, `Store`, the
 * errors), plus {@link layerSql}, which keeps the queues in a table of the
 * `SqlClient` in context — SQLite or Postgres, several instances sharing one
 * table. Needs the optional peer `@effect/sql` and the driver of your client
 * (e.g. `@effect/sql-pg`).
 *
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/sql"
 * import { PgClient } from "@effect/sql-pg"
 *
 * const StoreLive = DurableQueue.layerSql({ tableName: "upload_queue" }).pipe(
 *   Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Layer from "effect/Layer"
import type { DurableQueueError, Store, StoreOptions } from "../DurableQueue.js"
import * as internal from "../internal/durableQueueSql.js"

/**
 * `make`, `Store`, `DurableQueueError` and the option types, as
 * `@effect-resilience/platform`'s `DurableQueue` has them (the same values).
 *
 * @since 0.1.0
 */
export * from "../DurableQueue.js"

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
 * `@effect/sql`'s `PersistedQueue` store on the `SqlClient` in context
 * (SQLite or Postgres dialect): several instances can share one table. The
 * tables are created if missing; a table of another shape, or another
 * dialect, fails the layer with a `DurableQueueError` naming the table.
 *
 * @example
 * ```ts
 * import { DurableQueue } from "@effect-resilience/platform/sql"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Effect, Layer, Schema } from "effect"
 *
 * // Postgres in production (`PgClient.layer(...)` from @effect/sql-pg); SQLite in memory here.
 * const StoreLive = DurableQueue.layerSql({ tableName: "upload_queue" }).pipe(
 *   Layer.provide(SqliteClient.layer({ filename: ":memory:" }))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* DurableQueue.make({ name: "uploads", schema: Schema.String })
 *   yield* queue.offer("report.pdf")
 *   return yield* queue.size
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(StoreLive))).then(console.log)
 * // Output: 1
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: (options?: SqlOptions) => Layer.Layer<Store, DurableQueueError, SqlClient.SqlClient> =
  internal.layerSql
