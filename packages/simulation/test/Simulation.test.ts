import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  Dependency,
  Fallback,
  InvalidOptionError
} from "@effect-resilience/core"
import { Faults, Simulation } from "@effect-resilience/simulation"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { uniqueName } from "./utils.js"

const { Degraded, Emergency, Minimal, Optimal } = DegradationLevel

class CacheError extends Data.TaggedError("CacheError")<{ readonly message: string }> {}
class Cache extends Context.Tag("test/Simulation/Cache")<Cache, {
  readonly get: (key: string) => Effect.Effect<string, CacheError | CircuitBreaker.Unavailable>
  readonly ping: Effect.Effect<void, CacheError | CircuitBreaker.Unavailable>
}>() {}

class DbError extends Data.TaggedError("DbError")<{ readonly message: string }> {}
class Db extends Context.Tag("test/Simulation/Db")<Db, {
  readonly query: (sql: string) => Effect.Effect<number, DbError | CircuitBreaker.Unavailable>
  readonly save: (n: number) => Effect.Effect<void, DbError | CircuitBreaker.Unavailable>
}>() {}

/** A cache as an app defines it: raw service, `Faults` under its `Dependency` (3 failures open it for 10 s). */
const cacheLayer = (name: string, options?: { readonly fallback?: boolean; readonly rawCalls?: Ref.Ref<number> }) => {
  const base = {
    name,
    whenDown: Degraded(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("10 seconds") },
    callTimeout: "2 seconds",
    health: (cache: Context.Tag.Service<Cache>) => cache.ping
  } as const
  const dependency = options?.fallback === true
    ? Dependency.layer(Cache, { ...base, fallback: { get: Fallback.succeed("from the db") } })
    : Dependency.layer(Cache, base)
  return dependency.pipe(
    Layer.provideMerge(Faults.layer(Cache, { name })),
    Layer.provide(Layer.succeed(Cache, {
      get: (key) =>
        Effect.as(options?.rawCalls === undefined ? Effect.void : Ref.update(options.rawCalls, (n) => n + 1), key),
      ping: Effect.void
    }))
  )
}

const dbLayer = (name: string) =>
  Dependency.layer(Db, {
    name,
    whenDown: Minimal(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("10 seconds") },
    callTimeout: "5 seconds"
  }).pipe(
    Layer.provideMerge(Faults.layer(Db, { name })),
    Layer.provide(Layer.succeed(Db, { query: (sql) => Effect.succeed(sql.length), save: () => Effect.void }))
  )

/**
 * One dependency, 2 calls per second, 3 consecutive failures open it for
 * 10 s; down from 10 s to 35 s; recovery ticks at 30 s and 60 s.
 */
const small = (options?: { readonly fallback?: boolean; readonly rawCalls?: Ref.Ref<number> }) => {
  const cache = uniqueName("cache")
  return {
    name: cache,
    cache,
    duration: "70 seconds",
    layer: cacheLayer(cache, options).pipe(Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))),
    faults: [
      { at: "10 seconds", dependency: cache, fault: Faults.down },
      { at: "35 seconds", dependency: cache, fault: Simulation.recovered }
    ],
    traffic: [Simulation.calls(Cache, "get", { perSecond: 2, args: (i) => [`k${i}`], name: "get" })]
  } satisfies Simulation.Scenario & { readonly cache: string }
}

/** Everything but the wall time: what a run decided. */
const decided = (report: Simulation.Report) => {
  const { logs: _logs, stats, ...rest } = report
  return { ...rest, stats: { steps: stats.steps, calls: stats.calls } }
}

