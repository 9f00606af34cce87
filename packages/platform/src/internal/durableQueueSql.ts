/**
 * The SQL store of `DurableQueue` (SQLite or Postgres dialect):
 * `@effect/sql`'s `SqlPersistedQueue` table, plus a table of dead letters and
 * one of replay leases beside it. Loaded by the `/sql` and `/sqlite`
 * subpaths only: `@effect/sql` is an optional peer.
 *
 * @internal
 */
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlPersistedQueue from "@effect/sql/SqlPersistedQueue"
import type * as Statement from "@effect/sql/Statement"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { DurableQueueError } from "./durableQueueError.js"
import {
  type Backend,
  type CommonOptions,
  commonOptions,
  holdLease,
  reason,
  Store,
  storeErrors
} from "./durableQueueStore.js"
import { fail as invalid } from "./options.js"

/** Options of `layerSql`. */
export interface SqlOptions extends CommonOptions {
  readonly tableName?: string | undefined
}

const defaultTableName = "effect_resilience_queue"

// The dead-letter and lease tables append `_dead` / `_lease`, and the indexes prefix `idx_`: room for both.
const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/

type Offer = PersistedQueue.PersistedQueueStore["Type"]["offer"]
type OfferOptions = Parameters<Offer>[0]

/**
 * Offers made together are committed together: the offers of the fibers
 * ready when one begins join it and are written in one transaction — one
 * commit, one WAL append and one pass through @effect/sql's transaction
 * machinery instead of one each (~2× the throughput of 64 producers here). A
 * lone offer waits one `yieldNow` and is written as before.
 * If the transaction fails, every offer of it fails: none was kept.
 *
 * Only for a client of the queue's own (`layerSqlite`): on a shared client an
 * offer made inside the caller's transaction would take the others' entries
 * with it, and roll them back with it.
 */
export const groupCommit = (sql: SqlClient.SqlClient, offer: Offer): Offer => {
  interface Joined {
    readonly options: OfferOptions
    readonly resume: (result: Effect.Effect<void, PersistedQueue.PersistedQueueError>) => void
  }
  let open: Array<Joined> | undefined
  const commit = (first: OfferOptions, joined: ReadonlyArray<Joined>) =>
    joined.length === 0 ? offer(first) : Effect.flatMap(
      Effect.exit(
        sql.withTransaction(
          Effect.forEach([first, ...joined.map((j) => j.options)], offer, { discard: true })
        ).pipe(
          Effect.mapError((cause) =>
            cause instanceof PersistedQueue.PersistedQueueError
              ? cause
              : new PersistedQueue.PersistedQueueError({ message: `cannot commit the offers: ${reason(cause)}`, cause })
          )
        )
      ),
      (exit) => {
        for (const j of joined) j.resume(exit)
        return exit
      }
    )
  return (options) =>
    Effect.suspend(() => {
      const batch = open
      if (batch !== undefined) {
        return Effect.async<void, PersistedQueue.PersistedQueueError>((resume) => {
          batch.push({ options, resume })
        })
      }
      const joined: Array<Joined> = []
      open = joined
      // Uninterruptible: the offers that joined wait on this commit.
      return Effect.uninterruptible(Effect.zipRight(
        Effect.yieldNow(),
        Effect.suspend(() => {
          open = undefined
          return commit(options, joined)
        })
      ))
    })
}

/**
 * SQLite's planner, without statistics, takes the store's `_take` index for
 * its take — it matches one more condition, `attempts < ?` — and then sorts
 * every live entry to find the oldest: each take is O(n log n) and a replay
 * of n entries quadratic (20,000 entries: ~2.7 ms per take; 100,000: more
 * than ten minutes). Statistics that describe a queue — one name, every
 * entry live and at 0 attempts, entries of one second told apart by
 * `sequence` — steer it to the head index, which yields the oldest entry
 * first (~0.2 ms per take, whatever the length). Writing `sqlite_stat1` is
 * SQLite's documented way to guide its planner; `ANALYZE sqlite_schema`
 * creates the table and loads them. They are written at every start: an
 * `ANALYZE` run by someone else (on an empty queue, say) replaces them until
 * the next.
 */
