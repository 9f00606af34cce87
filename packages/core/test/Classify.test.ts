/**
 * Classify: `true` for an outage of a dependency, `false` for its rejection
 * of one request, read from hand-built errors in the shapes the real clients
 * throw (the real clients themselves are exercised in test/classify.test.ts).
 */
import { CircuitBreaker, Classify } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const backends = {
  sql: Classify.sql,
  http: Classify.http,
  redis: Classify.redis,
  node: Classify.node,
  outage: Classify.outage
} as const

const everyPredicate = Object.entries(backends)

/** What `pg` throws for an error reply: a `DatabaseError` named "error" with the SQLSTATE in `code`. */
const pgError = (code: string) =>
  Object.assign(new Error(`pg error ${code}`), { name: "error", severity: "ERROR", code, length: 100 })

/** The shape of `@effect/sql`'s `SqlError`: the driver's error in `cause`. */
class SqlError extends Data.TaggedError("SqlError")<{ readonly cause: unknown; readonly message: string }> {}

const sqlError = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

/** An app's own error around a client's. */
class SaveFailed extends Data.TaggedError("SaveFailed")<{ readonly cause: unknown }> {}

/** What ioredis rejects with for an error reply: `name` "ReplyError" and the command. */
const reply = (message: string) =>
  Object.assign(new Error(message), { name: "ReplyError", command: { name: "get", args: ["key"] } })

/** A Node system error: `code`, `errno`, `syscall`. */
const systemError = (code: string, syscall: string) =>
  Object.assign(new Error(`${syscall} ${code}`), { code, errno: -1, syscall })

const nest = (error: unknown, layers: number): unknown => {
  let wrapped = error
  for (let i = 0; i < layers; i++) wrapped = new Error(`layer ${i}`, { cause: wrapped })
  return wrapped
}

