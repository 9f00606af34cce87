import { Faults as CoreFaults } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"

describe("Faults (deprecated re-export)", () => {
  it("is core's Faults: the same values, so a layer made with one is controlled by the other", () => {
    expect(Faults.layer).toBe(CoreFaults.layer)
    expect(Faults.control).toBe(CoreFaults.control)
    expect(Faults.Registry).toBe(CoreFaults.Registry)
    expect(Faults.down).toBe(CoreFaults.down)
    expect(Object.keys(Faults).sort()).toEqual(Object.keys(CoreFaults).sort())
  })
})
