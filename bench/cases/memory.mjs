// Retained heap per breaker instance: 10,000 live breakers after gc(), (heapUsed delta) / 10,000.
// usage: node --expose-gc bench/cases/memory.mjs <case>
import { circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel"
import { Effect, Metric, Schedule, Scope } from "effect"
import CircuitBreaker from "opossum"
import { opossumOptions } from "../lib/config.mjs"
import { fail, loadCore, memoryCase } from "../lib/harness.mjs"

const caseId = process.argv[2]
if (!caseId) fail("memory", "missing case id")

const fn = async () => 1

/** Ours: `count` breakers made in one long-lived Scope (as a Layer's scope would hold them). */
const ours = async (trip, names) => {
  const { core, reason } = await loadCore()
  if (!core) fail(caseId, reason)
  const { CircuitBreaker: CB } = core
  const scope = Effect.runSync(Scope.make())
  // The trip description and the reset Schedule are configuration, shared by all instances (a
  // Schedule.spaced alone is ~450 B): only what the breaker itself allocates is counted.
  const tripPolicy = trip === "consecutive"
    ? CB.consecutiveFailures(5)
    : CB.failureRate({ threshold: 0.5, minimumCalls: 10, window: CB.countWindow(100) })
  const reset = Schedule.spaced("30 seconds")
  const options = (tag, i) => ({
    // "unique": every breaker has its own name, hence its own metric series (the realistic case);
    // "shared": one name, so the metric series are shared and only the instance itself is counted.
    name: names === "unique" ? `${tag}-${i}` : "bench",
    trip: tripPolicy,
    reset
  })
  // all breakers of a batch are made by one program, as a Layer building them would
  return async (count, tag) => {
    const indices = Array.from({ length: count }, (_, i) => i)
    const keep = await Effect.runPromise(Scope.extend(Effect.forEach(indices, (i) => CB.make(options(tag, i))), scope))
    keep.scope = scope
    return keep
  }
}

const creators = {
  "mem-effect-consecutive": () => ours("consecutive", "unique"),
  "mem-effect-rate": () => ours("rate", "unique"),
  "mem-effect-consecutive-shared": () => ours("consecutive", "shared"),
  "mem-effect-rate-shared": () => ours("rate", "shared"),
  "mem-opossum": async () => async (count, tag) => {
    const keep = new Array(count)
    for (let i = 0; i < count; i++) keep[i] = new CircuitBreaker(fn, { ...opossumOptions, name: `${tag}-${i}` })
    return keep
  },
  "mem-cockatiel": async () => async (count) => {
    const keep = new Array(count)
    for (let i = 0; i < count; i++) {
      keep[i] = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) })
    }
    return keep
  }
}

const make = creators[caseId]
if (!make) fail(caseId, "unknown case")
// How many metric series one breaker name owns (counted, not assumed): they are what
// separates the unique-name cases from the shared-name ones.
const seriesOf = (name) =>
  Effect.runSync(Metric.snapshot).filter((pair) =>
    pair.metricKey.tags.some((t) => t.key === "breaker" && t.value === name)
  ).length
await memoryCase(caseId, await make(), {
  meta: caseId.startsWith("mem-effect")
    ? () => ({ seriesPerName: seriesOf(caseId.endsWith("shared") ? "bench" : "live-0") })
    : undefined
})
process.exit(0)
