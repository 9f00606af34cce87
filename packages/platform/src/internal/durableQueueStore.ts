/**
 * The stores under `DurableQueue`: `@effect/experimental`'s `PersistedQueue`
 * stores (`@effect/sql`'s SQL store, the Redis store), plus what the
 * write-behind contract needs and `PersistedQueue` does not offer — a live
 * count, dead letters, a replay lease shared by every instance, and the
 * repair of the head of the queue after a failed delivery (both stores put
 * a failed entry behind later ones).
 *
 * @internal
 */
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import type * as RedisPersistedQueue from "@effect/experimental/PersistedQueue/Redis"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlPersistedQueue from "@effect/sql/SqlPersistedQueue"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import { DurableQueueError } from "./durableQueueError.js"
import { fail as invalid, optionalDuration } from "./options.js"
import * as peers from "./peers.js"

/** A dead letter as stored: the encoded entry. */
export interface StoredDeadLetter {
  readonly id: string
  readonly element: unknown
  readonly attempts: number
  readonly error: string
}

/** The replay lease of one queue, held until its scope closes. */
export interface Lease {
  /** True once a refresh found the lease taken over (this holder stalled past its expiry). */
  readonly lost: Effect.Effect<boolean>
}

/** What `DurableQueue.make` needs from a store. */
export interface Backend {
  readonly store: DurableQueueError["store"]
  readonly location: string
  readonly persisted: PersistedQueue.PersistedQueueStore["Type"]
  /** How long a take may wait for an entry the count says is there. */
  readonly takeTimeout: Duration.Duration
  /** Live entries: waiting or being delivered, dead letters excluded. */
  readonly size: (name: string) => Effect.Effect<number, DurableQueueError>
  /** Puts `id` back at the head after a failed or interrupted delivery (the store requeued it behind later ones). */
  readonly keepFirst: (name: string, id: string) => Effect.Effect<void, DurableQueueError>
  /** Bookkeeping after an entry left the live queue. */
  readonly completed: (name: string, id: string) => Effect.Effect<void, DurableQueueError>
  /** Records a dead letter (idempotent by id); the caller then completes the live entry. */
  readonly deadLetter: (name: string, letter: StoredDeadLetter) => Effect.Effect<void, DurableQueueError>
  readonly deadLetters: (name: string) => Effect.Effect<ReadonlyArray<StoredDeadLetter>, DurableQueueError>
  /** Re-queues a dead letter at the tail, attempts 0, same id; false when there is no such dead letter. */
  readonly redrive: (name: string, id: string) => Effect.Effect<boolean, DurableQueueError>
  /** Waits for the queue's replay lease (one replay at a time across every instance sharing the store). */
  readonly lease: (name: string) => Effect.Effect<Lease, DurableQueueError, Scope.Scope>
  /** Under the lease: entries a dead consumer held go back to the head. */
  readonly recover: (name: string) => Effect.Effect<void, DurableQueueError>
  /** Drops what the store keeps of delivered entries. */
  readonly prune: (name: string) => Effect.Effect<void, DurableQueueError>
}

/**
 * The store of `DurableQueue.make`: provided by `layerSqlite`, `layerSql`
 * or `layerRedis`.
 *
 * @internal
 */
export class Store extends Context.Tag("@effect-resilience/platform/DurableQueue/Store")<Store, Backend>() {}

/** Options common to every store. */
export interface CommonOptions {
  readonly pollInterval?: Duration.DurationInput | undefined
  readonly lockExpiration?: Duration.DurationInput | undefined
}

const defaults = {
  pollInterval: Duration.millis(100),
  lockExpiration: Duration.seconds(30)
}

const commonOptions = (module: string, options: CommonOptions | undefined) => {
  const pollInterval = optionalDuration(module, "pollInterval", options?.pollInterval) ?? defaults.pollInterval
  const lockExpiration = optionalDuration(module, "lockExpiration", options?.lockExpiration) ?? defaults.lockExpiration
  if (Duration.toMillis(lockExpiration) < 3000) {
    invalid(module, "lockExpiration", "at least 3 seconds", options?.lockExpiration)
  }
  return { pollInterval, lockExpiration }
}

const describe = (cause: unknown): string => {
  if (Cause.isCause(cause)) return describe(Cause.squash(cause))
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause
    return inner !== undefined && inner !== cause ? `${cause.message} (${describe(inner)})` : cause.message
  }
  return String(cause)
}

