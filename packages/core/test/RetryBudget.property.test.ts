import { Metrics, Retry, RetryBudget } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const budgets = FastCheck.record({
  ratio: FastCheck.oneof(FastCheck.constant(0), FastCheck.double({ min: 0, max: 1, noNaN: true })),
  minPerSecond: FastCheck.oneof(FastCheck.constant(0), FastCheck.double({ min: 0, max: 20, noNaN: true })),
  // 100 ms … 20 s, so that a bucket (a tenth) is a whole number of milliseconds.
  window: FastCheck.integer({ min: 1, max: 200 }).map((n) => n * 100)
})

/**
 * Arrivals: after waiting `advance` tenths of a bucket (so calls land inside
 * buckets as well as on their edges), a burst of calls, each failing
 * `failures` times before it succeeds. Failures are immediate and retries
 * have no delay: the whole pattern costs one TestClock step per burst.
 */
const bursts = FastCheck.array(
  FastCheck.record({
    advance: FastCheck.integer({ min: 0, max: 30 }),
    failures: FastCheck.array(FastCheck.integer({ min: 0, max: 6 }), { maxLength: 40 })
  }),
  { minLength: 1, maxLength: 20 }
)

const count = (dependency: string, outcome: Metrics.RetryOutcome) =>
  Metric.value(
    Metrics.retryCalls.pipe(Metric.tagged("dependency", dependency), Metric.tagged("outcome", outcome))
  ).pipe(Effect.map((s) => s.count))

describe("RetryBudget properties", () => {
  it.effect.prop(
    "over any arrivals: retries ≤ ratio × first attempts + minPerSecond × window in every aligned window; one outcome per call",
    [budgets, bursts, FastCheck.integer({ min: 0, max: 4 })],
    ([options, pattern, maxRetries]) =>
      Effect.gen(function*() {
        const name = uniqueName("budget-prop")
        const budget = yield* RetryBudget.make({ ...options, window: Duration.millis(options.window) })
        const policy = Retry.policy({ schedule: Schedule.recurs(maxRetries), budget, name })
        const start = yield* Clock.currentTimeMillis
        const width = options.window / 10
        const firsts: Array<number> = []
        const retries: Array<number> = []
        let calls = 0
        for (const burst of pattern) {
          if (burst.advance > 0) yield* TestClock.adjust(Duration.millis(Math.round(burst.advance * width / 10)))
          for (const failures of burst.failures) {
            let attempt = 0
            const call = Effect.flatMap(Clock.currentTimeMillis, (now) => {
              ;(attempt === 0 ? firsts : retries).push(now - start)
              return attempt++ < failures ? Effect.fail("unavailable") : Effect.succeed("ok")
            })
            calls++
            yield* Effect.exit(Retry.retry(call, policy))
          }
        }
        const reserve = options.minPerSecond * options.window / 1000
        const last = Math.max(0, ...firsts, ...retries)
        const within = (times: ReadonlyArray<number>, from: number) =>
          times.filter((t) => t >= from && t < from + options.window).length
        for (let from = 0; from <= last; from += width) {
          const allowed = options.ratio * within(firsts, from) + reserve
          expect(within(retries, from), `window at ${from} ms`).toBeLessThanOrEqual(allowed + 1e-9)
        }
        let outcomes = 0
        for (const outcome of Metrics.retryOutcomes) outcomes += yield* count(name, outcome)
        expect(outcomes).toBe(calls)
        const attempts = yield* Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", name)))
        expect(attempts.count).toBe(retries.length)
      }).pipe(Effect.scoped),
    { timeout: 120_000, fastCheck: { numRuns: 40 } }
  )
})
