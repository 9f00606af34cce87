/**
 * The retries of a run, per dependency: calls of the retried members by
 * outcome and the retries made, as deltas of the retry metrics over the run,
 * and the timeline's table of them.
 */
import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  Dependency,
  Metrics,
  Retry,
  RetryBudget
} from "@effect-resilience/core"
import { Faults, Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const { Degraded } = DegradationLevel

class SearchError extends Data.TaggedError("SearchError")<{ readonly key: number; readonly attempt: number }> {}

class Search extends Context.Tag("test/Simulation/retries/Search")<Search, {
  readonly find: (key: number) => Effect.Effect<string, SearchError | CircuitBreaker.Unavailable>
}>() {}

class Index extends Context.Tag("test/Simulation/retries/Index")<Index, {
  readonly find: (key: number) => Effect.Effect<string, SearchError | CircuitBreaker.Unavailable>
}>() {}

/** Fails the first `key % 4` attempts for each key, then answers: flaky, by a rule a test can count. */
const flakyByKey = Effect.sync(() => {
  const attempts = new Map<number, number>()
  return {
    find: (key: number) =>
      Effect.suspend(() => {
        const attempt = (attempts.get(key) ?? 0) + 1
        attempts.set(key, attempt)
        return attempt <= key % 4 ? Effect.fail(new SearchError({ key, attempt })) : Effect.succeed(`result ${key}`)
      })
  }
})

/** Up to 3 attempts, 100 ms apart. */
const threeAttempts = Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(2)))

const breaker = (failures: number) => ({
  trip: CircuitBreaker.consecutiveFailures(failures),
  reset: Schedule.spaced("1 minute")
})

/** Every retry series of `dependency` in the registry (read without creating any). */
const retrySeries = (dependency: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs.filter((p) =>
      p.metricKey.name.startsWith("retry_") &&
      p.metricKey.tags.some((t) => t.key === "dependency" && t.value === dependency)
    ))

const noRetries = { firstTry: 0, afterRetry: 0, gaveUp: 0, budgetExhausted: 0, stoppedOpen: 0, attempts: 0 }

