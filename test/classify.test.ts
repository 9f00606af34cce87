/**
 * Classify against errors the real clients produce: Postgres through
 * @effect/sql-pg (the shared server, a temporary table), SQLite through
 * @effect/sql-sqlite-node, Redis through ioredis (the shared server, keys of
 * this run only), s3rver and a server answering 503 through
 * @aws-sdk/client-s3, the openai client and @effect/platform's HttpClient
 * against a local server, and Node's own fs and net. Each error is read by
 * its backend's predicate and by `Classify.outage`, bare and wrapped in an
 * app's own error: all four answers must agree.
 */
import { Classify } from "@effect-resilience/core"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type * as SqlPg from "../examples/pricing-service/node_modules/@effect/sql-pg/dist/dts/index.js"
import type * as SqlSqlite from "../examples/pricing-service/node_modules/@effect/sql-sqlite-node/dist/dts/index.js"
import type * as Sql from "../examples/pricing-service/node_modules/@effect/sql/dist/dts/index.js"
import type * as IORedis from "../examples/pricing-service/node_modules/ioredis/built/index.js"
import type * as OpenAi from "../examples/pricing-service/node_modules/openai/index.js"
import { freePort } from "./fixtures/chaos.js"

// The clients are the example service's dependencies, not the workspace root's: loaded from there, as
// the chaos fixtures load s3rver, and typed from there where their types resolve.
const fromService = createRequire(new URL("../examples/pricing-service/package.json", import.meta.url))
const { PgClient } = fromService("@effect/sql-pg") as typeof SqlPg
const { SqliteClient } = fromService("@effect/sql-sqlite-node") as typeof SqlSqlite
const { SqlClient } = fromService("@effect/sql") as typeof Sql
const { Redis } = fromService("ioredis") as typeof IORedis
const { OpenAI } = fromService("openai") as typeof OpenAi

/** The part of @aws-sdk/client-s3 these tests use: its own types name packages the example does not link. */
interface S3Module {
  readonly S3Client: new(config: {
    readonly endpoint: string
    readonly region: string
    readonly forcePathStyle: boolean
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
    readonly maxAttempts: number
  }) => { send(command: object): Promise<unknown>; destroy(): void }
  readonly GetObjectCommand: new(input: { readonly Bucket: string; readonly Key: string }) => object
  readonly PutObjectCommand: new(
    input: { readonly Bucket: string; readonly Key: string; readonly Body: string }
  ) => object
}
const S3 = fromService("@aws-sdk/client-s3") as S3Module

/** The part of s3rver (no types of its own) these tests use. */
interface S3rver {
  run(): Promise<net.AddressInfo>
  close(): Promise<void>
}
const S3rver = fromService("s3rver") as new(options: Record<string, unknown>) => S3rver

/** An app's own error around a client's, as a service wraps what its repository fails with. */
class AppError extends Data.TaggedError("AppError")<{ readonly cause: unknown }> {}

const runId = `${process.pid}_${Date.now()}`

/**
 * The backend's predicate and `Classify.outage` both answer `outage` for the
 * error and for an `AppError` around it.
 */
const expectVerdict = (predicate: Classify.Predicate, error: unknown, outage: boolean) => {
  const what = `${outage ? "an outage" : "a rejection"}: ${String(error)}`
  for (const e of [error, new AppError({ cause: error })]) {
    assert.strictEqual(predicate(e), outage, what)
    assert.strictEqual(Classify.outage(e), outage, `Classify.outage, ${what}`)
  }
}

/** The `code`s of the error and what it wraps: shows the client failed as the test meant it to. */
const codes = (error: unknown) =>
  Classify.causes(error).map((link) => (link as { readonly code?: unknown }).code).filter((c) => c !== undefined)

/** What a promise rejects with; resolving is a defect, and fails the test. */
const rejection = (thunk: () => PromiseLike<unknown>): Effect.Effect<unknown> =>
  Effect.tryPromise({ try: thunk, catch: (error) => error }).pipe(
    Effect.flatMap((value) => Effect.die(new Error(`expected a rejection, got ${String(value)}`))),
    Effect.flip
  )

