/**
 * The seed's outage scenarios, on its four dependencies (`Presets.openai`,
 * `db`, `redis`, `s3`) under 10 calls per second each, with the seed's
 * fallbacks and a 30 s recovery interval. Each scenario states what the seed
 * says must happen as `expect` checks.
 */
import { DegradationLevel, Fallback, Presets } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import * as Duration from "effect/Duration"

const { Degraded, Emergency, Limited, Minimal, Optimal } = DegradationLevel

/** Calls per second per dependency. */
export const trafficPerSecond = 10

/** The recovery fiber's interval (the seed's 30 s). */
export const recoveryInterval = "30 seconds"

/**
 * The four dependencies with the seed's fallbacks: AI → baseline pricing,
 * DB reads → the cache and DB writes → blocked with a clear error, cache
 * reads → the DB, S3 uploads → queued locally.
 */
export const dependencies = (options?: { readonly trafficPerSecond?: number }): ReadonlyArray<Simulation.DependencySpec> => {
  const traffic = options?.trafficPerSecond ?? trafficPerSecond
  return [
    {
      ...Presets.openai,
      trafficPerSecond: traffic,
      fallback: { read: Fallback.succeed("baseline pricing (×1.3)") }
    },
    {
      ...Presets.db,
      trafficPerSecond: traffic,
      writeShare: 0.2,
      fallback: { read: Fallback.succeed("read from the cache"), write: Presets.writesBlocked("db") }
    },
    {
      ...Presets.redis,
      trafficPerSecond: traffic,
      fallback: { read: Fallback.succeed("read from the DB") }
    },
    {
      ...Presets.s3,
      trafficPerSecond: traffic,
      writeShare: 1,
      fallback: { write: Fallback.succeed("queued locally, replayed on recovery") }
    }
  ]
}

const seconds = (n: number): Duration.Duration => Duration.seconds(n)

/** How long after a fix the level may take to improve: a recovery tick after the breaker's reset. */
const recoveryBound = (resetSeconds: number): Duration.Duration => Duration.seconds(30 + resetSeconds)

/** Every call of `dependency` was answered (by the service or its fallback). */
const noCallerErrors = (dependency: string) =>
  Simulation.expectThat(`every ${dependency} call is answered (service or fallback)`, (report) => {
    const d = report.perDependency[dependency]!
    return d.errors === 0 || `${d.errors} ${dependency} calls failed for the caller`
  })

/** Redis down then back: Degraded at once, Optimal again within one recovery interval (+ the breaker reset) of the fix. */
export const redisDownThenBack: Simulation.Scenario = {
  name: "redis-down-then-back",
  description: "Redis goes down at 1:00 and is fixed at 4:10.",
  duration: "8 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: "redis", fault: Simulation.down() },
    { at: seconds(250), dependency: "redis", fault: Simulation.recovered() }
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
export const openaiAndRedisDown: Simulation.Scenario = {
  name: "openai-and-redis-down",
  description: "OpenAI goes down at 1:00, Redis at 2:00; neither comes back.",
  duration: "5 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: "openai", fault: Simulation.down() },
    { at: "2 minutes", dependency: "redis", fault: Simulation.down() }
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
export const openaiBackRedisStillDown: Simulation.Scenario = {
  name: "openai-back-redis-still-down",
  description: "OpenAI and Redis go down at 1:00; OpenAI is fixed at 4:10, Redis stays down.",
  duration: "7 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: ["openai", "redis"], fault: Simulation.down() },
    { at: seconds(250), dependency: "openai", fault: Simulation.recovered() }
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
export const dbDown: Simulation.Scenario = {
  name: "db-down-writes-blocked",
  description: "The DB hangs at 1:00 (every query takes 30 s, the timeout is 5 s) and is fixed at 5:00.",
  duration: "8 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: "db", fault: Simulation.slow("30 seconds") },
    { at: "5 minutes", dependency: "db", fault: Simulation.recovered() }
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
      const sample = report.perDependency.db!.errorSamples.UnavailableError
      if (sample === undefined) return "no write got an UnavailableError"
      return sample.message.includes("writes are blocked") || `unexpected message: ${sample.message}`
    }),
    Simulation.expectThat("reads never fail: they come from the cache", (report) => {
      const db = report.perDependency.db!
      const other = db.errors - (db.errorsByTag.UnavailableError ?? 0)
      return other === 0 || `${other} DB calls failed with another error`
    }),
    Simulation.expectReaches(Optimal(), { after: "5 minutes", within: recoveryBound(30) }),
    Simulation.expectFinalLevel(Optimal())
  ]
}

/** Everything down: Emergency as soon as three dependencies are down. */
export const everythingDown: Simulation.Scenario = {
  name: "everything-down",
  description: "OpenAI goes down at 1:00, Redis at 1:30, the DB at 2:00 and S3 at 2:30.",
  duration: "5 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: "openai", fault: Simulation.down() },
    { at: "90 seconds", dependency: "redis", fault: Simulation.down() },
    { at: "2 minutes", dependency: "db", fault: Simulation.down() },
    { at: "150 seconds", dependency: "s3", fault: Simulation.down() }
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
export const partialRecovery: Simulation.Scenario = {
  name: "partial-recovery",
  description: "Everything goes down at 1:00; the DB is fixed at 3:05, Redis at 4:10, OpenAI at 5:10, S3 at 6:10.",
  duration: "8 minutes",
  recoveryInterval,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: ["openai", "db", "redis", "s3"], fault: Simulation.down() },
    { at: seconds(185), dependency: "db", fault: Simulation.recovered() },
    { at: seconds(250), dependency: "redis", fault: Simulation.recovered() },
    { at: seconds(310), dependency: "openai", fault: Simulation.recovered() },
    { at: seconds(370), dependency: "s3", fault: Simulation.recovered() }
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

/** Not in the seed: a flaky OpenAI. 10 % failures never make 5 in a row; 60 % do, again and again. */
export const flakyOpenai: Simulation.Scenario = {
  name: "flaky-openai",
  description: "OpenAI fails 10 % of calls and health checks from 1:00, 60 % from 3:00, and is fixed at 5:00. " +
    "10 % never trips the breaker, but one failed health check holds Limited until the next good one.",
  duration: "7 minutes",
  recoveryInterval,
  seed: 42,
  dependencies: dependencies(),
  faults: [
    { at: "1 minute", dependency: "openai", fault: Simulation.flaky(0.1) },
    { at: "3 minutes", dependency: "openai", fault: Simulation.flaky(0.6) },
    { at: "5 minutes", dependency: "openai", fault: Simulation.recovered() }
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

/** The seed's scenarios, in the order of the seed. */
export const seedScenarios: ReadonlyArray<Simulation.Scenario> = [
  redisDownThenBack,
  openaiAndRedisDown,
  openaiBackRedisStillDown,
  dbDown,
  everythingDown,
  partialRecovery
]

/** Everything the demo runs: the seed's scenarios, then the extra ones. */
export const scenarios: ReadonlyArray<Simulation.Scenario> = [...seedScenarios, flakyOpenai]
