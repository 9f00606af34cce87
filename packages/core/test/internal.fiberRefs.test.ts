import { describe, expect, it } from "@effect/vitest"
import { Effect, FiberRef, FiberRefs } from "effect"
import { peekFiberRefs, sameValues } from "../src/internal/fiberRefs.js"

// `peekFiberRefs` reads Effect 3's `FiberRuntime` internals to skip a copy per
// call: these pin that it still reads what `getFiberRefs()` answers.
describe("internal/fiberRefs", () => {
  const ref = FiberRef.unsafeMake("initial")

  it.effect("peekFiberRefs holds the values getFiberRefs() answers, set ones included", () =>
    Effect.withFiberRuntime((fiber) =>
      Effect.gen(function*() {
        yield* FiberRef.set(ref, "changed")
        const peeked = peekFiberRefs(fiber)
        const copied = fiber.getFiberRefs()
        expect(FiberRefs.getOrDefault(peeked, ref)).toBe("changed")
        expect(sameValues(peeked, copied)).toBe(true)
        expect(new Set(FiberRefs.fiberRefs(peeked))).toEqual(new Set(FiberRefs.fiberRefs(copied)))
      })
    ))

  it.effect("peekFiberRefs copies nothing while nothing is set", () =>
    Effect.withFiberRuntime((fiber) =>
      Effect.sync(() => {
        expect(peekFiberRefs(fiber)).toBe(peekFiberRefs(fiber))
        // getFiberRefs() copies the map on every call: what the peek avoids.
        expect(fiber.getFiberRefs()).not.toBe(fiber.getFiberRefs())
      })
    ))

  it.effect("sameValues sees a changed, an added and a restored value", () =>
    Effect.withFiberRuntime((fiber) =>
      Effect.gen(function*() {
        yield* FiberRef.set(ref, "set")
        const before = peekFiberRefs(fiber)
        yield* Effect.locally(
          Effect.sync(() => expect(sameValues(before, peekFiberRefs(fiber))).toBe(false)),
          ref,
          "local"
        )
        // Restored: another map, the same values.
        expect(sameValues(before, peekFiberRefs(fiber))).toBe(true)
        const added = FiberRef.unsafeMake(0)
        yield* FiberRef.set(added, 1)
        expect(sameValues(before, peekFiberRefs(fiber))).toBe(false)
        // Only the runtime flags differ: the same.
        yield* Effect.interruptible(Effect.void)
        expect(sameValues(peekFiberRefs(fiber), fiber.getFiberRefs())).toBe(true)
      })
    ))
})
