import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  Dependency,
  Fallback,
  InvalidOptionError,
  Metrics
} from "@effect-resilience/core"
import { assert, describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { calls, observe, uniqueName } from "./utils.js"

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
  options: Pick<Dependency.Options<Context.Tag.Service<S3>, never>, "breaker" | "replayInterval">,
  queueOptions: { readonly maxAttempts?: number } = {},
  /** Answers instead of the store for the keys it knows (a poison entry, a throttled write). */
  override: (key: string) => Effect.Effect<void, "s3-error"> | undefined = () => undefined
) =>
  Effect.gen(function*() {
    const up = yield* Ref.make(true)
    const stored = yield* Ref.make<Array<string>>([])
    const deliveries: Array<[string, Fallback.WriteBehindQueue.Delivery]> = []
    const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb"), ...queueOptions })
    const name = uniqueName("s3")
    const layer = Dependency.layer(S3, {
      ...options,
      name,
      whenDown: DegradationLevel.Degraded(),
      fallback: { put: Fallback.writeBehind(queue, (key: string) => key) },
      replay: [{
        queue,
        run: (s3, key: string, delivery) =>
          Effect.zipRight(Effect.sync(() => deliveries.push([key, delivery])), s3.put(key))
      }]
    }).pipe(Layer.provide(Layer.succeed(S3, {
      put: (key) =>
        override(key) ??
          Effect.flatMap(
            Ref.get(up),
            (ok) => ok ? Ref.update(stored, (xs) => [...xs, key]) : Effect.fail("s3-error" as const)
          )
    })))
    return { deliveries, layer, name, queue, stored, up }
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
      }).pipe(Effect.provide(layer.pipe(Layer.provideMerge(Degradation.layer()))))
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
            .pipe(
              Layer.provide(Layer.succeed(OpenAI, rawOpenAI({ up: yield* Ref.make(true), calls: yield* Ref.make(0) })))
            )
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
        get: (key) =>
          key === "bug"
            ? Effect.die("bug")
            : key === "missing"
            ? Effect.fail("not-found" as const)
            : Effect.fail("io" as const)
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
      class Cache
        extends Context.Tag("test/Cache")<Cache, { readonly price: (id: string) => Effect.Effect<number> }>()
      {}
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
          save: Fallback.unavailable({
            dependency: name,
            message: "Prices are read-only right now",
            action: "Retry later"
          })
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

  it.scoped("write-behind: a poison entry is dead-lettered after maxAttempts and the writes behind it are replayed", () =>
    Effect.gen(function*() {
      const { deliveries, layer, queue, stored, up } = yield* writeBehindS3(
        // the poison entry's failures count, but not enough to open the breaker
        { breaker: { trip: CircuitBreaker.consecutiveFailures(10) }, replayInterval: "10 seconds" },
        { maxAttempts: 2 },
        (key) => key === "poison" ? Effect.fail("s3-error") : undefined
      )
      yield* Ref.set(up, false)
      yield* Effect.gen(function*() {
        const s3 = yield* S3
        yield* TestClock.adjust("1 second") // the replay at start has passed
        for (const key of ["poison", "b", "c"]) yield* s3.put(key)
        expect(yield* queue.size).toBe(3)
        yield* Ref.set(up, true)
        yield* TestClock.adjust("10 seconds") // attempt 1: the replay stops at it
        expect(yield* queue.size).toBe(3)
        yield* TestClock.adjust("10 seconds") // attempt 2: dead-lettered, the rest follows in order
        expect(yield* queue.size).toBe(0)
        expect(yield* Ref.get(stored)).toEqual(["b", "c"])
        expect((yield* queue.deadLetters).map((l) => [l.entry, l.attempts])).toEqual([["poison", 2]])
        // the handler got the entry's stable id and its attempts
        const poison = deliveries.filter(([key]) => key === "poison").map(([, d]) => d)
        expect(poison.map((d) => d.attempts)).toEqual([1, 2])
        expect(poison[0]!.id).toBe(poison[1]!.id)
        expect(poison[0]!.id).toBe((yield* queue.deadLetters)[0]!.id)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("write-behind: a replay rejected by the breaker is no attempt against the entry", () =>
    Effect.gen(function*() {
      const { layer, queue, stored, up } = yield* writeBehindS3(
        { breaker: { trip: CircuitBreaker.consecutiveFailures(1), reset: Schedule.spaced("30 seconds") } },
        { maxAttempts: 1 },
        (key) => key === "poison" ? Effect.fail("s3-error") : undefined
      )
      yield* Effect.gen(function*() {
        const s3 = yield* S3
        yield* TestClock.adjust("1 second") // the replay at start has passed
        yield* Ref.set(up, false)
        yield* s3.put("poison") // fails and opens the breaker: queued
        yield* s3.put("a") // rejected: queued
        yield* Ref.set(up, true)
        // half-open: the poison probe fails (dead-lettered at once) and re-opens
        // the breaker, which then rejects "a": not a delivery, so "a" stays
        yield* TestClock.adjust("30 seconds")
        expect((yield* queue.deadLetters).map((l) => l.entry)).toEqual(["poison"])
        expect(yield* queue.size).toBe(1)
        yield* TestClock.adjust("30 seconds") // half-open again: "a" is the probe
        expect(yield* queue.size).toBe(0)
        expect(yield* Ref.get(stored)).toEqual(["a"])
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("write-behind: an entry refused at the half-open probe is dead-lettered, its permit given back; the next entry closes it", () =>
    Effect.gen(function*() {
      let refused = 0
      const { layer, name, queue, stored, up } = yield* writeBehindS3(
        {
          breaker: {
            trip: CircuitBreaker.consecutiveFailures(1),
            reset: Schedule.spaced("30 seconds"),
            isFailure: (error) => String(error) !== "refused" // undeclared: the raw S3 refuses one key
          },
          replayInterval: "10 seconds"
        },
        {},
        (key) => key === "a" && refused-- > 0 ? Effect.fail("refused" as any) : undefined
      )
      yield* Effect.gen(function*() {
        const s3 = yield* S3
        yield* TestClock.adjust("1 second") // the replay at start has passed
        yield* Ref.set(up, false)
        yield* s3.put("a") // opens the breaker; queued
        yield* s3.put("x") // rejected; queued
        yield* Ref.set(up, true)
        refused = 1 // the probe is refused: a rejection, which the breaker ignores
        yield* TestClock.adjust("30 seconds") // half-open: the replay's first probe is refused, the second closes it
        expect((yield* observe(name)).breaker).toBe("Closed")
        expect(yield* queue.size).toBe(0)
        expect(yield* Ref.get(stored)).toEqual(["x"])
        expect((yield* queue.deadLetters).map((letter) => [letter.entry, letter.attempts])).toEqual([["a", 1]])
        expect(yield* calls(name, "ignored")).toBe(1)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("the replayer survives a queue whose replay throws or dies; the other queues keep replaying", () =>
    Effect.gen(function*() {
      const stored: Array<string> = []
      let thrown = 0
      let died = 0
      const good = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb") })
      const throwing: Fallback.WriteBehindQueue<string> = {
        ...good,
        replay: () => {
          thrown++
          throw new Error("broken queue")
        }
      }
      const dying: Fallback.WriteBehindQueue<string> = { ...good, replay: () => Effect.die(died++) }
      class Store extends Context.Tag("test/ReplayStore")<Store, {
        readonly put: (key: string) => Effect.Effect<void, CircuitBreaker.Unavailable>
      }>() {}
      const layer = Dependency.layer(Store, {
        name: uniqueName("store"),
        whenDown: DegradationLevel.Degraded(),
        replayInterval: "10 seconds",
        replay: [
          { queue: throwing, run: (store, key: string) => store.put(key) },
          { queue: dying, run: (store, key: string) => store.put(key) },
          { queue: good, run: (store, key: string) => store.put(key) }
        ]
      }).pipe(Layer.provide(Layer.succeed(Store, { put: (key) => Effect.sync(() => stored.push(key)) })))
      yield* Effect.gen(function*() {
        yield* TestClock.adjust("1 second")
        yield* good.offer("a")
        yield* TestClock.adjust("10 seconds")
        expect(stored).toEqual(["a"])
        yield* good.offer("b")
        yield* TestClock.adjust("10 seconds")
        expect(stored).toEqual(["a", "b"])
        expect(thrown).toBeGreaterThanOrEqual(3)
        expect(died).toBeGreaterThanOrEqual(3)
      }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
    }))

  it.scoped("bad options are rejected, naming the option", () =>
    Effect.gen(function*() {
      class Svc extends Context.Tag("test/BadOptions")<
        Svc,
        { readonly get: Effect.Effect<number, CircuitBreaker.Unavailable> }
      >() {}
      const base = { name: "bad", whenDown: DegradationLevel.Degraded() }
      const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb") })
      const cases: ReadonlyArray<[Record<string, unknown>, string]> = [
        [{ ...base, name: "" }, "name"],
        [{ ...base, name: 42 }, "name"],
        [{ ...base, whenDown: "Degraded" }, "whenDown"],
        [{ ...base, whenDown: undefined }, "whenDown"],
        [{ ...base, health: "yes" }, "health"],
        [{ ...base, fallback: { get: "cached" } }, "fallback.get"],
        [{ ...base, callTimeout: "abc" }, "callTimeout"],
        [{ ...base, callTimeout: -1 }, "callTimeout"],
        [{ ...base, replay: {} }, "replay"],
        [{ ...base, replay: [{}] }, "replay[0].queue"],
        [{ ...base, replay: [{ queue }] }, "replay[0].run"],
        [{ ...base, replayInterval: "abc" }, "replayInterval"],
        [{ ...base, replayInterval: Number.NaN }, "replayInterval"],
        [{ ...base, replayInterval: 0 }, "replayInterval"],
        [{ ...base, replayInterval: -1 }, "replayInterval"]
      ]
      for (const [options, option] of cases) {
        const layer = Dependency.layer(Svc, options as any).pipe(
          Layer.provide(Layer.succeed(Svc, { get: Effect.succeed(1) }))
        )
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)).pipe(Effect.provide(Degradation.layer())))
        assert(Exit.isFailure(exit), option)
        const defect = Cause.squash(exit.cause)
        assert(defect instanceof InvalidOptionError, `${option}: ${String(defect)}`)
        expect([defect.module, defect.option]).toEqual(["Dependency.layer", option])
      }
    }))

  describe("nothing bypasses the breaker", () => {
    class Feed extends Context.Tag("test/Feed")<Feed, {
      readonly events: Stream.Stream<number, "feed-error" | CircuitBreaker.Unavailable>
      readonly watch: (from: number) => Stream.Stream<number, "feed-error" | CircuitBreaker.Unavailable>
      readonly backup: Stream.Stream<number, "feed-error">
      readonly lookup: (id: string) => Effect.Effect<string, "feed-error">
    }>() {}

    const feed = (up: Ref.Ref<boolean>, reached: Ref.Ref<number>) => {
      const source = (from: number) =>
        Stream.unwrap(Effect.gen(function*() {
          yield* Ref.update(reached, (n) => n + 1)
          return (yield* Ref.get(up)) ? Stream.make(from, from + 1, from + 2) : Stream.fail("feed-error" as const)
        }))
      return {
        events: source(1),
        watch: source,
        backup: source(1),
        // a getter answering a method: its calls must be protected too
        get lookup() {
          return (id: string) =>
            Effect.flatMap(
              Ref.updateAndGet(reached, (n) => n + 1),
              () =>
                Effect.flatMap(Ref.get(up), (ok) =>
                  ok ? Effect.succeed(`live ${id}`) : Effect.fail("feed-error" as const))
            )
        }
      }
    }

    const setupFeed = Effect.gen(function*() {
      const up = yield* Ref.make(true)
      const reached = yield* Ref.make(0)
      const name = uniqueName("feed")
      const layer = Dependency.layer(Feed, {
        name,
        breaker: { trip: CircuitBreaker.consecutiveFailures(2), reset: Schedule.spaced("60 seconds") },
        whenDown: DegradationLevel.Degraded(),
        fallback: {
          backup: () => Stream.make(0),
          lookup: (_error, id) => Effect.succeed(`cached ${id}`)
        }
      }).pipe(Layer.provide(Layer.succeed(Feed, feed(up, reached))))
      return { layer, name, reached, up }
    })

    for (
      const [label, run] of [
        ["a Stream member", (f: Context.Tag.Service<Feed>) => Stream.runCollect(f.events)],
        ["a method returning a Stream", (f: Context.Tag.Service<Feed>) => Stream.runCollect(f.watch(1))]
      ] as const
    ) {
      it.scoped(`${label}: its run goes through the breaker, counts, and is rejected while open`, () =>
        Effect.gen(function*() {
          const { layer, name, reached, up } = yield* setupFeed
          yield* Effect.gen(function*() {
            const f = yield* Feed
            expect(Chunk.toArray(yield* run(f))).toEqual([1, 2, 3])
            expect(yield* calls(name, "success")).toBe(1)
            yield* Ref.set(up, false)
            const errors: Array<unknown> = []
            for (let i = 0; i < 5; i++) errors.push(yield* Effect.flip(run(f)))
            expect(errors.slice(0, 2)).toEqual(["feed-error", "feed-error"])
            for (const error of errors.slice(2)) expect(error).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
            // the dead dependency was reached by the two failures that opened the breaker, no more
            expect(yield* Ref.get(reached)).toBe(3)
            expect(yield* calls(name, "rejected")).toBe(3)
          }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
        }))
    }

    it.scoped("a Stream member's fallback is a Stream that replaces it when it fails before its first element", () =>
      Effect.gen(function*() {
        const { layer, name, up } = yield* setupFeed
        yield* Effect.gen(function*() {
          const f = yield* Feed
          yield* Ref.set(up, false)
          for (let i = 0; i < 3; i++) expect(Chunk.toArray(yield* Stream.runCollect(f.backup))).toEqual([0])
          expect(yield* calls(name, "rejected")).toBe(1)
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      }))

    it.scoped("a stream failing after its first element fails as it did, and the failure counts", () =>
      Effect.gen(function*() {
        class Tail extends Context.Tag("test/Tail")<Tail, {
          readonly lines: Stream.Stream<string, "eof" | CircuitBreaker.Unavailable>
        }>() {}
        const name = uniqueName("tail")
        const layer = Dependency.layer(Tail, { name, whenDown: DegradationLevel.Degraded() }).pipe(
          Layer.provide(Layer.succeed(Tail, { lines: Stream.concat(Stream.make("a"), Stream.fail("eof" as const)) }))
        )
        const seen: Array<string> = []
        const error = yield* Effect.flatMap(
          Tail,
          (t) => Effect.flip(Stream.runForEach(t.lines, (l) => Effect.sync(() => seen.push(l))))
        ).pipe(
          Effect.provide(layer),
          Effect.provide(Degradation.layer())
        )
        expect(error).toBe("eof")
        expect(seen).toEqual(["a"])
        expect([yield* calls(name, "success"), yield* calls(name, "failure")]).toEqual([1, 1])
      }))

    it.scoped("a getter returning a method: its calls go through the breaker and its fallback runs", () =>
      Effect.gen(function*() {
        const { layer, name, reached, up } = yield* setupFeed
        yield* Effect.gen(function*() {
          const f = yield* Feed
          expect(yield* f.lookup("p1")).toBe("live p1")
          yield* Ref.set(up, false)
          for (let i = 0; i < 5; i++) expect(yield* f.lookup("p1")).toBe("cached p1")
          expect(yield* Ref.get(reached)).toBe(3)
          expect(yield* calls(name, "rejected")).toBe(3)
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      }))

    it("type level: Stream members are protected members: without Unavailable they need a fallback", () => {
      class Bad extends Context.Tag("test/BadStream")<Bad, { readonly s: Stream.Stream<number, "e"> }>() {}
      // @ts-expect-error `s` declares no Unavailable and has no fallback
      Dependency.layer(Bad, { name: "bad", whenDown: DegradationLevel.Degraded() })
      const ok = Dependency.layer(Bad, {
        name: "ok",
        whenDown: DegradationLevel.Degraded(),
        fallback: { s: () => Stream.make(1) }
      })
      expectTypeOf(ok).toEqualTypeOf<Layer.Layer<Bad, never, Bad | Degradation>>()
    })
  })

  describe("fallbacks run in the caller's context", () => {
    class Tenant extends Context.Tag("test/Tenant")<Tenant, string>() {}
    class Api extends Context.Tag("test/CallerApi")<Api, {
      readonly open: (id: string) => Effect.Effect<string, "api-error", Scope.Scope>
      readonly whoami: Effect.Effect<string, "api-error">
      readonly self: Effect.Effect<boolean, "api-error">
    }>() {}
    const level = FiberRef.unsafeMake("unset")

    const setupApi = Effect.sync(() => {
      const released: Array<string> = []
      const wrappedSeen: { current: unknown } = { current: undefined }
      const layer = Dependency.layer(Api, {
        name: uniqueName("api"),
        whenDown: DegradationLevel.Degraded(),
        fallback: {
          open: (_error: unknown, id: string) =>
            Effect.as(Effect.addFinalizer(() => Effect.sync(() => released.push(id))), `fallback ${id}`),
          whoami: () => Effect.map(Effect.zip(Tenant, FiberRef.get(level)), ([tenant, level]) => `${tenant}/${level}`),
          self: () => Effect.map(Api, (api) => api === wrappedSeen.current)
        }
      }).pipe(
        Layer.provide(Layer.succeed(Api, {
          open: () => Effect.fail("api-error" as const),
          whoami: Effect.fail("api-error" as const),
          self: Effect.fail("api-error" as const)
        })),
        // what the layer was built with: the fallback's services when the caller lacks them
        Layer.provide(Layer.succeed(Tenant, "built"))
      )
      return { layer, released, wrappedSeen }
    })

    it.scoped("a finalizer added in a fallback runs when the caller's scope closes", () =>
      Effect.gen(function*() {
        const { layer, released } = yield* setupApi
        yield* Effect.gen(function*() {
          const api = yield* Api
          expect(yield* Effect.scoped(api.open("r1"))).toBe("fallback r1")
          expect(released).toEqual(["r1"]) // not at the layer's release
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      }))

    it.scoped("the caller's services and FiberRefs win; what the caller lacks comes from the layer's build", () =>
      Effect.gen(function*() {
        const { layer } = yield* setupApi
        yield* Effect.gen(function*() {
          const api = yield* Api
          expect(yield* api.whoami.pipe(Effect.locally(level, "gold"))).toBe("built/gold")
          expect(yield* api.whoami.pipe(Effect.provideService(Tenant, "caller"))).toBe("caller/unset")
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
      }))

    it.scoped("inside its own fallback, the dependency's tag is the protected service, never the raw one", () =>
      Effect.gen(function*() {
        const { layer, wrappedSeen } = yield* setupApi
        const api = yield* Effect.gen(function*() {
          const api = yield* Api
          wrappedSeen.current = api
          expect(yield* api.self).toBe(true)
          return api
        }).pipe(Effect.provide(layer), Effect.provide(Degradation.layer()))
        // also from a caller whose context lacks the tag
        expect(yield* api.self).toBe(true)
      }))

    it("type level: a fallback's Scope is its caller's, not a requirement of the layer", () => {
      class Scoped extends Context.Tag("test/ScopedType")<Scoped, {
        readonly open: Effect.Effect<number, "e", Scope.Scope>
      }>() {}
      const layer = Dependency.layer(Scoped, {
        name: "scoped",
        whenDown: DegradationLevel.Degraded(),
        fallback: { open: () => Effect.as(Effect.addFinalizer(() => Effect.void), 1) }
      })
      expectTypeOf(layer).toEqualTypeOf<Layer.Layer<Scoped, never, Scoped | Degradation>>()
    })
  })

  describe("make: the protected service and its breaker, recovered by the handler", () => {
    it.scoped("a handler catches CircuitOpenError by tag itself", () =>
      Effect.gen(function*() {
        const name = uniqueName("openai")
        const control: Control = { up: yield* Ref.make(false), calls: yield* Ref.make(0) }
        yield* Effect.gen(function*() {
          const { breaker, service: openai } = yield* Dependency.make(OpenAI, {
            name,
            breaker: { trip: CircuitBreaker.consecutiveFailures(1) },
            whenDown: DegradationLevel.Limited(),
            fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices) }
          })
          expect(breaker.name).toBe(name)
          expect(yield* Effect.flip(openai.ping)).toBeInstanceOf(PricingError)
          const answer = yield* openai.ping.pipe(
            Effect.as("pong"),
            Effect.catchTag("CircuitOpenError", (error) => Effect.succeed(`open: ${error.breaker}`))
          )
          expect(answer).toBe(`open: ${name}`)
          expect((yield* breaker.state)._tag).toBe("Open")
          expect(yield* Ref.get(control.calls)).toBe(0)
        }).pipe(Effect.provideService(OpenAI, rawOpenAI(control)), Effect.provide(Degradation.layer()))
      }))

    it.scoped("bad options are reported under Dependency.make", () =>
      Effect.gen(function*() {
        const control: Control = { up: yield* Ref.make(true), calls: yield* Ref.make(0) }
        const exit = yield* Effect.exit(
          Dependency.make(OpenAI, {
            name: "",
            whenDown: DegradationLevel.Limited(),
            fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices) }
          }).pipe(
            Effect.provideService(OpenAI, rawOpenAI(control)),
            Effect.provide(Degradation.layer())
          )
        )
        assert(Exit.isFailure(exit))
        const defect = Cause.squash(exit.cause)
        assert(defect instanceof InvalidOptionError)
        expect([defect.module, defect.option]).toEqual(["Dependency.make", "name"])
      }))

    it("type level: make's requirements, and isFailure typed by the members' errors", () => {
      const made = Dependency.make(OpenAI, {
        name: "openai",
        whenDown: DegradationLevel.Limited(),
        breaker: {
          isFailure: (error) => {
            expectTypeOf(error).toEqualTypeOf<PricingError | CircuitBreaker.Unavailable>()
            return true
          }
        },
        fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices) }
      })
      expectTypeOf(made).toEqualTypeOf<
        Effect.Effect<Dependency.Wrapped<Context.Tag.Service<OpenAI>>, never, OpenAI | Scope.Scope | Degradation>
      >()
      // @ts-expect-error `enhancePrices` declares no Unavailable and has no fallback
      Dependency.make(OpenAI, { name: "openai", whenDown: DegradationLevel.Limited() })
      Dependency.layer(OpenAI, {
        name: "openai",
        whenDown: DegradationLevel.Limited(),
        // @ts-expect-error the members fail with PricingError or Unavailable, never a string
        breaker: { isFailure: (error: "x") => error === "x" },
        fallback: { enhancePrices: (_error, prices) => Effect.succeed(prices) }
      })
    })
  })

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
        Effect.provide(
          Dependency.layer(Api, { name, whenDown: DegradationLevel.Degraded() }).pipe(
            Layer.provide(Layer.succeed(Api, raw))
          )
        ),
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

  it("type level: the layer provides the service type unchanged; members without a fallback must declare Unavailable; fallbacks match the member", () => {
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
