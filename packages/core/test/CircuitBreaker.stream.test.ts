import { CircuitBreaker } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { calls, uniqueName } from "./utils.js"

describe("CircuitBreaker.stream", () => {
  it.scoped("a run is one call: counted once however many elements, a failure before the first opens it, then rejected", () =>
    Effect.gen(function*() {
      const name = uniqueName("events")
      const breaker = yield* CircuitBreaker.make({
        name,
        trip: CircuitBreaker.consecutiveFailures(2),
        reset: Schedule.spaced("10 seconds")
      })
      expect(Chunk.toArray(yield* Stream.runCollect(Stream.make(1, 2, 3).pipe(CircuitBreaker.stream(breaker)))))
        .toEqual(
          [1, 2, 3]
        )
      expect(yield* calls(name, "success")).toBe(1)
      const failing = CircuitBreaker.stream(Stream.fail("down"), breaker)
      expect(yield* Effect.flip(Stream.runDrain(failing))).toBe("down")
      expect(yield* Effect.flip(Stream.runDrain(failing))).toBe("down")
      expect((yield* breaker.state)._tag).toBe("Open")
      const rejected = yield* Effect.flip(Stream.runDrain(Stream.make(1).pipe(CircuitBreaker.stream(breaker))))
      expect(rejected._tag).toBe("CircuitOpenError")
    }))

  it.scoped("a failure after the first element fails the stream with its own error and counts as one more failure", () =>
    Effect.gen(function*() {
      const name = uniqueName("events")
      const breaker = yield* CircuitBreaker.make({ name, trip: CircuitBreaker.consecutiveFailures(5) })
      const stream = Stream.concat(Stream.make(1, 2), Stream.fail("lost")).pipe(CircuitBreaker.stream(breaker))
      const seen: Array<number> = []
      const error = yield* Effect.flip(Stream.runForEach(stream, (n) => Effect.sync(() => seen.push(n))))
      expect(error).toBe("lost")
      expect(seen).toEqual([1, 2])
      expect(yield* calls(name, "success")).toBe(1)
      expect(yield* calls(name, "failure")).toBe(1)
    }))
})
