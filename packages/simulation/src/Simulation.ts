/**
 * Outage scenarios in virtual time: a set of dependencies under synthetic
 * traffic, scripted faults, and a report of what the breakers and the
 * degradation level did.
 *
 * ```ts
 * const report = yield* Simulation.run({
 *   name: "redis-down",
 *   duration: "10 minutes",
 *   dependencies: [{ ...Presets.redis, trafficPerSecond: 10 }, { ...Presets.db, trafficPerSecond: 10 }],
 *   faults: [
 *     { at: "1 minute", dependency: "redis", fault: Simulation.down() },
 *     { at: "4 minutes", dependency: "redis", fault: Simulation.recovered() }
 *   ],
 *   expect: [
 *     Simulation.expectReaches(DegradationLevel.Degraded(), { after: "1 minute", within: "1 second" }),
 *     Simulation.expectFinalLevel(DegradationLevel.Optimal())
 *   ]
 * })
 * yield* Effect.log(Simulation.renderTimeline(report))
 * ```
 *
 * Each dependency is a synthetic service (members `read` and `write`) whose
 * behaviour is its current {@link Fault}, wrapped by `Dependency.wrap` (its
 * breaker, call timeout and fallbacks) and registered with a fresh
 * `Degradation` (its health check pings the raw service, so it sees a fix
 * before the breaker does).
 *
 * Time is virtual and owned by the simulation: `run` drives its own clock and
 * scheduler (a discrete-event loop: run every fiber until all wait, then jump
 * to the next timer), so it works the same from `Effect.runPromise` and inside
 * a test, is deterministic (`Random` is seeded), and costs microseconds per
 * wake-up instead of the real-timer settling of `TestClock.adjust`. Everything
 * the simulated program does must happen inside Effect: a fallback awaiting a
 * real Promise or socket would never be resumed.
 *
 * The breakers report to the global metric registry under the dependency
 * names, like any breaker, and the simulated `Degradation` sets the
 * `degradation_level` gauge: run simulations in a process of their own (a
 * test, the demo), not next to a live service's exporter. The report's counts
 * are the simulation's own and do not depend on the registry.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { CircuitBreaker, Degradation, DegradationLevel as Level, DegradationPolicy } from "@effect-resilience/core"
import * as internal from "./internal/simulation.js"
import * as render from "./internal/simulationRender.js"

// -----------------------------------------------------------------------------
// faults
// -----------------------------------------------------------------------------

/**
 * How a synthetic dependency behaves from the moment a fault is applied:
 *
 * - `Down`: every call and health check fails at once.
 * - `Slow`: every call and health check takes `latency` (then succeeds): a
 *   latency above `callTimeout` gives `CallTimeoutError`s; one that reaches
 *   the health-check timeout fails the check (on a tie the timeout wins).
 * - `Flaky`: each call and health check fails with probability `rate`.
 * - `Recovered`: back to normal.
 *
 * @since 0.1.0
 * @category faults
 */
export type Fault = Data.TaggedEnum<{
  Down: {}
  Slow: { readonly latency: Duration.Duration }
  Flaky: { readonly rate: number }
  Recovered: {}
}>

const Fault = Data.taggedEnum<Fault>()

/**
 * Every call fails at once (connection refused).
 *
 * @since 0.1.0
 * @category faults
 */
export const down = (): Fault => Fault.Down()

/**
 * Every call takes `latency`, then succeeds.
 *
 * @since 0.1.0
 * @category faults
 */
export const slow = (latency: Duration.DurationInput): Fault => Fault.Slow({ latency: Duration.decode(latency) })

/**
 * Each call fails with probability `rate` (0 … 1), drawn from the scenario's
 * seeded `Random`.
 *
 * @since 0.1.0
 * @category faults
 */
export const flaky = (rate: number): Fault => Fault.Flaky({ rate })

/**
 * The dependency is back to normal.
 *
 * @since 0.1.0
 * @category faults
 */
export const recovered = (): Fault => Fault.Recovered()

/**
 * A short description: `down`, `slow (30s)`, `flaky (20%)`, `recovered`.
 *
 * @since 0.1.0
 * @category faults
 */
export const describeFault: (fault: Fault) => string = render.describeFault

/**
 * The error of a synthetic call or health check that failed because of a fault.
 *
 * @since 0.1.0
 * @category faults
 */