// Waits for the lease, then keeps it fresh until the scope closes.
const holdLease = (options: {
  readonly acquire: (holder: string, expiresAt: number) => Effect.Effect<boolean, DurableQueueError>
  readonly refresh: (holder: string, expiresAt: number) => Effect.Effect<boolean, DurableQueueError>
  readonly release: (holder: string) => Effect.Effect<void, DurableQueueError>
  readonly pollInterval: Duration.Duration
  readonly ttl: Duration.Duration
}): Effect.Effect<Lease, DurableQueueError, Scope.Scope> =>
  Effect.gen(function*() {
    const holder = crypto.randomUUID()
    const ttl = Duration.toMillis(options.ttl)
    const expiry = Effect.map(Clock.currentTimeMillis, (now) => now + ttl)
    yield* Effect.acquireRelease(
      Effect.flatMap(expiry, (at) => options.acquire(holder, at)).pipe(
        Effect.repeat({ until: (acquired) => acquired, schedule: Schedule.spaced(options.pollInterval) })
      ),
      () => Effect.ignore(options.release(holder))
    )
    const lost = yield* Ref.make(false)
    yield* Effect.flatMap(expiry, (at) => options.refresh(holder, at)).pipe(
      Effect.flatMap((kept) => kept ? Effect.void : Ref.set(lost, true)),
      Effect.catchAll((error) => Effect.logWarning("DurableQueue: could not refresh the replay lease", error)),
      Effect.repeat(Schedule.spaced(Duration.millis(ttl / 3))),
      Effect.interruptible,
      Effect.forkScoped
    )
    return { lost: Ref.get(lost) }
  })

// ---------------------------------------------------------------------------
// SQL (SQLite, Postgres): `@effect/sql`'s SqlPersistedQueue
// ---------------------------------------------------------------------------

