import { Describe, InvalidOptionError, Validation } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

class RedisError extends Data.TaggedError("RedisError")<{ readonly code: string }> {}

describe("Validation (the checks every constructor uses, public for packages built on core)", () => {
  it.effect("validated dies with an InvalidOptionError naming the option and the module", () =>
    Effect.gen(function*() {
      const make = (options: { readonly retries: unknown; readonly every: unknown }) =>
        Validation.validated("MyLib.make", (v) => ({
          retries: v.positiveInt("retries", options.retries),
          every: v.duration("every", options.every, { timer: true })
        }))
      expect(yield* make({ retries: 3, every: "1 second" })).toEqual({ retries: 3, every: Duration.seconds(1) })
      for (
        const [options, option] of [[{ retries: 0, every: 1 }, "retries"], [
          { retries: 1, every: NaN },
          "every"
        ]] as const
      ) {
        const exit = yield* Effect.exit(make(options))
        assert(Exit.isFailure(exit))
        const defect = Cause.dieOption(exit.cause)
        assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError)
        expect([defect.value.module, defect.value.option]).toEqual(["MyLib.make", option])
      }
      expect(() => Validation.validator("X").duration("d", Validation.maxTimerMillis + 1, { timer: true })).toThrow(
        InvalidOptionError
      )
    }))
})

describe("Describe", () => {
  it("describes failures by message, else tag and fields; defects by message", () => {
    expect(Describe.describe(new Error("ECONNREFUSED"))).toBe("ECONNREFUSED")
    expect(Describe.describe(new RedisError({ code: "ECONNREFUSED" }))).toBe(`RedisError { code: "ECONNREFUSED" }`)
    expect(Describe.describe(Cause.die(new Error("boom")))).toBe("boom")
  })
})
