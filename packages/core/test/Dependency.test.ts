import { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { calls, uniqueName } from "./utils.js"

class PricingError extends Error {
  readonly _tag = "PricingError"
}

/** An AI API: `enhancePrices` has a fallback, `ping` declares Unavailable. */
class OpenAI extends Context.Tag("test/OpenAI")<OpenAI, {
  readonly enhancePrices: (prices: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<number>, PricingError>
  readonly ping: Effect.Effect<void, PricingError | CircuitBreaker.Unavailable>
  readonly model: string
  readonly tokens: (text: string) => number
}>() {}

interface Control {
  readonly up: Ref.Ref<boolean>
  readonly calls: Ref.Ref<number>
}

const rawOpenAI = (control: Control): Context.Tag.Service<OpenAI> => ({
  enhancePrices: (prices) =>
    Ref.update(control.calls, (n) => n + 1).pipe(
      Effect.zipRight(Ref.get(control.up)),
      Effect.flatMap((up) => up ? Effect.succeed(prices.map((p) => p * 2)) : Effect.fail(new PricingError("down")))
    ),
  ping: Effect.flatMap(Ref.get(control.up), (up) => up ? Effect.void : Effect.fail(new PricingError("down"))),
  model: "gpt",
  tokens: (text) => text.length
})

const setup = (name: string, options: { readonly callTimeout?: Duration.DurationInput } = {}) =>
  Effect.gen(function*() {
    const control: Control = { up: yield* Ref.make(true), calls: yield* Ref.make(0) }
    const live = Dependency.layer(OpenAI, {
      name,
      breaker: { trip: CircuitBreaker.consecutiveFailures(2), reset: Schedule.spaced("60 seconds") },
      callTimeout: options.callTimeout,
      whenDown: DegradationLevel.Limited(),
      health: (openai) => openai.ping,
      fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices.map((p) => p * 1.3)) }
    })
    const layer = live.pipe(Layer.provide(Layer.succeed(OpenAI, rawOpenAI(control))))
    return { control, layer }
  })

/** An object store whose writes fail while `up` is false. */
class S3 extends Context.Tag("test/S3")<S3, {
  readonly put: (key: string) => Effect.Effect<void, "s3-error" | Fallback.WriteBehindError>
}>() {}

/** S3 behind a Dependency whose `put` falls back to a write-behind queue replayed through it. */
const writeBehindS3 = (
  options: Pick<Dependency.Options<Context.Tag.Service<S3>, never>, "breaker" | "replayInterval">
) =>
  Effect.gen(function*() {
    const up = yield* Ref.make(true)
    const stored = yield* Ref.make<Array<string>>([])
    const queue = yield* Fallback.memoryQueue<string>()
    const layer = Dependency.layer(S3, {
      ...options,
      name: uniqueName("s3"),
      whenDown: DegradationLevel.Degraded(),
      fallback: { put: Fallback.writeBehind(queue, (key: string) => key) },
      replay: [{ queue, run: (s3, key: string) => s3.put(key) }]
    }).pipe(Layer.provide(Layer.succeed(S3, {
      put: (key) =>
        Effect.flatMap(Ref.get(up), (ok) => ok ? Ref.update(stored, (xs) => [...xs, key]) : Effect.fail("s3-error" as const))
    })))
    return { layer, queue, stored, up }
  })