describe("Simulation.run", () => {
  it.effect("reports level and breaker transitions with their causes, and exact counts", () =>
    Effect.gen(function*() {
      const scenario = small()
      const { cache } = scenario
      const report = yield* Simulation.run(scenario)
      expect(report.initialLevel._tag).toBe("Optimal")
      expect(report.recoveryInterval).toBe(30_000)
      expect(report.faults).toEqual([
        { at: 10_000, dependency: cache, member: undefined, fault: Faults.down },
        { at: 35_000, dependency: cache, member: undefined, fault: Simulation.recovered }
      ])
      // 3rd consecutive failure at 11 s; the ticks at 30 s (open) and 60 s (closed since 41 s).
      expect(report.levelTransitions.map((t) => [t.at, t.from._tag, t.to._tag, t.kind, t.reason])).toEqual([
        [11_000, "Optimal", "Degraded", "degrade", `${cache} down`],
        [60_000, "Degraded", "Optimal", "recover", `${cache} up`]
      ])
      expect(report.breakerTransitions.map((t) => `${t.at / 1000}s ${t.from}→${t.to}`)).toEqual([
        "11s Closed→Open",
        "21s Open→HalfOpen",
        "21s HalfOpen→Open",
        "31s Open→HalfOpen",
        "31s HalfOpen→Open",
        "41s Open→HalfOpen",
        "41s HalfOpen→Closed"
      ])
      // 140 calls, two per step, each answered before the next is issued (the raw service
      // answers at once): 20 succeed before the fault; both calls of 10 s and the first of 11 s
      // fail — the 3rd failure opens the breaker, so the other call of 11 s is rejected; the
      // probes of 21 s and 31 s fail and the other call of those steps is rejected, as is every
      // call in between; the 41 s probe closes it and every call from then on succeeds.
      expect(report.perDependency[cache]).toEqual({
        name: cache,
        whenDown: Degraded(),
        successes: 78,
        failures: 5,
        timeouts: 0,
        rejections: 57,
        ignored: 0,
        fallbacks: 0,
        timeInState: { Closed: 11_000 + 29_000, Open: 30_000, HalfOpen: 0 },
        // No `retry` option: no retries.
        retries: { firstTry: 0, afterRetry: 0, gaveUp: 0, budgetExhausted: 0, stoppedOpen: 0, attempts: 0 }
      })
      const get = report.traffic.get!
      expect([get.dependency, get.calls, get.answered, get.errors, get.inFlight]).toEqual([cache, 140, 78, 62, 0])
      expect(get.errorsByTag).toEqual({ FaultInjectedError: 5, CircuitOpenError: 57 })
      expect(get.errorSamples.FaultInjectedError).toEqual({
        at: 10_000,
        message: `Fault injected into ${cache}.get: down`
      })
      expect(report.timeAtLevel).toEqual({ Optimal: 21_000, Degraded: 49_000, Limited: 0, Minimal: 0, Emergency: 0 })
      expect([report.finalLevel._tag, report.worstLevel._tag]).toEqual(["Optimal", "Degraded"])
      expect(report.stats.steps).toBe(70)
      expect(report.stats.calls).toBe(140)
      // the program's own logs, at their virtual time
      const degraded = report.logs.find((l) => l.message.includes("Optimal → Degraded"))
      expect(degraded?.at).toBe(11_000)
      expect(report.logs.some((l) => l.at === 9_999 && l.message.includes("injected"))).toBe(true)
    }))

  it.effect("fallbacks answer failed and rejected calls", () =>
    Effect.gen(function*() {
      const scenario = small({ fallback: true })
      const report = yield* Simulation.run(scenario)
      expect(report.perDependency[scenario.cache]!.fallbacks).toBe(62)
      expect(report.traffic.get!).toMatchObject({ calls: 140, answered: 140, errors: 0 })
    }))

  it.effect("runs on the test's own TestClock, from wherever it stands, and closes the layer", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 hour")
      const started = yield* TestClock.currentTimeMillis
      const closed = yield* Ref.make<number | undefined>(undefined)
      const scenario = small()
      const report = yield* Simulation.run({
        ...scenario,
        layer: scenario.layer.pipe(
          Layer.merge(
            Layer.scopedDiscard(
              Effect.addFinalizer(() => Effect.flatMap(TestClock.currentTimeMillis, (t) => Ref.set(closed, t)))
            )
          )
        )
      })
      expect((yield* TestClock.currentTimeMillis) - started).toBe(70_000)
      // times are from the start of the scenario
      expect(report.levelTransitions[0]!.at).toBe(11_000)
      expect(yield* Ref.get(closed)).toBe(started + 70_000)
    }))

  it("runs outside a test with a TestClock of its own, with the same outcome", async () => {
    const scenario = small()
    const outside = await Effect.runPromise(Simulation.run(scenario))
    // the same scenario on a TestClock the caller provides
    const provided = await Effect.runPromise(Simulation.run(scenario).pipe(Effect.provide(TestContext.TestContext)))
    expect(decided(outside)).toEqual(decided(provided))
    expect(outside.breakerTransitions.length).toBe(7)
    expect(outside.traffic.get!.calls).toBe(140)
  })

  it.effect("is deterministic: the same scenario and seed give the same report", () =>
    Effect.gen(function*() {
      const cache = uniqueName("flaky-cache")
      const scenario = (seed: number): Simulation.Scenario => ({
        name: "flaky",
        duration: "2 minutes",
        seed,
        layer: cacheLayer(cache).pipe(Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))),
        faults: [{ at: "10 seconds", dependency: Cache, fault: Faults.flaky(0.5) }],
        traffic: [Simulation.calls(Cache, "get", { perSecond: 10, args: (i) => [`k${i}`], name: "get" })]
      })
      const a = yield* Simulation.run(scenario(1))
      const b = yield* Simulation.run(scenario(1))
      const c = yield* Simulation.run(scenario(2))
      expect(decided(a)).toEqual(decided(b))
      expect(a.traffic.get!.errorsByTag).not.toEqual(c.traffic.get!.errorsByTag)
      // 50 % of the calls between 10 s and the first opening failed with the injected fault
      expect(a.traffic.get!.errorsByTag.FaultInjectedError).toBeGreaterThan(0)
    }))

  it.effect("the virtual clock gives the same report as TestClock", () =>
    Effect.gen(function*() {
      const db = uniqueName("db")
      const scenarios: Array<Simulation.Scenario> = [
        small({ fallback: true }),
        {
          name: "db hangs, then flakes",
          duration: "3 minutes",
          seed: 7,
          layer: Layer.mergeAll(cacheLayer(uniqueName("cache")), dbLayer(db)).pipe(
            Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))
          ),
          faults: [
            { at: "5 seconds", dependency: db, fault: Faults.hang },
            { at: "40 seconds", dependency: db, fault: Faults.slow("3 seconds") },
            { at: "80 seconds", dependency: [db, Cache], fault: Faults.flaky(0.4) },
            { at: "150 seconds", dependency: [db, Cache], fault: Simulation.recovered }
          ],
          traffic: [
            Simulation.calls(Db, "query", { perSecond: 3, args: () => ["q"] }),
            Simulation.calls(Cache, "get", { perSecond: 2.5, args: (i) => [`k${i}`] })
          ]
        }
      ]
      for (const scenario of scenarios) {
        const test = yield* Simulation.run(scenario)
        const virtual = yield* Simulation.run({ ...scenario, clock: "virtual" })
        expect(decided(virtual)).toEqual(decided(test))
        expect(virtual.logs.map((l) => [l.at, l.message])).toEqual(test.logs.map((l) => [l.at, l.message]))
        expect(test.breakerTransitions.length).toBeGreaterThan(3)
      }
    }))

  it.effect("traffic below one call per step accumulates, and a last step cut short issues its share", () =>
    Effect.gen(function*() {
      const cache = uniqueName("trickle")
      const report = yield* Simulation.run({
        name: "trickle",
        duration: "10500 millis",
        layer: cacheLayer(cache).pipe(Layer.provideMerge(Degradation.layer())),
        traffic: [
          Simulation.calls(Cache, "get", { perSecond: 0.25, args: () => ["k"], name: "slow trickle" }),
          Simulation.calls(Cache, "get", { perSecond: 4, args: () => ["k"], name: "steady" })
        ]
      })
      // 0.25/s over 10.5 s: 2 calls (at 3 s and 7 s); 4/s: 10 full steps + half a step
      expect(report.traffic["slow trickle"]!.calls).toBe(2)
      expect(report.traffic.steady!.calls).toBe(42)
      expect(report.perDependency[cache]!.successes).toBe(44)
    }))

  it.effect("runs the app's own Effect as traffic, every interval", () =>
    Effect.gen(function*() {
      const cache = uniqueName("own")
      const seen = yield* Ref.make<Array<string>>([])
      const handler = Effect.gen(function*() {
        const value = yield* Effect.flatMap(Cache, (c) => c.get("p1"))
        yield* Ref.update(seen, (xs) => [...xs, value])
      })
      const report = yield* Simulation.run({
        name: "own",
        duration: "1 minute",
        layer: cacheLayer(cache, { fallback: true }).pipe(Layer.provideMerge(Degradation.layer())),
        faults: [{ at: "30 seconds", dependency: cache, fault: Faults.down }],
        traffic: [Simulation.traffic("GET /price", handler, { every: "10 seconds" })]
      })
      expect(report.traffic["GET /price"]).toMatchObject({ dependency: undefined, calls: 6, answered: 6, errors: 0 })
      expect(yield* Ref.get(seen)).toEqual(["p1", "p1", "p1", "from the db", "from the db", "from the db"])
    }))

  it.effect("the runs of a step all start at its instant, a slow one holding back none, each from the same FiberRefs", () =>
    Effect.gen(function*() {
      const cache = uniqueName("batch")
      const started: Array<[number, number]> = []
      const ended: Array<[number, number]> = []
      const seenRef = FiberRef.unsafeMake(0)
      const seen: Array<number> = []
      // Every third run sleeps 5 s; each one bumps a FiberRef its successors must not see.
      const handler = (i: number) =>
        Effect.gen(function*() {
          started.push([i, yield* Clock.currentTimeMillis])
          seen.push(yield* FiberRef.get(seenRef))
          yield* FiberRef.update(seenRef, (n) => n + 1)
          if (i % 3 === 0) yield* Effect.sleep("5 seconds")
          ended.push([i, yield* Clock.currentTimeMillis])
        })
      const report = yield* Simulation.run({
        name: "batch",
        duration: "2 seconds",
        layer: cacheLayer(cache).pipe(Layer.provideMerge(Degradation.layer())),
        traffic: [Simulation.traffic("batch", handler, { perSecond: 7 })]
      })
      const origin = started[0]![1]
      // runs 0–6 at 0 s, in order, and 7–13 at 1 s: a sleeping run delays none of the others
      expect(started.map(([i, at]) => [i, at - origin])).toEqual(
        Array.from({ length: 14 }, (_, i) => [i, i < 7 ? 0 : 1000])
      )
      expect(seen).toEqual(Array.from({ length: 14 }, () => 0))
      // the sleepers (0, 3, 6, 9, 12) are still in flight when the run ends at 2 s
      expect(ended.map(([i]) => i).sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 7, 8, 10, 11, 13])
      expect(report.traffic.batch).toMatchObject({ calls: 14, answered: 9, errors: 0, inFlight: 5 })
    }))

  it.effect("hang: calls are cut by the breaker's callTimeout, counted as timeouts, and the breaker opens", () =>
    Effect.gen(function*() {
      const db = uniqueName("db")
      const report = yield* Simulation.run({
        name: "db hangs",
        duration: "30 seconds",
        layer: dbLayer(db).pipe(Layer.provideMerge(Degradation.layer())),
        faults: [{ at: "5 seconds", dependency: db, fault: Faults.hang }],
        traffic: [Simulation.calls(Db, "query", { perSecond: 1, args: () => ["select 1"], name: "query" })]
      })
      // queries from 5 s, 6 s, 7 s time out at 10 s, 11 s, 12 s: the 3rd opens the breaker
      const opened = report.breakerTransitions.find((t) => t.to === "Open")
      expect(opened?.at).toBe(12_000)
      expect(Simulation.levelAt(report, "12 seconds")._tag).toBe("Minimal")
      expect(report.breakerTransitions.map((t) => `${t.at / 1000}s ${t.to}`)).toEqual([
        "12s Open",
        "22s HalfOpen",
        "27s Open"
      ])
      // 9 timeouts: the queries of 5 s … 12 s (the one of 12 s was admitted at the instant the third
      // timeout opened the breaker) and the half-open probe of 22 s; the other 16 were rejected.
      expect(report.traffic.query).toMatchObject({
        calls: 30,
        answered: 5,
        errorsByTag: { CallTimeoutError: 9, CircuitOpenError: 16 }
      })
      expect(report.traffic.query!.errorSamples.CallTimeoutError!.at).toBe(10_000)
      expect(report.perDependency[db]).toMatchObject({ successes: 5, timeouts: 9, rejections: 16, failures: 0 })
      // Their callers waited the 5 s call timeout; the others were answered at once.
      expect(report.traffic.query).toMatchObject({ timedOut: 9, latency: { p50: 0, p99: 5_000, max: 5_000 } })
      expect(Simulation.renderTimeline(report)).toMatch(
        /query\s+30\s+5\s+25\s+9\s+0\s+0ms\s+5s\s+5s\s+CallTimeoutError 9/
      )
    }))

  it.effect("a fallback that answers after a call timeout: answered, not timed out, and its wait in the latency", () =>
    Effect.gen(function*() {
      const cache = uniqueName("cache")
      const report = yield* Simulation.run({
        name: "cache hangs",
        duration: "20 seconds",
        layer: cacheLayer(cache, { fallback: true }).pipe(Layer.provideMerge(Degradation.layer())),
        faults: [{ at: "10 seconds", dependency: cache, member: "get", fault: Faults.hang }],
        traffic: [Simulation.calls(Cache, "get", { perSecond: 2, args: (i) => [`k${i}`], name: "get" })]
      })
      // The calls of 10 s, 11 s and 12 s are cut at the 2 s call timeout (12 s, 13 s, 14 s) and answered
      // by the fallback then; the 3rd timeout opens the breaker at 13 s, before that step's calls, and
      // the fallback answers every call it rejects from then on at once.
      expect(report.perDependency[cache]).toMatchObject({ timeouts: 6, fallbacks: 6 + 14 })
      expect(report.traffic.get).toMatchObject({
        calls: 40,
        answered: 40,
        errors: 0,
        timedOut: 0,
        latency: { p50: 0, p99: 2_000, max: 2_000 }
      })
    }))

  it.effect("a fault on one member leaves the others alone", () =>
    Effect.gen(function*() {
      const db = uniqueName("db")
      const report = yield* Simulation.run({
        name: "saves fail",
        duration: "10 seconds",
        layer: dbLayer(db).pipe(Layer.provideMerge(Degradation.layer())),
        faults: [{ at: "5 seconds", dependency: Db, member: "save", fault: Faults.down }],
        traffic: [
          Simulation.calls(Db, "query", { perSecond: 2, args: () => ["select 1"], name: "query" }),
          Simulation.calls(Db, "save", { perSecond: 1, args: () => [1], name: "save" })
        ]
      })
      expect(report.faults[0]).toMatchObject({ dependency: db, member: "save", fault: Faults.down })
      expect(report.traffic.query).toMatchObject({ calls: 20, answered: 20, errors: 0 })
      // saves from 5 s fail; the queries between them keep the consecutive count below 3
      expect(report.traffic.save).toMatchObject({
        calls: 10,
        answered: 5,
        errors: 5,
        errorsByTag: { FaultInjectedError: 5 }
      })
    }))

  it.effect("one fault can hit several dependencies; a failing layer fails the run with its error", () =>
    Effect.gen(function*() {
      const cache = uniqueName("cache")
      const db = uniqueName("db")
      const report = yield* Simulation.run({
        name: "both",
        duration: "20 seconds",
        layer: Layer.mergeAll(cacheLayer(cache), dbLayer(db)).pipe(Layer.provideMerge(Degradation.layer())),
        faults: [{ at: "5 seconds", dependency: [Cache, db], fault: Faults.down }],
        traffic: [
          Simulation.calls(Cache, "get", { perSecond: 2, args: () => ["k"] }),
          Simulation.calls(Db, "query", { perSecond: 2, args: () => ["q"] })
        ]
      })
      expect(report.faults.map((f) => f.dependency)).toEqual([cache, db])
      expect(report.finalLevel._tag).toBe("Minimal")
      expect(Object.keys(report.traffic)).toEqual(["test/Simulation/Cache.get", "test/Simulation/Db.query"])

      class BootError extends Data.TaggedError("BootError")<{}> {}
      const failed = yield* Effect.flip(Simulation.run({
        name: "boot",
        duration: "1 minute",
        layer: Layer.merge(Degradation.layer(), Layer.fail(new BootError()))
      }))
      expect(failed).toBeInstanceOf(BootError)
    }))

  it.effect("an interrupted run stops, and closes the layer", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Simulation.run({ ...small(), duration: "1000 hours" }))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))
})