/** Options of `layerSql`. */
export interface SqlOptions extends CommonOptions {
  readonly tableName?: string | undefined
}

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
const groupCommit = (sql: SqlClient.SqlClient, offer: Offer): Offer => {
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
              : new PersistedQueue.PersistedQueueError({
                message: `cannot commit the offers: ${describe(cause)}`,
                cause
              })
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

const makeSqlBackend = (
  store: "sqlite" | "sql",
  location: (table: string) => string,
  options: SqlOptions | undefined,
  module: string,
  ownClient = false
): Effect.Effect<Backend, DurableQueueError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const { lockExpiration, pollInterval } = commonOptions(module, options)
    const tableName = options?.tableName ?? "effect_resilience_queue"
    if (!identifier.test(tableName)) {
      invalid(module, "tableName", "an SQL identifier (letters, digits, _; at most 41)", tableName)
    }
    const where = location(tableName)
    const error = (message: string) => (cause: unknown) =>
      new DurableQueueError({ message: `${message} (${where}): ${describe(cause)}`, store, location: where, cause })
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const supported = sql.onDialectOrElse({
      sqlite: () => true,
      pg: () => true,
      orElse: () => false
    })
    if (!supported) {
      return yield* new DurableQueueError({
        message: `DurableQueue supports the SQLite and Postgres dialects of @effect/sql (${where})`,
        store,
        location: where
      })
    }
    const store_ = yield* SqlPersistedQueue.make({
      tableName,
      pollInterval,
      lockExpiration,
      lockRefreshInterval: Duration.millis(Duration.toMillis(lockExpiration) / 3)
    }).pipe(Effect.mapError(error("cannot open the queue table")))
    const persisted = ownClient ? { ...store_, offer: groupCommit(sql, store_.offer) } : store_

    const table = sql(tableName)
    const dead = sql(`${tableName}_dead`)
    const leases = sql(`${tableName}_lease`)
    yield* sql.onDialectOrElse({
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
    }).pipe(
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
      // Reads every column the queue relies on: a table of another shape fails here, not at the first replay.
      Effect.zipRight(
        sql`SELECT sequence, id, queue_name, element, completed, attempts, acquired_at, acquired_by, created_at, updated_at FROM ${table} WHERE 1 = 0`
      ),
      Effect.zipRight(sql`SELECT sequence, queue_name, id, element, attempts, error, dead_at FROM ${dead} WHERE 1 = 0`),
      Effect.mapError(error("cannot open the queue table"))
    )

    const size = (name: string) =>
      sql<{ readonly n: number | string }>`
        SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${table} WHERE queue_name = ${name} AND completed = FALSE
      `.pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)), Effect.mapError(error("cannot count the queue")))

    return {
      store,
      location: where,
      persisted,
      takeTimeout: lockExpiration,
      size,
      // The store stamps a failed entry's `updated_at` (whole seconds) and orders by it first: restore its place.
      keepFirst: (name, id) =>
        sql`UPDATE ${table} SET updated_at = created_at WHERE id = ${id} AND queue_name = ${name}`.pipe(
          Effect.asVoid,
          Effect.mapError(error("cannot keep the entry first"))
        ),
      completed: () => Effect.void,
      deadLetter: (name, letter) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          sql`
            INSERT INTO ${dead} (queue_name, id, element, attempts, error, dead_at)
            VALUES (${name}, ${letter.id}, ${
            JSON.stringify(letter.element)
          }, ${letter.attempts}, ${letter.error}, ${now})
            ON CONFLICT (queue_name, id) DO NOTHING
          `).pipe(Effect.asVoid, Effect.mapError(error("cannot record a dead letter"))),
      deadLetters: (name) =>
        sql<
          { readonly id: string; readonly element: string; readonly attempts: number | string; readonly error: string }
        >`
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
        ),
      redrive: (name, id) =>
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
        }).pipe(Effect.mapError(error("cannot redrive a dead letter"))),
      lease: (name) =>
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
        }),
      // Under the lease nobody else delivers: an entry still marked as taken was left by a dead consumer.
      recover: (name) =>
        sql`
          UPDATE ${table} SET acquired_at = NULL, acquired_by = NULL
          WHERE queue_name = ${name} AND completed = FALSE AND acquired_by IS NOT NULL
        `.pipe(Effect.asVoid, Effect.mapError(error("cannot recover entries left in delivery"))),
      prune: (name) =>
        sql`DELETE FROM ${table} WHERE queue_name = ${name} AND completed = TRUE`.pipe(
          Effect.asVoid,
          Effect.mapError(error("cannot prune delivered entries"))
        )
    } satisfies Backend
  })

/** @internal */
export const layerSql = (options?: SqlOptions): Layer.Layer<Store, DurableQueueError, SqlClient.SqlClient> =>
  Layer.scoped(
    Store,
    Effect.suspend(() =>
      makeSqlBackend("sql", (table) => `table ${table}`, options, "DurableQueue.layerSql").pipe(
        Effect.catchAllDefect((defect) =>
          defect instanceof Error && (defect as { _tag?: unknown })._tag === "InvalidOptionError"
            ? Effect.die(defect)
            : Effect.fail(
              new DurableQueueError({
                message: `cannot open the queue: ${describe(defect)}`,
                store: "sql",
                location: `table ${options?.tableName ?? "effect_resilience_queue"}`,
                cause: defect
              })
            )
        )
      )
    )
  )

/** Options of `layerSqlite`. */
export interface SqliteOptions extends SqlOptions {
  readonly filename: string
  /**
   * `"normal"` (the default): a commit survives the process being killed
   * (WAL); `"full"`: it also survives a power loss, at one fsync per offer.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

/** @internal */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<Store, DurableQueueError> =>
  Layer.scoped(
    Store,
    Effect.gen(function*() {
      const module = "DurableQueue.layerSqlite"
      if (options === null || typeof options !== "object") invalid(module, "options", "an object", options)
      const filename = options.filename
      if (typeof filename !== "string" || filename.trim() === "") {
        invalid(module, "filename", "a non-empty path", filename)
      }
      const synchronous = options.synchronous ?? "normal"
      if (synchronous !== "normal" && synchronous !== "full") {
        invalid(module, "synchronous", "\"normal\" or \"full\"", synchronous)
      }
      const where = `file ${filename}`
      const fail = (message: string) => (cause: unknown) =>
        new DurableQueueError({
          message: `${message} ${filename}: ${describe(cause)}`,
          store: "sqlite",
          location: where,
          cause
        })
      const SqliteClient = yield* peers.sqliteClient(module).pipe(
        Effect.mapError(fail("cannot open the queue database"))
      )
      // better-sqlite3 throws while opening a file that is not a database: a defect of `SqliteClient.make`.
      const client = yield* SqliteClient.make({ filename, disableWAL: true }).pipe(
        Effect.provide(Reactivity.layer),
        Effect.sandbox,
        Effect.mapError(fail("cannot open the queue database"))
      )
      const check = yield* client.unsafe<{ readonly quick_check: string }>("PRAGMA quick_check").pipe(
        // A new file gets 2 KB pages (SQLite's default is 4 KB): an offer commits six pages (the row,
        // four indexes, the sequence), each copied and checksummed into the WAL, and smaller pages
        // make that ~15 % cheaper for entries up to a few KB (bench/RESULTS-durable-queue.md). The
        // page size of an existing file cannot change: the pragma is a no-op there. WAL after it, as
        // the size is fixed once the file is in WAL mode.
        Effect.zipLeft(client.unsafe("PRAGMA page_size = 2048")),
        Effect.zipLeft(client.unsafe("PRAGMA journal_mode = WAL")),
        Effect.zipLeft(client.unsafe(`PRAGMA synchronous = ${synchronous.toUpperCase()}`)),
        Effect.mapError(fail("cannot read the queue database"))
      )
      const problems = check.map((row) => row.quick_check).filter((line) => line !== "ok")
      if (problems.length > 0) {
        return yield* new DurableQueueError({
          message: `the queue database ${filename} is corrupt: ${problems.slice(0, 3).join("; ")}`,
          store: "sqlite",
          location: where
        })
      }
      return yield* makeSqlBackend("sqlite", (table) => `${where}, table ${table}`, options, module, true).pipe(
        Effect.provideService(SqlClient.SqlClient, client)
      )
    })
  )

// ---------------------------------------------------------------------------
// Redis: `@effect/experimental`'s PersistedQueue/Redis
// ---------------------------------------------------------------------------

/** Options of `layerRedis`. */
export type RedisStoreOptions = RedisOptions & CommonOptions & {
  /** Prefix of every key of the queue (default `"effectq:"`, the store's). */
  readonly prefix?: string | undefined
  /** How long the layer waits for Redis to answer at start (default 5 s). */
  readonly connectTimeout?: number | undefined
}

const keepFirstScript = `
local key_queue = KEYS[1]
local id = ARGV[1]
local n = redis.call("LLEN", key_queue)
for i = 1, n do
  local payload = redis.call("LINDEX", key_queue, -i)
  if payload and cjson.decode(payload).id == id then
    if i == n then return 1 end
    redis.call("LREM", key_queue, -1, payload)
    redis.call("LPUSH", key_queue, payload)
    return 1
  end
