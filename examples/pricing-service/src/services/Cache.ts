/**
 * The price cache: Redis through `ioredis` (`REDIS_URL`), or an in-process
 * map. Calls never queue while Redis is away (no offline queue, one retry):
 * a cache that makes requests wait is worse than none. An entry that is not
 * a product (written by something else, or corrupt) reads as a miss: the
 * next read from the database overwrites it.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Classify } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Redis } from "ioredis"
import type { Product } from "./Db.js"
import * as Failure from "./Failure.js"

/** Redis failed (`kind: "outage"`) or refused the command (`"rejection"`: `WRONGTYPE`, `ERR`), by `Classify.redis`. */
export class CacheError extends Data.TaggedError("CacheError")<{
  readonly message: string
  readonly kind: Failure.Kind
  readonly cause?: unknown
}> {}

/** The redis breaker's `isFailure`: a command Redis refused never counts against it. */
export const isFailure = Failure.isFailure(Classify.redis)

/** The product cache, read before the database. */
export class Cache extends Context.Tag("pricing-service/Cache")<Cache, {
  readonly get: (id: number) => Effect.Effect<Option.Option<Product>, CacheError | CircuitBreaker.Unavailable>
  readonly set: (product: Product) => Effect.Effect<void, CacheError | CircuitBreaker.Unavailable>
  readonly ping: Effect.Effect<void, CacheError | CircuitBreaker.Unavailable>
}>() {}

const key = (id: number) => `pricing-service:product:${id}`
const ttlSeconds = 3600

const toCacheError = (cause: unknown) =>
  new CacheError({
    message: cause instanceof Error ? cause.message : String(cause),
    kind: Failure.kindOf(Classify.redis, cause),
    cause
  })

const CachedProduct = Schema.parseJson(Schema.Struct({ id: Schema.Number, name: Schema.String, price: Schema.Number }))
const decodeCached = Schema.decodeUnknownOption(CachedProduct)

/**
 * Redis. `commandTimeout` bounds a command on the client as well, so a hung
 * server (SIGSTOP) does not pile up pending commands behind the breaker's
 * call timeout.
 */
export const layerRedis = (url: string, commandTimeout: Duration.Duration): Layer.Layer<Cache> =>
  Layer.scoped(
    Cache,
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new Redis(url, {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: Math.max(1, Duration.toMillis(commandTimeout)),
            connectTimeout: 2000,
            retryStrategy: (times) => Math.min(times * 100, 1000)
          })
        ),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      // Errors surface through commands; an unhandled 'error' event would crash the process.
      redis.on("error", () => {})
      // Start even when Redis is away: the cache is optional, its breaker and health check report it.
      yield* Effect.async<void>((resume) => {
        const done = () => resume(Effect.void)
        redis.once("ready", done)
        const timer = setTimeout(done, 2000)
        return Effect.sync(() => {
          clearTimeout(timer)
          redis.off("ready", done)
        })
      })
      const run = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: toCacheError })
      return Cache.of({
        get: (id) =>
          run(() => redis.get(key(id))).pipe(
            Effect.map((raw) => Option.flatMap(Option.fromNullable(raw), decodeCached))
          ),
        set: (product) =>
          run(() => redis.set(key(product.id), JSON.stringify(product), "EX", ttlSeconds)).pipe(Effect.asVoid),
        ping: run(() => redis.ping()).pipe(Effect.asVoid)
      })
    })
  )

/** The embedded default: a map in this process. */
export const layerMemory: Layer.Layer<Cache> = Layer.sync(Cache, () => {
  const entries = new Map<number, Product>()
  return Cache.of({
    get: (id) => Effect.sync(() => Option.fromNullable(entries.get(id))),
    set: (product) => Effect.sync(() => void entries.set(product.id, product)),
    ping: Effect.void
  })
})