describe("Classify.sql", () => {
  const outages: ReadonlyArray<readonly [string, string]> = [
    ["08006", "connection_failure"],
    ["08001", "sqlclient_unable_to_establish_sqlconnection"],
    ["08P01", "protocol_violation"],
    ["28P01", "invalid_password"],
    ["28000", "invalid_authorization_specification"],
    ["53300", "too_many_connections"],
    ["53100", "disk_full"],
    ["53200", "out_of_memory"],
    ["57P01", "admin_shutdown"],
    ["57P03", "cannot_connect_now"],
    ["57014", "query_canceled"],
    ["58030", "io_error"],
    ["XX000", "internal_error"],
    ["XX001", "data_corrupted"],
    ["40001", "serialization_failure"],
    ["40P01", "deadlock_detected"],
    ["42501", "insufficient_privilege"],
    ["42P01", "undefined_table"]
  ]
  const rejections: ReadonlyArray<readonly [string, string]> = [
    ["22003", "numeric_value_out_of_range"],
    ["22021", "character_not_in_repertoire"],
    ["22P02", "invalid_text_representation"],
    ["22001", "string_data_right_truncation"],
    ["22012", "division_by_zero"],
    ["23505", "unique_violation"],
    ["23503", "foreign_key_violation"],
    ["23502", "not_null_violation"],
    ["23514", "check_violation"],
    ["42601", "syntax_error"],
    ["42703", "undefined_column"],
    ["42883", "undefined_function"],
    ["42804", "datatype_mismatch"]
  ]

  it.each(outages)("SQLSTATE %s (%s) is an outage: bare, from pg, inside a SqlError", (code) => {
    for (const error of [{ code }, pgError(code), sqlError(pgError(code))]) {
      assert.strictEqual(Classify.sql(error), true)
      assert.strictEqual(Classify.outage(error), true)
    }
  })

  it.each(rejections)("SQLSTATE %s (%s) is a rejection: bare, from pg, inside a SqlError", (code) => {
    for (const error of [{ code }, pgError(code), sqlError(pgError(code))]) {
      assert.strictEqual(Classify.sql(error), false)
      assert.strictEqual(Classify.outage(error), false)
    }
  })

  it.prop(
    "classes 22 and 23 and 42 but 42501/42P01 are rejections; 08, 28, 53, 57, 58, XX outages",
    {
      rejected: FastCheck.constantFrom("22", "23", "42"),
      down: FastCheck.constantFrom("08", "28", "53", "57", "58", "XX"),
      rest: FastCheck.stringMatching(/^[0-9A-Z]{3}$/)
    },
    ({ down, rejected, rest }) => {
      const code = rejected + rest
      assert.strictEqual(Classify.sql(pgError(code)), code === "42501" || code === "42P01")
      assert.strictEqual(Classify.sql(pgError(down + rest)), true)
    }
  )

  it("a five-character code of no SQLSTATE class is not read as one", () => {
    // Unknown to the SQL rules, so an outage, even though its shape is that of a code.
    assert.strictEqual(Classify.sql({ code: "ZZ003" }), true)
    assert.strictEqual(Classify.sql({ code: "22p02" }), true)
  })

  it.each(
    [
      "SQLITE_CONSTRAINT",
      "SQLITE_CONSTRAINT_UNIQUE",
      "SQLITE_CONSTRAINT_PRIMARYKEY",
      "SQLITE_CONSTRAINT_NOTNULL",
      "SQLITE_CONSTRAINT_FOREIGNKEY",
      "SQLITE_CONSTRAINT_CHECK",
      "SQLITE_MISMATCH",
      "SQLITE_TOOBIG",
      "SQLITE_RANGE"
    ]
  )("SQLite %s is a rejection", (code) => {
    const error = sqlError(Object.assign(new Error("constraint failed"), { name: "SqliteError", code }))
    assert.strictEqual(Classify.sql(error), false)
    assert.strictEqual(Classify.outage(error), false)
  })

  it.each(
    [
      "SQLITE_BUSY",
      "SQLITE_BUSY_SNAPSHOT",
      "SQLITE_LOCKED",
      "SQLITE_IOERR",
      "SQLITE_IOERR_WRITE",
      "SQLITE_FULL",
      "SQLITE_CANTOPEN",
      "SQLITE_CORRUPT",
      "SQLITE_READONLY"
    ]
  )("SQLite %s is an outage", (code) => {
    const error = sqlError(Object.assign(new Error("database is locked"), { name: "SqliteError", code }))
    assert.strictEqual(Classify.sql(error), true)
    assert.strictEqual(Classify.outage(error), true)
  })

  it("a SqlError around a connection error is an outage", () => {
    const refused = Object.assign(systemError("ECONNREFUSED", "connect"), { address: "127.0.0.1", port: 5432 })
    assert.strictEqual(Classify.sql(new SqlError({ cause: refused, message: "PgClient: Failed to connect" })), true)
    assert.strictEqual(Classify.sql(sqlError(new Error("Connection terminated unexpectedly"))), true)
    assert.strictEqual(Classify.sql(sqlError(new Error("Connection terminated due to connection timeout"))), true)
  })
})

