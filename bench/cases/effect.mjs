// Effect cases: bare op, the floor, and @effect-resilience/core's breaker (closed / open / concurrent).
// usage: node --expose-gc bench/cases/effect.mjs <case>
import { Data, Effect, Schedule, Scope } from "effect"
import { fail, loadCore, N, timeCase } from "../lib/harness.mjs"

const caseId = process.argv[2]
if (!caseId) fail("effect", "missing case id")

let counter = 0
const FALLBACK = -1
/** The bare op every case wraps. */
const op = Effect.sync(() => ++counter)

/** The minimum any breaker must add: look at state (suspend) + observe the outcome (matchCauseEffect). */
const floorOf = (eff) =>
  Effect.suspend(() => Effect.matchCauseEffect(eff, { onFailure: Effect.failCause, onSuccess: Effect.succeed }))

class FloorOpenError extends Data.TaggedError("CircuitOpenError") {}
const preallocated = new FloorOpenError({ breaker: "floor" })
const recover = Effect.catchTag("CircuitOpenError", () => Effect.succeed(FALLBACK))
/** Rejection + fallback floor: suspend → fail(preallocated error) → catchTag. */
const openFloor = recover(Effect.suspend(() => Effect.fail(preallocated)))

/** N sequential ops inside ONE program (prebuilt), so runSync's own cost is amortised: ~1 ns/op. */
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

const syncBody = (program) => () => Effect.runSync(program)
const promiseBody = (program) => () => Effect.runPromise(program)

const ops = (run) => {
  const before = counter
  run()
  return counter - before
}
// (each case process ends with process.exit: a tripped breaker's half-open timer fiber would keep it alive)

const makeBreaker = async ({ trip = "consecutive", recordDurations } = {}) => {
  const { core, reason } = await loadCore()
  if (!core) fail(caseId, reason)
  const { CircuitBreaker } = core
  const scope = Effect.runSync(Scope.make())
  const breaker = await Effect.runPromise(
    Scope.extend(
      CircuitBreaker.make({
        name: "bench",
        trip: trip === "consecutive"
          ? CircuitBreaker.consecutiveFailures(5)
          : CircuitBreaker.failureRate({ threshold: 0.5, minimumCalls: 10, window: CircuitBreaker.countWindow(100) }),
        reset: Schedule.spaced("1 hour"),
        ...(recordDurations === undefined ? {} : { recordDurations })
      }),
      scope
    )
  )
  return { breaker, scope, CircuitBreaker }
}

const stateTag = async (breaker) => (await Effect.runPromise(breaker.state))._tag