/** A node:http server on 127.0.0.1 and a random port, closed with its connections by the scope. */
const listen = (handler: http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer(handler)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`))

/** A port nothing listens on. */
const closedPort = Effect.promise(() => freePort())

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "classify-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

// ---------------------------------------------------------------- Postgres

const pgUrl = "postgres://postgres@127.0.0.1:5432/postgres"
const table = `classify_${runId}`

/** One connection, so that the temporary table is there for every statement. */
const PgLive = PgClient.layer({ url: Redacted.make(pgUrl), maxConnections: 1, connectTimeout: "2 seconds" })

const TableLive = Layer.scopedDiscard(
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.acquireRelease(
      sql.unsafe(`CREATE TEMPORARY TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL)`),
      () => Effect.orDie(sql.unsafe(`DROP TABLE IF EXISTS ${table}`))
    ))
).pipe(Layer.provideMerge(PgLive))

layer(TableLive, { excludeTestServices: true })("Postgres through @effect/sql-pg", (it) => {
  it.effect("22003: an integer parameter out of range is a rejection", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(sql.unsafe(`SELECT * FROM ${table} WHERE id = $1`, [2147483648]))
      assert.strictEqual(error._tag, "SqlError")
      assert.deepStrictEqual(codes(error), ["22003"])
      expectVerdict(Classify.sql, error, false)
    }))

  it.effect("22021: a NUL in text is a rejection", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(sql.unsafe(`INSERT INTO ${table} VALUES ($1, $2)`, [1, "nul \u0000 here"]))
      assert.deepStrictEqual(codes(error), ["22021"])
      expectVerdict(Classify.sql, error, false)
    }))

  it.effect("23505 and 23502: a duplicate key and a missing value are rejections", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`INSERT INTO ${table} VALUES (7, 'first')`)
      const duplicate = yield* Effect.flip(sql.unsafe(`INSERT INTO ${table} VALUES (7, 'second')`))
      assert.deepStrictEqual(codes(duplicate), ["23505"])
      expectVerdict(Classify.sql, duplicate, false)
      const missing = yield* Effect.flip(sql.unsafe(`INSERT INTO ${table} VALUES (8, NULL)`))
      assert.deepStrictEqual(codes(missing), ["23502"])
      expectVerdict(Classify.sql, missing, false)
    }))

  it.effect("42601: a malformed statement is a rejection", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(sql.unsafe(`SELEC id FROM ${table}`))
      assert.deepStrictEqual(codes(error), ["42601"])
      expectVerdict(Classify.sql, error, false)
    }))

  it.effect("42P01: a table that is not there (our schema) is an outage", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(sql.unsafe(`SELECT * FROM ${table}_missing`))
      assert.deepStrictEqual(codes(error), ["42P01"])
      expectVerdict(Classify.sql, error, true)
    }))

  it.effect("57014: a statement cancelled by statement_timeout is an outage", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("SET statement_timeout = 50")
      const error = yield* Effect.flip(sql.unsafe("SELECT pg_sleep(2)"))
      yield* sql.unsafe("SET statement_timeout = 0")
      assert.deepStrictEqual(codes(error), ["57014"])
      expectVerdict(Classify.sql, error, true)
    }))
})

describe("Postgres through @effect/sql-pg, unreachable", () => {
  it.live("a closed port: the pool fails to connect, an outage", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* Effect.flip(
        Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("SELECT 1")),
          PgClient.layer({
            url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`),
            connectTimeout: "1 second"
          })
        )
      )
      assert.strictEqual(error._tag, "SqlError")
      assert.deepStrictEqual(codes(error), ["ECONNREFUSED"])
      expectVerdict(Classify.sql, error, true)
    }))
})

// ---------------------------------------------------------------- SQLite

layer(SqliteClient.layer({ filename: ":memory:" }), { excludeTestServices: true })(
  "SQLite through @effect/sql-sqlite-node",
  (it) => {
    it.effect("a UNIQUE violation is a rejection; a table that is not there an outage", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe("CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE)")
        yield* sql.unsafe("INSERT INTO products (sku) VALUES ('lamp')")
        const duplicate = yield* Effect.flip(sql.unsafe("INSERT INTO products (sku) VALUES ('lamp')"))
        assert.strictEqual(duplicate._tag, "SqlError")
        assert.deepStrictEqual(codes(duplicate), ["SQLITE_CONSTRAINT_UNIQUE"])
        expectVerdict(Classify.sql, duplicate, false)
        const missing = yield* Effect.flip(sql.unsafe("SELECT * FROM no_such_table"))
        assert.deepStrictEqual(codes(missing), ["SQLITE_ERROR"])
        expectVerdict(Classify.sql, missing, true)
      }))
  }
)