const steerSqlitePlanner = (sql: SqlClient.SqlClient, tableName: string) =>
  sql.onDialectOrElse({
    sqlite: () => {
      const rows = 1_000_000
      const stats: ReadonlyArray<readonly [string | null, string]> = [
        [null, `${rows}`],
        [`idx_${tableName}_id`, `${rows} 1`],
        [`idx_${tableName}_take`, `${rows} ${rows} ${rows} ${rows} ${rows}`],
        [`idx_${tableName}_update`, `${rows} 1 1`],
        [`idx_${tableName}_head`, `${rows} ${rows} ${rows} 100 1`]
      ]
      return sql`ANALYZE sqlite_schema`.pipe(
        Effect.zipRight(
          sql.withTransaction(
            Effect.zipRight(
              sql`DELETE FROM sqlite_stat1 WHERE tbl = ${tableName}`,
              Effect.forEach(
                stats,
                ([idx, stat]) => sql`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (${tableName}, ${idx}, ${stat})`,
                { discard: true }
              )
            )
          )
        ),
        Effect.zipRight(sql`ANALYZE sqlite_schema`),
        Effect.asVoid
      )
    },
    orElse: () => Effect.void
  })

/** One store's tables and what its operations need. */
interface Tables {
  readonly sql: SqlClient.SqlClient
  readonly tableName: string
  /** The store's queue table. */
  readonly table: Statement.Identifier
  readonly dead: Statement.Identifier
  readonly leases: Statement.Identifier
  readonly error: (what: string) => (cause: unknown) => DurableQueueError
  /** The store itself, on the queue table. */
  readonly persisted: Backend["persisted"]
  readonly pollInterval: Duration.Duration
  readonly lockExpiration: Duration.Duration
}

const createDeadLetterTable = ({ dead, sql }: Tables) =>
  sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS ${dead} (
        sequence BIGSERIAL PRIMARY KEY,
        queue_name VARCHAR(100) NOT NULL,
        id VARCHAR(36) NOT NULL,
        element TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT NOT NULL,
        dead_at BIGINT NOT NULL,
        UNIQUE (queue_name, id)
      )`,
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS ${dead} (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        queue_name TEXT NOT NULL,
        id TEXT NOT NULL,
        element TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT NOT NULL,
        dead_at BIGINT NOT NULL,
        UNIQUE (queue_name, id)
      )`
  })

/** The tables beside the store's, its head index, and a check that every column the queue relies on is there. */
const openTables = (t: Tables) => {
  const { dead, leases, sql, table, tableName } = t
  return createDeadLetterTable(t).pipe(
    // The store takes the head by ORDER BY updated_at, sequence: an index in that order spares a sort
    // of every live entry per take (on SQLite once its planner is told the queue's shape, below).
    Effect.zipRight(
      sql`CREATE INDEX IF NOT EXISTS ${
        sql(`idx_${tableName}_head`)
      } ON ${table} (queue_name, completed, updated_at, sequence)`
    ),
    Effect.zipRight(steerSqlitePlanner(sql, tableName)),
    Effect.zipRight(sql`CREATE TABLE IF NOT EXISTS ${leases} (
      queue_name VARCHAR(100) PRIMARY KEY,
      holder VARCHAR(36) NOT NULL,
      expires_at BIGINT NOT NULL
    )`),
    // A table of another shape fails here, not at the first replay.
    Effect.zipRight(
      sql`SELECT sequence, id, queue_name, element, completed, attempts, acquired_at, acquired_by, created_at, updated_at FROM ${table} WHERE 1 = 0`
    ),
    Effect.zipRight(sql`SELECT sequence, queue_name, id, element, attempts, error, dead_at FROM ${dead} WHERE 1 = 0`),
    Effect.mapError(t.error("cannot open the queue table"))
  )
}