describe("Classify.http", () => {
  const shapes: ReadonlyArray<readonly [string, (status: number) => object]> = [
    ["status (openai)", (status) => Object.assign(new Error(`${status}`), { status })],
    ["statusCode", (status) => Object.assign(new Error(`${status}`), { statusCode: status })],
    ["$metadata.httpStatusCode (@aws-sdk)", (status) => ({ name: "NoSuchKey", $metadata: { httpStatusCode: status } })],
    ["response.status (@effect/platform)", (status) => ({ _tag: "ResponseError", response: { status } })]
  ]
  const rejected = [400, 404, 405, 409, 410, 412, 413, 415, 422, 451, 499]
  const down = [401, 403, 408, 425, 429, 500, 501, 502, 503, 504, 599]

  describe.each(shapes)("the status in %s", (_, shape) => {
    it.each(rejected)("%i is a rejection", (status) => {
      assert.strictEqual(Classify.http(shape(status)), false)
      assert.strictEqual(Classify.outage(shape(status)), false)
      assert.strictEqual(Classify.httpStatus(shape(status)), status)
    })

    it.each(down)("%i is an outage", (status) => {
      assert.strictEqual(Classify.http(shape(status)), true)
      assert.strictEqual(Classify.outage(shape(status)), true)
      assert.strictEqual(Classify.httpStatus(shape(status)), status)
    })
  })

  it.prop(
    "every 4xx but 401, 403, 408, 425, 429 is a rejection, every 5xx an outage, in every shape",
    {
      clientError: FastCheck.integer({ min: 400, max: 499 }),
      serverError: FastCheck.integer({ min: 500, max: 599 }),
      shape: FastCheck.constantFrom(...shapes.map(([, shape]) => shape))
    },
    ({ clientError, serverError, shape }) => {
      assert.strictEqual(Classify.http(shape(clientError)), [401, 403, 408, 425, 429].includes(clientError))
      assert.strictEqual(Classify.http(shape(serverError)), true)
    }
  )

  it("an error without a status is an outage: refused, reset, aborted, timed out", () => {
    const errors = [
      systemError("ECONNREFUSED", "connect"),
      systemError("ECONNRESET", "read"),
      Object.assign(new Error("This operation was aborted"), { name: "AbortError" }),
      Object.assign(new Error("Request timed out"), { name: "TimeoutError" }),
      new Error("socket hang up"),
      { _tag: "RequestError", reason: "Transport", cause: new TypeError("fetch failed") }
    ]
    for (const error of errors) assert.strictEqual(Classify.http(error), true)
  })

  it("a value that is no HTTP status is not read as one", () => {
    for (const status of [0, 99, 600, 404.5, Number.NaN, "404", null]) {
      assert.strictEqual(Classify.httpStatus({ status }), undefined)
      assert.strictEqual(Classify.http({ status }), true)
    }
    // a library's `status: "error"` beside a real status code
    assert.strictEqual(Classify.http({ status: "error", statusCode: 404 }), false)
  })
})

describe("Classify.redis", () => {
  it.each([
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR unknown command 'FOO', with args beginning with: ",
    "ERR unknown command 'busy', with args beginning with: ",
    "ERR wrong number of arguments for 'get' command",
    "ERR syntax error",
    "ERR value is not an integer or out of range",
    "ERR timeout is not a float or out of range",
    "BUSYGROUP Consumer Group name already exists",
    "NOGROUP No such key 'orders' or consumer group 'billing' in XREADGROUP with GROUP option",
    "EXECABORT Transaction discarded because of previous errors.",
    "CROSSSLOT Keys in request don't hash to the same slot"
  ])("the reply %j is a rejection", (message) => {
    assert.strictEqual(Classify.redis(reply(message)), false)
    assert.strictEqual(Classify.outage(reply(message)), false)
    assert.strictEqual(Classify.redis(new SaveFailed({ cause: reply(message) })), false)
  })

  it.each([
    "LOADING Redis is loading the dataset in memory",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "CLUSTERDOWN The cluster is down",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "READONLY You can't write against a read only replica.",
    "NOAUTH Authentication required.",
    "OOM command not allowed when used memory > 'maxmemory'.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
    "ERR max number of clients reached"
  ])("the reply %j is an outage", (message) => {
    assert.strictEqual(Classify.redis(reply(message)), true)
    assert.strictEqual(Classify.outage(reply(message)), true)
  })

  it("a reply is recognised by ioredis' `name` or by its `command`", () => {
    assert.strictEqual(Classify.redis(Object.assign(new Error("WRONGTYPE x"), { name: "ReplyError" })), false)
    assert.strictEqual(Classify.redis(Object.assign(new Error("WRONGTYPE x"), { command: { name: "lpush" } })), false)
    // Any other error is not a reply, whatever its message says.
    assert.strictEqual(Classify.redis(new Error("WRONGTYPE x")), true)
  })

  it("ioredis' connection errors are outages", () => {
    const errors = [
      new Error("Connection is closed."),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      Object.assign(new Error("Reached the max retries per request limit (which is 0)."), {
        name: "MaxRetriesPerRequestError"
      }),
      systemError("ECONNREFUSED", "connect"),
      systemError("ETIMEDOUT", "connect"),
      systemError("ECONNRESET", "read"),
      systemError("EPIPE", "write")
    ]
    for (const error of errors) {
      assert.strictEqual(Classify.redis(error), true)
      assert.strictEqual(Classify.outage(error), true)
    }
  })
})