describe("Simulation.run: bad scenarios", () => {
  /**
   * The defect a bad scenario dies with — an InvalidOptionError, never a
   * typed failure — and that nothing ran: no raw call, no clock move.
   */
  const rejected = (change: (scenario: ReturnType<typeof small>) => unknown) =>
    Effect.gen(function*() {
      const rawCalls = yield* Ref.make(0)
      const before = yield* TestClock.currentTimeMillis
      const exit = yield* Effect.exit(Simulation.run(change(small({ rawCalls })) as Simulation.Scenario))
      assert(Exit.isFailure(exit), "the run did not fail")
      expect(Option.isNone(Cause.failureOption(exit.cause))).toBe(true)
      const defect = Cause.dieOption(exit.cause)
      assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError, `not an InvalidOptionError: ${exit}`)
      expect(yield* Ref.get(rawCalls)).toBe(0)
      expect(yield* TestClock.currentTimeMillis).toBe(before)
      return defect.value
    })

  it.effect("names the field: times, order, probabilities", () =>
    Effect.gen(function*() {
      const cases: Array<[string, (s: ReturnType<typeof small>) => unknown, string]> = [
        ["negative time", (s) => ({ ...s, faults: [{ ...s.faults[0], at: -1 }] }), "faults[0].at"],
        ["NaN time", (s) => ({ ...s, faults: [{ ...s.faults[0], at: Number.NaN }] }), "faults[0].at"],
        ["time past the end", (s) => ({ ...s, faults: [{ ...s.faults[0], at: "2 minutes" }] }), "faults[0].at"],
        ["out of order", (s) => ({ ...s, faults: [s.faults[1], s.faults[0]] }), "faults[1].at"],
        ["NaN duration", (s) => ({ ...s, duration: Number.NaN }), "duration"],
        ["negative duration", (s) => ({ ...s, duration: "-5 seconds" }), "duration"],
        ["zero step", (s) => ({ ...s, step: 0 }), "step"],
        [
          "probability above 1",
          (s) => ({ ...s, faults: [{ ...s.faults[0], fault: { _tag: "Flaky", probability: 1.5 } }] }),
          "faults[0].flaky.probability"
        ],
        [
          "probability NaN",
          (s) => ({ ...s, faults: [{ ...s.faults[0], fault: { _tag: "Flaky", probability: Number.NaN } }] }),
          "faults[0].flaky.probability"
        ],
        ["not a fault", (s) => ({ ...s, faults: [{ ...s.faults[0], fault: "down" }] }), "faults[0].fault"],
        [
          "empty dependency list",
          (s) => ({ ...s, faults: [{ ...s.faults[0], dependency: [] }] }),
          "faults[0].dependency"
        ],
        [
          "negative traffic",
          (s) => ({ ...s, traffic: [{ ...Simulation.calls(Cache, "get", { perSecond: 1 }), perSecond: -1 }] }),
          "traffic[0].perSecond"
        ],
        ["NaN seed", (s) => ({ ...s, seed: Number.NaN }), "seed"],
        ["infinite seed", (s) => ({ ...s, seed: Number.POSITIVE_INFINITY }), "seed"],
        ["fractional seed", (s) => ({ ...s, seed: 1.5 }), "seed"],
        ["empty seed", (s) => ({ ...s, seed: "" }), "seed"],
        ["not a layer", (s) => ({ ...s, layer: {} }), "layer"],
        ["no name", (s) => ({ ...s, name: "" }), "name"],
        ["unknown clock", (s) => ({ ...s, clock: "wall" }), "clock"]
      ]
      for (const [what, change, option] of cases) {
        const error = yield* rejected(change)
        expect([what, error.option]).toEqual([what, option])
        expect(error.module).toBe("Simulation.run")
      }
    }))

  it.effect("names an unknown dependency or member, and a layer without Degradation, before the clock moves", () =>
    Effect.gen(function*() {
      const unknownName = yield* rejected((s) => ({ ...s, faults: [{ ...s.faults[0], dependency: "redis" }] }))
      expect(unknownName.option).toBe("faults[0].dependency")
      expect(unknownName.message).toContain(unknownName.actual as string)
      expect(unknownName.expected).toContain("Faults.layer")
      const unwrapped = yield* rejected((s) => ({ ...s, faults: [{ ...s.faults[0], dependency: Db }] }))
      expect([unwrapped.option, unwrapped.actual]).toEqual(["faults[0].dependency", Db])
      expect(unwrapped.message).toContain("got the Tag test/Simulation/Db")
      const member = yield* rejected((s) => ({ ...s, faults: [{ ...s.faults[0], member: "set" }] }))
      expect([member.option, member.actual]).toEqual(["faults[0].member", "set"])
      expect(member.expected).toContain("get, ping")
      const traffic = yield* rejected((s) => ({ ...s, traffic: [Simulation.calls(Db, "query", { perSecond: 1 })] }))
      expect(traffic.option).toBe("traffic[0]")
      const notAMember = yield* rejected((s) => ({
        ...s,
        traffic: [s.traffic[0], Simulation.calls(Cache, "set" as "get", { perSecond: 1 })]
      }))
      expect([notAMember.option, notAMember.actual]).toEqual(["traffic[1].member", "set"])
      const noDegradation = yield* rejected((s) => ({
        ...s,
        layer: Layer.succeed(Cache, { get: Effect.succeed, ping: Effect.void })
      }))
      expect(noDegradation.option).toBe("layer")
      expect(noDegradation.message).toContain("must be a Layer that provides Degradation")
    }))
})