// ---------------------------------------------------------------- Redis

describe("Redis through ioredis", () => {
  const key = `classify:${runId}`
  const client = Effect.acquireRelease(
    Effect.sync(() => new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true })),
    (redis) => Effect.promise(() => redis.del(key, `${key}:stream`).then(() => redis.quit()))
  )

  it.scopedLive("WRONGTYPE and ERR replies are rejections", () =>
    Effect.gen(function*() {
      const redis = yield* client
      yield* Effect.promise(() => redis.set(key, "a string"))
      const wrongType = yield* rejection(() => redis.lpush(key, "item"))
      assert.match(String(wrongType), /^ReplyError: WRONGTYPE /)
      expectVerdict(Classify.redis, wrongType, false)
      const unknown = yield* rejection(() => redis.call("CLASSIFYNOSUCHCOMMAND"))
      assert.match(String(unknown), /^ReplyError: ERR unknown command/)
      expectVerdict(Classify.redis, unknown, false)
      const arity = yield* rejection(() => redis.call("GET"))
      assert.match(String(arity), /^ReplyError: ERR wrong number of arguments/)
      expectVerdict(Classify.redis, arity, false)
      // an ERR that quotes the caller's argument and says "timeout" is still the caller's
      const timeout = yield* rejection(() => redis.blpop(key, "soon"))
      assert.match(String(timeout), /^ReplyError: ERR timeout is not a float/)
      expectVerdict(Classify.redis, timeout, false)
    }))

  it.scopedLive("BUSYGROUP, NOGROUP and EXECABORT replies are rejections", () =>
    Effect.gen(function*() {
      const redis = yield* client
      const stream = `${key}:stream`
      yield* Effect.promise(() => redis.xgroup("CREATE", stream, "billing", "$", "MKSTREAM"))
      const exists = yield* rejection(() => redis.xgroup("CREATE", stream, "billing", "$"))
      assert.match(String(exists), /^ReplyError: BUSYGROUP /)
      expectVerdict(Classify.redis, exists, false)
      const noGroup = yield* rejection(() => redis.xreadgroup("GROUP", "nobody", "c1", "STREAMS", stream, ">"))
      assert.match(String(noGroup), /^ReplyError: NOGROUP /)
      expectVerdict(Classify.redis, noGroup, false)
      const discarded = yield* rejection(() => redis.multi().set(key, "x").call("CLASSIFYNOSUCHCOMMAND").exec())
      assert.match(String(discarded), /^ReplyError: EXECABORT /)
      expectVerdict(Classify.redis, discarded, false)
    }))

  it.scopedLive("a closed port: the connection errors are outages", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const emitted: Array<unknown> = []
      const lazy = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new Redis({
            host: "127.0.0.1",
            port,
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null
          }).on("error", (error) => emitted.push(error))
        ),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      const connect = yield* rejection(() => lazy.connect())
      expectVerdict(Classify.redis, connect, true)
      const command = yield* rejection(() => lazy.get(key))
      assert.match(String(command), /Connection is closed/)
      expectVerdict(Classify.redis, command, true)
      expect(emitted.length).toBeGreaterThan(0)
      for (const error of emitted) {
        assert.deepStrictEqual(codes(error), ["ECONNREFUSED"])
        expectVerdict(Classify.redis, error, true)
      }

      // connecting in the background, with no offline queue: the command is refused at once
      const eager = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new Redis({ host: "127.0.0.1", port, enableOfflineQueue: false, maxRetriesPerRequest: 0 }).on(
            "error",
            () => {}
          )
        ),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      const offline = yield* rejection(() => eager.get(key))
      assert.match(String(offline), /Stream isn't writeable/)
      expectVerdict(Classify.redis, offline, true)

      // queued while it reconnects, then given up on
      const retrying = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 0 }).on("error", () => {})),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      const gaveUp = yield* rejection(() => retrying.get(key))
      assert.strictEqual((gaveUp as Error).name, "MaxRetriesPerRequestError")
      expectVerdict(Classify.redis, gaveUp, true)
    }))
})

