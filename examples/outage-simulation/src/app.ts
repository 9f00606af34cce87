/**
 * The pricing service, as far as the scenarios need it: its four
 * dependencies defined as the application defines them — services with
 * members, wrapped by `Dependency.layer` with their presets and
 * fallbacks — over in-memory raw services, each wrapped by `Faults.layer`
 * so that a scenario can take it down.
 *
 * | dependency | service | fallback |
 * |---|---|---|
 * | `openai` | `Ai { enhancePrices, ocr }` | baseline pricing (×1.3), the raw OCR text |
 * | `db` | `Db { getPrice, savePrice, ping }` | reads from the cache, writes blocked with a clear error |
 * | `redis` | `Cache { getPrice }` | reads straight from the DB |
 * | `s3` | `S3 { upload }` | a write-behind queue, replayed when S3 is back |
 *
 * OpenAI's two members are pure computations, so they are retried (see
 * {@link aiRetries}); no write is.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Degradation, Dependency, Fallback, Presets, Retry, RetryBudget } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/** A failed query. */
export class DbError extends Data.TaggedError("DbError")<{ readonly message: string }> {}
/** A failed cache read. */
export class CacheError extends Data.TaggedError("CacheError")<{ readonly message: string }> {}
/** A failed AI request. */
export class AiError extends Data.TaggedError("AiError")<{ readonly message: string }> {}
/** A failed upload. */
export class S3Error extends Data.TaggedError("S3Error")<{ readonly message: string }> {}

/** The price database. `ping` has no fallback, so it declares the breaker's errors. */
export class Db extends Context.Tag("outage-simulation/Db")<Db, {
  readonly getPrice: (id: string) => Effect.Effect<number, DbError | CircuitBreaker.Unavailable>
  readonly savePrice: (id: string, price: number) => Effect.Effect<void, DbError | Fallback.UnavailableError>
  readonly ping: Effect.Effect<void, DbError | CircuitBreaker.Unavailable>
}>() {}

/** The Redis cache of prices. */
export class Cache extends Context.Tag("outage-simulation/Cache")<Cache, {
  readonly getPrice: (id: string) => Effect.Effect<number, CacheError | DbError | CircuitBreaker.Unavailable>
}>() {}

