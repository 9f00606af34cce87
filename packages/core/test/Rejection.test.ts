/**
 * A rejection — the dependency works and refused this request — never
 * degrades anything; a raw member that throws never bypasses the breaker.
 */
import {
  CircuitBreaker,
  Classify,
  Degradation,
  DegradationLevel,
  Dependency,
  Fallback,
  Metrics,
  Presets
} from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { calls, failures, uniqueName } from "./utils.js"

/** What `@effect/sql` fails with when Postgres refuses a value (22003) or goes away (57P01). */
class SqlError extends Error {
  readonly _tag = "SqlError"
  constructor(override readonly cause: { readonly code: string }) {
    super(`sql: ${cause.code}`)
  }
}
const outOfRange = () => new SqlError({ code: "22003" })
const shutdown = () => new SqlError({ code: "57P01" })

const fallbackCalls = (breaker: string) =>
  Metric.value(Metrics.breakerFallbackCalls.pipe(Metric.tagged("breaker", breaker))).pipe(Effect.map((s) => s.count))

class Db extends Context.Tag("test/rejection/Db")<Db, {
  readonly get: (id: number) => Effect.Effect<string, SqlError | CircuitBreaker.Unavailable>
  readonly put: (row: string) => Effect.Effect<void, SqlError | Fallback.WriteBehindError | CircuitBreaker.Unavailable>
}>() {}