describe("Simulation expectations", () => {
  it.effect("each check passes or fails with what was observed", () =>
    Effect.gen(function*() {
      const report = yield* Simulation.run({
        ...small(),
        expect: [
          Simulation.expectLevel("10 seconds", Optimal()),
          Simulation.expectLevel("11 seconds", Degraded()),
          Simulation.expectLevelAtLeast("30 seconds", Degraded()),
          Simulation.expectReaches(Degraded(), { after: "10 seconds", within: "1 second" }),
          Simulation.expectReaches(Optimal(), { after: "35 seconds", within: "30 seconds" }),
          Simulation.expectNeverWorseThan(Degraded()),
          Simulation.expectSequence([Optimal(), Degraded(), Optimal()]),
          Simulation.expectThat("no timeouts", (r) => Object.values(r.perDependency).every((d) => d.timeouts === 0)),
          // mismatches
          Simulation.expectFinalLevel(Emergency()),
          Simulation.expectReaches(Optimal(), { after: "35 seconds", within: "10 seconds" }),
          Simulation.expectNeverWorseThan(Optimal(), { from: "5 seconds", until: "20 seconds" }),
          Simulation.expectThat("said no", () => "because"),
          Simulation.expectThat("throws", () => {
            throw new Error("oops")
          })
        ]
      })
      expect(report.ok).toBe(false)
      expect(report.checks.map((c) => [c.description, c.ok, c.detail])).toEqual([
        ["level at 00:00:10 is Optimal", true, "level was Optimal"],
        ["level at 00:00:11 is Degraded", true, "level was Degraded"],
        ["level at 00:00:30 is Degraded or worse", true, "level was Degraded"],
        ["Degraded within 1s of 00:00:10", true, "reached at 00:00:11 (+1s)"],
        ["Optimal within 30s of 00:00:35", true, "reached at 00:01:00 (+25s)"],
        ["never worse than Degraded", true, "worst was Degraded"],
        ["levels Optimal → Degraded → Optimal", true, "observed Optimal → Degraded → Optimal"],
        ["no timeouts", true, "ok"],
        ["final level is Emergency", false, "final level was Optimal"],
        ["Optimal within 10s of 00:00:35", false, "reached at 00:01:00 (+25s)"],
        ["never worse than Optimal from 00:00:05 until 00:00:20", false, "worst was Degraded at 00:00:11"],
        ["said no", false, "because"],
        ["throws", false, "the check threw: Error: oops"]
      ])
      expect(Simulation.levelAt(report, "45 seconds")._tag).toBe("Degraded")
    }))
})

