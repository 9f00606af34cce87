/**
 * Reading an error and its cause chain in the shapes real clients throw, to
 * tell an outage of a dependency from its refusal of one request.
 *
 * A recogniser looks at one link of the chain and answers `OUTAGE`,
 * `REJECTION` or `UNKNOWN`; a classifier asks its recognisers link by link,
 * outermost first, and the first link that any of them recognises decides.
 * A chain nobody recognises is an outage: an error we cannot read must not
 * hide a dependency that is down.
 *
 * @internal
 */

export const OUTAGE = 1
export const REJECTION = 2
export const UNKNOWN = 0
export type Verdict = typeof OUTAGE | typeof REJECTION | typeof UNKNOWN

export type Recogniser = (link: object) => Verdict

/** Links followed at most: real chains are a few links; this only ends one a getter builds without end. */
const maxLinks = 1024

/**
 * The error and what it wraps, outermost first: `cause` (Error's own,
 * `@effect/sql`'s `SqlError`, `@effect/platform`'s `RequestError`), `error`
 * (Effect's `UnknownException`) and `errors` (`AggregateError`, which Node
 * throws when every address of a host refuses), each followed to any depth.
 */
export const chain = (error: unknown): Array<object> => {
  const links: Array<object> = []
  const seen = new Set<unknown>()
  const queue: Array<unknown> = [error]
  while (queue.length > 0 && links.length < maxLinks) {
    const link = queue.shift()
    if (link === null || (typeof link !== "object" && typeof link !== "function") || seen.has(link)) continue
    seen.add(link)
    links.push(link)
    try {
      const o = link as { readonly cause?: unknown; readonly error?: unknown; readonly errors?: unknown }
      if (o.cause !== undefined) queue.push(o.cause)
      if (o.error !== undefined && typeof o.error === "object") queue.push(o.error)
      if (Array.isArray(o.errors)) { for (const inner of o.errors.slice(0, maxLinks)) queue.push(inner) }
    } catch {
      // A getter that throws ends this branch of the chain, not the classification.
    }
  }
  return links
}

/** Classifies by the first link any recogniser decides; outage when none does. */
export const classify = (error: unknown, recognisers: ReadonlyArray<Recogniser>): Verdict => {
  for (const link of chain(error)) {
    for (const recognise of recognisers) {
      let verdict: Verdict
      try {
        verdict = recognise(link)
      } catch {
        verdict = UNKNOWN
      }
      if (verdict !== UNKNOWN) return verdict
    }
  }
  return OUTAGE
}