describe("a rejection never degrades anything", () => {
  it.scoped("reaches the caller unchanged, counts as ignored and never opens the breaker", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      const breaker = yield* CircuitBreaker.make({
        name,
        trip: CircuitBreaker.consecutiveFailures(1),
        isFailure: Classify.sql
      })
      const error = outOfRange()
      for (let i = 0; i < 10; i++) {
        const exit = yield* Effect.exit(breaker(Effect.fail(error)))
        expect(exit).toStrictEqual(Exit.fail(error))
      }
      expect((yield* breaker.state)._tag).toBe("Closed")
      expect(yield* calls(name, "ignored")).toBe(10)
      expect(yield* failures(name)).toBe(0)
      // An outage still opens it at once.
      yield* Effect.exit(breaker(Effect.fail(shutdown())))
      expect((yield* breaker.state)._tag).toBe("Open")
    }))

  it.scoped("a rejected half-open probe gives its permit back: neither closed nor re-opened", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      const breaker = yield* CircuitBreaker.make({
        name,
        trip: CircuitBreaker.consecutiveFailures(1),
        reset: Schedule.spaced("10 seconds"),
        halfOpen: { permits: 1 },
        isFailure: Classify.sql
      })
      yield* Effect.exit(breaker(Effect.fail(shutdown())))
      yield* TestClock.adjust("10 seconds")
      expect((yield* breaker.state)._tag).toBe("HalfOpen")
      for (let i = 0; i < 3; i++) {
        expect(yield* Effect.exit(breaker(Effect.fail(outOfRange())))).toStrictEqual(Exit.fail(outOfRange()))
        expect((yield* breaker.state)._tag).toBe("HalfOpen")
      }
      // The permit is free again: the next probe is admitted and closes it.
      expect(yield* breaker(Effect.succeed("row"))).toBe("row")
      expect((yield* breaker.state)._tag).toBe("Closed")
      expect(yield* calls(name, "ignored")).toBe(3)
      expect(yield* calls(name, "rejected")).toBe(0)
    }))

  it.scoped("through Presets.db, a Dependency's fallback never runs for a rejection; it does for an outage", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      const next = yield* Ref.make<SqlError | undefined>(undefined)
      const layer = Dependency.layer(Db, {
        ...Presets.db,
        name,
        fallback: { get: () => Effect.succeed("cached") }
      }).pipe(
        Layer.provide(Layer.succeed(Db, {
          get: () => Effect.flatMap(Ref.get(next), (e) => e === undefined ? Effect.succeed("row") : Effect.fail(e)),
          put: () => Effect.void
        })),
        Layer.provideMerge(Degradation.layer())
      )
      yield* Effect.gen(function*() {
        const db = yield* Db
        const degradation = yield* Degradation
        const refused = outOfRange()
        yield* Ref.set(next, refused)
        for (let i = 0; i < 5; i++) expect(yield* Effect.flip(db.get(2147483648))).toBe(refused)
        expect(yield* fallbackCalls(name)).toBe(0)
        expect(yield* calls(name, "ignored")).toBe(5)
        expect((yield* degradation.current)._tag).toBe("Optimal")
        yield* Ref.set(next, shutdown())
        expect(yield* db.get(1)).toBe("cached")
        expect(yield* fallbackCalls(name)).toBe(1)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("a refused write is never queued for write-behind; a write during an outage is", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb") })
      const next = yield* Ref.make<SqlError | undefined>(undefined)
      const layer = Dependency.layer(Db, {
        ...Presets.db,
        name,
        fallback: { put: Fallback.writeBehind(queue, (row: string) => row) }
      }).pipe(
        Layer.provide(Layer.succeed(Db, {
          get: () => Effect.succeed("row"),
          put: () => Effect.flatMap(Ref.get(next), (e) => e === undefined ? Effect.void : Effect.fail(e))
        })),
        Layer.provideMerge(Degradation.layer())
      )
      yield* Effect.gen(function*() {
        const db = yield* Db
        yield* Ref.set(next, outOfRange())
        expect((yield* Effect.flip(db.put("bad")))._tag).toBe("SqlError")
        expect(yield* queue.size).toBe(0)
        yield* Ref.set(next, shutdown())
        yield* db.put("good")
        expect(yield* queue.size).toBe(1)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("at replay, a rejected entry is dead-lettered at once with its error; later ones are delivered in the same pass", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb"), maxAttempts: 10 })
      const up = yield* Ref.make(false)
      const stored = yield* Ref.make<Array<string>>([])
      const deliveries: Array<string> = []
      const layer = Dependency.layer(Db, {
        ...Presets.db,
        name,
        breaker: { ...Presets.db.breaker, trip: CircuitBreaker.consecutiveFailures(100) },
        replayInterval: "10 seconds",
        fallback: { put: Fallback.writeBehind(queue, (row: string) => row) },
        replay: [{
          queue,
          run: (db, row: string) => Effect.zipRight(Effect.sync(() => deliveries.push(row)), db.put(row))
        }]
      }).pipe(
        Layer.provide(Layer.succeed(Db, {
          get: () => Effect.succeed("row"),
          put: (row) =>
            Effect.flatMap(Ref.get(up), (ok) =>
              !ok
                ? Effect.fail(shutdown())
                : row === "poison"
                ? Effect.fail(outOfRange())
                : Ref.update(stored, (rows) => [...rows, row]))
        })),
        Layer.provideMerge(Degradation.layer())
      )
      yield* Effect.gen(function*() {
        const db = yield* Db
        yield* TestClock.adjust("1 second") // the replay at start has passed
        for (const row of ["a", "poison", "b", "c"]) yield* db.put(row)
        expect(yield* queue.size).toBe(4)
        const failuresBefore = yield* failures(name)
        yield* Ref.set(up, true)
        yield* TestClock.adjust("10 seconds") // one pass
        expect(yield* Ref.get(stored)).toEqual(["a", "b", "c"])
        expect(yield* queue.size).toBe(0)
        const dead = yield* queue.deadLetters
        expect(dead.map((letter) => [letter.entry, letter.attempts])).toEqual([["poison", 1]])
        expect(dead[0]!.error).toContain("22003")
        // Delivered once, not maxAttempts times, and not counted for the breaker.
        expect(deliveries.filter((row) => row === "poison")).toHaveLength(1)
        expect(yield* failures(name)).toBe(failuresBefore)
        expect(yield* calls(name, "ignored")).toBe(1)
      }).pipe(Effect.provide(layer))
    }))
})

class Api extends Context.Tag("test/rejection/Api")<Api, {
  readonly price: (id: number) => Effect.Effect<number, CircuitBreaker.Unavailable>
  readonly quote: (id: number) => Effect.Effect<number, CircuitBreaker.Unavailable>
  readonly status: Effect.Effect<string, CircuitBreaker.Unavailable>
}>() {}

/** A raw client whose members throw instead of answering an Effect (a bug in a hand-written adapter). */
const throwing = (thrown: Ref.Ref<number>): Context.Tag.Service<Api> => ({
  price: (id) => {
    Effect.runSync(Ref.update(thrown, (n) => n + 1))
    if (id < 0) throw new TypeError("negative id")
    return Effect.succeed(id * 10)
  },
  quote: () => {
    throw new Error("quote: client not initialised")
  },
  get status(): Effect.Effect<string> {
    throw new Error("status getter broke")
  }
})

describe("nothing bypasses the breaker, even a throw", () => {
  it.scoped("a member that throws is a counted failure answered by its fallback", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const thrown = yield* Ref.make(0)
      const layer = Dependency.layer(Api, {
        name,
        breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("30 seconds") },
        whenDown: DegradationLevel.Limited(),
        fallback: {
          price: (error, id) => Effect.succeed(error instanceof TypeError ? -id : 0),
          status: () => Effect.succeed("unknown")
        }
      }).pipe(Layer.provide(Layer.succeed(Api, throwing(thrown))), Layer.provideMerge(Degradation.layer()))
      yield* Effect.gen(function*() {
        const api = yield* Api
        // The throw happens when the member is called; the wrapper still answers an Effect.
        const call = api.price(-2)
        expect(Effect.isEffect(call)).toBe(true)
        expect(yield* call).toBe(2) // the fallback saw the thrown TypeError
        expect(yield* failures(name)).toBe(1)
        expect(yield* calls(name, "failure")).toBe(1)
        expect(yield* api.status).toBe("unknown") // a throwing getter too
        expect(yield* failures(name)).toBe(2)
        // Without a fallback: a defect of the call, counted, and the third opens the breaker.
        const exit = yield* Effect.exit(api.quote(1))
        expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Die")
        expect(yield* failures(name)).toBe(3)
        const degradation = yield* Degradation
        expect((yield* degradation.current)._tag).toBe("Limited")
        // Open: the raw member is still called (it cannot be stopped from throwing) but
        // its result is rejected, and the fallback answers.
        expect(yield* api.price(5)).toBe(0)
        expect(yield* calls(name, "rejected")).toBe(1)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("a health check whose raw service throws fails the check: the dependency is down", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const thrown = yield* Ref.make(0)
      const layer = Dependency.layer(Api, {
        name,
        whenDown: DegradationLevel.Degraded(),
        health: (api) => api.status
      }).pipe(Layer.provide(Layer.succeed(Api, throwing(thrown))), Layer.provideMerge(Degradation.layer()))
      yield* Effect.gen(function*() {
        const degradation = yield* Degradation
        const fiber = yield* Effect.fork(degradation.evaluate)
        yield* TestClock.adjust("10 seconds")
        expect((yield* Fiber.join(fiber))._tag).toBe("Degraded")
      }).pipe(Effect.provide(layer))
    }))
})