describe("Dependency", () => {
  it.scoped("wraps Effect members and methods; other members pass through", () =>
    Effect.gen(function*() {
      const name = uniqueName("openai")
      const { control, layer } = yield* setup(name)
      yield* Effect.gen(function*() {
        const openai = yield* OpenAI
        expect(openai.model).toBe("gpt")
        expect(openai.tokens("abcd")).toBe(4)
        expect(yield* openai.enhancePrices([1, 2])).toEqual([2, 4])
        yield* openai.ping
        expect(yield* calls(name, "success")).toBe(2)
        expect(yield* Ref.get(control.calls)).toBe(1)
      }).pipe(Effect.provide(Layer.merge(layer, Degradation.layer()).pipe(Layer.provideMerge(Degradation.layer()))))
    }))

  it.scoped("records call durations by default (a bare breaker does not)", () =>
    Effect.gen(function*() {
      const name = uniqueName("openai")
      const { layer } = yield* setup(name)
      yield* Effect.gen(function*() {
        const openai = yield* OpenAI
        yield* openai.enhancePrices([1])
        yield* openai.ping
        const duration = yield* Metric.value(Metrics.breakerCallDuration.pipe(Metric.tagged("breaker", name)))
        expect(duration.count).toBe(2)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      const off = uniqueName("openai")
      yield* Effect.gen(function*() {
        const openai = yield* OpenAI
        yield* openai.ping
        const duration = yield* Metric.value(Metrics.breakerCallDuration.pipe(Metric.tagged("breaker", off)))
        expect(duration.count).toBe(0)
      }).pipe(
        Effect.provide(
          Dependency.layer(OpenAI, {
            name: off,
            breaker: { recordDurations: false },
            whenDown: DegradationLevel.Limited(),
            fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices) }
          })
            .pipe(Layer.provide(Layer.succeed(OpenAI, rawOpenAI({ up: yield* Ref.make(true), calls: yield* Ref.make(0) }))))
        ),
        Effect.provide(Degradation.layer())
      )
    }))

  it.scoped("a fallback answers counted failures and rejections, and is measured", () =>
    Effect.gen(function*() {
      const name = uniqueName("openai")
      const { control, layer } = yield* setup(name)
      yield* Effect.gen(function*() {
        const openai = yield* OpenAI
        yield* Ref.set(control.up, false)
        // counted failures: the fallback answers
        expect(yield* openai.enhancePrices([10])).toEqual([13])
        expect(yield* openai.enhancePrices([10])).toEqual([13])
        // open now: rejected without calling, and the fallback answers
        expect(yield* openai.enhancePrices([100])).toEqual([130])
        expect(yield* Ref.get(control.calls)).toBe(2)
        expect(yield* calls(name, "rejected")).toBe(1)
        const fallbacks = yield* Metric.value(Metrics.breakerFallbackCalls.pipe(Metric.tagged("breaker", name)))
        expect(fallbacks.count).toBe(3)
        const duration = yield* Metric.value(Metrics.fallbackDuration.pipe(Metric.tagged("breaker", name)))
        expect(duration.count).toBe(3)
        // a member without a fallback reports Unavailable
        const error = yield* Effect.flip(openai.ping)
        expect(error).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
        // it registered with Degradation: the level moved
        expect((yield* Effect.flatMap(Degradation, (d) => d.current))._tag).toBe("Limited")
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("a timed-out call is answered by the fallback", () =>
    Effect.gen(function*() {
      const name = uniqueName("slow")
      class Slow extends Context.Tag("test/Slow")<Slow, { readonly get: Effect.Effect<string> }>() {}
      const layer = Dependency.layer(Slow, {
        name,
        callTimeout: "1 second",
        whenDown: DegradationLevel.Degraded(),
        fallback: { get: () => Effect.succeed("cached") }
      }).pipe(Layer.provide(Layer.succeed(Slow, { get: Effect.as(Effect.sleep("5 seconds"), "fresh") })))
      yield* Effect.gen(function*() {
        const slow = yield* Slow
        const fiber = yield* Effect.fork(slow.get)
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBe("cached")
        expect(yield* calls(name, "timeout")).toBe(1)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("defects and errors the breaker ignores are not recovered", () =>
    Effect.gen(function*() {
      const name = uniqueName("strict")
      class Store extends Context.Tag("test/Store")<Store, {
        readonly get: (key: string) => Effect.Effect<string, "not-found" | "io">
      }>() {}
      const layer = Dependency.layer(Store, {
        name,
        breaker: { isFailure: (e) => e !== "not-found" },
        whenDown: DegradationLevel.Degraded(),
        fallback: { get: () => Effect.succeed("fallback") }
      }).pipe(Layer.provide(Layer.succeed(Store, {
        get: (key) => key === "bug" ? Effect.die("bug") : key === "missing" ? Effect.fail("not-found" as const) : Effect.fail("io" as const)
      })))
      yield* Effect.gen(function*() {
        const store = yield* Store
        expect(yield* Effect.flip(store.get("missing"))).toBe("not-found")
        expect(yield* store.get("io")).toBe("fallback")
        const exit = yield* Effect.exit(store.get("bug"))
        assert(Exit.isFailure(exit))
        expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Die")
        // the defect still counted for the breaker
        expect(yield* calls(name, "failure")).toBe(2)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("reads from another dependency when down (DB ↔ cache)", () =>
    Effect.gen(function*() {
      class Db extends Context.Tag("test/Db")<Db, {
        readonly price: (id: string) => Effect.Effect<number, "db-error">
      }>() {}
      class Cache extends Context.Tag("test/Cache")<Cache, { readonly price: (id: string) => Effect.Effect<number> }>() {}
      const layer = Dependency.layer(Db, {
        name: uniqueName("db"),
        whenDown: DegradationLevel.Minimal(),
        fallback: { price: Fallback.fromDependency(Cache, (cache, _error, id: string) => cache.price(id)) }
      }).pipe(
        Layer.provide(Layer.succeed(Db, { price: () => Effect.fail("db-error" as const) })),
        Layer.provide(Layer.succeed(Cache, { price: (id) => Effect.succeed(id.length) }))
      )
      const price = yield* Effect.flatMap(Db, (db) => db.price("abc")).pipe(
        Effect.provide(layer),
        Effect.provide(Degradation.layer())
      )
      expect(price).toBe(3)
    }))

  it.scoped("writes blocked: a clear typed error with message and action", () =>
    Effect.gen(function*() {
      const name = uniqueName("db")
      class Db extends Context.Tag("test/DbWrites")<Db, {
        readonly save: (price: number) => Effect.Effect<void, "db-error" | Fallback.UnavailableError>
      }>() {}
      const layer = Dependency.layer(Db, {
        name,
        whenDown: DegradationLevel.Minimal(),
        fallback: {
          save: Fallback.unavailable({ dependency: name, message: "Prices are read-only right now", action: "Retry later" })
        }
      }).pipe(Layer.provide(Layer.succeed(Db, { save: () => Effect.fail("db-error" as const) })))
      const error = yield* Effect.flatMap(Db, (db) => Effect.flip(db.save(1))).pipe(
        Effect.provide(layer),
        Effect.provide(Degradation.layer())
      )
      assert(error instanceof Fallback.UnavailableError)
      expect(error.dependency).toBe(name)
      expect(error.message).toBe("Prices are read-only right now")
      expect(error.action).toBe("Retry later")
      expect(error.cause).toBe("db-error")
    }))

  it.scoped("write-behind: queued while down, replayed in order once back, nothing lost", () =>
    Effect.gen(function*() {
      const { layer, queue, stored, up } = yield* writeBehindS3({
        breaker: { trip: CircuitBreaker.consecutiveFailures(1), reset: Schedule.spaced("30 seconds") }
      })
      yield* Effect.gen(function*() {
        const s3 = yield* S3
        yield* s3.put("a")
        yield* Ref.set(up, false)
        for (const key of ["b", "c", "d"]) yield* s3.put(key)
        expect(yield* queue.size).toBe(3)
        expect(yield* Ref.get(stored)).toEqual(["a"])
        yield* Ref.set(up, true)
        // half-open after 30 s: the first replayed entry is the probe, it
        // succeeds, the breaker closes and the rest follows, in order
        yield* TestClock.adjust("30 seconds")
        expect(yield* queue.size).toBe(0)
        expect(yield* Ref.get(stored)).toEqual(["a", "b", "c", "d"])
        expect((yield* Effect.flatMap(Degradation, (d) => d.status)).dependencies[0]?.breaker?._tag).toBe("Closed")
        yield* s3.put("e")
        expect(yield* Ref.get(stored)).toEqual(["a", "b", "c", "d", "e"])
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  // A write queued by a failure that did not open the breaker (or by a
  // disabled one: the development profile) has no transition to wait for.
  for (
    const [label, breaker] of [
      ["a closed breaker", { trip: CircuitBreaker.consecutiveFailures(5) }],
      ["a disabled breaker", { disabled: true }]
    ] as const
  ) {
    it.scoped(`write-behind: with ${label}, what is queued is retried every replayInterval`, () =>
      Effect.gen(function*() {
        const { layer, queue, stored, up } = yield* writeBehindS3({ breaker, replayInterval: "10 seconds" })
        yield* Ref.set(up, false)
        yield* Effect.gen(function*() {
          const s3 = yield* S3
          // the replay at start is forked: let it pass before anything is queued
          yield* TestClock.adjust("1 second")
          yield* s3.put("a") // fails: queued
          expect(yield* queue.size).toBe(1)
          yield* TestClock.adjust("10 seconds") // retried, still failing: kept
          expect(yield* queue.size).toBe(1)
          yield* Ref.set(up, true)
          yield* TestClock.adjust("10 seconds")
          expect(yield* queue.size).toBe(0)
          expect(yield* Ref.get(stored)).toEqual(["a"])
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      }))
  }

  it.scoped("the health check gets the raw service, bypassing the breaker", () =>
    Effect.gen(function*() {
      const name = uniqueName("openai")
      const { control, layer } = yield* setup(name)
      yield* Effect.gen(function*() {
        const openai = yield* OpenAI
        const degradation = yield* Degradation
        yield* Ref.set(control.up, false)
        yield* openai.enhancePrices([1]).pipe(Effect.repeatN(1))
        yield* Ref.set(control.up, true)
        yield* degradation.evaluate
        const status = yield* degradation.status
        const entry = status.dependencies.find((d) => d.name === name)!
        expect(entry.breaker?._tag).toBe("Open")
        expect(entry.lastCheck?.healthy).toBe(true)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("class services: getters, live data fields and Option/Either members are kept as they are", () =>
    Effect.gen(function*() {
      class Raw {
        pending = 0
        readonly region = Option.some("eu")
        readonly parse = (s: string) => (s.length > 0 ? Either.right(s) : Either.left("empty"))
        get ping(): Effect.Effect<string, CircuitBreaker.Unavailable> {
          return Effect.succeed(`pong ${this.pending}`)
        }
        fetch(n: number): Effect.Effect<number, CircuitBreaker.Unavailable> {
          return Effect.succeed(n + this.pending)
        }
      }
      class Api extends Context.Tag("test/ClassApi")<Api, Raw>() {}
      const raw = new Raw()
      const name = uniqueName("class")
      const api = yield* Effect.flatMap(Api, Effect.succeed).pipe(
        Effect.provide(Dependency.layer(Api, { name, whenDown: DegradationLevel.Degraded() }).pipe(
          Layer.provide(Layer.succeed(Api, raw))
        )),
        Effect.provide(Degradation.layer())
      )
      raw.pending = 2
      expect(api.pending).toBe(2) // live, not a copy
      expect(Option.isOption(api.region)).toBe(true)
      expect(Either.isEither(api.parse("x"))).toBe(true)
      expect(yield* api.ping).toBe("pong 2") // the getter, read at access, through the breaker
      expect(yield* api.fetch(1)).toBe(3) // `this` is the raw service
      expect(yield* calls(name, "success")).toBe(2)
    }))

  it("type level: recovered errors leave the type; members without fallback must declare Unavailable", () => {
    class Good extends Context.Tag("test/Good")<Good, {
      readonly a: Effect.Effect<number, "e" | CircuitBreaker.Unavailable>
      readonly b: (n: number) => Effect.Effect<number, "e">
    }>() {}
    const ok = Dependency.layer(Good, {
      name: "good",
      whenDown: DegradationLevel.Degraded(),
      fallback: { b: (_error, n) => Effect.succeed(n) }
    })
    expectTypeOf(ok).toEqualTypeOf<Layer.Layer<Good, never, Good | Degradation>>()

    // @ts-expect-error `b` declares no Unavailable and has no fallback
    Dependency.layer(Good, { name: "bad", whenDown: DegradationLevel.Degraded() })

    Dependency.layer(Good, {
      name: "bad",
      whenDown: DegradationLevel.Degraded(),
      // @ts-expect-error the fallback answers a string where `b` answers a number
      fallback: { b: () => Effect.succeed("x") }
    })

    Dependency.layer(Good, {
      name: "bad",
      whenDown: DegradationLevel.Degraded(),
      // @ts-expect-error the fallback fails with an error `b` does not declare
      fallback: { b: () => Effect.fail("other" as const) }
    })

    class Cache extends Context.Tag("test/TypeCache")<Cache, { readonly n: Effect.Effect<number> }>() {}
    const withCache = Dependency.layer(Good, {
      name: "good",
      whenDown: DegradationLevel.Degraded(),
      fallback: { b: Fallback.fromDependency(Cache, (cache) => cache.n) }
    })
    // the fallback's requirements are the layer's
    expectTypeOf(withCache).toEqualTypeOf<Layer.Layer<Good, never, Good | Degradation | Cache>>()
    // also when the fallback is an inline lambda
    const inline = Dependency.layer(Good, {
      name: "good",
      whenDown: DegradationLevel.Degraded(),
      fallback: { b: (_error, n) => Effect.map(Cache, (cache) => n + (cache ? 0 : 1)) }
    })
    expectTypeOf(inline).toEqualTypeOf<Layer.Layer<Good, never, Good | Degradation | Cache>>()
    expect(Layer.isLayer(inline)).toBe(true)
  })
})
