// Retry cases: what `Retry.retry` adds to a call that succeeds at once (over the breaker path alone,
// and over a bare op), and what a call that is retried once costs.
// usage: node --expose-gc bench/cases/retry.mjs <case>      (bench/cases/retryRun.mjs runs them all)
import { Effect, Schedule, Scope } from "effect"
import { fail, loadCore, N, timeCase } from "../lib/harness.mjs"

const caseId = process.argv[2]
if (!caseId) fail("retry", "missing case id")

const { core, reason } = await loadCore()
if (!core) fail(caseId, reason)
const { CircuitBreaker, Retry, RetryBudget } = core
if (!Retry || !RetryBudget) fail(caseId, "packages/core/dist has no Retry (run `npx tsc -b`)")

let counter = 0
/** The bare op every case wraps. */
const op = Effect.sync(() => ++counter)
/** Fails every other run: the first attempt of a call fails, its retry succeeds. */
let flip = 0
const flaky = Effect.suspend(() => (++flip & 1) === 1 ? Effect.fail("ECONNRESET") : Effect.sync(() => ++counter))

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
const syncBody = (program) => () => Effect.runSync(program)
const ops = (run) => {
  const before = counter
  run()
  return counter - before
}

const scope = Effect.runSync(Scope.make())
const inScope = (effect) => Effect.runPromise(Scope.extend(effect, scope))
const breaker = await inScope(CircuitBreaker.make({
  name: "bench-retry",
  trip: CircuitBreaker.consecutiveFailures(5),
  reset: Schedule.spaced("1 hour")
}))
const timedBreaker = await inScope(CircuitBreaker.make({
  name: "bench-retry-timed",
  trip: CircuitBreaker.consecutiveFailures(5),
  reset: Schedule.spaced("1 hour"),
  callTimeout: "5 seconds"
}))
// The budget never runs out here: the cases measure the stage, not a refusal.
const budget = await inScope(
  RetryBudget.make({ ratio: 1, minPerSecond: 1e9, window: "10 seconds", name: "bench-retry" })
)
const policy = Retry.policy({ schedule: Schedule.recurs(3), budget, name: "bench-retry" })
const withoutBudget = Retry.policy({ schedule: Schedule.recurs(3), name: "bench-retry-nobudget" })

const count = (check) => ({ check: () => check() || "op count" })
const exactly = (p, n = N) => count(() => ops(() => Effect.runSync(p)) === n)

switch (caseId) {
  // ------------------------------------------------------------ baselines
  case "retry-op": {
    const p = loopOf(() => op)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-breaker": {
    // The breaker path alone: what the other cases are compared with.
    const wrapped = breaker(op)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-breaker-wrap": {
    const p = loopOf(() => breaker(op))
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-floor-match": {
    // The least a stage that sees successes can add: one matchCauseEffect with identity handlers.
    const wrapped = Effect.matchCauseEffect(breaker(op), { onFailure: Effect.failCause, onSuccess: Effect.succeed })
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-floor-catch": {
    // The least any stage can add: one catchAllCause (it never sees a success).
    const wrapped = Effect.catchAllCause(breaker(op), Effect.failCause)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  // ------------------------------------------------------------ first try succeeds
  case "retry-op-success": {
    const wrapped = Retry.retry(op, policy)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-success": {
    const wrapped = Retry.retry(breaker(op), policy)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-success-wrap": {
    // Built per call, as a dependency's member call is.
    const p = loopOf(() => Retry.retry(breaker(op), policy))
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  // ------------------------------------------------------------ retried once
  case "retry-retried": {
    const wrapped = Retry.retry(breaker(flaky), policy)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-retried-nobudget": {
    const wrapped = Retry.retry(breaker(flaky), withoutBudget)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  case "retry-effect-retried": {
    // Effect's own `Effect.retry` with the same schedule, for comparison.
    const wrapped = Effect.retry(breaker(flaky), Schedule.recurs(3))
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  // ------------------------------------------------------------ a pipeline
  case "retry-pipeline": {
    // retry ∘ breaker ∘ callTimeout: a timed call runs on a fiber of its own (see the breaker's timed cases).
    const p = loopOf(() => Retry.retry(timedBreaker(op), policy))
    await timeCase(caseId, syncBody(p), exactly(p))
    break
  }
  default:
    fail(caseId, "unknown case")
}
process.exit(0)
