// Bulkhead cases: the breaker's closed path as the baseline, a fixed and an adaptive bulkhead, a bulkhead
// around the breaker (what a `Dependency` with a bulkhead does), and 1,000 concurrent calls.
// usage: node --expose-gc bench/cases/bulkhead.mjs <case>   (bench/cases/bulkhead-run.mjs runs them all)
import { Effect, Scope } from "effect"
import { fail, loadCore, N, timeCase } from "../lib/harness.mjs"

const caseId = process.argv[2]
if (!caseId) fail("bulkhead", "missing case id")

let counter = 0
/** The bare op every case wraps. */
const op = Effect.sync(() => ++counter)

/** N sequential ops inside ONE program (prebuilt), so runSync's own cost is amortised. */
const loopOf = (body) => {
  let i = 0
  const loop = Effect.whileLoop({
    while: () => i < N,
    body,
    step: () => {
      i++
    }
  })
  return Effect.suspend(() => {
    i = 0
    return loop
  })
}
/** N concurrent calls (unbounded) in one program. */
const concurrentOf = (eff) =>
  Effect.all(Array.from({ length: N }, () => eff), { concurrency: "unbounded", discard: true })

const ops = (run) => {
  const before = counter
  run()
  return counter - before
}

const { core, reason } = await loadCore()
if (!core) fail(caseId, reason)
if (!core.Bulkhead) fail(caseId, "packages/core/dist/index.js has no Bulkhead (run npx tsc -b)")
const { Bulkhead, CircuitBreaker } = core
const scope = Effect.runSync(Scope.make())
const inScope = (effect) => Effect.runPromise(Scope.extend(effect, scope))

const breaker = await inScope(CircuitBreaker.make({ name: "bench-breaker" }))
const fixed = await inScope(Bulkhead.make({ name: "bench-fixed", limit: 2000 }))
const adaptive = await inScope(
  Bulkhead.make({
    name: "bench-adaptive",
    limit: Bulkhead.adaptive({ algorithm: "gradient2", min: 1000, max: 4000, initial: 2000 })
  })
)

/** Every permit back and nothing refused: the case measured the admitted path. */
const clean = async (bulkhead) => {
  const stats = await Effect.runPromise(bulkhead.stats)
  return (stats.inFlight === 0 && stats.rejected === 0) || `in flight ${stats.inFlight}, rejected ${stats.rejected}`
}

const sequential = async (wrap, bulkhead) => {
  const p = loopOf(wrap)
  await timeCase(caseId, () => Effect.runSync(p), {
    check: async () => {
      if (ops(() => Effect.runSync(p)) !== N) return "op count"
      return bulkhead === undefined ? true : clean(bulkhead)
    }
  })
}

const concurrent = async (eff, bulkhead) => {
  const p = concurrentOf(eff)
  await timeCase(caseId, () => Effect.runPromise(p), {
    cpuTimeMs: 1200,
    check: async () => {
      const before = counter
      await Effect.runPromise(p)
      if (counter - before !== N) return "op count"
      return bulkhead === undefined ? true : clean(bulkhead)
    }
  })
}

switch (caseId) {
  case "bulkhead-baseline":
    await sequential(() => op)
    break
  // the breaker's closed path, `breaker(op)` built per call: what a bulkhead is compared with
  case "bulkhead-breaker":
    await sequential(() => breaker(op))
    break
  case "bulkhead-fixed":
    await sequential(() => fixed(op), fixed)
    break
  case "bulkhead-adaptive":
    await sequential(() => adaptive(op), adaptive)
    break
  // a bulkhead around the breaker, as a dependency with both does it
  case "bulkhead-fixed-breaker":
    await sequential(() => fixed(breaker(op)), fixed)
    break
  case "bulkhead-adaptive-breaker":
    await sequential(() => adaptive(breaker(op)), adaptive)
    break
  case "bulkhead-conc-breaker":
    await concurrent(breaker(op))
    break
  case "bulkhead-conc-fixed":
    await concurrent(fixed(op), fixed)
    break
  case "bulkhead-conc-adaptive":
    await concurrent(adaptive(op), adaptive)
    break
  default:
    fail(caseId, "unknown case")
}
process.exit(0)
