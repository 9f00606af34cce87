import { Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { dbDown, scenarios, seedScenarios } from "../src/scenarios.js"

describe("outage-simulation scenarios", () => {
  it("cover the seed's six scenarios", () => {
    expect(seedScenarios.map((s) => s.name)).toEqual([
      "redis-down-then-back",
      "openai-and-redis-down",
      "openai-back-redis-still-down",
      "db-down-writes-blocked",
      "everything-down",
      "partial-recovery"
    ])
  })

  for (const scenario of scenarios) {
    it.effect(`${scenario.name} ends as the seed describes`, () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run(scenario)
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.description}: ${c.detail}`)
        expect(failed).toEqual([])
        expect(report.checks.length).toBeGreaterThan(0)
        expect(Simulation.renderSvg(report)).toContain(scenario.name)
      }))
  }

  it.effect("db-down with the breaker's own callTimeout ends the same", () =>
    Effect.gen(function*() {
      const modelled = yield* Simulation.run(dbDown)
      const exact = yield* Simulation.run({ ...dbDown, timeouts: "breaker" })
      expect(exact.ok).toBe(true)
      expect(exact.levelTransitions).toEqual(modelled.levelTransitions)
      expect(exact.breakerTransitions).toEqual(modelled.breakerTransitions)
      expect(exact.perDependency).toEqual(modelled.perDependency)
    }))
})
