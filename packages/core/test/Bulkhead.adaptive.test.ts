import { Bulkhead } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

/** A deterministic pseudo-random sequence (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

// The simulated dependency serves `capacity` calls at once at full speed; beyond
// that, its calls share it (processor sharing): each takes `baseMillis`
// (± 20 %) × concurrency / capacity — latency grows with concurrency above
// capacity, and throughput stays at capacity / latency. Time moves in ticks of
// TestClock: one `TestClock.adjust` per tick, whatever the number of calls
// (no call sleeps), so a window of 500 ms costs 20 wake-ups.
const tickMillis = 25
const windowMillis = 500
const ticksPerWindow = windowMillis / tickMillis

interface Phase {
  readonly windows: number
  /** Offered load, as a multiple of what the dependency can serve. */
  readonly load: number
  /** How slow the dependency is, as a multiple of its usual latency (for everyone: not from our load). */
  readonly slowness?: number
}

interface WindowRecord {
  readonly phase: number
  /** The limit at the end of the window. */
  readonly limit: number
  /** End-to-end latency of the calls that ended in the window, in milliseconds. */
  readonly latencies: ReadonlyArray<number>
  readonly rejected: number
}

const simulate = (options: {
  readonly algorithm: Bulkhead.Algorithm
  readonly capacity: number
  readonly baseMillis: number
  readonly min: number
  readonly max: number
  readonly initial: number
  readonly phases: ReadonlyArray<Phase>
  readonly seed: number
}) =>
  Effect.gen(function*() {
    const { baseMillis, capacity } = options
    const bulkhead = yield* Bulkhead.make({
      name: uniqueName(`sim-${options.algorithm}`),
      limit: Bulkhead.adaptive({
        algorithm: options.algorithm,
        min: options.min,
        max: options.max,
        initial: options.initial,
        window: `${windowMillis} millis`
      })
    })
    const next = random(options.seed)
    let now = 0
    let slowness = 1
    const serving: Array<{ work: number; resume: (done: Effect.Effect<void>) => void }> = []
    const dependency = Effect.async<void>((resume) => {
      // Half a tick less: a call ends at the first tick past its work, so on average on time.
      serving.push({ work: baseMillis * slowness * (0.8 + 0.4 * next()) - tickMillis / 2, resume })
    })
    let latencies: Array<number> = []
    let rejected = 0
    const caller = Effect.suspend(() => {
      const start = now
      return Effect.matchCause(bulkhead(dependency), {
        onFailure: () => void rejected++,
        onSuccess: () => void latencies.push(now - start)
      })
    })
    const records: Array<WindowRecord> = []
    let arrivals = 0
    for (const [index, phase] of options.phases.entries()) {
      slowness = phase.slowness ?? 1
      // Calls per tick the dependency can serve at its usual speed, times the load.
      const perTick = phase.load * capacity / (baseMillis * slowness) * tickMillis
      for (let w = 0; w < phase.windows; w++) {
        for (let t = 0; t < ticksPerWindow; t++) {
          // Every fiber has run until it suspended: the calls of the last tick are settled.
          yield* TestClock.adjust(`${tickMillis} millis`)
          now += tickMillis
          const share = tickMillis * Math.min(1, capacity / serving.length)
          for (let i = serving.length - 1; i >= 0; i--) {
            const call = serving[i]!
            call.work -= share
            if (call.work <= 0) {
              serving.splice(i, 1)
              call.resume(Effect.void)
            }
          }
          for (arrivals += perTick; arrivals >= 1; arrivals--) yield* Effect.fork(caller)
        }
        records.push({ phase: index, limit: yield* SubscriptionRef.get(bulkhead.limit), latencies, rejected })
        latencies = []
        rejected = 0
      }
    }
    return records
  })