end
return 0
`

const recoverScript = `
local key_queue = KEYS[1]
local key_pending = KEYS[2]
local prefix = ARGV[1]
local entries = redis.call("HGETALL", key_pending)
for i = 1, #entries, 2 do
  redis.call("DEL", prefix .. entries[i] .. ":lock")
  redis.call("HDEL", key_pending, entries[i])
  redis.call("LPUSH", key_queue, entries[i + 1])
end
return #entries / 2
`

const deadLetterScript = `
if redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call("RPUSH", KEYS[2], ARGV[1])
end
return 1
`

const dropDeadScript = `
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("LREM", KEYS[2], 0, ARGV[1])
return 1
`

const refreshScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`

const releaseScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`

/** @internal */
export const layerRedis = (options: RedisStoreOptions): Layer.Layer<Store, DurableQueueError> =>
  Layer.scoped(
    Store,
    Effect.gen(function*() {
      const module = "DurableQueue.layerRedis"
      if (options === null || typeof options !== "object") invalid(module, "options", "an object", options)
      const { lockExpiration, pollInterval } = commonOptions(module, options)
      const prefix = options.prefix ?? "effectq:"
      if (typeof prefix !== "string") invalid(module, "prefix", "a string", prefix)
      const { connectTimeout: _c, lockExpiration: _l, pollInterval: _p, prefix: _x, ...rest } = options
      const redisOptions = rest as RedisOptions
      const where = `redis ${options.host ?? "127.0.0.1"}:${options.port ?? 6379}, prefix ${prefix}`
      const error = (message: string) => (cause: unknown) =>
        new DurableQueueError({
          message: `${message} (${where}): ${describe(cause)}`,
          store: "redis",
          location: where,
          cause
        })
      const { Redis } = yield* peers.ioredis(module).pipe(Effect.mapError(error("cannot reach Redis")))
      const RedisQueue = yield* peers.redisPersistedQueue(module).pipe(Effect.mapError(error("cannot reach Redis")))
      const redis = yield* Effect.acquireRelease(
        // ioredis' own option types disagree under `exactOptionalPropertyTypes`.
        Effect.sync(() => new Redis({ ...redisOptions, lazyConnect: true, maxRetriesPerRequest: 3 } as any)),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      // Redis down at start fails the layer, naming where it looked.
      yield* Effect.tryPromise(() => redis.connect().then(() => redis.ping())).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(options.connectTimeout ?? 5000),
          onTimeout: () => new Error("no answer")
        }),
        Effect.mapError(error("cannot reach Redis"))
      )
      const persisted = yield* RedisQueue.make(
        {
          ...redisOptions,
          prefix,
          pollInterval,
          lockExpiration,
          lockRefreshInterval: Duration.millis(Duration.toMillis(lockExpiration) / 3)
        } as Parameters<typeof RedisPersistedQueue.make>[0]
      )
      const keys = (name: string) => ({
        queue: `${prefix}${name}`,
        pending: `${prefix}${name}:pending`,
        ids: `${prefix}${name}:ids`,
        dead: `${prefix}${name}:dead`,
        deadOrder: `${prefix}${name}:dead:order`,
        lease: `${prefix}${name}:replay`
      })
      const run = <A>(message: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: error(message) })
      return {
        store: "redis",
        location: where,
        persisted,
        takeTimeout: lockExpiration,
        size: (name) => {
          const k = keys(name)
          return run("cannot count the queue", () =>
            redis.multi().llen(k.queue).hlen(k.pending).exec().then((results) =>
              (results ?? []).reduce((n, [e, value]) => {
                if (e) {
                  throw e
                }
                return n + Number(value)
              }, 0)
            ))
        },
        // The store pushes a failed entry to the tail: move it back to the head.
        keepFirst: (name, id) =>
          Effect.asVoid(run("cannot keep the entry first", () =>
            redis.eval(keepFirstScript, 1, keys(name).queue, id))),
        // The store's ids set only deduplicates offers: an entry gone for good leaves it.
        completed: (name, id) =>
          Effect.asVoid(run("cannot complete an entry", () => redis.srem(keys(name).ids, id))),
        deadLetter: (name, letter) => {
          const k = keys(name)
          return Effect.flatMap(Clock.currentTimeMillis, (now) =>
            run("cannot record a dead letter", () =>
              redis.eval(
                deadLetterScript,
                2,
                k.dead,
                k.deadOrder,
                letter.id,
                JSON.stringify({ element: letter.element, attempts: letter.attempts, error: letter.error, at: now })
              ))).pipe(Effect.asVoid)
        },
        deadLetters: (name) => {
          const k = keys(name)
          return run("cannot read the dead letters", async () => {
            const ids = await redis.lrange(k.deadOrder, 0, -1)
            if (ids.length === 0) return []
            const payloads = await redis.hmget(k.dead, ...ids)
            const letters: Array<StoredDeadLetter> = []
            ids.forEach((id, i) => {
              const payload = payloads[i]
              if (payload == null) return
              const parsed = JSON.parse(payload) as { element: unknown; attempts: number; error: string }
              letters.push({ id, element: parsed.element, attempts: parsed.attempts, error: parsed.error })
            })
            return letters
          })
        },
        redrive: (name, id) => {
          const k = keys(name)
          return Effect.gen(function*() {
            const payload = yield* run("cannot read a dead letter", () => redis.hget(k.dead, id))
            if (payload === null) return false
            const parsed = JSON.parse(payload) as { element: unknown }
            // Live first, dead letter dropped last: a crash in between leaves a duplicate, never a loss.
            yield* run("cannot redrive a dead letter", () => redis.srem(k.ids, id))
            yield* persisted.offer({ name, id, element: parsed.element, isCustomId: true }).pipe(
              Effect.mapError(error("cannot redrive a dead letter"))
            )
            yield* run("cannot redrive a dead letter", () => redis.eval(dropDeadScript, 2, k.dead, k.deadOrder, id))
            return true
          })
        },
        lease: (name) => {
          const key = keys(name).lease
          const ttl = Duration.toMillis(lockExpiration)
          return holdLease({
            pollInterval,
            ttl: lockExpiration,
            acquire: (holder) =>
              run("cannot take the replay lease", () => redis.set(key, holder, "PX", ttl, "NX")).pipe(
                Effect.map((reply) => reply === "OK")
              ),
            refresh: (holder) =>
              run("cannot refresh the replay lease", () => redis.eval(refreshScript, 1, key, holder, ttl)).pipe(
                Effect.map((reply) => Number(reply) === 1)
              ),
            release: (holder) =>
              Effect.asVoid(run("cannot release the replay lease", () => redis.eval(releaseScript, 1, key, holder)))
          })
        },
        // Under the lease nobody else delivers: a pending entry was left by a dead consumer. Back to the head.
        recover: (name) => {
          const k = keys(name)
          return Effect.asVoid(
            run(
              "cannot recover entries left in delivery",
              () => redis.eval(recoverScript, 2, k.queue, k.pending, prefix)
            )
          )
        },
        prune: () => Effect.void
      } satisfies Backend
    })
  )
