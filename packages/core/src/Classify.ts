/**
 * An outage or the caller's fault: predicates that tell a dependency that
 * cannot serve us from one that refused this request.
 *
 * A breaker that counts every error opens when clients send bad requests:
 * three ids out of a column's range would put a service's database "down".
 * A predicate of this module answers `true` for an **outage** — the
 * dependency cannot serve us: connection refused, reset or timed out, HTTP
 * 5xx, 401/403 (our own credentials), 408, 425, 429, a database out of
 * connections or without our table — and `false` for a **rejection** — it
 * works and refused this request: HTTP 4xx otherwise, SQLSTATE classes 22
 * (data) and 23 (constraint), Redis `WRONGTYPE`/`ERR` replies, a file path
 * the caller chose that is a directory or does not exist. Use one as a
 * breaker's `isFailure`: a rejection then reaches the caller unchanged,
 * counts as `ignored`, never opens (nor closes) the breaker and never runs a
 * fallback.
 *
 * Each predicate reads the error and everything it wraps (`cause`, at any
 * depth: `@effect/sql`'s `SqlError`, an app's own error with a `cause`,
 * `AggregateError`s), outermost first; the first error it recognises
 * decides, and an error it does not recognise at all is an outage, so an
 * unknown failure never hides a dependency that is down.
 *
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * Classify.sql({ code: "22003", message: "value out of range for type integer" }) // false: a rejection
 * Classify.sql({ code: "ECONNREFUSED" }) // true: an outage
 * ```
 *
 * @since 0.2.0
 */
import { dual } from "effect/Function"
import * as internal from "./internal/classify.js"

/**
 * `true` when `error` is an outage of the dependency, `false` when the
 * dependency refused this request. The shape of a breaker's `isFailure`.
 *
 * @since 0.2.0
 * @category models
 */
export type Predicate = (error: unknown) => boolean

const predicate = (recognisers: ReadonlyArray<internal.Recogniser>): Predicate => (error) =>
  internal.classify(error, recognisers) !== internal.REJECTION

