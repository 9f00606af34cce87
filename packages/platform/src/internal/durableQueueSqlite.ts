/**
 * The embedded store of `DurableQueue`: the SQL store on a SQLite file of
 * its own (`@effect/sql-sqlite-node`, WAL), checked when it opens. Loaded by
 * the `/sqlite` subpath only: the SQLite driver is an optional peer.
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { DurableQueueError } from "./durableQueueError.js"
import { makeSqlBackend, type SqlOptions } from "./durableQueueSql.js"
import { Store, storeErrors } from "./durableQueueStore.js"
import { fail as invalid } from "./options.js"

/** Options of `layerSqlite`. */
export interface SqliteOptions extends SqlOptions {
  readonly filename: string
  /**
   * `"normal"` (the default): a commit survives the process being killed
   * (WAL); `"full"`: it also survives a power loss, at one fsync per offer.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

const module = "DurableQueue.layerSqlite"

const checkOptions = (options: SqliteOptions) => {
  if (options === null || typeof options !== "object") invalid(module, "options", "an object", options)
  const filename = options.filename
  if (typeof filename !== "string" || filename.trim() === "") {
    invalid(module, "filename", "a non-empty path", filename)
  }
  const synchronous = options.synchronous ?? "normal"
  if (synchronous !== "normal" && synchronous !== "full") {
    invalid(module, "synchronous", "\"normal\" or \"full\"", synchronous)
  }
  return { filename, synchronous }
}

/**
 * The file opened on a connection of its own, set up and checked: a corrupt
 * or unreadable file fails here, never opens as an empty queue.
 */
const open = (
  filename: string,
  synchronous: "normal" | "full"
): Effect.Effect<SqlClient.SqlClient, DurableQueueError, Scope.Scope> =>
  Effect.gen(function*() {
    const location = `file ${filename}`
    const error = storeErrors("sqlite", location)
    // better-sqlite3 throws while opening a file that is not a database: a defect of `SqliteClient.make`.
    const client = yield* SqliteClient.make({ filename, disableWAL: true }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.sandbox,
      Effect.mapError(error("cannot open the queue database"))
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
      Effect.mapError(error("cannot read the queue database"))
    )
    const problems = check.map((row) => row.quick_check).filter((line) => line !== "ok")
    if (problems.length > 0) {
      return yield* new DurableQueueError({
        message: `the queue database ${filename} is corrupt: ${problems.slice(0, 3).join("; ")}`,
        store: "sqlite",
        location
      })
    }
    return client
  })

/** @internal */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<Store, DurableQueueError> =>
  Layer.scoped(
    Store,
    Effect.gen(function*() {
      const { filename, synchronous } = checkOptions(options)
      const client = yield* open(filename, synchronous)
      return yield* makeSqlBackend(
        { store: "sqlite", location: (table) => `file ${filename}, table ${table}`, module, ownClient: true },
        options
      ).pipe(Effect.provideService(SqlClient.SqlClient, client))
    })
  )