// ---------------------------------------------------------------- S3

const s3Client = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new S3.S3Client({
        endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
        maxAttempts: 1
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

/** S3's answer when it sheds load. */
const slowDown = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>classify</RequestId></Error>`

describe("S3 through @aws-sdk/client-s3", () => {
  it.scopedLive("s3rver: a key that is not there (404 NoSuchKey) is a rejection", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const bucket = "classify-uploads"
      const server = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const s3rver = new S3rver({
            address: "127.0.0.1",
            port: 0,
            directory,
            silent: true,
            vhostBuckets: false,
            allowMismatchedSignatures: true,
            configureBuckets: [{ name: bucket }]
          })
          return { s3rver, address: await s3rver.run() }
        }),
        ({ s3rver }) => Effect.promise(() => s3rver.close())
      )
      const s3 = yield* s3Client(`http://127.0.0.1:${server.address.port}`)
      yield* Effect.promise(() => s3.send(new S3.PutObjectCommand({ Bucket: bucket, Key: "there.txt", Body: "here" })))
      const missing = yield* rejection(() => s3.send(new S3.GetObjectCommand({ Bucket: bucket, Key: "not-there.txt" })))
      assert.strictEqual((missing as Error).name, "NoSuchKey")
      assert.strictEqual(Classify.httpStatus(missing), 404)
      expectVerdict(Classify.http, missing, false)
    }))

  it.scopedLive("a 503 SlowDown answer is an outage", () =>
    Effect.gen(function*() {
      const endpoint = yield* listen((_, response) => {
        response.writeHead(503, { "content-type": "application/xml" }).end(slowDown)
      })
      const s3 = yield* s3Client(endpoint)
      const error = yield* rejection(() => s3.send(new S3.GetObjectCommand({ Bucket: "classify", Key: "k" })))
      assert.strictEqual((error as Error).name, "SlowDown")
      assert.strictEqual(Classify.httpStatus(error), 503)
      expectVerdict(Classify.http, error, true)
    }))

  it.scopedLive("a closed port is an outage", () =>
    Effect.gen(function*() {
      const s3 = yield* s3Client(`http://127.0.0.1:${yield* closedPort}`)
      const error = yield* rejection(() => s3.send(new S3.GetObjectCommand({ Bucket: "classify", Key: "k" })))
      assert.deepStrictEqual(codes(error), ["ECONNREFUSED"])
      expectVerdict(Classify.http, error, true)
    }))
})

// ---------------------------------------------------------------- HTTP APIs

/** OpenAI-style error bodies, by the status the request's `model` names. */
const openAiErrors: Record<string, { readonly headers?: http.OutgoingHttpHeaders; readonly error: object }> = {
  400: { error: { message: "'messages' must not be empty", type: "invalid_request_error", param: "messages" } },
  401: { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } },
  404: { error: { message: "Not found", type: "invalid_request_error", code: null } },
  429: {
    headers: { "retry-after-ms": "20" },
    error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" }
  },
  500: { error: { message: "The server had an error while processing your request", type: "server_error" } },
  503: { error: { message: "The engine is currently overloaded", type: "server_error" } }
}

const apiServer = listen((request, response) => {
  let body = ""
  request.on("data", (chunk) => (body += chunk))
  request.on("end", () => {
    const asked = request.method === "POST" ? String(JSON.parse(body).model) : request.url!.slice(1)
    // a status the table does not have is answered 200: the test that asked for it fails on its status
    const answer = openAiErrors[asked]
    response.writeHead(answer ? Number(asked) : 200, { "content-type": "application/json", ...answer?.headers })
    response.end(JSON.stringify(answer ? { error: answer.error } : {}))
  })
})