export const SyntheticError = internal.SyntheticError

/**
 * The instance type of {@link SyntheticError}.
 *
 * @since 0.1.0
 * @category faults
 */
export type SyntheticError = internal.SyntheticError

// -----------------------------------------------------------------------------
// scenarios
// -----------------------------------------------------------------------------

/**
 * What a call answers when its dependency is unavailable: a `Fallback`
 * constructor fits (`Fallback.succeed(cached)`, `Presets.writesBlocked("db")`).
 * It receives the error that made the call unavailable.
 *
 * @since 0.1.0
 * @category models
 */
export type CallFallback = (error: unknown, ...args: ReadonlyArray<any>) => Effect.Effect<unknown, unknown>

/**
 * A simulated dependency. The `name`, `whenDown`, `breaker` and `callTimeout`
 * fields are those of `Dependency.Options`, so a preset spreads into it:
 * `{ ...Presets.redis, trafficPerSecond: 10 }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DependencySpec {
  /** Names the dependency and its breaker. */
  readonly name: string
  /** The level this dependency's outage calls for. */
  readonly whenDown: Level.DegradationLevel
  /** Breaker options (default: those of `CircuitBreaker.make`). */
  readonly breaker?: Omit<CircuitBreaker.Options, "name" | "callTimeout"> | undefined
  /** A call that takes longer is interrupted and counted as a timeout. */
  readonly callTimeout?: Duration.DurationInput | undefined
  /**
   * Synthetic calls per second (default 10), issued in one batch per step
   * (a fraction carries over to the next step). Calls that answer at once run
   * one after another in one fiber per step; while the dependency is slow
   * (a `slow` fault or a `latency`), each call gets a fiber of its own, so
   * slow calls overlap and never hold back the next step. (A fallback that
   * sleeps would hold back the rest of its step's batch.)
   */
  readonly trafficPerSecond?: number | undefined
  /** The share of calls that are writes (0 … 1, default 0), spread evenly. */
  readonly writeShare?: number | undefined
  /** How long a healthy call takes (default 0: answers at once). */
  readonly latency?: Duration.DurationInput | undefined
  /** Whether the recovery fiber pings the raw service (default `true`). */
  readonly healthCheck?: boolean | undefined
  /** Per-operation fallbacks (default none: callers see the breaker errors). */
  readonly fallback?: {
    readonly read?: CallFallback | undefined
    readonly write?: CallFallback | undefined
  } | undefined
}

/**
 * A fault applied at `at` (from the start of the scenario) to one or several
 * dependencies. Faults apply before anything else that happens at the same
 * instant.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduledFault {
  readonly at: Duration.DurationInput
  readonly dependency: string | ReadonlyArray<string>
  readonly fault: Fault
}

/**
 * A scenario for {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scenario {
  /** Names the scenario (and its SVG file in the demo). */
  readonly name: string
  /** One line on what happens and what should happen. */
  readonly description?: string | undefined
  /** Virtual time simulated. */
  readonly duration: Duration.DurationInput
  /**
   * The traffic batch interval (default 1 second): every step, each
   * dependency gets `trafficPerSecond × step` calls at once.
   */
  readonly step?: Duration.DurationInput | undefined
  /** `Degradation` recovery interval (default 30 seconds). */
  readonly recoveryInterval?: Duration.DurationInput | undefined
  /** `Degradation` health check timeout (default 5 seconds). */
  readonly healthCheckTimeout?: Duration.DurationInput | undefined
  /** `Degradation` policy (default `DegradationPolicy.defaultPolicy`). */
  readonly policy?: DegradationPolicy.DegradationPolicy | undefined
  /**
   * How `callTimeout` is applied (default `"modelled"`):
   *
   * - `"modelled"`: the synthetic service knows how long a call will take, so
   *   a call slower than `callTimeout` takes `callTimeout` and fails with a
   *   `CallTimeoutError` in the dependency's name; the breaker runs without a
   *   timeout and counts that error as a failure whatever `isFailure` says.
   *   Same trips, fallbacks and report (where these calls are `timeouts`),
   *   but the breaker's metrics record them with `outcome="failure"`, not
   *   `"timeout"`: only a breaker's own deadline makes a timeout. Cheap: the
   *   breaker's timeout races a timer fiber against every call, which is most
   *   of the cost of a simulated hour.
   * - `"breaker"`: the breaker's own `callTimeout`, exactly as in production,
   *   about five times slower per call.
   */
  readonly timeouts?: "modelled" | "breaker" | undefined
  /** Seed of the scenario's `Random` (flaky faults, jittered schedules). Default 0. */
  readonly seed?: number | string | undefined
  readonly dependencies: ReadonlyArray<DependencySpec>
  readonly faults?: ReadonlyArray<ScheduledFault> | undefined
  /** Outcome assertions, evaluated on the report into {@link Report.checks}. */
  readonly expect?: ReadonlyArray<Expectation> | undefined
}