/**
 * SQL databases, by SQLSTATE (Postgres through `pg` or `@effect/sql-pg`) or
 * SQLite result code (`better-sqlite3`, `@effect/sql-sqlite-node`).
 *
 * Rejections: classes 22 (data exception: a value out of range, a NUL in
 * text), 23 (constraint violation) and 42 (syntax or access rule) except
 * 42501 (our privileges) and 42P01 (a missing table: our schema);
 * `SQLITE_CONSTRAINT*`, `SQLITE_MISMATCH`, `SQLITE_TOOBIG`, `SQLITE_RANGE`.
 * Everything else is an outage: 08 (connection), 28 (authorization), 53
 * (resources), 57 (shutdown), 58, XX, 40001/40P01 (serialization and
 * deadlock: retryable), `SQLITE_BUSY`, `SQLITE_IOERR`, connection errors.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * // What @effect/sql fails with when Postgres refuses a value.
 * const refused = { _tag: "SqlError", cause: { code: "22003", severity: "ERROR" } }
 * assert.strictEqual(Classify.sql(refused), false)
 * assert.strictEqual(Classify.sql({ _tag: "SqlError", cause: { code: "57P01" } }), true)
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const sql: Predicate = predicate([internal.connection, internal.sql])

/**
 * HTTP clients, by the status where `openai` (`status`), `@aws-sdk/client-s3`
 * (`$metadata.httpStatusCode`), `@effect/platform`'s `HttpClientError`
 * (`response.status`) and others (`statusCode`) put it.
 *
 * Rejections: 4xx but 401, 403, 408, 425 and 429. Outages: those, 5xx, and
 * any error without a status (connection refused, a timeout, an abort).
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * assert.strictEqual(Classify.http({ status: 400 }), false)
 * assert.strictEqual(Classify.http({ status: 429 }), true)
 * assert.strictEqual(Classify.http({ $metadata: { httpStatusCode: 503 } }), true)
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const http: Predicate = predicate([internal.connection, internal.http])

/**
 * Redis through `ioredis`, by the reply's first word: `WRONGTYPE`, `ERR`
 * (but `ERR max number of clients reached`), `BUSYGROUP`, `NOGROUP`,
 * `EXECABORT` and `CROSSSLOT` replies refuse the command; `LOADING`,
 * `BUSY`, `CLUSTERDOWN`, `TRYAGAIN`, `READONLY`, `NOAUTH`, `OOM`, a closed
 * connection and any error that is not a reply are outages.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" })
 * assert.strictEqual(Classify.redis(reply("WRONGTYPE Operation against a key holding the wrong kind of value")), false)
 * assert.strictEqual(Classify.redis(reply("LOADING Redis is loading the dataset in memory")), true)
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const redis: Predicate = predicate([internal.connection, internal.redis])

/**
 * Node's system errors, by `code`: `EISDIR`, `ENOTDIR`, `ENAMETOOLONG`,
 * `EINVAL`, `EEXIST`, `ENOENT`, `ENOTEMPTY` are rejections — about a path
 * the caller chose — unless raised while connecting (`syscall: "connect"`:
 * a missing socket file is an outage); `ECONNREFUSED`, `ECONNRESET`,
 * `ETIMEDOUT`, `EPIPE`, `ENOSPC`, `EIO`, `EACCES` and the rest are outages.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * assert.strictEqual(Classify.node({ code: "EISDIR", syscall: "open" }), false)
 * assert.strictEqual(Classify.node({ code: "ENOSPC", syscall: "write" }), true)
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const node: Predicate = predicate([internal.connection, internal.node])

/**
 * Every backend at once: a rejection when any of {@link sql}, {@link http},
 * {@link redis} or {@link node} recognises one, an outage otherwise.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * assert.strictEqual(Classify.outage({ status: 404 }), false)
 * assert.strictEqual(Classify.outage({ code: "23505" }), false)
 * assert.strictEqual(Classify.outage(new Error("boom")), true)
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const outage: Predicate = predicate([
  internal.connection,
  internal.sql,
  internal.http,
  internal.redis,
  internal.node
])

/**
 * The complement of a predicate: `true` for a rejection.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * const isRefused = Classify.isRejection(Classify.http)
 * assert.strictEqual(isRefused({ status: 422 }), true)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const isRejection = (self: Predicate): Predicate => (error) => !self(error)

/**
 * An outage only when every predicate says so: each one's rejections are
 * rejections. Combines the predicates of the backends a service calls
 * (an object store on HTTP that may also fail on a local path).
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * const objectStore = Classify.all(Classify.http, Classify.node)
 * assert.strictEqual(objectStore({ code: "EISDIR", syscall: "open" }), false)
 * assert.strictEqual(objectStore({ status: 404 }), false)
 * assert.strictEqual(objectStore({ status: 503 }), true)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const all = (first: Predicate, ...rest: ReadonlyArray<Predicate>): Predicate => (error) => {
  if (!first(error)) return false
  for (const p of rest) if (!p(error)) return false
  return true
}

/**
 * An outage when any predicate says so: the strictest reading.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * // A 404 is a rejection for HTTP, but unknown to SQL, and so an outage there.
 * assert.strictEqual(Classify.any(Classify.http, Classify.sql)({ status: 404 }), true)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const any = (first: Predicate, ...rest: ReadonlyArray<Predicate>): Predicate => (error) => {
  if (first(error)) return true
  for (const p of rest) if (p(error)) return true
  return false
}

/**
 * Adds rejections the backend's predicate does not know: `error` is a
 * rejection when `refused(error)` holds, else what `self` says.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * class NotFound {
 *   readonly _tag = "NotFound"
 * }
 * const isFailure = Classify.rejectWhen(Classify.http, (e) => e instanceof NotFound)
 * assert.strictEqual(isFailure(new NotFound()), false)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const rejectWhen: {
  (refused: (error: unknown) => boolean): (self: Predicate) => Predicate
  (self: Predicate, refused: (error: unknown) => boolean): Predicate
} = dual(
  2,
  (self: Predicate, refused: (error: unknown) => boolean): Predicate => (error) => !refused(error) && self(error)
)

/**
 * Adds outages the backend's predicate would call rejections: `error` is an
 * outage when `down(error)` holds, else what `self` says (a `404` of a
 * health endpoint that only fails when the deployment is broken, say).
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * const isFailure = Classify.outageWhen(Classify.http, (e) => (e as { status?: number }).status === 404)
 * assert.strictEqual(isFailure({ status: 404 }), true)
 * assert.strictEqual(isFailure({ status: 400 }), false)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const outageWhen: {
  (down: (error: unknown) => boolean): (self: Predicate) => Predicate
  (self: Predicate, down: (error: unknown) => boolean): Predicate
} = dual(2, (self: Predicate, down: (error: unknown) => boolean): Predicate => (error) => down(error) || self(error))

/**
 * The error and everything it wraps, outermost first, as the predicates read
 * them: `cause` at any depth, Effect's `UnknownException#error`, and the
 * `errors` of an `AggregateError`; each at most once (a cycle ends).
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * const inner = new Error("connect ECONNREFUSED")
 * assert.deepStrictEqual(Classify.causes(new Error("query failed", { cause: inner }))[1], inner)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const causes = (error: unknown): ReadonlyArray<unknown> => internal.chain(error)

/**
 * The first HTTP status found in the error or what it wraps (`status`,
 * `statusCode`, `$metadata.httpStatusCode`, `response.status`), if any.
 *
 * @example
 * ```ts
 * import { Classify } from "@effect-resilience/core"
 *
 * assert.strictEqual(Classify.httpStatus({ cause: { $metadata: { httpStatusCode: 503 } } }), 503)
 * assert.strictEqual(Classify.httpStatus(new Error("ECONNRESET")), undefined)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const httpStatus = (error: unknown): number | undefined => {
  for (const link of internal.chain(error)) {
    const status = internal.statusOf(link)
    if (status !== undefined) return status
  }
  return undefined
}
