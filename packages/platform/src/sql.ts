/**
 * `@effect-resilience/platform/sql`: the modules whose layers need the
 * optional peer `@effect/sql` (and the driver of your `SqlClient`). Each is
 * the main entry's module of the same name plus its SQL layer.
 *
 * @since 0.1.0
 */

/**
 * `DurableQueue` plus `layerSql`: durable queues in a table of the `SqlClient` in context (SQLite, Postgres).
 *
 * @since 0.1.0
 */
export * as DurableQueue from "./sql/DurableQueue.js"