/** The AI pricing / OCR API. */
export class Ai extends Context.Tag("outage-simulation/Ai")<Ai, {
  readonly enhancePrices: (prices: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<number>, AiError>
  readonly ocr: (text: string) => Effect.Effect<string, AiError>
}>() {}

/** Receipt uploads. */
export class S3 extends Context.Tag("outage-simulation/S3")<S3, {
  readonly upload: (key: string, body: string) => Effect.Effect<void, S3Error | Fallback.WriteBehindError>
}>() {}

/** An upload kept by the write-behind queue while S3 is down. */
export interface Upload {
  readonly key: string
  readonly body: string
}

/** The four dependencies, by name. */
export type DependencyKey = "openai" | "db" | "redis" | "s3"

/** The name of each dependency: of its breaker, its metrics and its `Faults` control. */
export type Names = Readonly<Record<DependencyKey, string>>

/** The dependencies' names (`openai`, `db`, `redis`, `s3`), each followed by `-suffix` when given. */
export const names = (suffix?: string): Names => {
  const name = (base: DependencyKey) => suffix === undefined ? base : `${base}-${suffix}`
  return { openai: name("openai"), db: name("db"), redis: name("redis"), s3: name("s3") }
}

// -----------------------------------------------------------------------------
// the raw services, in memory
// -----------------------------------------------------------------------------

/** What the in-memory DB, cache and bucket hold, and the queue of uploads S3 has not taken yet. */
export interface Store {
  readonly prices: Map<string, number>
  readonly uploads: Array<Upload>
  readonly queue: Fallback.WriteBehindQueue<Upload>
}

/** A fresh store: prices `p1` = 100 and `p2` = 200, no uploads, an empty queue. */
export const makeStore = (options?: { readonly queueName?: string | undefined }): Effect.Effect<Store> =>
  Effect.map(Fallback.memoryQueue<Upload>({ name: options?.queueName ?? "s3" }), (queue) => ({
    prices: new Map([["p1", 100], ["p2", 200]]),
    uploads: [],
    queue
  }))

/** The in-memory raw services: they always answer (faults come from `Faults.layer`). */
export const raw = {
  db: (store: Store): Context.Tag.Service<Db> => ({
    getPrice: (id) => Effect.sync(() => store.prices.get(id) ?? 0),
    savePrice: (id, price) => Effect.sync(() => void store.prices.set(id, price)),
    ping: Effect.void
  }),
  cache: (store: Store): Context.Tag.Service<Cache> => ({
    getPrice: (id) => Effect.sync(() => store.prices.get(id) ?? 0)
  }),
  ai: (_store: Store): Context.Tag.Service<Ai> => ({
    enhancePrices: (prices) => Effect.succeed(prices.map((p) => p * 1.1)),
    ocr: (text) => Effect.succeed(text.toUpperCase())
  }),
  s3: (store: Store): Context.Tag.Service<S3> => ({
    upload: (key, body) => Effect.sync(() => void store.uploads.push({ key, body }))
  })
}

// -----------------------------------------------------------------------------
// the application's dependencies
// -----------------------------------------------------------------------------

/**
 * The cache: `Presets.redis`; a read it cannot answer goes straight to the
 * DB — the raw DB this layer is built on, captured now: a fallback's tags
 * resolve in the caller's context, where `Db` is the protected DB, whose
 * own read fallback is the cache (a loop while both are down).
 */
export const CacheLive = (names: Names) =>
  Layer.unwrapEffect(Effect.map(Db, (rawDb) =>
    Dependency.layer(Cache, {
      ...Presets.redis,
      name: names.redis,
      health: (cache) => cache.getPrice("health"),
      fallback: { getPrice: Fallback.make((_error, id: string) => rawDb.getPrice(id)) }
    })))

/** The DB: `Presets.db`; reads fall back to the (protected) cache, writes are blocked with a clear error. */
export const DbLive = (names: Names) =>
  Dependency.layer(Db, {
    ...Presets.db,
    name: names.db,
    health: (db) => db.ping,
    fallback: {
      getPrice: Fallback.fromDependency(Cache, (cache, _error, id: string) =>
        Effect.catchAll(cache.getPrice(id), () =>
          Effect.fail(new DbError({ message: "no copy of the price" })))),
      savePrice: Presets.writesBlocked(names.db)
    }
  })

/**
 * OpenAI's retries: pricing and OCR clean-up compute an answer and change
 * nothing, so asking again is safe. Three attempts in all, ~100 ms then
 * ~200 ms apart (jittered); a 429's `retry-after(-ms)` is waited for. The
 * budget lets retries add at most 20 % of the first attempts, plus 2 per
 * 10 s window whatever the traffic: at 10 calls per second, 22 retries per
 * 10 s at most.
 */
export const aiRetries = {
  members: ["enhancePrices", "ocr"],
  schedule: Schedule.exponential("100 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(2))),
  budget: { ratio: 0.2, minPerSecond: 0.2, window: "10 seconds" }
} as const

/**
 * The AI API: `Presets.openai`, its pure members retried (unless `retries:
 * false`); baseline pricing and the raw OCR text while it is down, after the
 * last attempt.
 */
export const AiLive = (names: Names, options?: { readonly retries?: boolean | undefined }) => {
  const ai = (retry: Dependency.RetryOptions<Context.Tag.Service<Ai>> | undefined) =>
    Dependency.layer(Ai, {
      ...Presets.openai,
      name: names.openai,
      health: (ai) => ai.ocr("health"),
      fallback: {
        // Without the AI: the baseline price × 1.3, and the OCR text as it came.
        enhancePrices: Fallback.sync((_error, prices: ReadonlyArray<number>) => prices.map((price) => price * 1.3)),
        ocr: Fallback.sync((_error, text: string) => text)
      },
      retry
    })
  if (options?.retries === false) return ai(undefined)
  return Layer.unwrapScoped(Effect.map(
    RetryBudget.make({ ...aiRetries.budget, name: names.openai }),
    (budget) =>
      ai({
        policy: Retry.policy({ schedule: aiRetries.schedule, budget, retryAfter: Retry.retryAfterOpenAI }),
        members: aiRetries.members
      })
  ))
}

/** S3: `Presets.s3`; uploads are queued while it is down and replayed (in order) once it is back. */
export const S3Live = (names: Names, queue: Fallback.WriteBehindQueue<Upload>) =>
  Dependency.layer(S3, {
    ...Presets.s3,
    name: names.s3,
    fallback: { upload: Fallback.writeBehind(queue, (key: string, body: string) => ({ key, body })) },
    replay: [{ queue, run: (s3, entry: Upload) => s3.upload(entry.key, entry.body) }]
  })

// -----------------------------------------------------------------------------
// the whole, with faults
// -----------------------------------------------------------------------------

/** The recovery fiber's interval: 30 s. */
export const recoveryInterval = "30 seconds"

/**
 * A layer put between a dependency's `Faults`-wrapped raw service and its
 * `Dependency` layer: it sees every call the breaker lets through, and the
 * health checks (tests count them).
 */
export type Tap = <I, S>(tag: Context.Tag<I, S>, dependency: DependencyKey) => Layer.Layer<I, never, I>

/** What {@link layer} provides: the protected services, their `Faults` controls, and `Degradation`. */
export type Services =
  | Db
  | Cache
  | Ai
  | S3
  | Faults.Control<Db, Context.Tag.Service<Db>>
  | Faults.Control<Cache, Context.Tag.Service<Cache>>
  | Faults.Control<Ai, Context.Tag.Service<Ai>>
  | Faults.Control<S3, Context.Tag.Service<S3>>
  | Degradation

/**
 * The four dependencies over their in-memory raw services, each raw service
 * wrapped by `Faults.layer` under the dependency's name, and `Degradation`
 * with a 30 s recovery interval. Without a `store`, every build
 * gets a fresh one (so one layer serves any number of runs).
 */
export const layer = (options?: {
  readonly store?: Store | undefined
  /** Appended to every name (tests keep their metric series apart). */
  readonly suffix?: string | undefined
  readonly tap?: Tap | undefined
  /**
   * `false`: OpenAI's calls are not retried, every failure is answered at
   * once — for tests that call the app under `TestClock` without moving the
   * clock (a retry waits its back-off on it). Default `true`.
   */
  readonly retries?: boolean | undefined
}): Layer.Layer<Services> => {
  const n = names(options?.suffix)
  const build = (store: Store): Layer.Layer<Services> => {
    const faulty = <I, S>(tag: Context.Tag<I, S>, key: DependencyKey, service: S) => {
      const faults = Faults.layer(tag, { name: n[key] }).pipe(Layer.provide(Layer.succeed(tag, service)))
      return options?.tap === undefined ? faults : options.tap(tag, key).pipe(Layer.provideMerge(faults))
    }
    // One faulty DB for both its Dependency layer and the cache's fallback
    // (a layer used twice is built once): taking it down takes both down.
    const db = faulty(Db, "db", raw.db(store))
    const cache = CacheLive(n).pipe(Layer.provideMerge(faulty(Cache, "redis", raw.cache(store))), Layer.provide(db))
    return Layer.mergeAll(
      AiLive(n, { retries: options?.retries }).pipe(Layer.provideMerge(faulty(Ai, "openai", raw.ai(store)))),
      DbLive(n).pipe(Layer.provideMerge(db), Layer.provideMerge(cache)),
      S3Live(n, store.queue).pipe(Layer.provideMerge(faulty(S3, "s3", raw.s3(store))))
    ).pipe(Layer.provideMerge(Degradation.layer({ recoveryInterval })))
  }
  const store = options?.store
  return store === undefined
    ? Layer.unwrapEffect(Effect.map(makeStore({ queueName: n.s3 }), build))
    : build(store)
}