describe("Classify.node", () => {
  it.each([
    ["EISDIR", "read"],
    ["EISDIR", "open"],
    ["ENOTDIR", "open"],
    ["ENAMETOOLONG", "open"],
    ["EINVAL", "read"],
    ["EEXIST", "mkdir"],
    ["ENOENT", "open"],
    ["ENOENT", "stat"],
    ["ENOTEMPTY", "rmdir"]
  ])("%s of %s (a path the caller chose) is a rejection", (code, syscall) => {
    assert.strictEqual(Classify.node(systemError(code, syscall)), false)
    assert.strictEqual(Classify.outage(systemError(code, syscall)), false)
  })

  it.each([
    ["ECONNREFUSED", "connect"],
    ["ECONNRESET", "read"],
    ["ETIMEDOUT", "connect"],
    ["EPIPE", "write"],
    ["ENOSPC", "write"],
    ["EIO", "read"],
    ["EACCES", "open"],
    ["EMFILE", "open"],
    ["ENOENT", "connect"],
    ["EINVAL", "connect"],
    ["ENOENT", "spawn"]
  ])("%s of %s is an outage", (code, syscall) => {
    assert.strictEqual(Classify.node(systemError(code, syscall)), true)
    assert.strictEqual(Classify.outage(systemError(code, syscall)), true)
  })

  it("ENOENT of a socket file that is missing is an outage, of a file to read a rejection", () => {
    const socket = Object.assign(systemError("ENOENT", "connect"), { address: "/run/app.sock" })
    const file = Object.assign(systemError("ENOENT", "open"), { path: "/data/report.csv" })
    assert.strictEqual(Classify.node(socket), true)
    assert.strictEqual(Classify.node(file), false)
  })
})

