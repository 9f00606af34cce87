/**
 * `@effect-resilience/platform/sqlite`: the modules whose layers need the
 * optional peers `@effect/sql` and `@effect/sql-sqlite-node`. Each is the
 * main entry's module of the same name plus its SQLite layer.
 *
 * @since 0.1.0
 */

/**
 * `DurableQueue` plus `layerSqlite`: durable queues in a SQLite file, the embedded default.
 *
 * @since 0.1.0
 */
export * as DurableQueue from "./sqlite/DurableQueue.js"
