import { Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { dbDown, flakyOpenai, outageScenarios, partialRecovery, scenarios } from "../src/scenarios.js"

describe("outage-simulation scenarios", () => {
  it("cover the six outage scenarios, a flaky dependency, then OpenAI's retries", () => {
    expect(scenarios.map((s) => s.name)).toEqual([
      ...outageScenarios.map((s) => s.name),
      "flaky-openai",
      "flaky-openai-retried",
      "openai-down-retry-budget"
    ])
    expect(outageScenarios.map((s) => s.name)).toEqual([
      "redis-down-then-back",
      "openai-and-redis-down",
      "openai-back-redis-still-down",
      "db-down-writes-blocked",
      "everything-down",
      "partial-recovery"
    ])
  })

  for (const scenario of scenarios) {
    it.effect(`${scenario.name} passes its checks`, () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run(scenario)
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.description}: ${c.detail}`)
        expect(failed).toEqual([])
        expect(report.checks.length).toBe(scenario.expect!.length)
        // the app's four dependencies, each under the traffic of the scenario
        expect(Object.keys(report.perDependency).sort()).toEqual(["db", "openai", "redis", "s3"])
        expect(report.stats.calls).toBe(40 * Math.round(report.duration / 1000))
        expect(Simulation.renderSvg(report)).toContain(scenario.name)
      }), 60_000)
  }

  it.effect(
    "the DB hanging: reads wait the 5 s call timeout before the cache answers them",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({ ...dbDown, clock: "virtual" })
        const reads = report.traffic["db.getPrice"]!
        // The fallback answers the reads cut at the timeout: no caller sees the CallTimeoutError.
        expect([reads.errors, reads.timedOut]).toEqual([0, 0])
        expect(reads.latency).toEqual({ p50: 0, p99: 5_000, max: 5_000 })
        expect(report.perDependency.db!.timeouts).toBeGreaterThanOrEqual(3)
        // Nothing else waits: the other dependencies answer at once.
        expect(report.traffic["redis.getPrice"]!.latency).toEqual({ p50: 0, p99: 0, max: 0 })
      }),
    60_000
  )

  it.effect("the same scenario run twice gives the same level and breaker transitions", () =>
    Effect.gen(function*() {
      // flaky-openai draws from Random: a fixed random seed makes it repeatable
      const first = yield* Simulation.run(flakyOpenai)
      const second = yield* Simulation.run(flakyOpenai)
      expect(first.levelTransitions.length).toBeGreaterThan(0)
      expect(first.breakerTransitions.length).toBeGreaterThan(0)
      expect(second.levelTransitions).toEqual(first.levelTransitions)
      expect(second.breakerTransitions).toEqual(first.breakerTransitions)
      expect(second.perDependency).toEqual(first.perDependency)
      expect(second.traffic).toEqual(first.traffic)
    }), 120_000)

  it.effect("the virtual clock gives the same reports as TestClock", () =>
    Effect.gen(function*() {
      for (const scenario of [dbDown, partialRecovery, flakyOpenai]) {
        const test = yield* Simulation.run(scenario)
        const virtual = yield* Simulation.run({ ...scenario, clock: "virtual" })
        const { logs: _l1, stats: s1, ...a } = test
        const { logs: _l2, stats: s2, ...b } = virtual
        expect(b).toEqual(a)
        expect([s2.steps, s2.calls]).toEqual([s1.steps, s1.calls])
      }
    }), 120_000)
})
