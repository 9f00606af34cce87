import type { Fallback } from "@effect-resilience/core"
import { InvalidOptionError, Metrics } from "@effect-resilience/core"
import { DurableQueue } from "@effect-resilience/platform"
import { DurableQueue as RedisQueue } from "@effect-resilience/platform/redis"
import { DurableQueue as SqlQueue } from "@effect-resilience/platform/sql"
import { DurableQueue as SqliteQueue } from "@effect-resilience/platform/sqlite"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import { Redis } from "ioredis"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const run = `${process.pid}_${Date.now().toString(36)}`
let counter = 0
const uniqueName = (prefix: string) => `${prefix}-${run}-${++counter}`

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "durable-queue-"))
const pgTable = `dq_test_${run}`
const redisPrefix = `dq-test:${run}:`

const pgClient = PgClient.layer({ host: "127.0.0.1", port: 5432, username: "postgres", database: "postgres" })

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true })
  await Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const table of [pgTable, `${pgTable}_dead`, `${pgTable}_lease`]) {
        yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
      }
    }).pipe(Effect.provide(pgClient), Effect.scoped)
  )
  const redis = new Redis({ host: "127.0.0.1", port: 6379 })
  const keys = await redis.keys(`${redisPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

interface StoreCase {
  readonly label: string
  /** A fresh layer on the same storage each call: a new process, as far as the queue can tell. */
  readonly layer: () => Layer.Layer<DurableQueue.Store, DurableQueue.DurableQueueError>
}

const sqliteFile = path.join(dir, "queue.db")
const stores: ReadonlyArray<StoreCase> = [
  { label: "sqlite", layer: () => SqliteQueue.layerSqlite({ filename: sqliteFile }) },
  {
    label: "postgres",
    layer: () => SqlQueue.layerSql({ tableName: pgTable }).pipe(Layer.provide(pgClient), Layer.orDie)
  },
  { label: "redis", layer: () => RedisQueue.layerRedis({ host: "127.0.0.1", port: 6379, prefix: redisPrefix }) }
]

const Entry = Schema.Struct({ n: Schema.Number, label: Schema.String })
type Entry = typeof Entry.Type

class Down extends Data.TaggedError("Down")<{ readonly message: string }> {}

const counterOf = (metric: typeof Metrics.writeBehindEnqueued, name: string) =>
  Metric.value(metric.pipe(Metric.tagged("dependency", name))).pipe(Effect.map((s) => s.count))
const depthOf = (name: string) =>
  Metric.value(Metrics.writeBehindQueueDepth.pipe(Metric.tagged("dependency", name))).pipe(Effect.map((s) => s.value))

const entries = (n: number, label = "e"): ReadonlyArray<Entry> =>
  Array.from({ length: n }, (_, i) => ({ n: i + 1, label: `${label}${i + 1}` }))

type Seen = { readonly entry: Entry; readonly id: string; readonly attempts: number }

/** A handler recording what it sees, failing while `failing(entry, attempts)` holds. */
const recorder = (failing: (entry: Entry, attempts: number) => boolean = () => false) => {
  const seen: Array<Seen> = []
  const f = (entry: Entry, delivery: Fallback.WriteBehindQueue.Delivery) =>
    Effect.suspend(() => {
      seen.push({ entry, id: delivery.id, attempts: delivery.attempts })
      return failing(entry, delivery.attempts)
        ? Effect.fail(new Down({ message: `down for ${entry.label}` }))
        : Effect.void
    })
  return { seen, f }
}

for (const store of stores) {
  describe(`DurableQueue on ${store.label}`, () => {
    const provide = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, store.layer())

    it.scopedLive("replays oldest first, each entry once, with a stable id and attempts 1; metrics count it", () =>
      Effect.gen(function*() {
        const name = uniqueName("order")
        const queue = yield* DurableQueue.make({ name, schema: Entry })
        for (const entry of entries(5)) yield* queue.offer(entry)
        assert.strictEqual(yield* queue.size, 5)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindEnqueued, name), 5)
        assert.strictEqual(yield* depthOf(name), 5)
        const { f, seen } = recorder()
        assert.strictEqual(yield* queue.replay(f), 5)
        assert.deepStrictEqual(seen.map((s) => s.entry.n), [1, 2, 3, 4, 5])
        assert.deepStrictEqual(seen.map((s) => s.attempts), [1, 1, 1, 1, 1])
        assert.strictEqual(new Set(seen.map((s) => s.id)).size, 5)
        assert.strictEqual(yield* queue.size, 0)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindReplayed, name), 5)
        assert.strictEqual(yield* depthOf(name), 0)
        assert.strictEqual(yield* queue.replay(f), 0)
      }).pipe(provide))

    it.scopedLive("a failed delivery stops the replay and stays first, even when later entries are seconds younger", () =>
      Effect.gen(function*() {
        const name = uniqueName("head")
        const queue = yield* DurableQueue.make({ name, schema: Entry })
        // The SQL store orders by a whole-second `updated_at` it stamps on failure: spread offers and the
        // failure over distinct seconds so a store that lets the failed entry fall behind is caught.
        yield* queue.offer({ n: 1, label: "a" })
        yield* Effect.sleep("1100 millis")
        yield* queue.offer({ n: 2, label: "b" })
        yield* queue.offer({ n: 3, label: "c" })
        yield* Effect.sleep("1100 millis")
        const first = recorder((entry) => entry.label === "a")
        const failure = yield* Effect.flip(queue.replay(first.f))
        assert.strictEqual(failure._tag, "Down")
        assert.deepStrictEqual(first.seen.map((s) => s.entry.label), ["a"])
        assert.strictEqual(yield* queue.size, 3)
        const second = recorder()
        assert.strictEqual(yield* queue.replay(second.f), 3)
        assert.deepStrictEqual(second.seen.map((s) => s.entry.label), ["a", "b", "c"])
        assert.strictEqual(second.seen[0]!.id, first.seen[0]!.id, "the id is stable across redeliveries")
        assert.deepStrictEqual(second.seen.map((s) => s.attempts), [2, 1, 1])
      }).pipe(provide))

    it.scopedLive("a poison entry is dead-lettered after maxAttempts, later entries proceed, redrive re-queues it", () =>
      Effect.gen(function*() {
        const name = uniqueName("poison")
        const queue = yield* DurableQueue.make({ name, schema: Entry, maxAttempts: 3 })
        yield* queue.offer({ n: 1, label: "poison" })
        yield* queue.offer({ n: 2, label: "x" })
        yield* queue.offer({ n: 3, label: "y" })
        const handler = recorder((entry) => entry.label === "poison")
        for (let attempt = 1; attempt <= 2; attempt++) {
          const exit = yield* Effect.exit(queue.replay(handler.f))
          assert.isTrue(Exit.isFailure(exit))
        }
        assert.strictEqual(yield* counterOf(Metrics.writeBehindDeadLettered, name), 0)
        assert.strictEqual(yield* queue.replay(handler.f), 2)
        assert.deepStrictEqual(
          handler.seen.map((s) => `${s.entry.label}@${s.attempts}`),
          ["poison@1", "poison@2", "poison@3", "x@1", "y@1"]
        )
        assert.strictEqual(yield* queue.size, 0)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindDeadLettered, name), 1)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindReplayed, name), 2)
        const letters = yield* queue.deadLetters
        assert.strictEqual(letters.length, 1)
        assert.strictEqual(letters[0]!.id, handler.seen[0]!.id)
        assert.deepStrictEqual(letters[0]!.entry, { n: 1, label: "poison" })
        assert.strictEqual(letters[0]!.attempts, 3)
        assert.include(letters[0]!.error, "down for poison")
        assert.notInclude(letters[0]!.error, "[object Object]")

        // Redrive: back at the tail, attempts from 0, same id.
        yield* queue.offer({ n: 4, label: "z" })
        yield* queue.redrive(letters[0]!.id)
        assert.deepStrictEqual(yield* queue.deadLetters, [])
        assert.strictEqual(yield* queue.size, 2)
        const after = recorder()
        assert.strictEqual(yield* queue.replay(after.f), 2)
        assert.deepStrictEqual(after.seen.map((s) => `${s.entry.label}@${s.attempts}`), ["z@1", "poison@1"])
        assert.strictEqual(after.seen[1]!.id, letters[0]!.id)

        const unknown = yield* Effect.flip(queue.redrive("no-such-id"))
        assert.strictEqual(unknown._tag, "WriteBehindError")
        assert.include(unknown.message, "no-such-id")
      }).pipe(provide))

    it.scopedLive("an entry the dependency rejects is dead-lettered at once with its error; later ones are delivered in the same pass", () =>
      Effect.gen(function*() {
        const name = uniqueName("rejected")
        const queue = yield* DurableQueue.make({ name, schema: Entry, maxAttempts: 10 })
        for (const label of ["a", "refused", "b"]) yield* queue.offer({ n: 1, label })
        const handler = recorder((entry) => entry.label === "refused")
        // Only the refusal is a rejection: an outage (a `Down` with another message) still stops the replay.
        const rejected = (error: Down) => error.message === "down for refused"
        assert.strictEqual(yield* queue.replay(handler.f, { rejected }), 2)
        assert.deepStrictEqual(handler.seen.map((s) => `${s.entry.label}@${s.attempts}`), ["a@1", "refused@1", "b@1"])
        assert.strictEqual(yield* queue.size, 0)
        const letters = yield* queue.deadLetters
        assert.deepStrictEqual(letters.map((l) => [l.entry.label, l.attempts]), [["refused", 1]])
        assert.include(letters[0]!.error, "down for refused")
        assert.strictEqual(yield* counterOf(Metrics.writeBehindDeadLettered, name), 1)
        // A `rejected` that throws says "not a rejection": the entry stays, the replay stops at it.
        yield* queue.offer({ n: 2, label: "refused" })
        const exit = yield* Effect.exit(queue.replay(handler.f, {
          rejected: () => {
            throw new Error("broken predicate")
          }
        }))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(yield* queue.size, 1)
      }).pipe(provide))

    it.scopedLive("a full queue refuses offer with WriteBehindError and counts it", () =>
      Effect.gen(function*() {
        const name = uniqueName("full")
        const queue = yield* DurableQueue.make({ name, schema: Entry, capacity: 2 })
        yield* queue.offer({ n: 1, label: "a" })
        yield* queue.offer({ n: 2, label: "b" })
        const refused = yield* Effect.flip(queue.offer({ n: 3, label: "c" }))
        assert.strictEqual(refused._tag, "WriteBehindError")
        assert.include(refused.message, "full")
        assert.strictEqual(yield* queue.size, 2)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindRejected, name), 1)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindEnqueued, name), 2)
        const { f, seen } = recorder()
        assert.strictEqual(yield* queue.replay(f), 2)
        assert.deepStrictEqual(seen.map((s) => s.entry.label), ["a", "b"])
        yield* queue.offer({ n: 3, label: "c" })
        assert.strictEqual(yield* queue.size, 1)
      }).pipe(provide))

    it.scopedLive("an entry the schema rejects fails offer with a WriteBehindError naming the field; nothing is kept", () =>
      Effect.gen(function*() {
        const name = uniqueName("schema")
        const queue = yield* DurableQueue.make({ name, schema: Entry })
        const error = yield* Effect.flip(queue.offer({ n: "one", label: "a" } as unknown as Entry))
        assert.strictEqual(error._tag, "WriteBehindError")
        assert.include(error.message, "n")
        assert.include(error.message, "Expected number")
        assert.strictEqual(yield* queue.size, 0)
        assert.strictEqual(yield* counterOf(Metrics.writeBehindEnqueued, name), 0)
      }).pipe(provide))

    it.scopedLive("entries survive the store being closed and opened again (a new process)", () =>
      Effect.gen(function*() {
        const name = uniqueName("reopen")
        yield* Effect.scoped(
          Effect.gen(function*() {
            const queue = yield* DurableQueue.make({ name, schema: Entry })
            for (const entry of entries(3)) yield* queue.offer(entry)
          }).pipe(provide)
        )
        const { f, seen } = recorder()
        const replayed = yield* Effect.scoped(
          Effect.gen(function*() {
            const queue = yield* DurableQueue.make({ name, schema: Entry })
            assert.strictEqual(yield* depthOf(name), 3, "the depth gauge starts at what the store holds")
            return yield* queue.replay(f)
          }).pipe(provide)
        )
        assert.strictEqual(replayed, 3)
        assert.deepStrictEqual(seen.map((s) => s.entry.n), [1, 2, 3])
      }))

    it.scopedLive("an interrupted delivery is not an attempt and keeps its place", () =>
      Effect.gen(function*() {
        const name = uniqueName("interrupt")
        const queue = yield* DurableQueue.make({ name, schema: Entry })
        for (const entry of entries(3)) yield* queue.offer(entry)
        const fiber = yield* Effect.fork(queue.replay(() => Effect.never))
        yield* Effect.sleep("300 millis")
        yield* Fiber.interrupt(fiber)
        const { f, seen } = recorder()
        assert.strictEqual(yield* queue.replay(f), 3)
        assert.deepStrictEqual(seen.map((s) => `${s.entry.n}@${s.attempts}`), ["1@1", "2@1", "3@1"])
      }).pipe(provide))

    it.scopedLive("two instances replaying one queue at once deliver each entry once, in order", () =>
      Effect.gen(function*() {
        const name = uniqueName("instances")
        // Two layers: two connections / store instances, as two processes would have.
        const one = yield* DurableQueue.make({ name, schema: Entry }).pipe(
          Effect.provide(yield* Layer.build(store.layer()))
        )
        const two = yield* DurableQueue.make({ name, schema: Entry }).pipe(
          Effect.provide(yield* Layer.build(store.layer()))
        )
        for (const entry of entries(10)) yield* (entry.n % 2 === 0 ? one : two).offer(entry)
        const order: Array<number> = []
        const f = (entry: Entry) =>
          Effect.sync(() => order.push(entry.n)).pipe(Effect.zipRight(Effect.sleep("5 millis")))
        const [a, b] = yield* Effect.all([one.replay(f), two.replay(f)], { concurrency: 2 })
        assert.strictEqual(a + b, 10)
        assert.deepStrictEqual(order, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      }))

    it.effect("bad options are an InvalidOptionError naming the option", () =>
      Effect.gen(function*() {
        for (
          const [options, option] of [
            [{ name: "q", schema: Entry, maxAttempts: 0 }, "maxAttempts"],
            [{ name: "q", schema: Entry, maxAttempts: 1.5 }, "maxAttempts"],
            [{ name: "q", schema: Entry, capacity: -1 }, "capacity"],
            [{ name: "", schema: Entry }, "name"],
            [{ name: "q", schema: "nope" }, "schema"]
          ] as const
        ) {
          const exit = yield* Effect.exit(
            DurableQueue.make(options as unknown as DurableQueue.Options<Entry, Entry, never>).pipe(
              Effect.provideService(DurableQueue.Store, {} as any),
              Effect.scoped
            )
          )
          assert.isTrue(Exit.isFailure(exit))
          const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
          assert.instanceOf(defect, InvalidOptionError)
          assert.strictEqual((defect as InvalidOptionError).option, option)
        }
      }))
  })
}

describe("DurableQueue.layerSqlite", () => {
  it.effect("a corrupt database file fails the layer with a DurableQueueError naming it", () =>
    Effect.gen(function*() {
      const filename = path.join(dir, "corrupt.db")
      fs.writeFileSync(
        filename,
        "this is not a sqlite database, but a text file long enough to look like one".repeat(100)
      )
      const error = yield* Effect.flip(Effect.scoped(Layer.build(SqliteQueue.layerSqlite({ filename }))))
      assert.strictEqual(error._tag, "DurableQueueError")
      assert.strictEqual(error.store, "sqlite")
      assert.include(error.message, filename)
      assert.include(error.location, filename)
    }))

  it.effect("a database whose pages are damaged fails the layer, never opens as an empty queue", () =>
    Effect.gen(function*() {
      const filename = path.join(dir, "damaged.db")
      const name = uniqueName("damaged")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const queue = yield* DurableQueue.make({ name, schema: Entry })
          for (const entry of entries(200, "a fairly long label to fill a few pages ")) yield* queue.offer(entry)
        }).pipe(Effect.provide(SqliteQueue.layerSqlite({ filename, synchronous: "full" })))
      )
      // Checkpointed on close (WAL folded into the file); now overwrite a page in the middle.
      const fd = fs.openSync(filename, "r+")
      const size = fs.fstatSync(fd).size
      assert.isAbove(size, 4096 * 4)
      fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 2)
      fs.closeSync(fd)
      const error = yield* Effect.flip(Effect.scoped(Layer.build(SqliteQueue.layerSqlite({ filename }))))
      assert.strictEqual(error._tag, "DurableQueueError")
      assert.include(error.message, filename)
    }))

  it.scopedLive("offers made together are committed together: one that fails fails its group, none of it is kept", () =>
    Effect.gen(function*() {
      const filename = path.join(dir, "group.db")
      const name = uniqueName("group")
      const context = yield* Layer.build(SqliteQueue.layerSqlite({ filename, tableName: "grouped" }))
      const queue = yield* DurableQueue.make({ name, schema: Entry }).pipe(Effect.provide(context))
      // A second connection makes one entry fail to insert, as a full disk or a constraint would.
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(
          `CREATE TRIGGER poison BEFORE INSERT ON grouped WHEN NEW.element LIKE '%poison%'
           BEGIN SELECT RAISE(ABORT, 'poisoned'); END`
        )
      }).pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.scoped)
      // Ten offers at once, the fifth poisoned: they are one group, one transaction, and all fail.
      const together = entries(10).map((e) => e.n === 5 ? { ...e, label: "poison" } : e)
      const exits = yield* Effect.forEach(together, (e) => Effect.exit(queue.offer(e)), { concurrency: "unbounded" })
      assert.deepStrictEqual(exits.map((exit) => exit._tag), Array.from({ length: 10 }, () => "Failure"))
      const error = Cause.failureOption((exits[0] as Exit.Failure<void, Fallback.WriteBehindError>).cause)
      assert.strictEqual(error._tag === "Some" && error.value._tag, "WriteBehindError")
      assert.include(error._tag === "Some" ? error.value.message : "", "poisoned")
      assert.strictEqual(yield* queue.size, 0)
      // Ten more at once, none poisoned: all kept, in the order they were offered; and one alone.
      yield* Effect.forEach(entries(10, "b"), (e) => queue.offer(e), { concurrency: "unbounded", discard: true })
      yield* queue.offer({ n: 11, label: "alone" })
      const { f, seen } = recorder()
      assert.strictEqual(yield* queue.replay(f), 11)
      assert.deepStrictEqual(seen.map((s) => s.entry.label), [...entries(10, "b").map((e) => e.label), "alone"])
    }))

  it.scopedLive("a new file is created in WAL mode with 2 KB pages; an existing file keeps its page size", () =>
    Effect.gen(function*() {
      const pragmas = (filename: string) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [page] = yield* sql.unsafe<{ readonly page_size: number }>("PRAGMA page_size")
          const [mode] = yield* sql.unsafe<{ readonly journal_mode: string }>("PRAGMA journal_mode")
          return { pageSize: page!.page_size, journalMode: mode!.journal_mode }
        }).pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.scoped)
      const fresh = path.join(dir, "fresh.db")
      const name = uniqueName("pages")
      yield* Effect.scoped(
        Effect.flatMap(DurableQueue.make({ name, schema: Entry }), (queue) => queue.offer({ n: 1, label: "a" })).pipe(
          Effect.provide(SqliteQueue.layerSqlite({ filename: fresh }))
        )
      )
      assert.deepStrictEqual(yield* pragmas(fresh), { pageSize: 2048, journalMode: "wal" })
      // A file made elsewhere, with SQLite's default 4 KB pages: opened as it is, and it works.
      const existing = path.join(dir, "existing.db")
      yield* Effect.scoped(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("CREATE TABLE other (x INTEGER)")).pipe(
          Effect.provide(SqliteClient.layer({ filename: existing }))
        )
      )
      assert.strictEqual((yield* pragmas(existing)).pageSize, 4096)
      const { f, seen } = recorder()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const queue = yield* DurableQueue.make({ name, schema: Entry })
          yield* queue.offer({ n: 1, label: "a" })
          yield* queue.offer({ n: 2, label: "b" })
          assert.strictEqual(yield* queue.replay(f), 2)
        }).pipe(Effect.provide(SqliteQueue.layerSqlite({ filename: existing })))
      )
      assert.deepStrictEqual(seen.map((s) => s.entry.label), ["a", "b"])
      assert.deepStrictEqual(yield* pragmas(existing), { pageSize: 4096, journalMode: "wal" })
    }))

  it.scopedLive("the store's take finds the oldest entry through the head index, without sorting the queue", () =>
    Effect.gen(function*() {
      const filename = path.join(dir, "plan.db")
      const name = uniqueName("plan")
      yield* Effect.scoped(
        Effect.flatMap(
          DurableQueue.make({ name, schema: Entry }),
          (queue) => Effect.forEach(entries(50), (e) => queue.offer(e), { discard: true })
        ).pipe(
          Effect.provide(SqliteQueue.layerSqlite({ filename, tableName: "planned" }))
        )
      )
      // @effect/sql's SqlPersistedQueue take on SQLite, as it runs it: without statistics SQLite
      // answers it from the `_take` index and a sort of every live entry (quadratic replay).
      const plan = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe<{ readonly detail: string }>(
          `EXPLAIN QUERY PLAN
           UPDATE planned SET acquired_at = CURRENT_TIMESTAMP, acquired_by = 'worker'
           WHERE queue_name = ? AND completed = FALSE AND attempts < 10
           AND (acquired_at IS NULL OR acquired_at < CURRENT_TIMESTAMP)
           RETURNING sequence, id, queue_name, element, attempts
           ORDER BY updated_at ASC, sequence ASC LIMIT 1`,
          [name]
        )).pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.scoped)
      const details = plan.map((row) => row.detail).join("\n")
      assert.include(details, "idx_planned_head")
      assert.notInclude(details, "TEMP B-TREE")
    }))

  it.effect("a path that cannot be opened fails the layer with a DurableQueueError naming it", () =>
    Effect.gen(function*() {
      const filename = path.join(dir, "no-such-dir", "queue.db")
      const error = yield* Effect.flip(Effect.scoped(Layer.build(SqliteQueue.layerSqlite({ filename }))))
      assert.strictEqual(error._tag, "DurableQueueError")
      assert.include(error.message, filename)
    }))
})

describe("DurableQueue.layerRedis", () => {
  it.live("Redis not answering fails the layer with a DurableQueueError naming the address", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(
          Layer.build(
            RedisQueue.layerRedis({ host: "127.0.0.1", port: 1, connectTimeout: 500, retryStrategy: () => null })
          )
        )
      )
      assert.strictEqual(error._tag, "DurableQueueError")
      assert.include(error.message, "127.0.0.1:1")
    }))
})