// -----------------------------------------------------------------------------
// reports
// -----------------------------------------------------------------------------

/**
 * A change of degradation level. Times are milliseconds from the start of the
 * scenario.
 *
 * @since 0.1.0
 * @category models
 */
export interface LevelTransition {
  readonly at: number
  readonly from: Level.DegradationLevel
  readonly to: Level.DegradationLevel
  readonly kind: Degradation.Transition["kind"]
  /** What went down or came up, as `Degradation` logs it. */
  readonly reason: string
}

/**
 * A breaker transition.
 *
 * @since 0.1.0
 * @category models
 */
export interface BreakerTransition {
  readonly at: number
  readonly dependency: string
  readonly from: CircuitBreaker.State["_tag"]
  readonly to: CircuitBreaker.State["_tag"]
}

/**
 * A fault as it was applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppliedFault {
  readonly at: number
  readonly dependency: string
  readonly fault: Fault
}

/**
 * What one dependency saw. Every call ends as exactly one of `successes`,
 * `failures`, `timeouts`, `rejections`, or is still `inFlight` at the end.
 *
 * @since 0.1.0
 * @category models
 */
export interface DependencyReport {
  readonly name: string
  readonly whenDown: Level.DegradationLevel
  /** Calls issued. */
  readonly calls: number
  readonly successes: number
  /** Calls that ran and failed (timeouts excluded). */
  readonly failures: number
  /** Calls interrupted by `callTimeout` (`CallTimeoutError`). */
  readonly timeouts: number
  /** Calls the breaker refused (`CircuitOpenError`). */
  readonly rejections: number
  /** Failed, timed-out or rejected calls answered by a fallback. */
  readonly fallbacks: number
  /** Calls whose caller got an error (after the fallback, if any). */
  readonly errors: number
  /** `errors` by the `_tag` of the error the caller got. */
  readonly errorsByTag: Readonly<Record<string, number>>
  /** The first error of each `_tag` the caller got: when, and its message. */
  readonly errorSamples: Readonly<Record<string, { readonly at: number; readonly message: string }>>
  /** Calls still running when the scenario ended. */
  readonly inFlight: number
  /** Milliseconds the breaker spent in each state. */
  readonly timeInState: Readonly<Partial<Record<CircuitBreaker.State["_tag"], number>>>
}

/**
 * A log line of the simulated program (`Degradation: Optimal → Degraded (redis down)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface LogLine {
  readonly at: number
  readonly level: string
  readonly message: string
}

/**
 * The outcome of an {@link Expectation}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Check {
  readonly description: string
  readonly ok: boolean
  /** What was observed. */
  readonly detail: string
}

/**
 * What running the scenario cost.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Distinct virtual instants the clock advanced to. */
  readonly wakeUps: number
  /** Timers fired (several can share an instant). */
  readonly timersFired: number
  /** Traffic steps run. */
  readonly steps: number
  /** Calls issued, all dependencies together. */
  readonly calls: number
  /** Wall-clock milliseconds the run took. */
  readonly wallMillis: number
}

/**
 * The report of a scenario. Every time is in milliseconds from its start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly name: string
  readonly description: string | undefined
  /** Milliseconds simulated. */
  readonly duration: number
  /** Traffic step, milliseconds. */
  readonly step: number
  /** Recovery interval, milliseconds. */
  readonly recoveryInterval: number
  readonly faults: ReadonlyArray<AppliedFault>
  readonly levelTransitions: ReadonlyArray<LevelTransition>
  readonly breakerTransitions: ReadonlyArray<BreakerTransition>
  /** Per dependency, in the scenario's order. */
  readonly perDependency: Readonly<Record<string, DependencyReport>>
  /** Milliseconds spent at each level (every level present, 0 when never reached). */
  readonly timeAtLevel: Readonly<Record<Level.Tag, number>>
  readonly finalLevel: Level.DegradationLevel
  readonly worstLevel: Level.DegradationLevel
  readonly checks: ReadonlyArray<Check>
  /** `true` when every check passed. */
  readonly ok: boolean
  readonly logs: ReadonlyArray<LogLine>
  readonly stats: Stats
}

