import { InvalidOptionError, Metrics, Retry, RetryBudget } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const gauge = (dependency: string) =>
  Metric.value(Metrics.retryBudgetAvailable.pipe(Metric.tagged("dependency", dependency))).pipe(
    Effect.map((s) => s.value)
  )

const outcome = (dependency: string, outcome: Metrics.RetryOutcome) =>
  Metric.value(
    Metrics.retryCalls.pipe(Metric.tagged("dependency", dependency), Metric.tagged("outcome", outcome))
  ).pipe(Effect.map((s) => s.count))

const attempts = (dependency: string) =>
  Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", dependency))).pipe(Effect.map((s) => s.count))

/** Withdraws until the budget refuses: how many it gave. */
const drain = (budget: RetryBudget.RetryBudget) =>
  Effect.gen(function*() {
    let taken = 0
    while (yield* budget.withdraw) taken++
    return taken
  })

const repeat = (n: number, effect: Effect.Effect<unknown>) => Effect.repeatN(effect, n - 1)

describe("RetryBudget", () => {
  it.scoped("the reserve: minPerSecond × window retries, whatever the traffic, back when the window has passed", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 0, minPerSecond: 1, window: "10 seconds" })
      expect(yield* budget.available).toBe(10)
      expect(yield* drain(budget)).toBe(10)
      yield* TestClock.adjust("9999 millis")
      expect(yield* budget.available).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* drain(budget)).toBe(10)
    }))

  it.scoped("the ratio: each first attempt earns `ratio` retries", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 0.2, minPerSecond: 0, window: "10 seconds" })
      expect(yield* budget.available).toBe(0)
      yield* repeat(50, budget.deposit)
      expect(yield* budget.available).toBe(10)
      expect(yield* drain(budget)).toBe(10)
    }))

  it.scoped("first attempts only pay for retries in the windows that hold them", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 1, minPerSecond: 0, window: "10 seconds" })
      yield* repeat(5, budget.deposit)
      expect(yield* budget.available).toBe(5)
      // The window starting at 9 s would hold a retry made now, but not those first attempts.
      yield* TestClock.adjust("9 seconds")
      expect(yield* budget.available).toBe(0)
      yield* repeat(2, budget.deposit)
      expect(yield* drain(budget)).toBe(2)
      // At 10 s the first five have left every window: the two of 9 s are spent.
      yield* TestClock.adjust("1 second")
      expect(yield* budget.available).toBe(0)
    }))

  it.scoped("allows at least minPerSecond retries per second over two windows, and never more than the reserve", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 0.5, minPerSecond: 2, window: "5 seconds" })
      // A caller that always wants a retry, and no first attempts at all; one step per bucket (500 ms).
      const perBucket: Array<number> = []
      for (let i = 0; i < 60; i++) {
        perBucket.push(yield* drain(budget))
        yield* TestClock.adjust("500 millis")
      }
      const sum = (from: number, buckets: number) => perBucket.slice(from, from + buckets).reduce((a, b) => a + b, 0)
      for (let t = 0; t + 10 <= perBucket.length; t++) {
        expect(sum(t, 10), `window at bucket ${t}`).toBeLessThanOrEqual(10)
      }
      for (let t = 0; t + 20 <= perBucket.length; t++) {
        expect(sum(t, 20), `two windows at bucket ${t}`).toBeGreaterThanOrEqual(2 * 2 * 5)
      }
    }))

  it.scoped("the gauge retry_budget_available{dependency} shows the tokens from creation", () =>
    Effect.gen(function*() {
      const name = uniqueName("budget-gauge")
      const budget = yield* RetryBudget.make({ ratio: 0.5, minPerSecond: 0.5, window: "10 seconds", name })
      expect(yield* gauge(name)).toBe(5)
      yield* budget.withdraw
      expect(yield* gauge(name)).toBe(4)
      yield* repeat(4, budget.deposit)
      expect(yield* gauge(name)).toBe(6)
    }))

  it.scoped("a successful first try through Retry.retry is a deposit", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 0.25, minPerSecond: 0, window: "10 seconds" })
      const policy = Retry.policy({ schedule: Schedule.recurs(1), budget })
      yield* repeat(8, Retry.retry(Effect.void, policy))
      expect(yield* budget.available).toBe(2)
    }))

  it.scoped("successful first tries, counted without the Clock, never pay for retries after their window", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 1, minPerSecond: 0, window: "10 seconds" })
      const policy = Retry.policy({ schedule: Schedule.recurs(20), budget })
      const failing = (runs: { n: number }) =>
        Effect.suspend(() => {
          runs.n++
          return Effect.fail("unavailable")
        })
      // Ten successes, then a failure in the same bucket: eleven first attempts pay for eleven retries.
      yield* repeat(10, Retry.retry(Effect.void, policy))
      const now = { n: 0 }
      yield* Effect.exit(Retry.retry(failing(now), policy))
      expect(now.n).toBe(12)
      // Ten more successes, then a failure five seconds later: only the failed attempt pays.
      yield* repeat(10, Retry.retry(Effect.void, policy))
      yield* TestClock.adjust("5 seconds")
      const later = { n: 0 }
      yield* Effect.exit(Retry.retry(failing(later), policy))
      expect(later.n).toBe(2)
    }))

  it.effect("invalid options die with an InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, RetryBudget.Options]> = [
        ["ratio", { ratio: 1.5 }],
        ["ratio", { ratio: -0.1 }],
        ["minPerSecond", { minPerSecond: -1 }],
        ["minPerSecond", { minPerSecond: Number.NaN }],
        ["window", { window: "5 millis" }],
        ["window", { window: Duration.infinity }],
        ["name", { name: "" }]
      ]
      for (const [option, options] of cases) {
        const exit = yield* Effect.exit(Effect.scoped(RetryBudget.make(options)))
        assert(Exit.isFailure(exit), option)
        const defect = Cause.squash(exit.cause)
        assert(defect instanceof InvalidOptionError, option)
        expect(defect.module).toBe("RetryBudget.make")
        expect(defect.option).toBe(option)
      }
    }))

  it.scoped(
    "a 1-hour full outage at 50 calls/s: retries stay within the bound in every window, and use it",
    () =>
      Effect.gen(function*() {
        const name = uniqueName("budget-outage")
        // The default ratio and reserve; a one-minute window keeps the hour at one TestClock step per
        // bucket (6 s, 300 calls at each step).
        const budget = yield* RetryBudget.make({ window: "1 minute", name })
        const policy = Retry.policy({ schedule: Schedule.recurs(3), budget, name })
        const width = 6_000
        const buckets = 600
        const firsts = new Array<number>(buckets).fill(0)
        const retries = new Array<number>(buckets).fill(0)
        let attempt = 0
        const down = Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const bucket = Math.floor(now / width)
          if (attempt++ === 0) firsts[bucket]!++
          else retries[bucket]!++
          return Effect.fail("ECONNREFUSED")
        })
        for (let bucket = 0; bucket < buckets; bucket++) {
          for (let call = 0; call < 300; call++) {
            attempt = 0
            yield* Effect.exit(Retry.retry(down, policy))
          }
          yield* TestClock.adjust(Duration.millis(width))
        }
        const sum = (xs: ReadonlyArray<number>, from: number) => xs.slice(from, from + 10).reduce((a, b) => a + b, 0)
        let total = 0
        for (let t = 0; t + 10 <= buckets; t++) {
          const bound = 0.2 * sum(firsts, t) + 10 * 60
          expect(sum(retries, t), `window at ${t * width} ms`).toBeLessThanOrEqual(bound)
        }
        for (let t = 0; t < buckets; t += 10) total += 0.2 * sum(firsts, t) + 600
        const made = retries.reduce((a, b) => a + b, 0)
        // A budget that holds the bound by refusing everything would pass the check above.
        expect(made).toBeGreaterThanOrEqual(0.95 * total)
        expect(yield* attempts(name)).toBe(made)
        expect(yield* outcome(name, "budget_exhausted")).toBeGreaterThan(0)
        const ended = (yield* outcome(name, "budget_exhausted")) + (yield* outcome(name, "gave_up"))
        expect(ended).toBe(buckets * 300)
      }),
    120_000
  )
})