describe("the openai client", () => {
  const complete = (client: InstanceType<typeof OpenAI>, model: string) =>
    rejection(() => client.chat.completions.create({ model, messages: [{ role: "user", content: "price?" }] }))

  it.scopedLive("400 is a rejection; 401, 429 and 500 are outages", () =>
    Effect.gen(function*() {
      const baseURL = `${yield* apiServer}/v1`
      const client = new OpenAI({ baseURL, apiKey: "sk-classify", maxRetries: 0 })
      const expected = { 400: false, 401: true, 429: true, 500: true } as const
      for (const [status, outage] of Object.entries(expected)) {
        const error = yield* complete(client, status)
        assert.strictEqual((error as { readonly status?: number }).status, Number(status))
        expectVerdict(Classify.http, error, outage)
      }
    }))

  it.scopedLive("a closed port: its connection error is an outage", () =>
    Effect.gen(function*() {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${yield* closedPort}/v1`, apiKey: "sk", maxRetries: 0 })
      const error = yield* complete(client, "400")
      assert.strictEqual((error as Error).constructor.name, "APIConnectionError")
      assert.deepStrictEqual(codes(error), ["ECONNREFUSED"])
      expectVerdict(Classify.http, error, true)
    }))
})

describe("@effect/platform's HttpClient", () => {
  const get = (url: string) =>
    HttpClient.HttpClient.pipe(
      Effect.map(HttpClient.filterStatusOk),
      Effect.flatMap((client) => client.get(url)),
      Effect.flip,
      Effect.provide(FetchHttpClient.layer)
    )

  it.scopedLive("a 404 ResponseError is a rejection, a 503 an outage", () =>
    Effect.gen(function*() {
      const base = yield* apiServer
      const notFound = yield* get(`${base}/404`)
      assert.strictEqual(notFound._tag, "ResponseError")
      expectVerdict(Classify.http, notFound, false)
      const unavailable = yield* get(`${base}/503`)
      assert.strictEqual(Classify.httpStatus(unavailable), 503)
      expectVerdict(Classify.http, unavailable, true)
    }))

  it.live("a closed port: its RequestError is an outage", () =>
    Effect.gen(function*() {
      const error = yield* get(`http://127.0.0.1:${yield* closedPort}/`)
      assert.strictEqual(error._tag, "RequestError")
      assert.deepStrictEqual(codes(error), ["ECONNREFUSED"])
      expectVerdict(Classify.http, error, true)
    }))
})

// ---------------------------------------------------------------- Node

describe("Node's fs and net", () => {
  it.scopedLive("EISDIR, ENOENT, ENOTDIR and EEXIST of a path the caller chose are rejections", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "file.txt")
      fs.writeFileSync(file, "content")
      const cases = [
        ["EISDIR", () => fs.promises.readFile(dir)],
        ["EISDIR", () => fs.promises.writeFile(dir, "x")],
        ["ENOENT", () => fs.promises.readFile(path.join(dir, "missing.txt"))],
        ["ENOTDIR", () => fs.promises.readFile(path.join(file, "inside"))],
        ["EEXIST", () => fs.promises.mkdir(dir)]
      ] as const
      for (const [code, thunk] of cases) {
        const error = yield* rejection(thunk)
        assert.deepStrictEqual(codes(error), [code])
        expectVerdict(Classify.node, error, false)
      }
    }))

  const connect = (options: net.NetConnectOpts) =>
    Effect.async<unknown>((resume) => {
      const socket = net.connect(options)
      socket.once("connect", () => {
        socket.destroy()
        resume(Effect.die(new Error("expected the connection to fail")))
      })
      socket.once("error", (error) => resume(Effect.succeed(error)))
    })

  it.scopedLive("ECONNREFUSED of a closed port and ENOENT of a missing socket file are outages", () =>
    Effect.gen(function*() {
      const refused = yield* connect({ host: "127.0.0.1", port: yield* closedPort })
      assert.deepStrictEqual(codes(refused), ["ECONNREFUSED"])
      expectVerdict(Classify.node, refused, true)
      const dir = yield* tempDir
      const noSocket = yield* connect({ path: path.join(dir, "missing.sock") })
      assert.deepStrictEqual(codes(noSocket), ["ENOENT"])
      assert.strictEqual((noSocket as { readonly syscall?: string }).syscall, "connect")
      expectVerdict(Classify.node, noSocket, true)
    }))
})
