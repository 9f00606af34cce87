/**
 * Bad options of `Simulation.run`, `Simulation.calls` and `Simulation.traffic`:
 * an `InvalidOptionError` naming the function called and the option as
 * written, whose message names the value by its type; a bad scenario is a
 * defect of the run, as with every constructor of the toolkit.
 */
import { Degradation, InvalidOptionError } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

class Cache extends Context.Tag("test/SimulationOptions/Cache")<Cache, {
  readonly get: (key: string) => Effect.Effect<string>
}>() {}

const scenario: Simulation.Scenario = {
  name: "options",
  duration: "10 seconds",
  layer: Layer.succeed(Cache, { get: Effect.succeed }).pipe(Layer.provideMerge(Degradation.layer())),
  traffic: [Simulation.calls(Cache, "get", { perSecond: 1, args: () => ["k"] })]
}

/** The InvalidOptionError a bad scenario dies with. */
const defectOf = (bad: unknown) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Simulation.run(bad as Simulation.Scenario))
    assert(Exit.isFailure(exit), "the run did not fail")
    const defect = Cause.dieOption(exit.cause)
    assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError, `not an InvalidOptionError: ${exit}`)
    return defect.value
  })

/** The InvalidOptionError `f` throws. */
const thrownBy = (f: () => unknown): InvalidOptionError => {
  try {
    f()
  } catch (error) {
    assert(error instanceof InvalidOptionError, `not an InvalidOptionError: ${String(error)}`)
    return error
  }
  return assert.fail("nothing was thrown")
}

/** What no message may say: `String` of an object, or of `[]` (nothing at all). */
const unprintable = /got (\[object |$)/

describe("Simulation options", () => {
  it.effect("a bad scenario dies with the InvalidOptionError: no typed failure to catch", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Simulation.run({ ...scenario, duration: -1 }).pipe(Effect.catchAll(() => Effect.succeed("caught")))
      )
      assert(Exit.isFailure(exit), "a typed failure was caught")
      const defect = Cause.squash(exit.cause)
      assert(defect instanceof InvalidOptionError)
      expect([defect.module, defect.option]).toEqual(["Simulation.run", "duration"])
    }))

  it.effect("Simulation.run names the value's type, never [object Object] or nothing", () =>
    Effect.gen(function*() {
      const cases: Array<[unknown, string, string]> = [
        [{ ...scenario, layer: {} }, "layer", "got an object"],
        [{ ...scenario, name: "" }, "name", "got an empty string"],
        [{ ...scenario, name: "  " }, "name", `got a blank string ("  ")`],
        [{ ...scenario, duration: Number.NaN }, "duration", "got NaN"],
        [{ ...scenario, step: [] }, "step", "got an empty array"],
        [{ ...scenario, faults: {} }, "faults", "got an object"],
        [{ ...scenario, faults: [{ at: 0, dependency: [], fault: {} }] }, "faults[0].dependency", "got an empty array"],
        [{ ...scenario, faults: [{ at: 0, dependency: {}, fault: {} }] }, "faults[0].dependency", "got an object"],
        [{ ...scenario, faults: [{ at: 0, dependency: "x", fault: {} }] }, "faults[0].fault", "got an object"],
        [
          { ...scenario, faults: [{ at: 0, dependency: "x", fault: { _tag: "Broken" } }] },
          "faults[0].fault",
          `got an object with _tag "Broken"`
        ],
        [{ ...scenario, traffic: [{}] }, "traffic[0]", "got an object"],
        [{ ...scenario, traffic: [[]] }, "traffic[0]", "got an empty array"],
        [{ ...scenario, expect: [{}] }, "expect[0]", "got an object"],
        [{ ...scenario, seed: {} }, "seed", "got an object"],
        [{ ...scenario, seed: 0.5 }, "seed", "got 0.5"],
        [{ ...scenario, clock: "" }, "clock", "got an empty string"],
        [{ ...scenario, layer: Effect.void }, "layer", "got an Effect"],
        [{ ...scenario, layer: Cache }, "layer", "got the Tag test/SimulationOptions/Cache"]
      ]
      for (const [bad, option, got] of cases) {
        const error = yield* defectOf(bad)
        expect([error.module, error.option]).toEqual(["Simulation.run", option])
        expect(error.message).not.toMatch(unprintable)
        expect(error.message).toContain(got)
      }
    }))

  it("Simulation.calls throws naming itself and the option", () => {
    const cases: Array<[() => unknown, string, string]> = [
      [() => Simulation.calls({} as typeof Cache, "get", { perSecond: 1 }), "tag", "got an object"],
      [() => Simulation.calls(Cache, "" as "get", { perSecond: 1 }), "member", "got an empty string"],
      [() => Simulation.calls(Cache, "get", undefined as never), "options", "got undefined"],
      [() => Simulation.calls(Cache, "get", { perSecond: Number.NaN }), "perSecond", "got NaN"],
      [() => Simulation.calls(Cache, "get", { perSecond: -1 }), "perSecond", "got -1"],
      [() => Simulation.calls(Cache, "get", { perSecond: 1, args: [] as never }), "args", "got an empty array"],
      [() => Simulation.calls(Cache, "get", { perSecond: 1, name: "" }), "name", "got an empty string"]
    ]
    for (const [f, option, got] of cases) {
      const error = thrownBy(f)
      expect([error.module, error.option]).toEqual(["Simulation.calls", option])
      expect(error.message).not.toMatch(unprintable)
      expect(error.message).toContain(got)
    }
  })

  it("Simulation.traffic throws naming itself and the option", () => {
    const cases: Array<[() => unknown, string, string]> = [
      [() => Simulation.traffic("", Effect.void, { perSecond: 1 }), "name", "got an empty string"],
      [() => Simulation.traffic("job", {} as Effect.Effect<void>, { perSecond: 1 }), "effect", "got an object"],
      [() => Simulation.traffic("job", Effect.void, {} as never), "perSecond", "got undefined"],
      [() => Simulation.traffic("job", Effect.void, { perSecond: Number.POSITIVE_INFINITY }), "perSecond", "Infinity"],
      [() => Simulation.traffic("job", Effect.void, { every: Number.NaN }), "every", "got NaN"],
      [() => Simulation.traffic("job", Effect.void, { every: [] as never }), "every", "got an empty array"],
      [
        () => Simulation.traffic("job", Effect.void, { every: "1 second", perSecond: 1 } as never),
        "options",
        "got an object"
      ]
    ]
    for (const [f, option, got] of cases) {
      const error = thrownBy(f)
      expect([error.module, error.option]).toEqual(["Simulation.traffic", option])
      expect(error.message).not.toMatch(unprintable)
      expect(error.message).toContain(got)
    }
  })

  it("valid traffic is built as given", () => {
    expect(Simulation.calls(Cache, "get", { perSecond: 2.5 })).toMatchObject({
      name: "test/SimulationOptions/Cache.get",
      perSecond: 2.5
    })
    expect(Simulation.traffic("sync", Effect.void, { every: "4 seconds" }).perSecond).toBe(0.25)
  })
})
