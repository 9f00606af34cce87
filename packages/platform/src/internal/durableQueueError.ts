/**
 * The error of a durable queue's store: it names the store and where it
 * lives (the SQLite file, the SQL table, the Redis address and prefix).
 *
 * @internal
 */
import * as Data from "effect/Data"

/** @internal */
export class DurableQueueError extends Data.TaggedError("DurableQueueError")<{
  readonly message: string
  /** Which store: `sqlite` (layerSqlite), `sql` (layerSql) or `redis` (layerRedis). */
  readonly store: "sqlite" | "sql" | "redis"
  /** Where it lives: the SQLite file, the SQL table, or the Redis address and key prefix. */
  readonly location: string
  readonly cause?: unknown
}> {}
