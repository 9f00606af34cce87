import { Faults } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as App from "../src/app.js"
import { flakyOpenaiRetried, openaiDownRetryBudget, retryBound } from "../src/scenarios.js"

const noRetries = { firstTry: 0, afterRetry: 0, gaveUp: 0, budgetExhausted: 0, stoppedOpen: 0, attempts: 0 }

const failedChecks = (report: Simulation.Report) => report.checks.filter((c) => !c.ok).map((c) => c.description)

describe("OpenAI's retries in the demo", () => {
  it.effect(
    "a flaky OpenAI: every attempt is one breaker call, and the fallback answers only what retries did not",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run(flakyOpenaiRetried)
        expect(failedChecks(report)).toEqual([])
        const openai = report.perDependency.openai!
        const r = openai.retries
        const calls = report.traffic["openai.enhancePrices"]!.calls
        // Every call of the retried member counts one outcome.
        expect(r.firstTry + r.afterRetry + r.gaveUp + r.budgetExhausted + r.stoppedOpen).toBe(calls)
        expect(r.afterRetry).toBeGreaterThan(0)
        expect(r.stoppedOpen).toBe(0)
        // The breaker saw the first attempts and the retries, nothing refused.
        expect(openai.successes + openai.failures).toBe(calls + r.attempts)
        expect(openai.rejections).toBe(0)
        // A call that succeeded (first or after a retry) needed no fallback; the rest got one.
        expect(openai.successes).toBe(r.firstTry + r.afterRetry)
        expect(openai.fallbacks).toBe(r.gaveUp + r.budgetExhausted)
        expect(r.attempts).toBeLessThanOrEqual(retryBound(report).bound)
        // Writes and the other dependencies are never retried.
        for (const name of ["db", "redis", "s3"]) expect(report.perDependency[name]!.retries).toEqual(noRetries)
      }),
    60_000
  )

  it.effect(
    "a hard outage: the budget takes the first retries, the open breaker stops the rest",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run(openaiDownRetryBudget)
        expect(failedChecks(report)).toEqual([])
        // 0–1:10 and 4:10–6:00 every call answers at once (the probe of 4:10 closes the breaker).
        // At 1:10 the first two failures take the budget's tokens (its reserve of 2 per 10 s, plus
        // 20 % of 1 and 2 first attempts: 2.2, then 2.4 − 1); the 3rd and 4th find less than one
        // (2.6 − 2, 2.8 − 2): out of budget; the 5th opens the breaker, whose `Limited` ends its
        // retries (gave up), as it does for the failed probes of 2:10 and 3:10. Every other call,
        // and the two retries, are refused by the open breaker: stopped at once.
        expect(report.perDependency.openai!.retries).toEqual({
          firstTry: 700 + 1100,
          afterRetry: 0,
          gaveUp: 1 + 2,
          budgetExhausted: 2,
          stoppedOpen: 1795,
          attempts: 2
        })
        expect(report.perDependency.openai).toMatchObject({ failures: 5 + 2, rejections: 1795, fallbacks: 1800 })
        expect(report.breakerTransitions.filter((t) => t.to === "Open").map((t) => t.at)).toEqual([
          70_000,
          130_000,
          190_000
        ])
      }),
    60_000
  )

  it.effect(
    "the checks fail when retries cannot hold: a 30 % flaky OpenAI opens its breaker",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          ...flakyOpenaiRetried,
          faults: [
            { at: "1 minute", dependency: "openai", member: "enhancePrices", fault: Faults.flaky(0.3) },
            { at: "4 minutes", dependency: "openai", fault: Simulation.recovered }
          ]
        })
        expect(report.ok).toBe(false)
        expect(failedChecks(report)).toEqual(expect.arrayContaining([
          "the OpenAI breaker stays closed",
          "never worse than Optimal"
        ]))
      }),
    60_000
  )

  it.effect(
    "the checks fail without an outage: no budget refusal, no breaker to stop retries",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({ ...openaiDownRetryBudget, faults: [] })
        expect(report.perDependency.openai!.retries).toMatchObject({ budgetExhausted: 0, stoppedOpen: 0, attempts: 0 })
        expect(failedChecks(report)).toEqual([
          "Limited within 1s of 00:01:10",
          "the budget refuses retries (budget_exhausted > 0)",
          "the open breaker stops the retries: every call it refuses is stopped_open"
        ])
      }),
    60_000
  )

  it.effect(
    "the app without retries: every failure is answered at once, by the fallback",
    () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          ...flakyOpenaiRetried,
          layer: App.layer({ retries: false }),
          expect: []
        })
        const openai = report.perDependency.openai!
        expect(openai.retries).toEqual(noRetries)
        expect(openai.failures).toBeGreaterThan(0)
        expect(openai.fallbacks).toBe(openai.failures)
        expect(openai.successes + openai.failures).toBe(report.traffic["openai.enhancePrices"]!.calls)
      }),
    60_000
  )

  it.effect("the virtual clock reports the same retries as TestClock", () =>
    Effect.gen(function*() {
      for (const scenario of [flakyOpenaiRetried, openaiDownRetryBudget]) {
        const test = yield* Simulation.run(scenario)
        const virtual = yield* Simulation.run({ ...scenario, clock: "virtual" })
        expect(virtual.perDependency).toEqual(test.perDependency)
        expect(virtual.checks).toEqual(test.checks)
      }
    }), 120_000)
})