describe("the cause chain", () => {
  it("a rejection ten causes deep still decides", () => {
    const deep = {
      sql: nest(pgError("22003"), 10),
      http: nest({ status: 404 }, 10),
      redis: nest(reply("WRONGTYPE Operation against a key"), 10),
      node: nest(systemError("EISDIR", "read"), 10)
    }
    for (const [backend, error] of Object.entries(deep)) {
      assert.strictEqual(backends[backend as keyof typeof deep](error), false, backend)
      assert.strictEqual(Classify.outage(error), false, backend)
    }
  })

  it("the outermost error that is recognised decides", () => {
    const refused = systemError("ECONNREFUSED", "connect")
    assert.strictEqual(Classify.http({ status: 404, cause: refused }), false)
    assert.strictEqual(Classify.http(Object.assign(refused, { cause: { status: 404 } })), true)
    // an outer error nobody recognises is skipped, not decisive
    assert.strictEqual(Classify.sql(new Error("insert failed", { cause: pgError("23505") })), false)
  })

  it("AggregateError: its errors are read, the first recognised decides", () => {
    const unique = new AggregateError([new Error("first"), pgError("23505")], "both failed")
    assert.strictEqual(Classify.sql(unique), false)
    // what Node throws when every address of a host refuses
    const everyAddress = new AggregateError(
      [systemError("ECONNREFUSED", "connect"), systemError("ECONNREFUSED", "connect")],
      ""
    )
    for (const [name, p] of everyPredicate) assert.strictEqual(p(everyAddress), true, name)
    assert.strictEqual(Classify.sql(new AggregateError([systemError("ECONNRESET", "read"), pgError("23505")])), true)
  })

  it.effect("Effect's UnknownException (Effect.tryPromise without catch) is seen through", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.tryPromise(() => Promise.reject(pgError("23505"))))
      assert.strictEqual(error._tag, "UnknownException")
      assert.strictEqual(Classify.sql(error), false)
      assert.strictEqual(Classify.sql(new Cause.UnknownException(reply("WRONGTYPE x"))), true)
      assert.strictEqual(Classify.redis(new Cause.UnknownException(reply("WRONGTYPE x"))), false)
    }))

  it("a cycle ends: each error is read once", () => {
    const a: { cause?: unknown } = {}
    const b = { cause: a }
    a.cause = b
    for (const [name, p] of everyPredicate) assert.strictEqual(p(a), true, name)
    assert.deepStrictEqual(Classify.causes(a), [a, b])

    const self = new Error("self")
    self.cause = self
    assert.strictEqual(Classify.outage(self), true)

    const rejection = Object.assign(pgError("23505"), { cause: undefined as unknown })
    const outer = { cause: rejection }
    rejection.cause = outer
    assert.strictEqual(Classify.sql(outer), false)
  })

  it("an endless chain of new errors (a getter making each) ends, and is an outage", () => {
    const endless = (depth: number): object => ({
      depth,
      get cause() {
        return endless(depth + 1)
      }
    })
    for (const [name, p] of everyPredicate) assert.strictEqual(p(endless(0)), true, name)
    expect(Classify.causes(endless(0)).length).toBeGreaterThan(10)
  })

  it("a getter that throws never makes a predicate throw", () => {
    const throwing = () => {
      throw new Error("getter")
    }
    const badCause = Object.defineProperty(pgError("23505"), "cause", { get: throwing })
    assert.strictEqual(Classify.sql(badCause), false) // the link itself still decides
    assert.deepStrictEqual(Classify.causes(badCause), [badCause])

    const badCode = Object.defineProperty({ cause: pgError("23505") }, "code", { get: throwing, enumerable: true })
    assert.strictEqual(Classify.sql(badCode), false) // the unreadable field is skipped, the chain goes on

    const badStatus = Object.defineProperty({}, "status", { get: throwing })
    assert.strictEqual(Classify.http(badStatus), true)
    assert.strictEqual(Classify.httpStatus(badStatus), undefined)

    const hostile = new Proxy({}, { get: throwing, has: throwing, getPrototypeOf: throwing, ownKeys: throwing })
    for (const [name, p] of everyPredicate) assert.strictEqual(p(hostile), true, name)
    assert.deepStrictEqual(Classify.causes(hostile), [hostile])
  })

  it.prop(
    "wrapping an error in any number of causes never changes the verdict",
    {
      error: FastCheck.oneof(
        FastCheck.constantFrom("22003", "23505", "42601", "08006", "57P01", "42P01", "SQLITE_CONSTRAINT_UNIQUE")
          .map(pgError),
        FastCheck.integer({ min: 400, max: 599 }).map((status) => ({ status })),
        FastCheck.constantFrom("WRONGTYPE x", "ERR syntax error", "LOADING x", "BUSY x").map(reply),
        FastCheck.constantFrom("EISDIR", "ENOENT", "ECONNREFUSED", "EPIPE").map((code) => systemError(code, "open")),
        FastCheck.anything()
      ),
      layers: FastCheck.integer({ min: 1, max: 20 }),
      wrapper: FastCheck.constantFrom(
        (cause: unknown): unknown => ({ cause }),
        (cause: unknown): unknown => new Error("wrapped", { cause }),
        (cause: unknown): unknown => new SaveFailed({ cause }),
        (cause: unknown): unknown => new Cause.UnknownException(cause)
      )
    },
    ({ error, layers, wrapper }) => {
      let wrapped = error
      for (let i = 0; i < layers; i++) wrapped = wrapper(wrapped)
      for (const [name, p] of everyPredicate) assert.strictEqual(p(wrapped), p(error), name)
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("unknown errors and non-objects", () => {
  const unknown: ReadonlyArray<readonly [string, unknown]> = [
    ["undefined", undefined],
    ["null", null],
    ["a string", "boom"],
    ["a number", 42],
    ["zero", 0],
    ["a boolean", false],
    ["a symbol", Symbol("boom")],
    ["a bigint", 10n],
    ["a plain Error", new Error("boom")],
    ["an empty object", {}],
    ["an array", []],
    ["a function", () => "boom"],
    ["a tagged error", new SaveFailed({ cause: "disk" })]
  ]

  it.each(unknown)("%s is an outage for every predicate", (_, error) => {
    for (const [name, p] of everyPredicate) assert.strictEqual(p(error), true, name)
  })

  it("each backend's predicate knows only its own rejections", () => {
    assert.strictEqual(Classify.sql({ status: 404 }), true)
    assert.strictEqual(Classify.sql(reply("WRONGTYPE x")), true)
    assert.strictEqual(Classify.http({ code: "23505" }), true)
    assert.strictEqual(Classify.http(systemError("EISDIR", "read")), true)
    assert.strictEqual(Classify.redis({ status: 400 }), true)
    assert.strictEqual(Classify.node({ code: "22003" }), true)
    assert.strictEqual(Classify.node({ status: 404 }), true)
  })

  it.prop(
    "every predicate answers a boolean and never throws, whatever it is given",
    {
      input: FastCheck.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withObjectString: true,
        withSet: true,
        withSparseArray: true,
        withTypedArray: true
      })
    },
    ({ input }) => {
      for (const [name, p] of everyPredicate) assert.strictEqual(typeof p(input), "boolean", name)
      assert.isArray(Classify.causes(input))
      const status = Classify.httpStatus(input)
      assert.isTrue(status === undefined || typeof status === "number")
    },
    { fastCheck: { numRuns: 500 } }
  )
})