const read = (link: object, key: string): unknown => {
  try {
    return (link as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

const stringField = (link: object, key: string): string | undefined => {
  const value = read(link, key)
  return typeof value === "string" ? value : undefined
}

// -----------------------------------------------------------------------------
// connection level: an outage for every backend
// -----------------------------------------------------------------------------

/** Names of the errors that say "no answer in time" or "the connection went away". */
const connectionNames: ReadonlySet<string> = new Set([
  "CallTimeoutError",
  "TimeoutException",
  "TimeoutError",
  "AbortError",
  "APIConnectionError",
  "APIConnectionTimeoutError",
  "MaxRetriesPerRequestError",
  "ConnectionTimeoutError"
])

/** Node's errnos of a connection or of the machine: refused, reset, unreachable, out of space. */
const connectionCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOSPC",
  "EIO",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ESOCKETTIMEDOUT",
  "EMFILE",
  "ENFILE",
  "ENOMEM",
  "EDQUOT",
  "EROFS",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED"
])

/** Messages of clients that report a lost connection without a code (ioredis, pg). */
const connectionMessage =
  /^(connection is closed|connection terminated|client has encountered a connection error|stream isn't writeable|socket closed|socket hang up)/i

export const connection: Recogniser = (link) => {
  const tag = stringField(link, "_tag")
  const name = stringField(link, "name")
  if ((tag !== undefined && connectionNames.has(tag)) || (name !== undefined && connectionNames.has(name))) {
    return OUTAGE
  }
  const code = stringField(link, "code")
  if (code !== undefined && connectionCodes.has(code)) return OUTAGE
  const message = stringField(link, "message")
  if (message !== undefined && connectionMessage.test(message)) return OUTAGE
  return UNKNOWN
}

// -----------------------------------------------------------------------------
// SQL: SQLSTATE (Postgres, through pg and @effect/sql) and SQLite result codes
// -----------------------------------------------------------------------------

/** Every SQLSTATE class: a five-character `code` is read as SQLSTATE only when its class is one. */
const sqlStateClasses: ReadonlySet<string> = new Set([
  "00",
  "01",
  "02",
  "03",
  "08",
  "09",
  "0A",
  "0B",
  "0F",
  "0L",
  "0P",
  "0Z",
  "20",
  "21",
  "22",
  "23",
  "24",
  "25",
  "26",
  "27",
  "28",
  "2B",
  "2D",
  "2F",
  "34",
  "38",
  "39",
  "3B",
  "3D",
  "3F",
  "40",
  "42",
  "44",
  "53",
  "54",
  "55",
  "57",
  "58",
  "72",
  "F0",
  "HV",
  "P0",
  "XX"
])

/** Classes 22 (data exception), 23 (integrity constraint) and 42 (syntax, access) are about the statement. */
const rejectedSqlClasses: ReadonlySet<string> = new Set(["22", "23", "42"])

/** Class 42 codes about us, not the statement: our privileges (42501) and our schema (42P01, no such table). */
const outageSqlStates: ReadonlySet<string> = new Set(["42501", "42P01"])

/** SQLite result codes (primary or extended) that refuse the statement, not the database. */
const rejectedSqliteCodes = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)(_|$)/

export const sql: Recogniser = (link) => {
  const code = stringField(link, "code")
  if (code === undefined) return UNKNOWN
  if (code.length === 5 && /^[0-9A-Z]{5}$/.test(code) && sqlStateClasses.has(code.slice(0, 2))) {
    if (outageSqlStates.has(code)) return OUTAGE
    return rejectedSqlClasses.has(code.slice(0, 2)) ? REJECTION : OUTAGE
  }
  if (code.startsWith("SQLITE_")) return rejectedSqliteCodes.test(code) ? REJECTION : OUTAGE
  return UNKNOWN
}

// -----------------------------------------------------------------------------
// HTTP: a status where openai, @aws-sdk and @effect/platform put it
// -----------------------------------------------------------------------------

/** 4xx that say the service cannot serve anyone: our credentials, a timeout, too early, too many requests. */
const outageStatuses: ReadonlySet<number> = new Set([401, 403, 408, 425, 429])

const isStatus = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 100 && u <= 599

/** The HTTP status of one link: `status`, `statusCode`, `$metadata.httpStatusCode` or `response.status`. */
export const statusOf = (link: object): number | undefined => {
  const status = read(link, "status")
  if (isStatus(status)) return status
  const statusCode = read(link, "statusCode")
  if (isStatus(statusCode)) return statusCode
  const metadata = read(link, "$metadata")
  if (typeof metadata === "object" && metadata !== null) {
    const code = read(metadata, "httpStatusCode")
    if (isStatus(code)) return code
  }
  const response = read(link, "response")
  if (typeof response === "object" && response !== null) {
    const code = read(response, "status")
    if (isStatus(code)) return code
  }
  return undefined
}

export const http: Recogniser = (link) => {
  const status = statusOf(link)
  if (status === undefined) return UNKNOWN
  if (status >= 400 && status < 500 && !outageStatuses.has(status)) return REJECTION
  // 5xx and the outage 4xx; a 1xx–3xx that a client turned into an error is not the caller's fault either.
  return OUTAGE
}

// -----------------------------------------------------------------------------
// Redis: ioredis reply errors, by the reply's first word
// -----------------------------------------------------------------------------

/**
 * The one `ERR` reply about the server, not the command. Any other `ERR` is
 * the caller's, and may quote the caller's words ("ERR timeout is not a float
 * or out of range", "ERR unknown command 'busy'"): never search it for a word.
 */
const redisServerErr = /^ERR max number of clients reached/i

/**
 * Replies that refuse this command, not the server: a key of another type, a
 * stream group that exists already or not at all, a MULTI discarded for an
 * earlier refused command, keys in different cluster slots.
 */
const rejectedRedisReplies: ReadonlySet<string> = new Set([
  "WRONGTYPE",
  "BUSYGROUP",
  "NOGROUP",
  "EXECABORT",
  "CROSSSLOT"
])

export const redis: Recogniser = (link) => {
  if (stringField(link, "name") !== "ReplyError" && typeof read(link, "command") !== "object") return UNKNOWN
  const message = stringField(link, "message")
  if (message === undefined) return UNKNOWN
  const prefix = /^([A-Z]+)(\s|$)/.exec(message)?.[1]
  if (prefix === undefined) return UNKNOWN
  if (rejectedRedisReplies.has(prefix)) return REJECTION
  if (prefix === "ERR") return redisServerErr.test(message) ? OUTAGE : REJECTION
  // LOADING, BUSY, CLUSTERDOWN, TRYAGAIN, READONLY, NOAUTH, OOM, MASTERDOWN, …: the server, not the command.
  return OUTAGE
}

// -----------------------------------------------------------------------------
// Node errnos
// -----------------------------------------------------------------------------

/** Errnos about a path or argument the caller chose. */
const rejectedErrnos: ReadonlySet<string> = new Set([
  "EISDIR",
  "ENOTDIR",
  "ENAMETOOLONG",
  "EINVAL",
  "EEXIST",
  "ENOENT",
  "ENOTEMPTY",
  "ERR_INVALID_ARG_TYPE",
  "ERR_INVALID_ARG_VALUE"
])

/** System calls of a connection: their `ENOENT` (a missing socket file) or `EINVAL` is an outage. */
const connectionSyscalls: ReadonlySet<string> = new Set(["connect", "getaddrinfo", "getnameinfo", "spawn", "listen"])

export const node: Recogniser = (link) => {
  const code = stringField(link, "code")
  if (code === undefined || !/^(E[A-Z0-9_]+|ERR_[A-Z0-9_]+)$/.test(code)) return UNKNOWN
  if (!rejectedErrnos.has(code)) return UNKNOWN
  const syscall = stringField(link, "syscall")
  return syscall !== undefined && connectionSyscalls.has(syscall) ? OUTAGE : REJECTION
}
