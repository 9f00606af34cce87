// Promise-world cases: bare await (the baseline of opossum and cockatiel), opossum 9, cockatiel 3.
// usage: node --expose-gc bench/cases/promise.mjs <case>
import { BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel"
import CircuitBreaker from "opossum"
import { opossumOptions } from "../lib/config.mjs"
import { fail, N, timeCase } from "../lib/harness.mjs"

const caseId = process.argv[2]
if (!caseId) fail("promise", "missing case id")

let counter = 0
const FALLBACK = -1
/** The bare async op every case wraps. */
const fn = async () => ++counter
const failing = async () => {
  throw new Error("boom")
}

const sequential = (call) => async () => {
  for (let i = 0; i < N; i++) await call()
}
const concurrent = (call) => () => {
  const ps = new Array(N)
  for (let i = 0; i < N; i++) ps[i] = call()
  return Promise.all(ps)
}
const opsOf = async (body) => {
  const b = counter
  await body()
  return counter - b
}

switch (caseId) {
  case "promise-baseline": {
    const body = sequential(fn)
    await timeCase(caseId, body, { check: async () => (await opsOf(body)) === N || "op count" })
    break
  }
  case "promise-conc-baseline": {
    const body = concurrent(fn)
    await timeCase(caseId, body, { check: async () => (await opsOf(body)) === N || "op count" })
    break
  }
  case "opossum-closed":
  case "opossum-conc-closed": {
    const breaker = new CircuitBreaker(fn, opossumOptions)
    const call = () => breaker.fire()
    const body = caseId === "opossum-closed" ? sequential(call) : concurrent(call)
    await timeCase(caseId, body, {
      check: async () => ((await opsOf(body)) === N && breaker.closed) || "op count / state"
    })
    break
  }
  case "opossum-open": {
    const breaker = new CircuitBreaker(fn, opossumOptions)
    breaker.fallback(() => FALLBACK)
    breaker.open()
    const call = () => breaker.fire()
    const body = sequential(call)
    await timeCase(caseId, body, {
      check: async () =>
        (breaker.opened && (await call()) === FALLBACK && (await opsOf(body)) === 0) || "not rejected with fallback"
    })
    break
  }
  case "cockatiel-closed":
  case "cockatiel-conc-closed": {
    const policy = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) })
    const call = () => policy.execute(fn)
    const body = caseId === "cockatiel-closed" ? sequential(call) : concurrent(call)
    await timeCase(caseId, body, {
      check: async () => ((await opsOf(body)) === N && policy.state === 0) || "op count / state"
    })
    break
  }
  case "cockatiel-open": {
    const policy = circuitBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(5) })
    for (let i = 0; i < 5; i++) await policy.execute(failing).catch(() => {})
    const call = async () => {
      try {
        return await policy.execute(fn)
      } catch (e) {
        if (e instanceof BrokenCircuitError) return FALLBACK
        throw e
      }
    }
    const body = sequential(call)
    await timeCase(caseId, body, {
      check: async () =>
        (policy.state === 1 && (await call()) === FALLBACK && (await opsOf(body)) === 0) ||
        `not rejected (state ${policy.state})`
    })
    break
  }
  default:
    fail(caseId, "unknown case")
}
process.exit(0)