describe("CallTimeoutError", () => {
  const timeout = new CircuitBreaker.CallTimeoutError({ breaker: "db", timeout: Duration.seconds(5) })

  it("is an outage for every predicate, bare and wrapped", () => {
    for (const [name, p] of everyPredicate) {
      assert.strictEqual(p(timeout), true, name)
      assert.strictEqual(p(new SaveFailed({ cause: timeout })), true, name)
    }
  })

  it("is recognised, not only unknown: it decides before what it wraps", () => {
    const withCause = new CircuitBreaker.CallTimeoutError({ breaker: "db", timeout: Duration.seconds(5) })
    Object.assign(withCause, { cause: pgError("23505") })
    assert.strictEqual(Classify.sql(withCause), true)
  })

  it.scoped("the one a breaker fails with is an outage for every predicate", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("classify-timeout"),
        trip: CircuitBreaker.consecutiveFailures(3),
        reset: Schedule.spaced("30 seconds"),
        callTimeout: "1 second"
      })
      const fiber = yield* Effect.fork(Effect.flip(breaker(Effect.never)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "CallTimeoutError")
      for (const [name, p] of everyPredicate) assert.strictEqual(p(error), true, name)
    }))
})

describe("combinators", () => {
  it("isRejection is the complement", () => {
    const isRefused = Classify.isRejection(Classify.http)
    assert.strictEqual(isRefused({ status: 422 }), true)
    assert.strictEqual(isRefused({ status: 503 }), false)
    assert.strictEqual(isRefused(new Error("boom")), false)
  })

  it("all: an outage only when every predicate says so", () => {
    const objectStore = Classify.all(Classify.http, Classify.node)
    assert.strictEqual(objectStore(systemError("EISDIR", "open")), false)
    assert.strictEqual(objectStore({ status: 404 }), false)
    assert.strictEqual(objectStore({ status: 503 }), true)
    assert.strictEqual(objectStore(systemError("ECONNRESET", "read")), true)
    assert.strictEqual(objectStore(new Error("boom")), true)
    assert.strictEqual(Classify.all(Classify.http)({ status: 404 }), false)
  })

  it("any: an outage when one predicate says so", () => {
    assert.strictEqual(Classify.any(Classify.http, Classify.sql)({ status: 404 }), true)
    assert.strictEqual(Classify.any(Classify.http, Classify.sql)({ status: 503 }), true)
    assert.strictEqual(Classify.any(Classify.http, Classify.outage)({ status: 404 }), false)
    assert.strictEqual(Classify.any(Classify.http)({ status: 404 }), false)
  })

  it("rejectWhen, data-last and data-first: a rejection when `refused` holds, else what the predicate says", () => {
    class NotFound extends Data.TaggedError("NotFound")<{}> {}
    const refused = (error: unknown) => error instanceof NotFound
    const pipeable = pipe(Classify.http, Classify.rejectWhen(refused))
    const dataFirst = Classify.rejectWhen(Classify.http, refused)
    assert.strictEqual(Classify.http(new NotFound()), true)
    for (const p of [pipeable, dataFirst]) {
      assert.strictEqual(p(new NotFound()), false)
      assert.strictEqual(p({ status: 400 }), false)
      assert.strictEqual(p({ status: 503 }), true)
      assert.strictEqual(p(new Error("boom")), true)
    }
    // it wins over the predicate's outages too
    assert.strictEqual(Classify.rejectWhen(Classify.http, () => true)({ status: 503 }), false)
  })

  it("outageWhen, data-last and data-first: an outage when `down` holds, else what the predicate says", () => {
    const down = (error: unknown) => Classify.httpStatus(error) === 404
    const pipeable = pipe(Classify.http, Classify.outageWhen(down))
    const dataFirst = Classify.outageWhen(Classify.http, down)
    for (const p of [pipeable, dataFirst]) {
      assert.strictEqual(p({ status: 404 }), true)
      assert.strictEqual(p({ status: 400 }), false)
      assert.strictEqual(p({ status: 503 }), true)
    }
    assert.strictEqual(Classify.outageWhen(Classify.http, () => false)({ status: 503 }), true)
  })

  it.scoped("as a breaker's isFailure: rejections pass through unchanged and never open it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("classify-breaker"),
        trip: CircuitBreaker.consecutiveFailures(2),
        reset: Schedule.spaced("30 seconds"),
        isFailure: Classify.sql
      })
      const refused = sqlError(pgError("22003"))
      for (let i = 0; i < 5; i++) assert.strictEqual(yield* Effect.flip(breaker(Effect.fail(refused))), refused)
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      for (let i = 0; i < 2; i++) yield* Effect.flip(breaker(Effect.fail(sqlError(pgError("57P01")))))
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))
})

