/**
 * The pricing service's outage scenarios, on its own layers (`./app.ts`: its
 * four dependencies with their presets and fallbacks, OpenAI's pure members
 * retried within a budget, over `Faults`-wrapped in-memory services, and a
 * 30 s recovery interval), under 10 calls per second per dependency. Each
 * scenario states what must happen as `expect` checks.
 */
import { DegradationLevel } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import * as Duration from "effect/Duration"
import * as App from "./app.js"

const { Degraded, Emergency, Limited, Minimal, Optimal } = DegradationLevel

/** Calls per second per dependency. */
export const trafficPerSecond = 10

/** A scenario on the pricing service's layers. */
export type Scenario = Simulation.Scenario<App.Services>

/**
 * What the scenarios run: the app's layers (every run builds them anew, with
 * a fresh store) and its names (`openai`, `db`, `redis`, `s3`).
 */
export const appLayer: ReturnType<typeof App.layer> = App.layer()

/**
 * The load: `perSecond` calls per dependency — AI price enhancements, DB
 * reads and writes (20 % writes), cache reads and S3 uploads.
 */
export const traffic = (perSecond: number = trafficPerSecond): ReadonlyArray<Simulation.Traffic<App.Services>> => [
  Simulation.calls(App.Ai, "enhancePrices", {
    name: "openai.enhancePrices",
    perSecond,
    args: (i) => [[100 + (i % 10)]]
  }),
  Simulation.calls(App.Db, "getPrice", {
    name: "db.getPrice",
    perSecond: perSecond * 0.8,
    args: (i) => [`p${1 + (i % 2)}`]
  }),
  Simulation.calls(App.Db, "savePrice", {
    name: "db.savePrice",
    perSecond: perSecond * 0.2,
    args: (i) => [`p${100 + (i % 50)}`, 100 + (i % 10)]
  }),
  Simulation.calls(App.Cache, "getPrice", { name: "redis.getPrice", perSecond, args: (i) => [`p${1 + (i % 2)}`] }),
  Simulation.calls(App.S3, "upload", { name: "s3.upload", perSecond, args: (i) => [`receipts/${i}.png`, "…"] })
]

const seconds = (n: number): Duration.Duration => Duration.seconds(n)

/** How long after a fix the level may take to improve: a recovery tick after the breaker's reset. */
const recoveryBound = (resetSeconds: number): Duration.Duration => Duration.seconds(30 + resetSeconds)

/** The traffic that calls `dependency` (by its `Faults` name). */
const trafficOf = (report: Simulation.Report, dependency: string) =>
  Object.values(report.traffic).filter((t) => t.dependency === dependency)

/** Every call of `dependency` was answered (by the service or its fallback). */
const noCallerErrors = (dependency: string) =>
  Simulation.expectThat(`every ${dependency} call is answered (service or fallback)`, (report) => {
    const traffic = trafficOf(report, dependency)
    if (traffic.length === 0) return `no traffic calls ${dependency}`
    const errors = traffic.reduce((n, t) => n + t.errors, 0)
    return errors === 0 || `${errors} ${dependency} calls failed for the caller`
  })

const base = {
  layer: appLayer,
  traffic: traffic()
} as const

/** Redis down then back: Degraded at once, Optimal again within one recovery interval (+ the breaker reset) of the fix. */
export const redisDownThenBack: Scenario = {
  ...base,
  name: "redis-down-then-back",
  description: "Redis goes down at 1:00 and is fixed at 4:10.",
  duration: "8 minutes",
  faults: [
    { at: "1 minute", dependency: "redis", fault: Faults.down },
    { at: seconds(250), dependency: "redis", fault: Simulation.recovered }
  ],
  expect: [
    Simulation.expectLevel(seconds(59), Optimal()),
    Simulation.expectReaches(Degraded(), { after: "1 minute", within: "1 second" }),
    Simulation.expectNeverWorseThan(Degraded()),
    Simulation.expectReaches(Optimal(), { after: seconds(250), within: recoveryBound(20) }),
    Simulation.expectFinalLevel(Optimal()),
    noCallerErrors("redis")
  ]
}

/** OpenAI and Redis down: Limited (the worse of Limited and Degraded). */
export const openaiAndRedisDown: Scenario = {
  ...base,
  name: "openai-and-redis-down",
  description: "OpenAI goes down at 1:00, Redis at 2:00; neither comes back.",
  duration: "5 minutes",
  faults: [
    { at: "1 minute", dependency: "openai", fault: Faults.down },
    { at: "2 minutes", dependency: "redis", fault: Faults.down }
  ],
  expect: [
    Simulation.expectReaches(Limited(), { after: "1 minute", within: "1 second" }),
    Simulation.expectLevel(seconds(121), Limited()),
    Simulation.expectNeverWorseThan(Limited()),
    Simulation.expectFinalLevel(Limited()),
    noCallerErrors("openai"),
    noCallerErrors("redis")
  ]
}

