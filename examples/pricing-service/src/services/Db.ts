/**
 * The product database: Postgres through `@effect/sql-pg` (`DATABASE_URL`),
 * or an embedded SQLite file. Both run the same migrations through
 * `@effect/sql`'s migrator.
 */
import type { CircuitBreaker, Fallback } from "@effect-resilience/core"
import { Classify } from "@effect-resilience/core"
import { NodeContext } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Failure from "./Failure.js"

/** A stored product. */
export interface Product {
  readonly id: number
  readonly name: string
  readonly price: number
}

/** A product to store: its id is the database's. */
export interface NewProduct {
  readonly name: string
  readonly price: number
}

/**
 * The database failed (`kind: "outage"`) or refused this statement
 * (`kind: "rejection"`: a value out of range, a constraint), by `Classify.sql`
 * on what the driver threw. `code` is the SQLSTATE (Postgres) or result code
 * (SQLite) when the driver gave one; `column` and `constraint` what Postgres
 * names of a refused row.
 */
export class DbError extends Data.TaggedError("DbError")<{
  readonly message: string
  readonly kind: Failure.Kind
  readonly code?: string | undefined
  readonly column?: string | undefined
  readonly constraint?: string | undefined
  readonly cause?: unknown
}> {}

/** The db breaker's `isFailure`: a statement the database refused never counts against it. */
export const isFailure = Failure.isFailure(Classify.sql)

/** The product database. */
export class Db extends Context.Tag("pricing-service/Db")<Db, {
  readonly getProduct: (id: number) => Effect.Effect<Option.Option<Product>, DbError | CircuitBreaker.Unavailable>
  /** Blocked with `Fallback.UnavailableError` while the database is down. */
  readonly createProduct: (input: NewProduct) => Effect.Effect<Product, DbError | Fallback.UnavailableError>
  readonly ping: Effect.Effect<void, DbError | CircuitBreaker.Unavailable>
}>() {}

/** The first string `field` along the cause chain (the driver's error sits under `SqlError`). */
const fieldOf = (cause: unknown, field: string): string | undefined => {
  for (const link of Classify.causes(cause)) {
    const value = (link as Record<string, unknown>)[field]
    if (typeof value === "string" && value !== "") return value
  }
  return undefined
}

/** The driver's own words: the innermost message (`SqlError` says only "Failed to execute statement"). */
const messageOf = (cause: unknown): string => {
  let message = String(cause)
  for (const link of Classify.causes(cause)) {
    const value = (link as { readonly message?: unknown }).message
    if (typeof value === "string" && value !== "") message = value
  }
  return message
}

/**
 * The column a refused row names: Postgres in `column`, or in the detail of a
 * unique violation (`Key (name)=(Lamp) already exists.`); SQLite in its
 * message (`UNIQUE constraint failed: products.name`).
 */
const columnOf = (cause: unknown): string | undefined =>
  fieldOf(cause, "column") ??
    /^Key \(([^)]+)\)=/.exec(fieldOf(cause, "detail") ?? "")?.[1] ??
    /constraint failed: \w+\.(\w+)$/.exec(messageOf(cause))?.[1]

/** Built from what the driver threw: its kind, code and message. */
export const toDbError = (cause: unknown): DbError =>
  new DbError({
    message: messageOf(cause),
    kind: Failure.kindOf(Classify.sql, cause),
    code: fieldOf(cause, "code"),
    column: columnOf(cause),
    constraint: fieldOf(cause, "constraint"),
    cause
  })

const migrations = Migrator.fromRecord({
  "1_products": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      pg: () =>
        sql`CREATE TABLE IF NOT EXISTS products (id SERIAL PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION NOT NULL)`,
      orElse: () =>
        sql`CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, price REAL NOT NULL)`
    })
  }),
  "2_seed_products": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [{ count }] = yield* sql<{ count: number | string }>`SELECT COUNT(*) AS count FROM products`
    // Seeded once, into an empty table, so ids are 1–3 on a fresh database.
    if (Number(count) === 0) {
      for (
        const product of [{ name: "Widget", price: 100 }, { name: "Gadget", price: 250 }, {
          name: "Gizmo",
          price: 42.5
        }]
      ) {
        yield* sql`INSERT INTO products ${sql.insert(product)}`
      }
    }
  })
})

const rawFromSql = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Db.of({
    getProduct: (id) =>
      sql<Product>`SELECT id, name, price FROM products WHERE id = ${id}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]).pipe(Option.map(normalize))),
        Effect.mapError(toDbError)
      ),
    createProduct: (input) =>
      sql<Product>`INSERT INTO products ${
        sql.insert({ name: input.name, price: input.price })
      } RETURNING id, name, price`.pipe(
        Effect.flatMap((rows) =>
          rows[0] === undefined
            ? Effect.fail(new DbError({ message: "insert returned no row", kind: "outage" }))
            : Effect.succeed(normalize(rows[0]))
        ),
        Effect.mapError((e) => (e instanceof DbError ? e : toDbError(e)))
      ),
    ping: sql`SELECT 1`.pipe(Effect.asVoid, Effect.mapError(toDbError))
  })
})

// SQLite and Postgres may hand numbers back as strings (COUNT, NUMERIC): normalise at the edge.
const normalize = (row: Product): Product => ({ id: Number(row.id), name: row.name, price: Number(row.price) })

/** Postgres through `@effect/sql-pg`; the migrations run at start. */
export const layerPg = (url: Redacted.Redacted): Layer.Layer<Db, unknown> =>
  Layer.effect(Db, rawFromSql).pipe(
    Layer.provide(PgMigrator.layer({ loader: migrations })),
    Layer.provide(PgClient.layer({ url, connectTimeout: Duration.seconds(5), maxConnections: 10 })),
    Layer.provide(NodeContext.layer)
  )

/** The embedded default: a SQLite file under the data folder; the migrations run at start. */
export const layerSqlite = (dataDir: string): Layer.Layer<Db, unknown> =>
  Layer.effect(Db, rawFromSql).pipe(
    Layer.provide(SqliteMigrator.layer({ loader: migrations })),
    Layer.provide(Layer.unwrapEffect(Effect.sync(() => {
      fs.mkdirSync(dataDir, { recursive: true })
      return SqliteClient.layer({ filename: path.join(dataDir, "pricing.sqlite") })
    }))),
    Layer.provide(NodeContext.layer)
  )
