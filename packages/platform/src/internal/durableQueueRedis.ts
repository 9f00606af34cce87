/**
 * The Redis store of `DurableQueue`: `@effect/experimental`'s Redis
 * `PersistedQueue` store, plus dead letters, a replay lease and the repair
 * of the head, each an atomic script. Loaded by the `/redis` subpath only:
 * ioredis is an optional peer.
 *
 * @internal
 */
import * as RedisPersistedQueue from "@effect/experimental/PersistedQueue/Redis"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import type { DurableQueueError } from "./durableQueueError.js"
import {
  type Backend,
  type CommonOptions,
  commonOptions,
  holdLease,
  Store,
  type StoredDeadLetter,
  storeErrors
} from "./durableQueueStore.js"
import { fail as invalid } from "./options.js"

/** Options of `layerRedis`. */
export type RedisStoreOptions = RedisOptions & CommonOptions & {
  /** Prefix of every key of the queue (default `"effectq:"`, the store's). */
  readonly prefix?: string | undefined
  /** How long the layer waits for Redis to answer at start (default 5 s). */
  readonly connectTimeout?: number | undefined
}

const module = "DurableQueue.layerRedis"

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

const checkOptions = (options: RedisStoreOptions) => {
  if (options === null || typeof options !== "object") invalid(module, "options", "an object", options)
  const timing = commonOptions(module, options)
  const prefix = options.prefix ?? "effectq:"
  if (typeof prefix !== "string") invalid(module, "prefix", "a string", prefix)
  const { connectTimeout: _c, lockExpiration: _l, pollInterval: _p, prefix: _x, ...redisOptions } = options
  return {
    ...timing,
    prefix,
    redisOptions: redisOptions as RedisOptions,
    connectTimeout: Duration.millis(options.connectTimeout ?? 5000),
    location: `redis ${options.host ?? "127.0.0.1"}:${options.port ?? 6379}, prefix ${prefix}`
  }
}

type Checked = ReturnType<typeof checkOptions>