const size = ({ error, sql, table }: Tables) => (name: string) =>
  sql<{ readonly n: number | string }>`
    SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${table} WHERE queue_name = ${name} AND completed = FALSE
  `.pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)), Effect.mapError(error("cannot count the queue")))

// The store stamps a failed entry's `updated_at` (whole seconds) and orders by it first: restore its place.
const keepFirst = ({ error, sql, table }: Tables) => (name: string, id: string) =>
  sql`UPDATE ${table} SET updated_at = created_at WHERE id = ${id} AND queue_name = ${name}`.pipe(
    Effect.asVoid,
    Effect.mapError(error("cannot keep the entry first"))
  )

const deadLetter = ({ dead, error, sql }: Tables): Backend["deadLetter"] => (name, letter) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    sql`
      INSERT INTO ${dead} (queue_name, id, element, attempts, error, dead_at)
      VALUES (${name}, ${letter.id}, ${JSON.stringify(letter.element)}, ${letter.attempts}, ${letter.error}, ${now})
      ON CONFLICT (queue_name, id) DO NOTHING
    `).pipe(Effect.asVoid, Effect.mapError(error("cannot record a dead letter")))

const deadLetters = ({ dead, error, sql }: Tables): Backend["deadLetters"] => (name) =>
  sql<{ readonly id: string; readonly element: string; readonly attempts: number | string; readonly error: string }>`
    SELECT id, element, attempts, error FROM ${dead} WHERE queue_name = ${name} ORDER BY sequence ASC
  `.pipe(
    Effect.flatMap((rows) =>
      Effect.try({
        try: () =>
          rows.map((row) => ({
            id: row.id,
            element: JSON.parse(row.element) as unknown,
            attempts: Number(row.attempts),
            error: row.error
          })),
        catch: (cause) => cause
      })
    ),
    Effect.mapError(error("cannot read the dead letters"))
  )

const redrive = ({ dead, error, persisted, sql, table }: Tables): Backend["redrive"] => (name, id) =>
  Effect.gen(function*() {
    const rows = yield* sql<{ readonly element: string }>`
      SELECT element FROM ${dead} WHERE queue_name = ${name} AND id = ${id}
    `
    if (rows.length === 0) return false
    // Live first, dead letter dropped last: a crash in between leaves a duplicate, never a loss.
    yield* sql`DELETE FROM ${table} WHERE id = ${id} AND completed = TRUE`
    yield* persisted.offer({ name, id, element: JSON.parse(rows[0]!.element), isCustomId: true })
    yield* sql`DELETE FROM ${dead} WHERE queue_name = ${name} AND id = ${id}`
    return true
  }).pipe(Effect.mapError(error("cannot redrive a dead letter")))

const lease = ({ error, leases, lockExpiration, pollInterval, sql }: Tables): Backend["lease"] => (name) =>
  holdLease({
    pollInterval,
    ttl: lockExpiration,
    acquire: (holder, expiresAt) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql<{ readonly holder: string }>`
          INSERT INTO ${leases} (queue_name, holder, expires_at) VALUES (${name}, ${holder}, ${expiresAt})
          ON CONFLICT (queue_name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
          WHERE ${leases}.expires_at < ${now}
          RETURNING holder
        `).pipe(
          Effect.map((rows) => rows.some((row) => row.holder === holder)),
          Effect.mapError(error("cannot take the replay lease"))
        ),
    refresh: (holder, expiresAt) =>
      sql<{ readonly holder: string }>`
        UPDATE ${leases} SET expires_at = ${expiresAt} WHERE queue_name = ${name} AND holder = ${holder}
        RETURNING holder
      `.pipe(Effect.map((rows) => rows.length > 0), Effect.mapError(error("cannot refresh the replay lease"))),
    release: (holder) =>
      sql`DELETE FROM ${leases} WHERE queue_name = ${name} AND holder = ${holder}`.pipe(
        Effect.asVoid,
        Effect.mapError(error("cannot release the replay lease"))
      )
  })