/** OpenAI back while Redis is still down: from Limited back to Degraded, not to Optimal. */
export const openaiBackRedisStillDown: Scenario = {
  ...base,
  name: "openai-back-redis-still-down",
  description: "OpenAI and Redis go down at 1:00; OpenAI is fixed at 4:10, Redis stays down.",
  duration: "7 minutes",
  faults: [
    { at: "1 minute", dependency: ["openai", "redis"], fault: Faults.down },
    { at: seconds(250), dependency: "openai", fault: Simulation.recovered }
  ],
  expect: [
    Simulation.expectReaches(Limited(), { after: "1 minute", within: "1 second" }),
    Simulation.expectLevel(seconds(249), Limited()),
    Simulation.expectReaches(Degraded(), { after: seconds(250), within: recoveryBound(60) }),
    Simulation.expectSequence([Optimal(), Limited(), Degraded()]),
    Simulation.expectFinalLevel(Degraded())
  ]
}

/** The DB hangs: calls time out, the breaker opens, Minimal; reads come from the cache, writes are blocked. */
export const dbDown: Scenario = {
  ...base,
  name: "db-down-writes-blocked",
  description: "The DB hangs at 1:00 (every query takes 30 s, the timeout is 5 s) and is fixed at 5:00.",
  duration: "8 minutes",
  faults: [
    { at: "1 minute", dependency: "db", fault: Faults.slow("30 seconds") },
    { at: "5 minutes", dependency: "db", fault: Simulation.recovered }
  ],
  expect: [
    // The first queries time out after the 5 s call timeout; the 3rd opens the breaker.
    Simulation.expectReaches(Minimal(), { after: "1 minute", within: "6 seconds" }),
    Simulation.expectNeverWorseThan(Minimal()),
    Simulation.expectThat("DB calls time out (CallTimeoutError) before the breaker opens", (report) => {
      const db = report.perDependency.db!
      return db.timeouts >= 3 || `only ${db.timeouts} timeouts`
    }),
    Simulation.expectThat("writes get the writes-blocked error through the fallback", (report) => {
      const writes = report.traffic["db.savePrice"]!
      const sample = writes.errorSamples.UnavailableError
      if (sample === undefined) return "no write got an UnavailableError"
      const other = writes.errors - (writes.errorsByTag.UnavailableError ?? 0)
      if (other > 0) return `${other} writes failed with another error`
      return sample.message.includes("writes are blocked") || `unexpected message: ${sample.message}`
    }),
    Simulation.expectThat("reads never fail: they come from the cache", (report) => {
      const reads = report.traffic["db.getPrice"]!
      return reads.errors === 0 || `${reads.errors} DB reads failed: ${Object.keys(reads.errorsByTag).join(", ")}`
    }),
    Simulation.expectReaches(Optimal(), { after: "5 minutes", within: recoveryBound(30) }),
    Simulation.expectFinalLevel(Optimal())
  ]
}

/** Everything down: Emergency as soon as three dependencies are down. */
export const everythingDown: Scenario = {
  ...base,
  name: "everything-down",
  description: "OpenAI goes down at 1:00, Redis at 1:30, the DB at 2:00 and S3 at 2:30.",
  duration: "5 minutes",
  faults: [
    { at: "1 minute", dependency: "openai", fault: Faults.down },
    { at: "90 seconds", dependency: "redis", fault: Faults.down },
    { at: "2 minutes", dependency: "db", fault: Faults.down },
    { at: "150 seconds", dependency: "s3", fault: Faults.down }
  ],
  expect: [
    Simulation.expectReaches(Limited(), { after: "1 minute", within: "1 second" }),
    Simulation.expectLevel(seconds(119), Limited()),
    Simulation.expectReaches(Emergency(), { after: "2 minutes", within: "1 second" }),
    Simulation.expectSequence([Optimal(), Limited(), Emergency()]),
    Simulation.expectFinalLevel(Emergency()),
    noCallerErrors("s3")
  ]
}