switch (caseId) {
  case "effect-baseline": {
    const p = loopOf(() => op)
    await timeCase(caseId, syncBody(p), { check: () => ops(() => Effect.runSync(p)) === N || "op count" })
    break
  }
  case "effect-floor": {
    const wrapped = floorOf(op)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), { check: () => ops(() => Effect.runSync(p)) === N || "op count" })
    break
  }
  case "effect-floor-wrap": {
    const p = loopOf(() => floorOf(op))
    await timeCase(caseId, syncBody(p), { check: () => ops(() => Effect.runSync(p)) === N || "op count" })
    break
  }
  case "effect-open-floor": {
    const p = loopOf(() => openFloor)
    await timeCase(caseId, syncBody(p), { check: () => ops(() => Effect.runSync(p)) === 0 || "op ran" })
    break
  }
  case "effect-closed":
  case "effect-closed-rate": {
    const { breaker } = await makeBreaker({ trip: caseId === "effect-closed" ? "consecutive" : "rate" })
    const wrapped = breaker(op)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), {
      check: async () =>
        ops(() => Effect.runSync(p)) === N && (await stateTag(breaker)) === "Closed" || "op count / state"
    })
    break
  }
  case "effect-closed-dur": {
    const { breaker } = await makeBreaker({ recordDurations: true })
    const wrapped = breaker(op)
    const p = loopOf(() => wrapped)
    await timeCase(caseId, syncBody(p), {
      check: async () =>
        ops(() => Effect.runSync(p)) === N && (await stateTag(breaker)) === "Closed" || "op count / state"
    })
    break
  }
  case "effect-dependency":
  case "effect-dependency-bare": {
    // A Dependency-wrapped service method: the wrapper calls the member and
    // hands its Effect to the breaker, per call (compare with effect-closed-wrap).
    const { core, reason } = await loadCore()
    if (!core) fail(caseId, reason)
    const { Degradation, DegradationLevel, Dependency } = core
    const scope = Effect.runSync(Scope.make())
    const service = { get: () => op }
    const wrapped = await Effect.runPromise(
      Scope.extend(
        Effect.flatMap(Degradation.make(), (degradation) =>
          Effect.provideService(
            Dependency.wrap(service, {
              name: "bench-dep",
              breaker: { trip: core.CircuitBreaker.consecutiveFailures(5), reset: Schedule.spaced("1 hour") },
              whenDown: DegradationLevel.Degraded()
            }),
            Degradation,
            degradation
          )),
        scope
      )
    )
    const svc = wrapped.service
    const p = caseId === "effect-dependency"
      ? loopOf(() => svc.get())
      // the same member call through a bare breaker: what the Dependency wrapper is compared with
      : loopOf(() => wrapped.breaker(service.get()))
    await timeCase(caseId, syncBody(p), {
      check: async () =>
        ops(() => Effect.runSync(p)) === N && (await stateTag(wrapped.breaker)) === "Closed" || "op count / state"
    })
    break
  }
  case "effect-closed-wrap": {
    const { breaker } = await makeBreaker()
    const p = loopOf(() => breaker(op))
    await timeCase(caseId, syncBody(p), {
      check: async () =>
        ops(() => Effect.runSync(p)) === N && (await stateTag(breaker)) === "Closed" || "op count / state"
    })
    break
  }
  case "effect-open":
  case "effect-open-tripped": {
    const { breaker } = await makeBreaker()
    if (caseId === "effect-open") {
      await Effect.runPromise(breaker.forceOpen)
    } else {
      const boom = Effect.fail("boom")
      for (let i = 0; i < 5; i++) await Effect.runPromise(Effect.either(breaker(boom)))
    }
    const state = await stateTag(breaker)
    const call = recover(breaker(op))
    const p = loopOf(() => call)
    await timeCase(caseId, syncBody(p), {
      meta: { state },
      check: async () => {
        if (state !== (caseId === "effect-open" ? "ForcedOpen" : "Open")) return `state ${state}`
        const before = counter
        const r = await Effect.runPromise(call)
        return (r === FALLBACK && counter === before && ops(() => Effect.runSync(p)) === 0) ||
          "not rejected with fallback"
      }
    })
    break
  }
  case "effect-conc-baseline": {
    const p = concurrentOf(op)
    await timeCase(caseId, promiseBody(p), {
      cpuTimeMs: 1200,
      check: async () => {
        const b = counter
        await Effect.runPromise(p)
        return counter - b === N || "op count"
      }
    })
    break
  }
  case "effect-conc-floor": {
    const p = concurrentOf(floorOf(op))
    await timeCase(caseId, promiseBody(p), {
      cpuTimeMs: 1200,
      check: async () => {
        const b = counter
        await Effect.runPromise(p)
        return counter - b === N || "op count"
      }
    })
    break
  }
  case "effect-conc-closed": {
    const { breaker } = await makeBreaker()
    const p = concurrentOf(breaker(op))
    await timeCase(caseId, promiseBody(p), {
      cpuTimeMs: 1200,
      check: async () => {
        const b = counter
        await Effect.runPromise(p)
        return (counter - b === N && (await stateTag(breaker)) === "Closed") || "op count / state"
      }
    })
    break
  }
  default:
    fail(caseId, "unknown case")
}
process.exit(0)
