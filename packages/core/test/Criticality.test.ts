import { Criticality } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Array from "effect/Array"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"

const tags = (cs: ReadonlyArray<Criticality.Criticality>) => cs.map((c) => c._tag)
const anyClass = FastCheck.constantFrom(...Criticality.all)

describe("Criticality", () => {
  describe("the classes", () => {
    it("are ranked CriticalPlus 4 … Sheddable 1, and `all` lists them most critical first", () => {
      expect(tags(Criticality.all)).toEqual(["CriticalPlus", "Critical", "SheddablePlus", "Sheddable"])
      expect(Criticality.all.map(Criticality.rank)).toEqual([4, 3, 2, 1])
    })

    it("Order sorts least critical first; mostCritical and leastCritical pick by rank", () => {
      const sorted = Array.sort(Criticality.all, Criticality.Order)
      expect(tags(sorted)).toEqual(["Sheddable", "SheddablePlus", "Critical", "CriticalPlus"])
      expect(Criticality.mostCritical(Criticality.Sheddable(), Criticality.CriticalPlus())._tag).toBe("CriticalPlus")
      expect(Criticality.leastCritical(Criticality.Sheddable(), Criticality.CriticalPlus())._tag).toBe("Sheddable")
    })

    it.prop("predicates and combinators agree with rank, data-first and data-last", [anyClass, anyClass], ([a, b]) => {
      assert.strictEqual(Criticality.isMoreCriticalThan(a, b), Criticality.rank(a) > Criticality.rank(b))
      assert.strictEqual(Criticality.isMoreCriticalThan(b)(a), Criticality.rank(a) > Criticality.rank(b))
      assert.strictEqual(Criticality.isAtLeast(a, b), Criticality.rank(a) >= Criticality.rank(b))
      assert.strictEqual(Criticality.isAtLeast(b)(a), Criticality.rank(a) >= Criticality.rank(b))
      assert.strictEqual(
        Criticality.rank(Criticality.mostCritical(a, b)),
        Math.max(Criticality.rank(a), Criticality.rank(b))
      )
      assert.strictEqual(
        Criticality.rank(Criticality.leastCritical(b)(a)),
        Math.min(Criticality.rank(a), Criticality.rank(b))
      )
    })

    it("$match is exhaustive and $is guards a tag", () => {
      const label = Criticality.$match({
        CriticalPlus: () => "cp",
        Critical: () => "c",
        SheddablePlus: () => "sp",
        Sheddable: () => "s"
      })
      expect(Criticality.all.map(label)).toEqual(["cp", "c", "sp", "s"])
      expect(Criticality.$is("Sheddable")(Criticality.Sheddable())).toBe(true)
      expect(Criticality.$is("Sheddable")(Criticality.Critical())).toBe(false)
    })
  })

  describe("parsing", () => {
    it.each([
      ["CriticalPlus", "CriticalPlus"],
      ["CRITICAL_PLUS", "CriticalPlus"],
      ["critical-plus", "CriticalPlus"],
      [" critical ", "Critical"],
      ["SHEDDABLE_PLUS", "SheddablePlus"],
      ["sheddable", "Sheddable"]
    ])("fromString(%j) is %s", (value, tag) => {
      expect(Criticality.fromString(value)?._tag).toBe(tag)
    })

    it.each(["", "urgent", "critical+", "0"])("fromString(%j) names no class", (value) => {
      expect(Criticality.fromString(value)).toBeUndefined()
    })

    it("fromHeader reads a class, and an absent or unknown header as Critical", () => {
      expect(Criticality.fromHeader("sheddable_plus")._tag).toBe("SheddablePlus")
      expect(Criticality.fromHeader(undefined)._tag).toBe("Critical")
      expect(Criticality.fromHeader("very important")._tag).toBe("Critical")
      expect(Criticality.headerName).toBe("x-criticality")
    })
  })

  describe("the class of a fiber", () => {
    it.effect("is Critical unless set", () =>
      Effect.gen(function*() {
        expect((yield* Criticality.current)._tag).toBe("Critical")
      }))

    it.effect("with sets it for the effect only, data-first and data-last", () =>
      Effect.gen(function*() {
        const inside = yield* Criticality.with(Criticality.current, Criticality.Sheddable())
        const piped = yield* Criticality.current.pipe(Criticality.with(Criticality.CriticalPlus()))
        expect([inside._tag, piped._tag]).toEqual(["Sheddable", "CriticalPlus"])
        expect((yield* Criticality.current)._tag).toBe("Critical")
      }))

    it.effect("follows a request into the fibers it forks, however deep", () =>
      Effect.gen(function*() {
        const seen = yield* Effect.gen(function*() {
          const child = yield* Effect.fork(Effect.flatMap(Effect.fork(Criticality.current), Fiber.join))
          const parallel = yield* Effect.all([Criticality.current, Criticality.current], { concurrency: 2 })
          return [yield* Fiber.join(child), ...parallel]
        }).pipe(Criticality.with(Criticality.SheddablePlus()))
        expect(tags(seen)).toEqual(["SheddablePlus", "SheddablePlus", "SheddablePlus"])
      }))

    it.effect("an inner with overrides an outer one, and the outer is back after it", () =>
      Effect.gen(function*() {
        const seen = yield* Effect.gen(function*() {
          const inner = yield* Criticality.with(Criticality.current, Criticality.CriticalPlus())
          return [inner, yield* Criticality.current]
        }).pipe(Criticality.with(Criticality.Sheddable()))
        expect(tags(seen)).toEqual(["CriticalPlus", "Sheddable"])
      }))

    it.scoped("fiberRef works with Effect.locallyScoped", () =>
      Effect.gen(function*() {
        yield* Effect.locallyScoped(Criticality.fiberRef, Criticality.Sheddable())
        expect((yield* Criticality.current)._tag).toBe("Sheddable")
      }))
  })
})
