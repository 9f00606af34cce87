/** Pins the Effect 3 internals the toolkit reads: if Effect changes one, this fails before anything degrades silently. */
import { EffectInternals } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"

const ref = FiberRef.unsafeMake("initial")

describe("EffectInternals", () => {
  it.effect("FiberRuntime._fiberRefs exists and holds what getFiberRefs() answers", () =>
    Effect.gen(function*() {
      yield* FiberRef.set(ref, "set")
      yield* Effect.withFiberRuntime((fiber) => {
        expect((fiber as unknown as { _fiberRefs?: unknown })._fiberRefs).toBeDefined()
        const peeked = EffectInternals.peekFiberRefs(fiber)
        expect(FiberRefs.getOrDefault(peeked, ref)).toBe("set")
        expect(FiberRefs.getOrDefault(peeked, ref)).toBe(FiberRefs.getOrDefault(fiber.getFiberRefs(), ref))
        return Effect.void
      })
    }))

  it.effect("FiberRefs.locals is a Map: values compared without a copy, runtime flags aside", () =>
    Effect.gen(function*() {
      yield* Effect.withFiberRuntime((fiber) => {
        const before = EffectInternals.peekFiberRefs(fiber)
        expect((before as unknown as { locals?: unknown }).locals).toBeInstanceOf(Map)
        expect(EffectInternals.sameFiberRefValues(before, fiber.getFiberRefs())).toBe(true)
        return Effect.void
      })
      const before = yield* Effect.withFiberRuntime<FiberRefs.FiberRefs>((fiber) =>
        Effect.succeed(EffectInternals.peekFiberRefs(fiber))
      )
      yield* FiberRef.set(ref, "changed")
      const after = yield* Effect.withFiberRuntime<FiberRefs.FiberRefs>((fiber) =>
        Effect.succeed(EffectInternals.peekFiberRefs(fiber))
      )
      expect(EffectInternals.sameFiberRefValues(before, after)).toBe(false)
    }))

  it.effect("FiberRuntime.setFiberRef sets a ref in place", () =>
    Effect.gen(function*() {
      const done = yield* Effect.withFiberRuntime((fiber) =>
        Effect.succeed(EffectInternals.unsafeSetFiberRef(fiber, ref, "in place"))
      )
      expect(done).toBe(true)
      expect(yield* FiberRef.get(ref)).toBe("in place")
      expect(EffectInternals.read).toEqual(["FiberRuntime._fiberRefs", "FiberRefs.locals", "FiberRuntime.setFiberRef"])
    }))
})