/** Our own connection (the store opens another); Redis down at start fails the layer, naming where it looked. */
const connect = (
  options: Checked,
  error: (what: string) => (cause: unknown) => DurableQueueError
): Effect.Effect<Redis, DurableQueueError, Scope.Scope> =>
  Effect.acquireRelease(
    // ioredis' own option types disagree under `exactOptionalPropertyTypes`.
    Effect.sync(() => {
      const redis = new Redis({ ...options.redisOptions, lazyConnect: true, maxRetriesPerRequest: 3 } as any)
      // Failures reach us through the commands; without a listener ioredis prints every
      // reconnection error as "Unhandled error event".
      redis.on("error", () => {})
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  ).pipe(
    Effect.tap((redis) =>
      Effect.tryPromise(() => redis.connect().then(() => redis.ping())).pipe(
        Effect.timeoutFail({ duration: options.connectTimeout, onTimeout: () => new Error("no answer") }),
        Effect.mapError(error("cannot reach Redis"))
      )
    )
  )

/** The keys of one queue: the store's (list, pending hash, ids set), then ours. */
const keysOf = (prefix: string, name: string) => ({
  queue: `${prefix}${name}`,
  pending: `${prefix}${name}:pending`,
  ids: `${prefix}${name}:ids`,
  dead: `${prefix}${name}:dead`,
  deadOrder: `${prefix}${name}:dead:order`,
  lease: `${prefix}${name}:replay`
})

/** What the operations of one store share. */
interface Connection {
  readonly redis: Redis
  readonly prefix: string
  readonly persisted: Backend["persisted"]
  readonly error: (what: string) => (cause: unknown) => DurableQueueError
  readonly pollInterval: Duration.Duration
  readonly lockExpiration: Duration.Duration
}

const run = <A>(c: Connection, what: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: c.error(what) })

const size = (c: Connection): Backend["size"] => (name) => {
  const k = keysOf(c.prefix, name)
  return run(
    c,
    "cannot count the queue",
    () =>
      c.redis.multi().llen(k.queue).hlen(k.pending).exec().then((results) =>
        (results ?? []).reduce((n, [e, value]) => {
          if (e) throw e
          return n + Number(value)
        }, 0)
      )
  )
}

// The store pushes a failed entry to the tail: move it back to the head.
const keepFirst = (c: Connection): Backend["keepFirst"] => (name, id) =>
  Effect.asVoid(
    run(c, "cannot keep the entry first", () => c.redis.eval(keepFirstScript, 1, keysOf(c.prefix, name).queue, id))
  )

// The store's ids set only deduplicates offers: an entry gone for good leaves it.
const completed = (c: Connection): Backend["completed"] => (name, id) =>
  Effect.asVoid(run(c, "cannot complete an entry", () => c.redis.srem(keysOf(c.prefix, name).ids, id)))

const deadLetter = (c: Connection): Backend["deadLetter"] => (name, letter) => {
  const k = keysOf(c.prefix, name)
  const record = (at: number) =>
    JSON.stringify({ element: letter.element, attempts: letter.attempts, error: letter.error, at })
  return Effect.flatMap(Clock.currentTimeMillis, (now) =>
    run(
      c,
      "cannot record a dead letter",
      () => c.redis.eval(deadLetterScript, 2, k.dead, k.deadOrder, letter.id, record(now))
    )).pipe(Effect.asVoid)
}

const deadLetters = (c: Connection): Backend["deadLetters"] => (name) => {
  const k = keysOf(c.prefix, name)
  return run(c, "cannot read the dead letters", async () => {
    const ids = await c.redis.lrange(k.deadOrder, 0, -1)
    if (ids.length === 0) return []
    const payloads = await c.redis.hmget(k.dead, ...ids)
    const letters: Array<StoredDeadLetter> = []
    ids.forEach((id, i) => {
      const payload = payloads[i]
      if (payload == null) return
      const parsed = JSON.parse(payload) as { element: unknown; attempts: number; error: string }
      letters.push({ id, element: parsed.element, attempts: parsed.attempts, error: parsed.error })
    })
    return letters
  })
}

const redrive = (c: Connection): Backend["redrive"] => (name, id) => {
  const k = keysOf(c.prefix, name)
  return Effect.gen(function*() {
    const payload = yield* run(c, "cannot read a dead letter", () => c.redis.hget(k.dead, id))
    if (payload === null) return false
    const parsed = JSON.parse(payload) as { element: unknown }
    // Live first, dead letter dropped last: a crash in between leaves a duplicate, never a loss.
    yield* run(c, "cannot redrive a dead letter", () => c.redis.srem(k.ids, id))
    yield* c.persisted.offer({ name, id, element: parsed.element, isCustomId: true }).pipe(
      Effect.mapError(c.error("cannot redrive a dead letter"))
    )
    yield* run(c, "cannot redrive a dead letter", () => c.redis.eval(dropDeadScript, 2, k.dead, k.deadOrder, id))
    return true
  })
}

const lease = (c: Connection): Backend["lease"] => (name) => {
  const key = keysOf(c.prefix, name).lease
  const ttl = Duration.toMillis(c.lockExpiration)
  return holdLease({
    pollInterval: c.pollInterval,
    ttl: c.lockExpiration,
    acquire: (holder) =>
      run(c, "cannot take the replay lease", () => c.redis.set(key, holder, "PX", ttl, "NX")).pipe(
        Effect.map((reply) => reply === "OK")
      ),
    refresh: (holder) =>
      run(c, "cannot refresh the replay lease", () => c.redis.eval(refreshScript, 1, key, holder, ttl)).pipe(
        Effect.map((reply) => Number(reply) === 1)
      ),
    release: (holder) =>
      Effect.asVoid(run(c, "cannot release the replay lease", () => c.redis.eval(releaseScript, 1, key, holder)))
  })
}

// Under the lease nobody else delivers: a pending entry was left by a dead consumer. Back to the head.
const recover = (c: Connection): Backend["recover"] => (name) => {
  const k = keysOf(c.prefix, name)
  return Effect.asVoid(
    run(
      c,
      "cannot recover entries left in delivery",
      () => c.redis.eval(recoverScript, 2, k.queue, k.pending, c.prefix)
    )
  )
}

/** @internal */
export const layerRedis = (options: RedisStoreOptions): Layer.Layer<Store, DurableQueueError> =>
  Layer.scoped(
    Store,
    Effect.gen(function*() {
      const checked = checkOptions(options)
      const { location, lockExpiration, lockRefreshInterval, pollInterval, prefix } = checked
      const error = storeErrors("redis", location)
      const redis = yield* connect(checked, error)
      const persisted = yield* RedisPersistedQueue.make(
        {
          ...checked.redisOptions,
          prefix,
          pollInterval,
          lockExpiration,
          lockRefreshInterval
        } as Parameters<typeof RedisPersistedQueue.make>[0]
      )
      const c: Connection = { redis, prefix, persisted, error, pollInterval, lockExpiration }
      return {
        store: "redis",
        location,
        persisted,
        takeTimeout: lockExpiration,
        size: size(c),
        keepFirst: keepFirst(c),
        completed: completed(c),
        deadLetter: deadLetter(c),
        deadLetters: deadLetters(c),
        redrive: redrive(c),
        lease: lease(c),
        recover: recover(c),
        prune: () => Effect.void
      } satisfies Backend
    })
  )
