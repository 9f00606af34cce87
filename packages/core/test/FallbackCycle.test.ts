import { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { uniqueName } from "./utils.js"

class Db extends Context.Tag("test/cycle/Db")<Db, {
  readonly price: (id: number) => Effect.Effect<number, "down">
}>() {}

class Cache extends Context.Tag("test/cycle/Cache")<Cache, {
  readonly price: (id: number) => Effect.Effect<number, "down">
}>() {}

/** The DB reads the cache when down and the cache reads the DB when down: the pair every service has. */
const pair = (up: { readonly db: Ref.Ref<boolean>; readonly cache: Ref.Ref<boolean> }) => {
  const db = uniqueName("db")
  const cache = uniqueName("cache")
  const DbLive = Dependency.layer(Db, {
    name: db,
    whenDown: DegradationLevel.Minimal(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(100) },
    fallback: { price: Fallback.fromDependency(Cache, (c, _error, id: number) => c.price(id)) }
  }).pipe(Layer.provide(Layer.succeed(Db, {
    price: (id) => Effect.flatMap(Ref.get(up.db), (ok) => ok ? Effect.succeed(id * 10) : Effect.fail("down" as const))
  })))
  const CacheLive = Dependency.layer(Cache, {
    name: cache,
    whenDown: DegradationLevel.Degraded(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(100) },
    fallback: { price: Fallback.fromDependency(Db, (d, _error, id: number) => d.price(id)) }
  }).pipe(Layer.provide(Layer.succeed(Cache, {
    price: (id) =>
      Effect.flatMap(Ref.get(up.cache), (ok) => ok ? Effect.succeed(id * 100) : Effect.fail("down" as const))
  })))
  // Each fallback reads the other's protected service from its caller's context, where the merged layer
  // puts both: the requirement of each on the other is met at call time, which the types cannot see.
  const layer = Layer.mergeAll(DbLive, CacheLive).pipe(Layer.provideMerge(Degradation.layer()))
  return { db, cache, layer: layer as Layer.Layer<Db | Cache | Degradation> }
}

describe("Fallback.fromDependency between two dependencies that fall back on each other", () => {
  it.scoped("with one down, the other answers; with both down, the call dies with a FallbackCycleError naming the cycle", () =>
    Effect.gen(function*() {
      const up = { db: yield* Ref.make(true), cache: yield* Ref.make(true) }
      const { cache, db, layer } = pair(up)
      yield* Effect.gen(function*() {
        const dbService = yield* Db
        expect(yield* dbService.price(1)).toBe(10)
        yield* Ref.set(up.db, false)
        expect(yield* dbService.price(1)).toBe(100) // from the cache
        yield* Ref.set(up.cache, false)
        const exit = yield* Effect.exit(dbService.price(1))
        expect(Exit.isFailure(exit)).toBe(true)
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(defect).toBeInstanceOf(Fallback.FallbackCycleError)
        expect((defect as Fallback.FallbackCycleError).dependencies).toEqual([db, cache, db])
        expect((defect as Error).message).toContain(`${db} → ${cache} → ${db}`)
        // From the other side too, and the service still answers once one is back.
        const cacheService = yield* Cache
        const other = yield* Effect.exit(cacheService.price(2))
        expect(Exit.isFailure(other) && Cause.squash(other.cause)).toBeInstanceOf(Fallback.FallbackCycleError)
        yield* Ref.set(up.cache, true)
        expect(yield* dbService.price(3)).toBe(300)
      }).pipe(Effect.provide(layer))
    }))
})