describe("Simulation.run: retries", () => {
  /**
   * `search` retries `find` (3 attempts, a budget it never runs out of);
   * `index`, the same flaky service, has no `retry` option. 4 calls per
   * second each, for 10 s: keys 0 … 39.
   */
  const flaky = () => {
    const search = uniqueName("search")
    const index = uniqueName("index")
    const searchLive = Layer.unwrapScoped(Effect.map(
      RetryBudget.make({ ratio: 1, minPerSecond: 100 }),
      (budget) =>
        Dependency.layer(Search, {
          name: search,
          whenDown: Degraded(),
          // Up to 5 attempts fail in a row (3 first attempts, then 2 retries): it never opens.
          breaker: breaker(10),
          retry: { policy: Retry.policy({ schedule: threeAttempts, budget }), members: ["find"] }
        })
    )).pipe(Layer.provideMerge(Faults.layer(Search, { name: search })), Layer.provide(Layer.effect(Search, flakyByKey)))
    const indexLive = Dependency.layer(Index, { name: index, whenDown: Degraded(), breaker: breaker(10) }).pipe(
      Layer.provideMerge(Faults.layer(Index, { name: index })),
      Layer.provide(Layer.effect(Index, flakyByKey))
    )
    const scenario: Simulation.Scenario = {
      name: "flaky-with-retries",
      duration: "10 seconds",
      layer: Layer.mergeAll(searchLive, indexLive).pipe(Layer.provideMerge(Degradation.layer())),
      traffic: [
        Simulation.calls(Search, "find", { perSecond: 4, args: (i) => [i], name: "search" }),
        Simulation.calls(Index, "find", { perSecond: 4, args: (i) => [i], name: "index" })
      ]
    }
    return { search, index, scenario }
  }

  it.effect("count every retried call by outcome, and the retries made; a dependency without retries reports 0", () =>
    Effect.gen(function*() {
      const { index, scenario, search } = flaky()
      const report = yield* Simulation.run(scenario)
      // Key k fails its first k % 4 attempts: k % 4 = 0 answers at once; 1 and 2 after 1 and 2
      // retries; 3 fails all three attempts (2 retries) and the schedule ends: gave up.
      const keys = Array.from({ length: 40 }, (_, k) => k % 4)
      const count = (p: (failing: number) => boolean) => keys.filter(p).length
      const retries = {
        firstTry: count((f) => f === 0),
        afterRetry: count((f) => f === 1 || f === 2),
        gaveUp: count((f) => f === 3),
        budgetExhausted: 0,
        stoppedOpen: 0,
        attempts: keys.reduce((n, f) => n + Math.min(f, 2), 0)
      }
      expect(retries).toEqual({
        firstTry: 10,
        afterRetry: 20,
        gaveUp: 10,
        budgetExhausted: 0,
        stoppedOpen: 0,
        attempts: 50
      })
      expect(report.perDependency[search]!.retries).toEqual(retries)
      // Every attempt is one breaker call: 40 first attempts and 50 retries, of which the
      // last attempt of 30 keys succeeds.
      expect(report.perDependency[search]).toMatchObject({ successes: 30, failures: 60, rejections: 0 })
      expect(report.perDependency[search]!.timeInState).toEqual({ Closed: 10_000 })
      expect(report.traffic.search).toMatchObject({ calls: 40, answered: 30, errors: 10, inFlight: 0 })
      expect(report.traffic.search!.errorsByTag).toEqual({ SearchError: 10 })

      // The same service without a `retry` option: each key gets one attempt.
      expect(report.perDependency[index]!.retries).toEqual(noRetries)
      expect(report.perDependency[index]).toMatchObject({ successes: 10, failures: 30 })
      // …and reading the report gave it no retry series.
      expect(yield* retrySeries(index)).toEqual([])
      expect((yield* retrySeries(search)).length).toBeGreaterThan(0)

      const text = Simulation.renderTimeline(report)
      expect(text).toContain("Retries (calls of the retried members, by outcome)")
      expect(text).toMatch(/calls\s+first try\s+after retry\s+gave up\s+budget exhausted\s+stopped open\s+retries/)
      expect(text).toMatch(new RegExp(`${search}\\s+40\\s+10\\s+20\\s+10\\s+0\\s+0\\s+50\\n`))
      expect(text).not.toMatch(new RegExp(`\\n\\s+${index}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\n`))
    }))

  it.effect("deltas over the run: a second run of the same names counts only its own retries", () =>
    Effect.gen(function*() {
      const { scenario, search } = flaky()
      const first = yield* Simulation.run(scenario)
      const second = yield* Simulation.run(scenario)
      expect(first.perDependency[search]!.retries.attempts).toBe(50)
      expect(second.perDependency[search]!.retries).toEqual(first.perDependency[search]!.retries)
      // The registry holds both runs.
      const attempts = yield* Metric.value(Metrics.retryAttempts.pipe(Metric.tagged("dependency", search)))
      expect(attempts.count).toBe(100)
    }))

  it.effect("the virtual clock reports the same retries", () =>
    Effect.gen(function*() {
      const { scenario, search } = flaky()
      const test = yield* Simulation.run(scenario)
      const virtual = yield* Simulation.run({ ...scenario, clock: "virtual" })
      expect(virtual.perDependency[search]!.retries).toEqual(test.perDependency[search]!.retries)
    }))

  it.effect("an outage: the budget runs out, then the open breaker stops the retries", () =>
    Effect.gen(function*() {
      const name = uniqueName("search")
      // One retry per 10 s window and none earned from traffic: a budget that runs out at once.
      const layer = Layer.unwrapScoped(Effect.map(
        RetryBudget.make({ ratio: 0, minPerSecond: 0.1, window: "10 seconds" }),
        (budget) =>
          Dependency.layer(Search, {
            name,
            whenDown: Degraded(),
            breaker: breaker(3),
            retry: { policy: Retry.policy({ schedule: threeAttempts, budget }), members: ["find"] }
          })
      )).pipe(
        Layer.provideMerge(Faults.layer(Search, { name })),
        Layer.provide(Layer.succeed(Search, { find: (key) => Effect.succeed(`result ${key}`) })),
        Layer.provideMerge(Degradation.layer())
      )
      const report = yield* Simulation.run({
        name: "outage-with-retries",
        duration: "10 seconds",
        layer,
        faults: [{ at: "5 seconds", dependency: name, fault: Faults.down }],
        traffic: [Simulation.calls(Search, "find", { perSecond: 2, args: (i) => [i], name: "search" })]
      })
      // 0–4 s: 10 calls answered at once. At 5 s the first call fails and takes the one token;
      // the second fails with no token left. At 5.1 s the retry fails, the 3rd consecutive
      // failure opens the breaker, and that call finds the budget empty too. The 8 calls of
      // 6–9 s are refused by the open breaker: stopped at once, never retried.
      expect(report.perDependency[name]!.retries).toEqual({
        firstTry: 10,
        afterRetry: 0,
        gaveUp: 0,
        budgetExhausted: 2,
        stoppedOpen: 8,
        attempts: 1
      })
      expect(report.perDependency[name]).toMatchObject({ successes: 10, failures: 3, rejections: 8 })
      expect(report.breakerTransitions.map((t) => [t.at, t.to])).toEqual([[5_100, "Open"]])
      expect(Simulation.renderTimeline(report)).toMatch(new RegExp(`${name}\\s+20\\s+10\\s+0\\s+0\\s+2\\s+8\\s+1\\n`))
    }))

  it.effect("a jittered back-off: the same report, to the microsecond, wherever the clock starts", () =>
    Effect.gen(function*() {
      const name = uniqueName("search")
      const jittered = Schedule.exponential("100 millis").pipe(
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(2))
      )
      const scenario: Simulation.Scenario = {
        name: "jittered",
        duration: "10 seconds",
        seed: 3,
        // 4 failures in a row open it: at a retry, at an instant a fraction of a millisecond in.
        layer: Dependency.layer(Search, {
          name,
          whenDown: Degraded(),
          breaker: { trip: CircuitBreaker.consecutiveFailures(4), reset: Schedule.spaced("2 seconds") },
          retry: { policy: Retry.policy({ schedule: jittered }), members: ["find"] }
        }).pipe(
          Layer.provideMerge(Faults.layer(Search, { name })),
          Layer.provide(Layer.effect(Search, flakyByKey)),
          Layer.provideMerge(Degradation.layer())
        ),
        traffic: [Simulation.calls(Search, "find", { perSecond: 4, args: (i) => [i], name: "search" })]
      }
      const first = yield* Simulation.run(scenario)
      // A start no float subtraction gets exactly back from.
      yield* TestClock.adjust(Duration.millis(1_234_567_891.3))
      const second = yield* Simulation.run(scenario)
      const opened = first.breakerTransitions.find((t) => t.to === "Open")
      expect(opened !== undefined && !Number.isInteger(opened.at)).toBe(true)
      expect(Number.isInteger(first.traffic.search!.latency!.max)).toBe(false)
      expect(second.breakerTransitions).toEqual(first.breakerTransitions)
      expect(second.levelTransitions).toEqual(first.levelTransitions)
      expect(second.traffic).toEqual(first.traffic)
      expect(second.perDependency[name]).toEqual(first.perDependency[name])
      // Times are kept to the microsecond.
      for (const t of first.breakerTransitions) expect(Math.round(t.at * 1000) / 1000).toBe(t.at)
    }))

  it.effect("a run without retries has no retries table", () =>
    Effect.gen(function*() {
      const name = uniqueName("index")
      const report = yield* Simulation.run({
        name: "no-retries",
        duration: "5 seconds",
        layer: Dependency.layer(Index, { name, whenDown: Degraded(), breaker: breaker(10) }).pipe(
          Layer.provideMerge(Faults.layer(Index, { name })),
          Layer.provide(Layer.effect(Index, flakyByKey)),
          Layer.provideMerge(Degradation.layer())
        ),
        traffic: [Simulation.calls(Index, "find", { perSecond: 4, args: (i) => [i], name: "index" })]
      })
      expect(report.perDependency[name]!.retries).toEqual(noRetries)
      expect(report.perDependency[name]).toMatchObject({ successes: 5, failures: 15 })
      expect(Simulation.renderTimeline(report)).not.toContain("Retries")
    }))
})