describe("Simulation renderers", () => {
  it.effect("the timeline lists faults, breaker and level changes, time at level, counts and checks", () =>
    Effect.gen(function*() {
      const scenario = small()
      const { cache } = scenario
      const report = yield* Simulation.run({ ...scenario, expect: [Simulation.expectFinalLevel(Emergency())] })
      const text = Simulation.renderTimeline(report)
      expect(text).not.toContain("\x1b[")
      expect(text).toContain(`00:00:10  fault    ${cache} down`)
      expect(text).toContain(`00:00:11  breaker  ${cache}  Closed → Open`)
      expect(text).toContain(`00:00:11  level    Optimal → Degraded  (${cache} down) [degrade]`)
      expect(text).toContain(`00:00:21  breaker  ${cache}  2 failed probes, each reopening it (until 00:00:31)`)
      expect(text).toContain(`00:00:41  breaker  ${cache}  Open → HalfOpen → Closed`)
      expect(text).toContain(`00:01:00  level    Degraded → Optimal  (${cache} up) [recover]`)
      expect(text).toMatch(/Degraded\s+49s\s+70\.0%/)
      expect(text).toMatch(new RegExp(`${cache}\\s+78\\s+5\\s+0\\s+57\\s+0\\s+0\\s+30s`))
      expect(text).toMatch(
        /traffic\s+calls\s+answered\s+errors\s+timed out\s+in flight\s+p50\s+p99\s+max\s+error types/
      )
      expect(text).toMatch(/get\s+140\s+78\s+62\s+0\s+0\s+0ms\s+0ms\s+0ms\s+FaultInjectedError 5, CircuitOpenError 57/)
      expect(text).toContain("✘ final level is Emergency  — final level was Optimal")
      const all = Simulation.renderTimeline(report, { allBreakerTransitions: true, color: true })
      expect(all).toContain("\x1b[")
      // Transitions of one instant chain on one line: 11 s, 21 s, 31 s, 41 s.
      expect(all.split("\n").filter((l) => l.includes("breaker") && l.includes(cache)).length).toBe(4)
      const plain = Simulation.renderTimeline(report, { allBreakerTransitions: true })
      expect(plain).toContain(`00:00:21  breaker  ${cache}  Open → HalfOpen → Open`)
    }))

  it.effect("the SVG is self-contained: levels, lanes, markers, axis, transitions and checks", () =>
    Effect.gen(function*() {
      const scenario = small()
      const report = yield* Simulation.run({ ...scenario, description: "a <small> & simple one" })
      const svg = Simulation.renderSvg(report)
      expect(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg"`)).toBe(true)
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
      expect(svg).not.toMatch(/href=|<script/)
      expect(svg).toContain("a &lt;small&gt; &amp; simple one")
      for (const level of DegradationLevel.all) expect(svg).toContain(`>${level._tag}</text>`)
      expect(svg).toContain(`>${scenario.cache}</text>`)
      expect(svg).toContain(`>down</text>`)
      expect(svg.match(/<circle /g)?.length).toBe(2)
      expect(svg).toContain(">0:00</text>")
      expect(svg).toContain(">1:00</text>")
      expect(svg).toContain(`(${scenario.cache} down)`)
      expect(svg).toContain(`(${scenario.cache} up)`)
    }))

  it.effect("the SVG legend names the fault band, and half-open has a colour of its own", () =>
    Effect.gen(function*() {
      const scenario = small()
      const report = yield* Simulation.run({
        ...scenario,
        faults: [{ at: "10 seconds", dependency: scenario.cache, fault: Faults.flaky(0.5) }]
      })
      const svg = Simulation.renderSvg(report)
      const legendFill = (label: string): string => {
        const entry = new RegExp(
          `<rect [^>]*fill="(#[0-9a-f]{6})"[^>]*/>\\s*<text [^>]*>${label.replace(/[()]/g, "\\$&")}</text>`
        )
        const match = svg.match(entry)
        assert(match !== null, `no legend entry for ${label}`)
        return match[1]!
      }
      const band = svg.match(/<rect [^>]*height="120" fill="(#[0-9a-f]{6})" fill-opacity="([\d.]+)"\/>/)
      assert(band !== null, "no fault band over the level chart")
      const bandEntry = svg.match(
        /<rect [^>]*fill="(#[0-9a-f]{6})" fill-opacity="([\d.]+)"[^>]*\/>\s*<text [^>]*>any fault active<\/text>/
      )
      assert(bandEntry !== null, "no legend entry for the fault band")
      expect([bandEntry[1], bandEntry[2]]).toEqual([band[1], band[2]])
      const halfOpen = legendFill("half-open (probe)")
      const flaky = legendFill("fault: flaky")
      expect(halfOpen).not.toBe(flaky)
      expect(legendFill("fault: hang")).not.toBe(legendFill("forced open"))
      expect(svg).toContain(`height="14" fill="${flaky}"/>`)
    }))

  it("formats times and faults", () => {
    expect(Simulation.formatTime(3_723_000)).toBe("01:02:03")
    expect(Simulation.formatTime(1_500)).toBe("00:00:01.500")
    expect(Simulation.describeFault(Faults.slow("30 seconds"))).toBe("slow 30s")
    expect(Simulation.describeFault(Faults.flaky(0.25))).toBe("flaky 25%")
    // One vocabulary: the same words as the fault layer's logs and the status page.
    expect(Simulation.describeFault(Faults.slow("30 seconds"))).toBe(Faults.describe(Faults.slow("30 seconds")))
    expect(Simulation.describeFault(Faults.hang)).toBe("hang")
    expect(Simulation.describeFault(Simulation.recovered)).toBe("recovered")
  })
})
