/**
 * A raw member that throws, or a traffic run whose `args` or handler throws:
 * a failure of that call, counted and answered like any other, never a
 * call that slips past the breaker or stays "in flight".
 */
import { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback } from "@effect-resilience/core"
import { Faults, Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { uniqueName } from "./utils.js"

class Store extends Context.Tag("test/Throws/Store")<Store, {
  readonly read: (key: string) => Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly write: (key: string) => Effect.Effect<void, CircuitBreaker.Unavailable>
}>() {}

/** `read` throws for keys starting with "!", `write` always throws. */
const raw: Context.Tag.Service<Store> = {
  read: (key) => {
    if (key.startsWith("!")) throw new RangeError(`bad key ${key}`)
    return Effect.succeed(key.toUpperCase())
  },
  write: () => {
    throw new Error("write: not connected")
  }
}

const storeLayer = (name: string) =>
  Dependency.layer(Store, {
    name,
    whenDown: DegradationLevel.Degraded(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("10 seconds") },
    fallback: { read: Fallback.succeed("fallback") }
  }).pipe(
    Layer.provideMerge(Faults.layer(Store, { name })),
    Layer.provide(Layer.succeed(Store, raw)),
    Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))
  )

describe("throws under Faults and Dependency", () => {
  it.scoped("a throw through the fault layer is a counted failure answered by the fallback; faults still apply", () =>
    Effect.gen(function*() {
      const name = uniqueName("store")
      yield* Effect.gen(function*() {
        const store = yield* Store
        expect(yield* store.read("a")).toBe("A")
        expect(yield* store.read("!x")).toBe("fallback")
        // A `down` fault wins over the raw member's throw: the injected failure is what the breaker sees.
        yield* Faults.inject(Store, Faults.down, { member: "write" })
        const error = yield* Effect.flip(store.write("k"))
        expect(error._tag).toBe("FaultInjectedError")
        yield* Faults.recover(Store)
        const defect = yield* Effect.exit(store.write("k"))
        expect(defect._tag === "Failure" && defect.cause._tag).toBe("Die")
        // Three counted failures (throw, fault, throw): the breaker opened, the level dropped.
        expect((yield* (yield* Degradation).current)._tag).toBe("Degraded")
      }).pipe(Effect.provide(storeLayer(name)))
    }))
})

describe("Simulation.run with throwing traffic", () => {
  it.effect("a run whose args, handler or member throws is reported as a defect, not left in flight", () =>
    Effect.gen(function*() {
      const name = uniqueName("store")
      const report = yield* Simulation.run({
        name: "throws",
        duration: "10 seconds",
        layer: storeLayer(name),
        faults: [],
        traffic: [
          Simulation.calls(Store, "read", {
            perSecond: 1,
            name: "args throw",
            args: (i) => {
              if (i % 2 === 1) throw new Error(`args ${i}`)
              return [`k${i}`]
            }
          }),
          Simulation.traffic("handler throws", (i) => {
            if (i >= 0) throw new Error("handler broke")
            return Effect.void
          }, { perSecond: 1 }),
          Simulation.calls(Store, "write", { perSecond: 1, name: "member throws", args: (i) => [`k${i}`] })
        ]
      })
      const args = report.traffic["args throw"]!
      expect([args.calls, args.answered, args.errors, args.inFlight]).toEqual([10, 5, 5, 0])
      expect(args.errorsByTag).toEqual({ Defect: 5 })
      const handler = report.traffic["handler throws"]!
      expect([handler.calls, handler.answered, handler.errors, handler.inFlight]).toEqual([10, 0, 10, 0])
      expect(handler.errorSamples.Defect?.message).toBe("handler broke")
      const member = report.traffic["member throws"]!
      expect([member.calls, member.errors, member.inFlight]).toEqual([10, 10, 0])
      expect(member.errorSamples.Defect?.message).toBe(
        "write threw instead of answering an Effect: write: not connected"
      )
      // Every throw of the member went through the breaker: counted as a failure (the reads' successes
      // in between keep it closed); the runs whose args threw never reached it.
      expect(report.perDependency[name]).toMatchObject({ successes: 5, failures: 10 })
    }))
})
