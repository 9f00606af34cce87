/**
 * The database's errors keep their kind, on real Postgres (a database of its
 * own on the machine's server, dropped afterwards) and SQLite: a value out
 * of range, a NUL in text or a constraint is a rejection of that statement —
 * named by its code and column — which the db breaker never counts.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Db, type DbError } from "../src/services/Db.js"
import * as DbModule from "../src/services/Db.js"

const database = `pricing_db_test_${process.pid}_${Date.now()}`
const psql = (sql: string, db = "postgres") =>
  execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atqc", sql, db], {
    encoding: "utf8"
  })

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pricing-db-"))

beforeAll(() => {
  psql(`CREATE DATABASE ${database}`)
})

afterAll(() => {
  psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  fs.rmSync(dataDir, { recursive: true, force: true })
})

const pg = () => DbModule.layerPg(Redacted.make(`postgres://postgres@127.0.0.1:5432/${database}`))

const failure = <A>(effect: Effect.Effect<A, unknown, Db>, layer: Layer.Layer<Db, unknown>) =>
  Effect.map(Effect.flip(Effect.provide(effect, layer)), (error) => {
    const e = error as DbError
    return { tag: e._tag, kind: e.kind, code: e.code, column: e.column, counts: DbModule.isFailure(e) }
  })

const getProduct = (id: number) => Effect.flatMap(Db, (db) => db.getProduct(id))
const createProduct = (name: string, price: number) => Effect.flatMap(Db, (db) => db.createProduct({ name, price }))

describe("Db on Postgres", () => {
  it.live("an id beyond integer: a rejection (22003), not counted", () =>
    Effect.gen(function*() {
      expect(yield* failure(getProduct(2_147_483_648), pg())).toEqual({
        tag: "DbError",
        kind: "rejection",
        code: "22003",
        column: undefined,
        counts: false
      })
    }))

  it.live("a NUL in text: a rejection (22021), not counted", () =>
    Effect.gen(function*() {
      expect(yield* failure(createProduct("La\u0000mp", 1), pg())).toMatchObject({
        kind: "rejection",
        code: "22021",
        counts: false
      })
    }))

  it.live("constraints the table has: a unique violation names its column; a check is a rejection too", () =>
    Effect.gen(function*() {
      // The migrations create the table; then a DBA adds rules the service does not know about.
      yield* Effect.provide(getProduct(1), pg())
      psql("ALTER TABLE products ADD CONSTRAINT products_name_key UNIQUE (name)", database)
      psql("ALTER TABLE products ADD CONSTRAINT products_price_cap CHECK (price < 5000)", database)
      expect(yield* failure(createProduct("Widget", 1), pg())).toEqual({
        tag: "DbError",
        kind: "rejection",
        code: "23505",
        column: "name",
        counts: false
      })
      expect(yield* failure(createProduct("Expensive", 6000), pg())).toMatchObject({
        kind: "rejection",
        code: "23514",
        counts: false
      })
      expect(yield* Effect.provide(createProduct("Fine", 10), pg())).toMatchObject({ name: "Fine", price: 10 })
    }))
})

describe("Db on SQLite", () => {
  it.scoped("a unique violation: a rejection naming the column, not counted", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(DbModule.layerSqlite(dataDir))
      const file = path.join(dataDir, "pricing.sqlite")
      execFileSync("sqlite3", [file, "CREATE UNIQUE INDEX products_name ON products(name)"])
      const error = yield* Effect.flip(Effect.provide(createProduct("Widget", 1), context))
      expect(error).toMatchObject({
        _tag: "DbError",
        kind: "rejection",
        code: "SQLITE_CONSTRAINT_UNIQUE",
        column: "name"
      })
      expect(DbModule.isFailure(error)).toBe(false)
      expect(yield* Effect.provide(createProduct("Other", 1), context)).toMatchObject({ name: "Other" })
    }))
})

describe("Db errors", () => {
  it("the kind comes from the cause: connection errors and unknown errors are outages", () => {
    const refused = DbModule.toDbError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))
    expect(refused).toMatchObject({ kind: "outage", code: "ECONNREFUSED" })
    expect(DbModule.isFailure(refused)).toBe(true)
    expect(DbModule.toDbError(new Error("something else")).kind).toBe("outage")
    expect(DbModule.toDbError({ cause: { code: "57P01" } }).kind).toBe("outage")
    expect(DbModule.toDbError({ cause: { code: "23502", column: "name" } })).toMatchObject({
      kind: "rejection",
      column: "name"
    })
  })
})
