import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as entryId from "../src/internal/entryId.js"

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("internal/entryId", () => {
  it.effect("ids are UUIDv7 carrying the clock's millisecond, unique and in order within one", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 11, 2, 12, 0, 0, 123))
      const next = entryId.generator(yield* Effect.clock)
      // More ids than the 12-bit counter holds, all in one millisecond of the clock.
      const ids = Array.from({ length: 10_000 }, next)
      for (const id of ids) assert.match(id, uuidV7)
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.deepStrictEqual([...ids].sort(), ids)
      const millis = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
      assert.strictEqual(millis(ids[0]!), Date.UTC(2026, 11, 2, 12, 0, 0, 123))
      // The counter spent, the ids borrow the next milliseconds rather than repeat.
      assert.strictEqual(millis(ids[ids.length - 1]!), Date.UTC(2026, 11, 2, 12, 0, 0, 123) + 2)
    }))

  it.effect("a clock that steps back never makes an id sort before an earlier one", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const next = entryId.generator(yield* Effect.clock)
      const before = next()
      yield* TestClock.setTime(5_000)
      const after = next()
      assert.isTrue(after > before, `${after} sorts after ${before}`)
      yield* TestClock.adjust("20 seconds")
      const later = next()
      assert.isTrue(later > after)
      assert.strictEqual(parseInt(later.slice(0, 8) + later.slice(9, 13), 16), 25_000)
    }))
})