// Under the lease nobody else delivers: an entry still marked as taken was left by a dead consumer.
const recover = ({ error, sql, table }: Tables) => (name: string) =>
  sql`
    UPDATE ${table} SET acquired_at = NULL, acquired_by = NULL
    WHERE queue_name = ${name} AND completed = FALSE AND acquired_by IS NOT NULL
  `.pipe(Effect.asVoid, Effect.mapError(error("cannot recover entries left in delivery")))

const prune = ({ error, sql, table }: Tables) => (name: string) =>
  sql`DELETE FROM ${table} WHERE queue_name = ${name} AND completed = TRUE`.pipe(
    Effect.asVoid,
    Effect.mapError(error("cannot prune delivered entries"))
  )

/** Where a SQL store lives and who reports its errors. */
export interface SqlStoreOf {
  readonly store: "sqlite" | "sql"
  /** Where the store lives, for its errors, given its table. */
  readonly location: (tableName: string) => string
  /** The function the user called, for option errors. */
  readonly module: string
  /** The client is the store's own: offers made together may share a transaction (`groupCommit`). */
  readonly ownClient: boolean
}

/** The SQL backend on the `SqlClient` in context. */
export const makeSqlBackend = (
  of: SqlStoreOf,
  options: SqlOptions | undefined
): Effect.Effect<Backend, DurableQueueError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const { lockExpiration, lockRefreshInterval, pollInterval } = commonOptions(of.module, options)
    const tableName = options?.tableName ?? defaultTableName
    if (!identifier.test(tableName)) {
      invalid(of.module, "tableName", "an SQL identifier (letters, digits, _; at most 41)", tableName)
    }
    const location = of.location(tableName)
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    if (!sql.onDialectOrElse({ sqlite: () => true, pg: () => true, orElse: () => false })) {
      return yield* new DurableQueueError({
        message: `DurableQueue supports the SQLite and Postgres dialects of @effect/sql (${location})`,
        store: of.store,
        location
      })
    }
    const error = storeErrors(of.store, location)
    const store = yield* SqlPersistedQueue.make({ tableName, pollInterval, lockExpiration, lockRefreshInterval }).pipe(
      Effect.mapError(error("cannot open the queue table"))
    )
    const persisted = of.ownClient ? { ...store, offer: groupCommit(sql, store.offer) } : store
    const tables: Tables = {
      sql,
      tableName,
      table: sql(tableName),
      dead: sql(`${tableName}_dead`),
      leases: sql(`${tableName}_lease`),
      error,
      persisted,
      pollInterval,
      lockExpiration
    }
    yield* openTables(tables)
    return {
      store: of.store,
      location,
      persisted,
      takeTimeout: lockExpiration,
      size: size(tables),
      keepFirst: keepFirst(tables),
      completed: () => Effect.void,
      deadLetter: deadLetter(tables),
      deadLetters: deadLetters(tables),
      redrive: redrive(tables),
      lease: lease(tables),
      recover: recover(tables),
      prune: prune(tables)
    } satisfies Backend
  })

/** @internal */
export const layerSql = (options?: SqlOptions): Layer.Layer<Store, DurableQueueError, SqlClient.SqlClient> =>
  Layer.scoped(
    Store,
    Effect.suspend(() =>
      makeSqlBackend(
        { store: "sql", location: (table) => `table ${table}`, module: "DurableQueue.layerSql", ownClient: false },
        options
      ).pipe(
        // A driver that throws is the store failing to open; only the user's own bad option stays a defect.
        Effect.catchAllDefect((defect) =>
          defect instanceof Error && (defect as { _tag?: unknown })._tag === "InvalidOptionError"
            ? Effect.die(defect)
            : Effect.fail(
              storeErrors("sql", `table ${options?.tableName ?? defaultTableName}`)("cannot open the queue")(defect)
            )
        )
      )
    )
  )
