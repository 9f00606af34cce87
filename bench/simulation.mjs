// A simulated hour of the seed's four dependencies (Presets.openai, db, redis, s3) at 10 calls per
// second each — 144,000 calls — with an outage script, from the compiled packages/core/dist and packages/simulation/dist.
// Prints wall and CPU time, calls, wake-ups; exits 1 when the hour takes 10 s of wall time or more.
//
//   npx tsc -b && node bench/simulation.mjs
//   SIM_BENCH_RUNS=3 SIM_BENCH_STEP="5 seconds" node bench/simulation.mjs
//   SIM_BENCH_TIMEOUTS=breaker node bench/simulation.mjs   (the breakers' own callTimeout: a timer race per call)
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const core = await import(pathToFileURL(join(here, "..", "packages", "core", "dist", "index.js")).href)
const { Effect } = await import("effect")
const { Simulation } = await import(pathToFileURL(join(here, "..", "packages", "simulation", "dist", "index.js")).href)
const { DegradationLevel, Fallback, Presets } = core

const RUNS = Math.max(1, Number(process.env.SIM_BENCH_RUNS ?? 1))
const STEP = process.env.SIM_BENCH_STEP ?? "1 second"
const TIMEOUTS = process.env.SIM_BENCH_TIMEOUTS ?? "modelled"
const TARGET_MS = 10_000

const dependencies = [
  { ...Presets.openai, trafficPerSecond: 10, fallback: { read: Fallback.succeed("baseline pricing") } },
  {
    ...Presets.db,
    trafficPerSecond: 10,
    writeShare: 0.2,
    fallback: { read: Fallback.succeed("from the cache"), write: Presets.writesBlocked("db") }
  },
  { ...Presets.redis, trafficPerSecond: 10, fallback: { read: Fallback.succeed("from the DB") } },
  { ...Presets.s3, trafficPerSecond: 10, writeShare: 1, fallback: { write: Fallback.succeed("queued") } }
]

const scenario = {
  name: "bench-hour",
  duration: "1 hour",
  step: STEP,
  timeouts: TIMEOUTS,
  dependencies,
  faults: [
    { at: "5 minutes", dependency: "redis", fault: Simulation.down() },
    { at: "10 minutes", dependency: "redis", fault: Simulation.recovered() },
    { at: "15 minutes", dependency: "db", fault: Simulation.slow("30 seconds") },
    { at: "20 minutes", dependency: "db", fault: Simulation.recovered() },
    { at: "25 minutes", dependency: "openai", fault: Simulation.flaky(0.3) },
    { at: "35 minutes", dependency: "openai", fault: Simulation.recovered() },
    { at: "40 minutes", dependency: ["openai", "redis", "s3"], fault: Simulation.down() },
    { at: "45 minutes", dependency: ["openai", "redis", "s3"], fault: Simulation.recovered() }
  ],
  expect: [Simulation.expectFinalLevel(DegradationLevel.Optimal())]
}

let worst = 0
for (let run = 1; run <= RUNS; run++) {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const report = await Effect.runPromise(Simulation.run(scenario))
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  worst = Math.max(worst, wall)
  const minutes = report.duration / 60_000
  console.log(
    `run ${run}: simulated 1 h (step ${STEP}, ${TIMEOUTS} timeouts) in ${(wall / 1000).toFixed(2)} s wall, ` +
      `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU; ` +
      `${report.stats.calls} calls (${((wall * 1000) / report.stats.calls).toFixed(1)} µs/call); ` +
      `${report.stats.wakeUps} wake-ups (${(report.stats.wakeUps / minutes).toFixed(1)} per simulated minute, ` +
      `${((wall * 1000) / report.stats.wakeUps).toFixed(0)} µs wall each incl. the step's calls); ` +
      `${report.levelTransitions.length} level transitions; checks ${report.ok ? "ok" : "FAILED"}`
  )
}
const ok = worst < TARGET_MS
console.log(`target: under ${TARGET_MS / 1000} s of wall time — ${ok ? "met" : "MISSED"} (worst ${(worst / 1000).toFixed(2)} s)`)
if (!ok) process.exitCode = 1
