import { CircuitBreaker, DegradationLevel, Fallback, InvalidOptionError, Presets } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { calls as breakerCalls, uniqueName } from "./utils.js"

const { Degraded, Emergency, Optimal } = DegradationLevel

/**
 * One dependency, 2 calls per second, 3 consecutive failures open it for
 * 10 s; down from 10 s to 35 s; recovery ticks at 30 s and 60 s.
 */
const small = (options?: { readonly fallback?: boolean }): Simulation.Scenario => ({
  name: uniqueName("small"),
  duration: "70 seconds",
  recoveryInterval: "30 seconds",
  dependencies: [{
    name: "cache",
    whenDown: Degraded(),
    breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("10 seconds") },
    trafficPerSecond: 2,
    ...(options?.fallback === true ? { fallback: { read: Fallback.succeed("from the db") } } : {})
  }],
  faults: [
    { at: "10 seconds", dependency: "cache", fault: Simulation.down() },
    { at: "35 seconds", dependency: "cache", fault: Simulation.recovered() }
  ]
})

describe("Simulation", () => {
  describe("run", () => {
    it.effect("reports level and breaker transitions with their causes, and exact counts", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run(small())
        // 10 s: 2 failures; 11 s: the 3rd opens the breaker (Degraded at once),
        // the 2nd call of that step is rejected. Probes at 21 s and 31 s fail;
        // the fix lands at 35 s, the probe at 41 s closes it, and the recovery
        // tick at 60 s (health check passes, breaker closed) lifts the level.
        expect(report.breakerTransitions.map((t) => [t.at, t.from, t.to])).toEqual([
          [11_000, "Closed", "Open"],
          [21_000, "Open", "HalfOpen"],
          [21_000, "HalfOpen", "Open"],
          [31_000, "Open", "HalfOpen"],
          [31_000, "HalfOpen", "Open"],
          [41_000, "Open", "HalfOpen"],
          [41_000, "HalfOpen", "Closed"]
        ])
        expect(report.levelTransitions.map((t) => [t.at, t.from._tag, t.to._tag, t.kind, t.reason])).toEqual([
          [11_000, "Optimal", "Degraded", "degrade", "cache down"],
          [60_000, "Degraded", "Optimal", "recover", "cache up"]
        ])
        expect(report.faults.map((f) => [f.at, f.dependency, f.fault._tag])).toEqual([
          [10_000, "cache", "Down"],
          [35_000, "cache", "Recovered"]
        ])
        const cache = report.perDependency.cache!
        expect({ ...cache, whenDown: undefined, errorSamples: undefined }).toEqual({
          name: "cache",
          whenDown: undefined,
          calls: 140,
          successes: 78,
          failures: 5,
          timeouts: 0,
          rejections: 57,
          fallbacks: 0,
          errors: 62,
          errorsByTag: { SyntheticError: 5, CircuitOpenError: 57 },
          errorSamples: undefined,
          inFlight: 0,
          timeInState: { Closed: 40_000, Open: 30_000, HalfOpen: 0 }
        })
        expect(cache.errorSamples.SyntheticError).toEqual({ at: 10_000, message: "cache: connection refused" })
        expect(report.timeAtLevel).toEqual({ Optimal: 21_000, Degraded: 49_000, Limited: 0, Minimal: 0, Emergency: 0 })
        expect(report.finalLevel._tag).toBe("Optimal")
        expect(report.worstLevel._tag).toBe("Degraded")
        expect(report.duration).toBe(70_000)
        expect(report.stats.steps).toBe(70)
        expect(report.stats.calls).toBe(140)
        const lines = report.logs.map((l) => [l.at, l.message])
        expect(lines.filter(([, message]) => /^(Degradation|Recovery):/.test(String(message)))).toEqual([
          [11_000, "Degradation: Optimal → Degraded (cache down)"],
          [60_000, "Recovery: Degraded → Optimal (cache up)"]
        ])
        // The breaker's own transitions and the health checks are in the log too.
        expect(lines).toContainEqual([11_000, "Circuit breaker cache: Closed → Open (cache: connection refused)"])
        expect(lines).toContainEqual([41_000, "Circuit breaker cache: HalfOpen → Closed"])
        expect(lines).toContainEqual([30_000, "Health check of cache failed: cache: connection refused"])
      }))

    it.effect("fallbacks answer failed and rejected calls", () =>
      Effect.gen(function*() {
        const cache = (yield* Simulation.run(small({ fallback: true }))).perDependency.cache!
        expect([cache.successes, cache.failures, cache.rejections, cache.fallbacks, cache.errors]).toEqual([78, 5, 57, 62, 0])
      }))

    it("runs from a plain Effect.runPromise, deterministically", async () => {
      const a = await Effect.runPromise(Simulation.run(small()))
      const b = await Effect.runPromise(Simulation.run(small()))
      expect(b.levelTransitions).toEqual(a.levelTransitions)
      expect(b.breakerTransitions).toEqual(a.breakerTransitions)
      expect(b.perDependency).toEqual(a.perDependency)
    })

    it.effect("wakes up once per step: no sleep per call", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          name: uniqueName("wakeups"),
          duration: "10 minutes",
          dependencies: [{ name: "a", whenDown: Degraded(), trafficPerSecond: 100 }],
          step: "5 seconds"
        })
        expect(report.stats.calls).toBe(60_000)
        // 120 steps; the recovery ticks (every 30 s) fall on step instants.
        expect(report.stats.wakeUps).toBe(120)
        expect(report.perDependency.a!.successes).toBe(60_000)
      }))

    it.effect("traffic below one call per step accumulates", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          name: uniqueName("fraction"),
          duration: "10 seconds",
          dependencies: [{ name: "a", whenDown: Degraded(), trafficPerSecond: 0.5, writeShare: 0.5 }]
        })
        expect(report.perDependency.a!.calls).toBe(5)
      }))

    it.effect("an interrupted run stops", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Simulation.run({
          name: uniqueName("long"),
          duration: "1000 hours",
          dependencies: [{ name: "a", whenDown: Degraded() }]
        }))
        yield* Effect.yieldNow()
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
      }))

    it.effect("an invalid scenario is a defect naming the option", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Simulation.run({
          ...small(),
          faults: [{ at: "1 second", dependency: "nope", fault: Simulation.down() }]
        }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(defect).toBeInstanceOf(InvalidOptionError)
        expect((defect as InvalidOptionError).option).toBe("faults[0].dependency")
        const flaky = yield* Effect.exit(Simulation.run({
          ...small(),
          faults: [{ at: "1 second", dependency: "cache", fault: Simulation.flaky(2) }]
        }))
        expect(Exit.isFailure(flaky) ? (Cause.squash(flaky.cause) as any).option : undefined).toBe("faults[0].fault.rate")
      }))

    it.effect("negative or NaN durations are rejected, not read as zero", () =>
      Effect.gen(function*() {
        const optionOf = (scenario: Simulation.Scenario) =>
          Effect.exit(Simulation.run(scenario)).pipe(
            Effect.map((exit) => {
              assert(Exit.isFailure(exit) && Cause.isDie(exit.cause))
              const defect = Cause.squash(exit.cause)
              assert(defect instanceof InvalidOptionError)
              return defect.option
            })
          )
        const at = (input: Duration.DurationInput) => ({
          ...small(),
          faults: [{ at: input, dependency: "cache", fault: Simulation.down() }]
        })
        expect(yield* optionOf(at("-1 minute"))).toBe("faults[0].at")
        expect(yield* optionOf(at(-60_000))).toBe("faults[0].at")
        expect(yield* optionOf(at(NaN))).toBe("faults[0].at")
        const withDependency = (extra: object): Simulation.Scenario => ({
          name: uniqueName("bad"),
          duration: "10 seconds",
          dependencies: [{ name: "a", whenDown: Degraded(), ...extra }]
        })
        expect(yield* optionOf(withDependency({ latency: -5 }))).toBe("dependencies[0].latency")
        expect(yield* optionOf(withDependency({ healthCheck: "no" }))).toBe("dependencies[0].healthCheck")
      }))

    it.effect("a last step cut short by the end issues its share of the calls", () =>
      Effect.gen(function*() {
        const calls = (duration: Duration.DurationInput, step: Duration.DurationInput) =>
          Effect.map(
            Simulation.run({
              name: uniqueName("share"),
              duration,
              step,
              dependencies: [{ name: "a", whenDown: Degraded(), trafficPerSecond: 10 }]
            }),
            (report) => report.stats.calls
          )
        expect(yield* calls("2500 millis", "1 second")).toBe(25)
        expect(yield* calls("10 seconds", "4 seconds")).toBe(100)
      }))
  })

  describe("faults", () => {
    it.effect("slow: calls hit callTimeout, counted as timeouts, and the breaker opens", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          name: uniqueName("slow"),
          duration: "20 seconds",
          dependencies: [{
            name: "db",
            whenDown: DegradationLevel.Minimal(),
            breaker: { trip: CircuitBreaker.consecutiveFailures(3), reset: Schedule.spaced("1 minute") },
            callTimeout: "2 seconds",
            trafficPerSecond: 1
          }],
          faults: [{ at: "5 seconds", dependency: "db", fault: Simulation.slow("10 seconds") }]
        })
        // Calls from 5 s, 6 s, 7 s time out at 7 s, 8 s, 9 s: the 3rd opens it.
        // The call from 8 s times out at 10 s; from 9 s on, calls are rejected.
        expect(report.breakerTransitions.map((t) => [t.at, t.to])).toEqual([[9_000, "Open"]])
        expect(report.levelTransitions.map((t) => [t.at, t.to._tag])).toEqual([[9_000, "Minimal"]])
        const db = report.perDependency.db!
        expect([db.successes, db.timeouts, db.failures, db.rejections, db.inFlight]).toEqual([5, 4, 0, 11, 0])
        expect(db.errorsByTag).toEqual({ CallTimeoutError: 4, CircuitOpenError: 11 })
        // The slow calls sleep on virtual time: a handful of wake-ups, not one per call.
        expect(report.stats.wakeUps).toBeLessThanOrEqual(21)
      }))

    it.effect("modelled timeouts give the same report as the breaker's own callTimeout", () =>
      Effect.gen(function*() {
        const scenario = (timeouts: "modelled" | "breaker"): Simulation.Scenario => ({
          name: uniqueName("timeouts"),
          duration: "3 minutes",
          timeouts,
          dependencies: [
            {
              name: "db",
              whenDown: DegradationLevel.Minimal(),
              breaker: {
                trip: CircuitBreaker.consecutiveFailures(3),
                reset: Schedule.spaced("20 seconds"),
                // timeouts count whatever isFailure says, modelled or not
                isFailure: (error) => error instanceof Simulation.SyntheticError
              },
              callTimeout: "2 seconds",
              latency: "500 millis",
              trafficPerSecond: 3,
              writeShare: 0.5,
              fallback: { write: Fallback.succeed("queued") }
            },
            { name: "ai", whenDown: DegradationLevel.Limited(), callTimeout: "3 seconds", trafficPerSecond: 2 }
          ],
          faults: [
            { at: "20 seconds", dependency: "db", fault: Simulation.slow("4 seconds") },
            { at: "30 seconds", dependency: "ai", fault: Simulation.slow("1 minute") },
            { at: "1 minute", dependency: "db", fault: Simulation.flaky(0.5) },
            { at: "90 seconds", dependency: ["db", "ai"], fault: Simulation.recovered() }
          ]
        })
        const modelled = yield* Simulation.run(scenario("modelled"))
        const breaker = yield* Simulation.run(scenario("breaker"))
        expect(modelled.perDependency.db!.timeouts).toBeGreaterThan(0)
        expect(modelled.perDependency.ai!.timeouts).toBeGreaterThan(0)
        expect(modelled.levelTransitions).toEqual(breaker.levelTransitions)
        expect(modelled.breakerTransitions).toEqual(breaker.breakerTransitions)
        expect(modelled.perDependency).toEqual(breaker.perDependency)
      }))

    it.effect("modelled timeouts are failures in the breaker's metrics, the breaker's own are timeouts", () =>
      Effect.gen(function*() {
        const run = (timeouts: "modelled" | "breaker") => {
          const name = uniqueName(`metrics-${timeouts}`)
          return Simulation.run({
            name,
            duration: "20 seconds",
            timeouts,
            dependencies: [{
              name,
              whenDown: DegradationLevel.Minimal(),
              // modelled timeouts count whatever isFailure says
              breaker: { trip: CircuitBreaker.consecutiveFailures(3), isFailure: () => false },
              callTimeout: "2 seconds",
              trafficPerSecond: 1
            }],
            faults: [{ at: "5 seconds", dependency: name, fault: Simulation.slow("10 seconds") }]
          }).pipe(Effect.map((report) => [name, report] as const))
        }
        const [modelled, modelledReport] = yield* run("modelled")
        expect(modelledReport.perDependency[modelled]!.timeouts).toBe(4)
        expect(modelledReport.breakerTransitions.map((t) => [t.at, t.to])).toEqual([[9_000, "Open"]])
        expect([yield* breakerCalls(modelled, "failure"), yield* breakerCalls(modelled, "timeout")]).toEqual([4, 0])
        const [own, ownReport] = yield* run("breaker")
        expect(ownReport.perDependency[own]!.timeouts).toBe(4)
        expect([yield* breakerCalls(own, "failure"), yield* breakerCalls(own, "timeout")]).toEqual([0, 4])
      }))

    it.effect("flaky at rate r: about r of the calls fail, reproducibly for a seed", () =>
      Effect.gen(function*() {
        const scenario = (seed: number): Simulation.Scenario => ({
          name: uniqueName("flaky"),
          duration: "100 seconds",
          seed,
          dependencies: [{
            name: "ai",
            whenDown: DegradationLevel.Limited(),
            breaker: { trip: CircuitBreaker.consecutiveFailures(1000) },
            trafficPerSecond: 100,
            healthCheck: false
          }],
          faults: [{ at: "0 seconds", dependency: "ai", fault: Simulation.flaky(0.3) }]
        })
        const a = yield* Simulation.run(scenario(1))
        const again = yield* Simulation.run(scenario(1))
        const other = yield* Simulation.run(scenario(2))
        const failures = a.perDependency.ai!.failures
        expect(a.perDependency.ai!.calls).toBe(10_000)
        // 30 % of 10,000: σ ≈ 46
        expect(failures).toBeGreaterThan(2_800)
        expect(failures).toBeLessThan(3_200)
        expect(again.perDependency.ai!.failures).toBe(failures)
        expect(other.perDependency.ai!.failures).not.toBe(failures)
        expect(a.levelTransitions).toEqual([])
      }))

    it.effect("a fault can hit several dependencies; three down is an Emergency", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          name: uniqueName("all"),
          duration: "30 seconds",
          dependencies: ["a", "b", "c"].map((name) => ({ name, whenDown: Degraded() })),
          faults: [{ at: "10 seconds", dependency: ["a", "b", "c"], fault: Simulation.down() }],
          expect: [Simulation.expectReaches(Emergency(), { after: "10 seconds", within: "0 seconds" })]
        })
        expect(report.levelTransitions.map((t) => [t.at, t.to._tag, t.reason])).toEqual([
          [10_000, "Degraded", "a down"],
          [10_000, "Emergency", "b, c down"]
        ])
        expect(report.ok).toBe(true)
      }))
  })

  describe("expectations", () => {
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
            Simulation.expectThat("no timeouts", (r) => r.perDependency.cache!.timeouts === 0),
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

  describe("renderers", () => {
    it.effect("the timeline lists faults, breaker and level changes, time at level, counts and checks", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({ ...small(), expect: [Simulation.expectFinalLevel(Emergency())] })
        const text = Simulation.renderTimeline(report)
        expect(text).not.toContain("\x1b[")
        expect(text).toContain("00:00:10  fault    cache down")
        expect(text).toContain("00:00:11  breaker  cache  Closed → Open")
        expect(text).toContain("00:00:11  level    Optimal → Degraded  (cache down) [degrade]")
        expect(text).toContain("00:00:21  breaker  cache  2 failed probes, each reopening it (until 00:00:31)")
        expect(text).toContain("00:00:41  breaker  cache  Open → HalfOpen → Closed")
        expect(text).toContain("00:01:00  level    Degraded → Optimal  (cache up) [recover]")
        expect(text).toMatch(/Degraded\s+49s\s+70\.0%/)
        expect(text).toMatch(/cache\s+140\s+78\s+5\s+0\s+57\s+0\s+62\s+30s\s+SyntheticError 5, CircuitOpenError 57/)
        expect(text).toContain("✘ final level is Emergency  — final level was Optimal")
        const all = Simulation.renderTimeline(report, { allBreakerTransitions: true, color: true })
        expect(all).toContain("\x1b[")
        // Transitions of one instant chain on one line: 11 s, 21 s, 31 s, 41 s.
        expect(all.split("\n").filter((l) => l.includes("breaker") && l.includes("cache")).length).toBe(4)
        const plain = Simulation.renderTimeline(report, { allBreakerTransitions: true })
        expect(plain).toContain("00:00:21  breaker  cache  Open → HalfOpen → Open")
      }))

    it.effect("the SVG is self-contained: levels, lanes, markers, axis, transitions and checks", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({ ...small(), description: "a <small> & simple one" })
        const svg = Simulation.renderSvg(report)
        expect(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg"`)).toBe(true)
        expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
        expect(svg).not.toMatch(/href=|<script/)
        expect(svg).toContain("a &lt;small&gt; &amp; simple one")
        for (const level of DegradationLevel.all) expect(svg).toContain(`>${level._tag}</text>`)
        expect(svg).toContain(`>cache</text>`)
        expect(svg).toContain(`>down</text>`)
        expect(svg.match(/<circle /g)?.length).toBe(2)
        expect(svg).toContain(">0:00</text>")
        expect(svg).toContain(">1:00</text>")
        expect(svg).toContain("(cache down)")
        expect(svg).toContain("(cache up)")
      }))

    it.effect("the SVG legend names the fault band, and half-open has a colour of its own", () =>
      Effect.gen(function*() {
        const report = yield* Simulation.run({
          ...small(),
          faults: [{ at: "10 seconds", dependency: "cache", fault: Simulation.flaky(0.5) }]
        })
        const svg = Simulation.renderSvg(report)
        const legendFill = (label: string): string => {
          const entry = new RegExp(`<rect [^>]*fill="(#[0-9a-f]{6})"[^>]*/>\\s*<text [^>]*>${label.replace(/[()]/g, "\\$&")}</text>`)
          const match = svg.match(entry)
          assert(match !== null, `no legend entry for ${label}`)
          return match[1]!
        }
        // The band drawn over the level chart while a fault is active, and its legend entry.
        const band = svg.match(/<rect [^>]*height="120" fill="(#[0-9a-f]{6})" fill-opacity="([\d.]+)"\/>/)
        assert(band !== null, "no fault band over the level chart")
        const bandEntry = svg.match(/<rect [^>]*fill="(#[0-9a-f]{6})" fill-opacity="([\d.]+)"[^>]*\/>\s*<text [^>]*>any fault active<\/text>/)
        assert(bandEntry !== null, "no legend entry for the fault band")
        expect([bandEntry[1], bandEntry[2]]).toEqual([band[1], band[2]])
        const halfOpen = legendFill("half-open (probe)")
        const flaky = legendFill("fault: flaky")
        expect(halfOpen).not.toBe(flaky)
        // and the flaky lane really is painted with the flaky colour
        expect(svg).toContain(`height="14" fill="${flaky}"/>`)
      }))

    it("formats times and faults", () => {
      expect(Simulation.formatTime(3_723_000)).toBe("01:02:03")
      expect(Simulation.formatTime(1_500)).toBe("00:00:01.500")
      expect(Simulation.describeFault(Simulation.slow("30 seconds"))).toBe("slow (30s)")
      expect(Simulation.describeFault(Simulation.flaky(0.25))).toBe("flaky (25%)")
    })
  })
  it.live("a timeout around a long run interrupts it", () =>
    Effect.gen(function*() {
      // 1000 simulated hours take ~15 minutes of CPU: the run yields to the
      // event loop every ~50 ms, or the timer could not fire before it ends
      // (and the test would run into vitest's timeout).
      const result = yield* Simulation.run({
        name: "endless",
        duration: "1000 hours",
        dependencies: [{ ...Presets.redis, name: "endless-redis", trafficPerSecond: 10 }],
        faults: []
      }).pipe(Effect.timeout("100 millis"), Effect.option)
      expect(result._tag).toBe("None")
    }))
})
