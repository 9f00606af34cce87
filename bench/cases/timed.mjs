// Timed calls (`callTimeout`) against untimed ones, through one breaker, sequentially:
// - timed-untimed / timed-timed: 10^6 tiny calls. `liveOverBefore` is the most heap still reachable at any of
//   10 points of the run (after full GCs): what the deadline machinery retains while calls go on — the target
//   is within 10 MB of the untimed run. `peakOverBefore` is the largest heap seen without forcing a GC (the
//   garbage a fiber per call leaves for the collector), and `nsPerCall` the cost.
// A slow call stays in flight during the run (as under real traffic), so the watchdog sleeps on its deadline.
// - timed-large: 1,000 calls answering 256 KB each, callTimeout 60 s: a call must keep nothing once it
//   ended (the old watchdog held every finished call, and its result, until its deadline).
// usage: node --expose-gc bench/cases/timed.mjs <timed-untimed|timed-timed|timed-large>
import { Effect, Scope } from "effect"
import { emit, fail, loadCore } from "../lib/harness.mjs"

const caseId = process.argv[2]
// `suspend`: the call yields once before answering, as one waiting on I/O does: it is in
// flight when the caller looks, so its deadline goes on the watchdog's list. A call that
// answers synchronously never reaches the list (nor needs a timer).
const cases = {
  "timed-untimed": { calls: 1_000_000, timeout: undefined, bytes: 0, suspend: false },
  "timed-timed": { calls: 1_000_000, timeout: "5 seconds", bytes: 0, suspend: false },
  "timed-untimed-async": { calls: 300_000, timeout: undefined, bytes: 0, suspend: true },
  "timed-timed-async": { calls: 300_000, timeout: "5 seconds", bytes: 0, suspend: true },
  "timed-large": { calls: 1_000, timeout: "60 seconds", bytes: 256 * 1024, suspend: true }
}
const spec = cases[caseId]
if (!spec) fail(caseId ?? "timed", "unknown case")
if (typeof globalThis.gc !== "function") fail(caseId, "run with --expose-gc")
const { core, reason } = await loadCore()
if (!core) fail(caseId, reason)

const scope = Effect.runSync(Scope.make())
const breaker = Effect.runSync(Scope.extend(
  core.CircuitBreaker.make({ name: caseId, ...(spec.timeout ? { callTimeout: spec.timeout } : {}) }),
  scope
))
const answer = spec.bytes > 0
  ? Effect.sync(() => new Float64Array(spec.bytes / 8).fill(1.5))
  : Effect.sync(() => ({ id: 1, payload: "row" }))
const call = spec.suspend ? Effect.zipRight(Effect.yieldNow(), answer) : answer

// Typed arrays live outside the JS heap: count both.
const used = () => {
  const { external, heapUsed } = process.memoryUsage()
  return heapUsed + external
}

const fullGc = () => {
  for (let i = 0; i < 4; i++) globalThis.gc()
  return used()
}

const checkpoints = 10
const run = (n, measure) =>
  Effect.runPromise(Effect.gen(function*() {
    let peak = 0
    let live = 0
    const every = Math.max(1, Math.floor(n / checkpoints))
    const sampleEvery = Math.max(1, Math.floor(n / 100))
    for (let i = 1; i <= n; i++) {
      yield* breaker(call)
      if (!measure) continue
      if (i % sampleEvery === 0) peak = Math.max(peak, used())
      if (i % every === 0) live = Math.max(live, fullGc())
    }
    return { peak, live }
  }))

await run(Math.min(20_000, spec.calls), false) // warm-up
// One slow call in flight for the whole run, as under real traffic: the watchdog sleeps on its deadline
// while the other calls come and go (sequential calls alone would find it idle each time).
if (spec.timeout) Effect.runFork(Effect.either(breaker(Effect.never)))
const before = fullGc()
const t0 = performance.now()
const { live, peak } = await run(spec.calls, true)
const ms = performance.now() - t0
emit({
  case: caseId,
  kind: "timed",
  calls: spec.calls,
  // the checkpoints' full GCs are part of the wall time: report the cost without them
  nsPerCall: (ms * 1e6) / spec.calls,
  heapBefore: before,
  liveOverBefore: live - before,
  peakOverBefore: peak - before
})
process.exit(0)