/** Partial recovery: everything down, then the dependencies come back one by one and the level follows, step by step. */
export const partialRecovery: Scenario = {
  ...base,
  name: "partial-recovery",
  description: "Everything goes down at 1:00; the DB is fixed at 3:05, Redis at 4:10, OpenAI at 5:10, S3 at 6:10.",
  duration: "8 minutes",
  faults: [
    { at: "1 minute", dependency: ["openai", "db", "redis", "s3"], fault: Faults.down },
    { at: seconds(185), dependency: "db", fault: Simulation.recovered },
    { at: seconds(250), dependency: "redis", fault: Simulation.recovered },
    { at: seconds(310), dependency: "openai", fault: Simulation.recovered },
    { at: seconds(370), dependency: "s3", fault: Simulation.recovered }
  ],
  expect: [
    Simulation.expectReaches(Emergency(), { after: "1 minute", within: "1 second" }),
    // DB back, still three down: Emergency.
    Simulation.expectLevel(seconds(249), Emergency()),
    // Redis back: OpenAI (Limited) and S3 (Degraded) down.
    Simulation.expectReaches(Limited(), { after: seconds(250), within: recoveryBound(20) }),
    Simulation.expectReaches(Degraded(), { after: seconds(310), within: recoveryBound(60) }),
    Simulation.expectReaches(Optimal(), { after: seconds(370), within: recoveryBound(30) }),
    Simulation.expectSequence([Emergency(), Limited(), Degraded(), Optimal()], { after: "1 minute" }),
    Simulation.expectFinalLevel(Optimal())
  ]
}

/** A flaky OpenAI: 10 % failures never make 5 in a row; 60 % do, again and again. */
export const flakyOpenai: Scenario = {
  ...base,
  name: "flaky-openai",
  description: "OpenAI fails 10 % of calls and health checks from 1:00, 60 % from 3:00, and is fixed at 5:00. " +
    "10 % never trips the breaker (though a failed health check would hold Limited until the next good one); 60 % does.",
  duration: "7 minutes",
  seed: 42,
  faults: [
    { at: "1 minute", dependency: "openai", fault: Faults.flaky(0.1) },
    { at: "3 minutes", dependency: "openai", fault: Faults.flaky(0.6) },
    { at: "5 minutes", dependency: "openai", fault: Simulation.recovered }
  ],
  expect: [
    Simulation.expectThat("10 % failures: the breaker stays closed", (report) => {
      const opened = report.breakerTransitions.find((t) => t.dependency === "openai" && t.to === "Open")
      return opened === undefined || opened.at >= 180_000 ||
        `opened at ${Simulation.formatTime(opened.at)}`
    }),
    Simulation.expectReaches(Limited(), { after: "3 minutes", within: "30 seconds" }),
    Simulation.expectReaches(Optimal(), { after: "5 minutes", within: recoveryBound(60) }),
    Simulation.expectFinalLevel(Optimal()),
    noCallerErrors("openai")
  ]
}

// -----------------------------------------------------------------------------
// retries
// -----------------------------------------------------------------------------

/** The OpenAI retries of a report: calls of its retried members by outcome, and the retries made. */
const openaiRetries = (report: Simulation.Report): Simulation.RetryReport => report.perDependency.openai!.retries

/** Calls of the retried members that reached a decision: each counts one outcome, each made one first attempt. */
const retriedCalls = (r: Simulation.RetryReport): number =>
  r.firstTry + r.afterRetry + r.gaveUp + r.budgetExhausted + r.stoppedOpen

/**
 * The most retries OpenAI's budget allows over the run, and how it is made:
 * in every window, `ratio` × first attempts + `minPerSecond` × the window's
 * seconds; the run is covered by whole windows from the budget's start (the
 * layer's build).
 */
export const retryBound = (report: Simulation.Report): { readonly bound: number; readonly formula: string } => {
  const { minPerSecond, ratio, window } = App.aiRetries.budget
  const windowSeconds = Duration.toSeconds(Duration.decode(window))
  const seconds = Math.ceil(report.duration / 1000 / windowSeconds) * windowSeconds
  const firstAttempts = retriedCalls(openaiRetries(report))
  return {
    bound: ratio * firstAttempts + minPerSecond * seconds,
    formula: `${ratio * 100} % × ${firstAttempts} first attempts + ${minPerSecond}/s × ${seconds} s`
  }
}

/** An expectation whose detail says what was observed, passed or not. */
const check = (
  description: string,
  observe: (report: Simulation.Report) => { readonly ok: boolean; readonly detail: string }
): Simulation.Expectation => ({ description, check: observe })

const withinBudget = check("the retries stay within the budget's bound", (report) => {
  const { bound, formula } = retryBound(report)
  const attempts = openaiRetries(report).attempts
  return { ok: attempts <= bound, detail: `${attempts} retries; bound ${formula} = ${bound}` }
})

/**
 * A flaky OpenAI answered by retries: 10 % of pricing calls fail for three
 * minutes, and three attempts answer nearly all of them. Only the pricing
 * member flakes: the health check (`ocr`) passes, as it does when a model
 * endpoint is flaky under load. The breaker counts every attempt and opens
 * after 5 failures in a row — at 10 % about once per 100 000 attempts; at
 * 30 % once per ~600, within a minute here (a test shows it): retries cure
 * the odd failure, an unhealthy dependency is the breaker's.
 */