const percentile = (records: ReadonlyArray<WindowRecord>, p: number): number => {
  const sorted = records.flatMap((r) => r.latencies).sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

const algorithms: ReadonlyArray<Bulkhead.Algorithm> = ["aimd", "gradient2", "vegas"]

describe("Bulkhead.adaptive", () => {
  for (const algorithm of algorithms) {
    it.scoped(
      `${algorithm}: within ±20 % of the capacity 10 windows into a 3× overload, p99 ≤ 2× unloaded, recovers after`,
      () =>
        Effect.gen(function*() {
          const capacity = 20
          const records = yield* simulate({
            algorithm,
            capacity,
            baseMillis: 100,
            min: 2,
            max: 200,
            initial: 10,
            seed: 3,
            phases: [{ windows: 6, load: 0.5 }, { windows: 14, load: 3 }, { windows: 5, load: 0.5 }]
          })
          const unloaded = records.filter((r) => r.phase === 0)
          const overload = records.filter((r) => r.phase === 1)
          const recovery = records.filter((r) => r.phase === 2)
          const unloadedP99 = percentile(unloaded, 0.99)
          // The overload is shed: most calls are refused, and the rest served.
          expect(overload.every((r) => r.rejected > 0)).toBe(true)
          // From the 10th window of the overload on, the limit is the capacity ± 20 %.
          const converged = overload.slice(9).map((r) => r.limit)
          for (const limit of converged) {
            expect(limit).toBeGreaterThanOrEqual(capacity * 0.8)
            expect(limit).toBeLessThanOrEqual(capacity * 1.2)
          }
          // The calls let through are served about as fast as without overload.
          expect(percentile(overload, 0.99)).toBeLessThanOrEqual(2 * unloadedP99)
          // Once the overload ends, everything is admitted again, as fast as before.
          const recovered = recovery.slice(1)
          expect(recovered.map((r) => r.rejected)).toEqual(recovered.map(() => 0))
          expect(percentile(recovered, 0.99)).toBeLessThanOrEqual(unloadedP99)
          // No probe dropped the limit to its minimum: it never left the band once in it.
          const limits = records.map((r) => r.limit)
          expect(Math.min(...limits)).toBeGreaterThan(2)
          expect(Math.min(...limits.slice(unloaded.length + 9))).toBeGreaterThanOrEqual(capacity * 0.8)
        }),
      60_000
    )

    it.scoped(
      `${algorithm}: a dependency slower for everyone does not sink the limit to its minimum`,
      () =>
        Effect.gen(function*() {
          const capacity = 20
          const records = yield* simulate({
            algorithm,
            capacity,
            baseMillis: 100,
            min: 2,
            max: 200,
            initial: 10,
            seed: 5,
            // From the second phase on, twice as slow for reasons of its own, and
            // busier: 70 % of what it can still take, 14 calls in flight.
            phases: [{ windows: 6, load: 0.5 }, { windows: 14, load: 0.7, slowness: 2 }]
          })
          const slow = records.filter((r) => r.phase === 1)
          // Latency doubled and stays doubled whatever the limit: the limit comes
          // down, finds that it does not help, and takes the new latency as normal.
          expect(Math.min(...slow.map((r) => r.limit))).toBeLessThan(records[5]!.limit)
          expect(Math.min(...records.map((r) => r.limit))).toBeGreaterThanOrEqual(capacity * 0.5)
          const late = slow.slice(-5)
          expect(late.map((r) => r.rejected)).toEqual(late.map(() => 0))
        }),
      60_000
    )
  }

  describe("bounds", () => {
    it.scoped("the limit stays within [min, max], and its changes are published once per window at most", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("bounds"),
          limit: Bulkhead.adaptive({ algorithm: "gradient2", min: 3, max: 6, initial: 4, window: "100 millis" })
        })
        const seen: Array<number> = []
        const watcher = yield* Effect.fork(
          Stream.runForEach(bulkhead.limit.changes, (limit) => Effect.sync(() => seen.push(limit)))
        )
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        // Fast calls at full demand grow the limit; it stops at max.
        for (let w = 0; w < 10; w++) {
          yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.either(bulkhead(Effect.yieldNow())), {
            concurrency: 20,
            discard: true
          })
          yield* TestClock.adjust("100 millis")
        }
        expect(yield* SubscriptionRef.get(bulkhead.limit)).toBe(6)
        // Then every call takes 10 × longer: the limit comes down, and stops at min.
        for (let w = 0; w < 10; w++) {
          const calls = yield* Effect.fork(
            Effect.forEach(Array.from({ length: 20 }), () => Effect.either(bulkhead(Effect.sleep("50 millis"))), {
              concurrency: 20,
              discard: true
            })
          )
          yield* TestClock.adjust("200 millis")
          yield* Fiber.join(calls)
        }
        yield* Fiber.interrupt(watcher)
        expect(Math.min(...seen)).toBeGreaterThanOrEqual(3)
        expect(Math.max(...seen)).toBeLessThanOrEqual(6)
        expect(seen[0]).toBe(4)
        // Consecutive values differ: only changes are published.
        expect(seen.every((limit, i) => i === 0 || limit !== seen[i - 1])).toBe(true)
      }))

    it.scoped("an operator's write moves an adaptive limit, within [min, max]", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("override"),
          limit: Bulkhead.adaptive({ algorithm: "vegas", min: 2, max: 8, initial: 4 })
        })
        yield* SubscriptionRef.set(bulkhead.limit, 6)
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        expect((yield* bulkhead.stats).limit).toBe(6)
        yield* SubscriptionRef.set(bulkhead.limit, 50)
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        expect((yield* bulkhead.stats).limit).toBe(8)
        expect(yield* SubscriptionRef.get(bulkhead.limit)).toBe(8)
      }))
  })
})
