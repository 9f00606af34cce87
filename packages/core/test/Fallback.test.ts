import { Fallback, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

describe("Fallback", () => {
  it.effect("constructors answer from the error and the arguments", () =>
    Effect.gen(function*() {
      expect(yield* Fallback.succeed(42)("boom")).toBe(42)
      expect(yield* Fallback.sync((error: unknown, a: number, b: number) => `${error}:${a + b}`)("e", 1, 2)).toBe("e:3")
      expect(yield* Fallback.make((_error: unknown, n: number) => Effect.succeed(n * 2))("e", 21)).toBe(42)
      const error = yield* Effect.flip(Fallback.unavailable({ dependency: "db", message: "read-only", action: "later" })("x"))
      assert(error instanceof Fallback.UnavailableError)
      expect([error.dependency, error.message, error.action, error.cause]).toEqual(["db", "read-only", "later", "x"])
    }))

  it.effect("measured counts the fallback and records its duration on the Clock", () =>
    Effect.gen(function*() {
      const name = uniqueName("measured")
      const slow = Effect.as(Effect.sleep("250 millis"), "ok")
      // data-first and piped
      const fiber = yield* Effect.fork(Effect.zip(Fallback.measured(slow, name), slow.pipe(Fallback.measured(name))))
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.join(fiber)).toEqual(["ok", "ok"])
      const calls = yield* Metric.value(Metrics.breakerFallbackCalls.pipe(Metric.tagged("breaker", name)))
      expect(calls.count).toBe(2)
      const duration = yield* Metric.value(Metrics.fallbackDuration.pipe(Metric.tagged("breaker", name)))
      expect(duration.count).toBe(2)
      expect(duration.sum).toBeCloseTo(0.5)
    }))

  describe("memoryQueue", () => {
    it.effect("replays in order and keeps every entry a failed replay did not deliver", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<number>()
        for (const n of [1, 2, 3, 4]) yield* queue.offer(n)
        const delivered = yield* Ref.make<Array<number>>([])
        const deliver = (n: number) =>
          n === 3 ? Effect.fail("still down") : Ref.update(delivered, (xs) => [...xs, n])
        expect(yield* Effect.flip(queue.replay(deliver))).toBe("still down")
        expect(yield* Ref.get(delivered)).toEqual([1, 2])
        expect(yield* queue.size).toBe(2)
        expect(yield* queue.replay((n) => Ref.update(delivered, (xs) => [...xs, n]))).toBe(2)
        expect(yield* Ref.get(delivered)).toEqual([1, 2, 3, 4])
        expect(yield* queue.size).toBe(0)
      }))

    it.effect("an undefined entry is an entry: it and everything behind it are replayed", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string | undefined>()
        yield* queue.offer(undefined)
        yield* queue.offer("b")
        const seen: Array<string | undefined> = []
        expect(yield* queue.replay((entry) => Effect.sync(() => seen.push(entry)))).toBe(2)
        expect(seen).toEqual([undefined, "b"])
        expect(yield* queue.size).toBe(0)
      }))

    it.effect("a full queue refuses with a typed error instead of dropping", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<number>({ capacity: 2 })
        yield* queue.offer(1)
        yield* queue.offer(2)
        const error = yield* Effect.flip(queue.offer(3))
        assert(error instanceof Fallback.WriteBehindError)
        expect(error.message).toContain("capacity 2")
        expect(yield* queue.size).toBe(2)
      }))

    it.effect("writeBehind queues the entry and answers the given value", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string>()
        const fallback = Fallback.writeBehind(queue, (key: string, body: string) => `${key}=${body}`, "accepted")
        expect(yield* fallback("s3 down", "k", "v")).toBe("accepted")
        const seen: Array<string> = []
        yield* queue.replay((entry) => Effect.sync(() => seen.push(entry)))
        expect(seen).toEqual(["k=v"])
      }))
  })
})