describe("causes and httpStatus", () => {
  it("causes: the error and what it wraps, outermost first, breadth first", () => {
    const inner = new Error("inner")
    const first = new Error("first", { cause: inner })
    const second = { code: "ECONNREFUSED" }
    const reason = new Error("reason")
    const aggregate = new AggregateError([first, second], "all failed", { cause: reason })
    assert.deepStrictEqual(Classify.causes(aggregate), [aggregate, reason, first, second, inner])
  })

  it("causes: UnknownException's error once, though it is its cause too", () => {
    const inner = pgError("23505")
    const unknown = new Cause.UnknownException(inner)
    assert.deepStrictEqual(Classify.causes(unknown), [unknown, inner])
    // only an object `error` is followed
    const withMessage = { error: "invalid_request_error" }
    assert.deepStrictEqual(Classify.causes(withMessage), [withMessage])
  })

  it("causes of a non-object is empty", () => {
    for (const value of [undefined, null, "boom", 42, Symbol("x")]) assert.deepStrictEqual(Classify.causes(value), [])
  })

  it("httpStatus: the first status found, outermost first, in every shape", () => {
    assert.strictEqual(Classify.httpStatus({ status: 429 }), 429)
    assert.strictEqual(Classify.httpStatus({ statusCode: 404 }), 404)
    assert.strictEqual(Classify.httpStatus({ $metadata: { httpStatusCode: 503 } }), 503)
    assert.strictEqual(Classify.httpStatus({ response: { status: 502 } }), 502)
    assert.strictEqual(Classify.httpStatus(nest({ status: 418 }, 5)), 418)
    assert.strictEqual(Classify.httpStatus({ status: 502, cause: { status: 404 } }), 502)
    assert.strictEqual(Classify.httpStatus({ $metadata: { attempts: 1 }, cause: { statusCode: 409 } }), 409)
    assert.strictEqual(Classify.httpStatus(systemError("ECONNRESET", "read")), undefined)
    assert.strictEqual(Classify.httpStatus(undefined), undefined)
  })
})