export const flakyOpenaiRetried: Scenario = {
  ...base,
  name: "flaky-openai-retried",
  description: "OpenAI's pricing calls fail 10 % of the time from 1:00, and it is fixed at 4:00. " +
    "Retries (3 attempts, within the budget) answer nearly every failed first attempt; the breaker stays closed.",
  duration: "5 minutes",
  seed: 7,
  faults: [
    { at: "1 minute", dependency: "openai", member: "enhancePrices", fault: Faults.flaky(0.1) },
    { at: "4 minutes", dependency: "openai", fault: Simulation.recovered }
  ],
  expect: [
    check("retries answer most calls whose first attempt failed (≥ 80 %)", (report) => {
      const r = openaiRetries(report)
      const failedFirst = retriedCalls(r) - r.firstTry
      return {
        ok: failedFirst > 0 && r.afterRetry >= 0.8 * failedFirst,
        detail: `${r.afterRetry} of ${failedFirst} after a retry; ${r.gaveUp} gave up, ` +
          `${r.budgetExhausted} out of budget (answered by the fallback)`
      }
    }),
    withinBudget,
    check("the OpenAI breaker stays closed", (report) => {
      const opened = report.breakerTransitions.find((t) => t.dependency === "openai")
      return opened === undefined
        ? { ok: true, detail: `${report.perDependency.openai!.failures} failed attempts, never 5 in a row` }
        : { ok: false, detail: `${opened.from} → ${opened.to} at ${Simulation.formatTime(opened.at)}` }
    }),
    Simulation.expectNeverWorseThan(Optimal()),
    noCallerErrors("openai")
  ]
}

/**
 * A hard outage: every OpenAI call fails from 1:10 (off the recovery ticks,
 * so the first failures, not a health check, see it first) to 4:10. Each
 * failed first attempt would retry twice; the budget lets its reserve
 * through and refuses the rest, and the 5th failure in a row opens the
 * breaker, which ends every caller's retries at once: no retry while it is
 * open (the level, `Limited` from then on, disables them too).
 */
export const openaiDownRetryBudget: Scenario = {
  ...base,
  name: "openai-down-retry-budget",
  description: "OpenAI goes down at 1:10 and is fixed at 4:10. The budget holds the retries of the first failures; " +
    "the breaker opens and stops every retry until OpenAI is back.",
  duration: "6 minutes",
  faults: [
    { at: seconds(70), dependency: "openai", fault: Faults.down },
    { at: seconds(250), dependency: "openai", fault: Simulation.recovered }
  ],
  expect: [
    Simulation.expectReaches(Limited(), { after: seconds(70), within: "1 second" }),
    check("the budget refuses retries (budget_exhausted > 0)", (report) => {
      const r = openaiRetries(report)
      return {
        ok: r.budgetExhausted > 0,
        detail: `${r.budgetExhausted} calls out of budget, ${r.attempts} retries made`
      }
    }),
    withinBudget,
    check("the open breaker stops the retries: every call it refuses is stopped_open", (report) => {
      const r = openaiRetries(report)
      const rejections = report.perDependency.openai!.rejections
      const opened = report.breakerTransitions.some((t) => t.dependency === "openai" && t.to === "Open")
      return {
        ok: opened && r.stoppedOpen > 0 && r.stoppedOpen === rejections,
        detail: opened
          ? `${r.stoppedOpen} calls stopped_open, ${rejections} refused by the breaker`
          : "the breaker never opened"
      }
    }),
    noCallerErrors("openai"),
    Simulation.expectReaches(Optimal(), { after: seconds(250), within: recoveryBound(60) }),
    Simulation.expectFinalLevel(Optimal())
  ]
}

/** The outage scenarios the service is designed for: one dependency or several down, and back. */
export const outageScenarios: ReadonlyArray<Scenario> = [
  redisDownThenBack,
  openaiAndRedisDown,
  openaiBackRedisStillDown,
  dbDown,
  everythingDown,
  partialRecovery
]

/** OpenAI's retries: a flaky OpenAI answered by them, and a hard outage where the budget and the breaker hold them. */
export const retryScenarios: ReadonlyArray<Scenario> = [flakyOpenaiRetried, openaiDownRetryBudget]

/** Everything the demo runs: the outage scenarios, a flaky dependency, then OpenAI's retries. */
export const scenarios: ReadonlyArray<Scenario> = [...outageScenarios, flakyOpenai, ...retryScenarios]