/**
 * An outcome assertion: `check` reads the report (whose `checks` are not
 * filled in yet).
 *
 * @since 0.1.0
 * @category expectations
 */
export interface Expectation {
  readonly description: string
  readonly check: (report: Report) => { readonly ok: boolean; readonly detail: string }
}

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

/**
 * Runs a scenario in virtual time and reports what happened. An invalid
 * scenario is a defect (`InvalidOptionError`) naming the
 * option.
 *
 * @since 0.1.0
 * @category running
 */
export const run: (scenario: Scenario) => Effect.Effect<Report> = internal.run

/**
 * The level in force at `at` (after everything that happened at that instant).
 *
 * @since 0.1.0
 * @category reports
 */
export const levelAt: (report: Report, at: Duration.DurationInput) => Level.DegradationLevel = internal.levelAt

// -----------------------------------------------------------------------------
// expectations
// -----------------------------------------------------------------------------

/**
 * The level at `at` is `level`.
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectLevel: (at: Duration.DurationInput, level: Level.DegradationLevel) => Expectation =
  internal.expectLevel

/**
 * The level at `at` is `level` or worse.
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectLevelAtLeast: (at: Duration.DurationInput, level: Level.DegradationLevel) => Expectation =
  internal.expectLevelAtLeast

/**
 * The level is `level` at some instant in `[after, after + within]`.
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectReaches: (
  level: Level.DegradationLevel,
  options: { readonly after: Duration.DurationInput; readonly within: Duration.DurationInput }
) => Expectation = internal.expectReaches

/**
 * The level is never worse than `level` between `from` (default the start)
 * and `until` (default the end).
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectNeverWorseThan: (
  level: Level.DegradationLevel,
  options?: { readonly from?: Duration.DurationInput | undefined; readonly until?: Duration.DurationInput | undefined }
) => Expectation = internal.expectNeverWorseThan

/**
 * The level at the end is `level`.
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectFinalLevel: (level: Level.DegradationLevel) => Expectation = internal.expectFinalLevel

/**
 * The level in force at `after` (default the start), then every level applied
 * after it, are exactly `levels`, in order: `[Emergency, Limited, Degraded,
 * Optimal]` for a stepwise recovery.
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectSequence: (
  levels: ReadonlyArray<Level.DegradationLevel>,
  options?: { readonly after?: Duration.DurationInput | undefined }
) => Expectation = internal.expectSequence

/**
 * Any assertion on the report: `predicate` answers `true`/`false`, or a
 * string that explains a failure (`true` and `undefined` pass).
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectThat: (
  description: string,
  predicate: (report: Report) => boolean | string | undefined
) => Expectation = internal.expectThat

// -----------------------------------------------------------------------------
// rendering
// -----------------------------------------------------------------------------

/**
 * Options of {@link renderTimeline}.
 *
 * @since 0.1.0
 * @category rendering
 */
export interface TimelineOptions {
  /** ANSI colours (default `false`; pass `process.stdout.isTTY`). */
  readonly color?: boolean | undefined
  /** Every breaker transition instead of folding repeated failed probes (default `false`). */
  readonly allBreakerTransitions?: boolean | undefined
}

/**
 * A terminal timeline: faults, breaker transitions and level changes in
 * order (`00:01:00  level    Optimal → Degraded  (redis down)`), time at each
 * level, a per-dependency table and the checks.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderTimeline: (report: Report, options?: TimelineOptions) => string = render.renderTimeline

/**
 * A self-contained SVG chart: the level as a step line over time, and per
 * dependency a lane with its faults and its breaker states.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderSvg: (report: Report) => string = render.renderSvg

/**
 * `hh:mm:ss` (with `.mmm` when needed) of milliseconds from the start.
 *
 * @since 0.1.0
 * @category rendering
 */
export const formatTime: (millis: number) => string = render.formatTime
