/**
 * Outage scenarios on the application's own layers, in virtual time under
 * `TestClock`: the app's `Dependency` layers over `Faults`-wrapped raw
 * services, a script of faults, traffic, and a report of what the breakers
 * and the degradation level did.
 *
 * ```ts
 * const report = yield* Simulation.run({
 *   name: "redis-down",
 *   duration: "8 minutes",
 *   layer: AppLive, // Cache, Db, … (Dependency layers over Faults.layer) and Degradation
 *   faults: [
 *     { at: "1 minute", dependency: "redis", fault: Faults.down },
 *     { at: "250 seconds", dependency: "redis", fault: Simulation.recovered }
 *   ],
 *   traffic: [
 *     Simulation.calls(Cache, "getPrice", { perSecond: 10, args: (i) => [`p${i % 50}`] }),
 *     Simulation.traffic("GET /price", getPrice("p1"), { perSecond: 5 })
 *   ],
 *   expect: [
 *     Simulation.expectReaches(DegradationLevel.Degraded(), { after: "1 minute", within: "1 second" }),
 *     Simulation.expectFinalLevel(DegradationLevel.Optimal())
 *   ]
 * })
 * yield* Effect.log(Simulation.renderTimeline(report))
 * ```
 *
 * Time is `TestClock`'s: inside `it.effect` the scenario runs on the test's
 * own clock (starting wherever the test left it); anywhere else `run`
 * provides a fresh `TestContext`. The layer is built in the run's scope, so
 * its breakers, recovery fiber and timers all run on that clock, and closed
 * when the report is made.
 *
 * `TestClock.adjust` settles the program with real macrotasks after every
 * timer it wakes (three `setTimeout(0)`s, 3–4 ms of wall time), so the run is
 * built for few wake-ups: the traffic of a step is issued in one batch by one
 * driver fiber that sleeps from one instant of the script to the next, the
 * clock moves in a single `adjust` over the whole run, and `Faults.slow`
 * shares one timer among the calls of an instant. Timers of the program due
 * at a step's instant may fire before or after that step's traffic (the
 * order is `TestClock`'s, the same on every run). `bench/simulation.mjs`
 * measures the cost.
 *
 * Breaker and retry counts in the report (`perDependency`) are read from the
 * global metric registry as deltas over the run (the breakers and the retry
 * stages record there, as in production; read at the start and the end
 * only): run one scenario at a time per process, with dependency names no
 * live service in the same process uses.
 *
 * @since 0.1.0
 */
import type { CircuitBreaker, Degradation, DegradationLevel as Level } from "@effect-resilience/core"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Faults from "./Faults.js"
import * as internal from "./internal/simulation.js"
import * as render from "./internal/simulationRender.js"

// -----------------------------------------------------------------------------
// script
// -----------------------------------------------------------------------------

/**
 * The end of a dependency's faults in a script: `Faults.recover` at that instant.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recovered {
  readonly _tag: "Recovered"
}

/**
 * Ends the faults of the dependency (or of `member` only) at that instant.
 *
 * @since 0.1.0
 * @category constructors
 */
export const recovered: Recovered = internal.recovered

/**
 * What a script does to a dependency: a `Faults` fault, or {@link recovered}.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultAction = Faults.Fault | Recovered

/**
 * A fault applied at `at` (from the start of the scenario) to one or several
 * dependencies, named as `Faults.layer` names them (its `name` option, by
 * default the Tag's key) or by the Tag it wraps. A fault is in place before
 * anything else due at its instant happens (it is applied 1 ms earlier, the
 * clock's resolution); faults must be listed in time order.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduledFault {
  readonly at: Duration.DurationInput
  readonly dependency: DependencyRef | ReadonlyArray<DependencyRef>
  /** One member only (default: the whole service). */
  readonly member?: string | undefined
  readonly fault: FaultAction
}

/**
 * A dependency in a script: the name `Faults.layer` gave it, or the Tag it wraps.
 *
 * @since 0.1.0
 * @category models
 */
export type DependencyRef = string | Context.Tag<any, any>

/**
 * Load on the program: `perSecond` runs of `call` per second of virtual
 * time, issued in one batch at the start of every step (fractions carry over
 * to the next step). The runs of a step start one after the other, each as
 * soon as the one before answers or suspends, and each from the same
 * FiberRefs: a slow one holds back neither the others nor the next step.
 * Built by {@link calls} or {@link traffic}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Traffic<out R> {
  readonly name: string
  readonly perSecond: number
  /**
   * The Tag and member {@link calls} targets (and the arguments of its `i`-th
   * call), checked against the built layer and called on the service it built.
   */
  readonly target:
    | {
      readonly tag: Context.Tag<any, any>
      readonly member: string
      readonly args?: ((i: number) => ReadonlyArray<unknown>) | undefined
    }
    | undefined
  /** The `i`-th run (from 0) of this traffic. */
  readonly call: (i: number) => Effect.Effect<unknown, unknown, R>
}

/**
 * The arguments of a member: a method's parameters, none for an Effect.
 *
 * @since 0.1.0
 * @category models
 */
export type MemberArgs<M> = M extends (...args: infer A) => any ? A : []

/**
 * The members of `S` traffic can call: Effects and methods.
 *
 * @since 0.1.0
 * @category models
 */
export type CallableMember<S> =
  & {
    [K in keyof S]-?: S[K] extends Effect.Effect<any, any, any> ? K : S[K] extends (...args: any) => any ? K : never
  }[keyof S]
  & string

/**
 * Calls `member` of the service of `tag` as the application does, through
 * whatever the layer provides for `tag` (the `Dependency`-wrapped service),
 * `perSecond` times per second; `args(i)` gives the arguments of the `i`-th
 * call. Named `tag-key.member` unless `name` says otherwise:
 * `Simulation.calls(Cache, "getPrice", { perSecond: 10, args: (i) => [`p${i % 50}`] })`.
 *
 * Bad arguments throw an `InvalidOptionError` from `Simulation.calls` naming
 * the one at fault: `tag`, `member`, `options`, `perSecond` (a finite number
 * ≥ 0), `args`, `name`. Whether the layer has that Tag and member is checked
 * by {@link run} (`traffic[1]`, `traffic[1].member`).
 *
 * @example
 * ```ts
 * import { InvalidOptionError } from "@effect-resilience/core"
 * import { Simulation } from "@effect-resilience/simulation"
 * import { Context, Effect } from "effect"
 *
 * class Cache extends Context.Tag("Cache")<Cache, {
 *   readonly get: (key: string) => Effect.Effect<string>
 * }>() {}
 *
 * const reads = Simulation.calls(Cache, "get", { perSecond: 10, args: (i) => [`p${i % 50}`] })
 * console.log(reads.name, reads.perSecond)
 * // Output: Cache.get 10
 *
 * try {
 *   Simulation.calls(Cache, "get", { perSecond: Number.NaN })
 * } catch (error) {
 *   if (error instanceof InvalidOptionError) console.log(error.message)
 *   // Output: Simulation.calls: option "perSecond" must be a finite number ≥ 0, got NaN
 * }
 * ```
 *
 * @since 0.1.0
 * @category traffic
 */
export const calls: <I, S, K extends CallableMember<S>>(
  tag: Context.Tag<I, S>,
  member: K,
  options: {
    readonly perSecond: number
    readonly args?: ((i: number) => MemberArgs<S[K]>) | undefined
    readonly name?: string | undefined
  }
) => Traffic<I> = internal.calls

/**
 * The application's own Effect as traffic (a handler, a job): `perSecond`
 * runs per second, or one run `every` interval (rounded to steps):
 * `Simulation.traffic("GET /price", getPrice("p1"), { perSecond: 5 })`,
 * `Simulation.traffic("sync", syncAll, { every: "1 minute" })`.
 *
 * Bad arguments throw an `InvalidOptionError` from `Simulation.traffic`
 * naming the one at fault: `name` (a non-empty string), `effect`, `options`
 * (`perSecond` or `every`, not both), `perSecond`, `every` (a positive duration).
 *
 * @since 0.1.0
 * @category traffic
 */
export const traffic: <R>(
  name: string,
  effect: Effect.Effect<unknown, unknown, R> | ((i: number) => Effect.Effect<unknown, unknown, R>),
  options: { readonly perSecond: number } | { readonly every: Duration.DurationInput }
) => Traffic<R> = internal.traffic

/**
 * A scenario for {@link run}: the application's layer (which must provide
 * `Degradation`), a fault script, traffic and expectations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scenario<ROut = any, E = any> {
  /** Names the scenario (and its SVG file in the demo). */
  readonly name: string
  /** One line on what happens and what should happen. */
  readonly description?: string | undefined
  /** Virtual time simulated. */
  readonly duration: Duration.DurationInput
  /** How often traffic is issued, in one batch (default 1 second). */
  readonly step?: Duration.DurationInput | undefined
  /**
   * The program under test: the app's `Dependency` layers over
   * `Faults.layer`-wrapped raw services, and `Degradation`. Built anew for
   * every run.
   */
  readonly layer: Layer.Layer<ROut | Degradation, E>
  readonly faults?: ReadonlyArray<ScheduledFault> | undefined
  readonly traffic?: ReadonlyArray<Traffic<NoInfer<ROut | Degradation>>> | undefined
  /**
   * Seed of the run's `Random` (flaky faults, jittered schedules): an
   * integer or a non-empty string. Default 0.
   */
  readonly seed?: number | string | undefined
  /**
   * The clock (default `"TestClock"`). `"virtual"` runs `TestClock`'s
   * algorithm — the same sleeps woken in the same order, the program settled
   * after each — on a scheduler of its own, so settling costs microseconds
   * instead of `TestClock`'s real macrotasks: the same report, tens of times
   * faster, for long runs. Its time is its own (from 0), not the test's, and
   * the program must stay inside Effect (a real Promise or socket never resumes).
   */
  readonly clock?: "TestClock" | "virtual" | undefined
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
  readonly member: string | undefined
  readonly fault: FaultAction
}

/**
 * What a dependency's retry stage (its `retry` option) did over the run,
 * all callers together. Every call of a retried member that reached a
 * decision counts one outcome: `firstTry`, `afterRetry`, `gaveUp`,
 * `budgetExhausted` or `stoppedOpen`; `attempts` counts the retries, not
 * the first attempts. Every attempt is one breaker call, so the breaker's
 * counts include the retries. All 0 for a dependency without retries.
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryReport {
  /** Calls answered by their first attempt. */
  readonly firstTry: number
  /** Calls answered by a retry. */
  readonly afterRetry: number
  /**
   * Calls that failed and were not retried further: an error it never
   * retries (a rejection, a full bulkhead, what `while` refuses, a defect),
   * a schedule that ended, a level at or past `disableFrom`, a `Retry-After`
   * above `maxRetryAfter`, an interruption while retrying.
   */
  readonly gaveUp: number
  /** Calls that failed with their last error because the budget had no token left. */
  readonly budgetExhausted: number
  /** Calls the breaker refused (`CircuitOpenError`): an open breaker ends the retries. */
  readonly stoppedOpen: number
  /** Retries made: attempts after the first. */
  readonly attempts: number
}

/**
 * What one registered dependency's breaker saw, all callers together (the
 * traffic, the app's own fibers, the half-open probes): every call it
 * admitted or refused ends as exactly one of `successes`, `failures`,
 * `timeouts`, `rejections`, `ignored`, or was still running at the end.
 * With retries, every attempt is one such call; `retries` tells the calls
 * of the retried members apart.
 *
 * @since 0.1.0
 * @category models
 */
export interface DependencyReport {
  readonly name: string
  readonly whenDown: Level.DegradationLevel
  readonly successes: number
  /** Calls that ran and failed (timeouts excluded). */
  readonly failures: number
  /** Calls cut by the breaker's `callTimeout`. */
  readonly timeouts: number
  /** Calls the breaker refused (`CircuitOpenError`). */
  readonly rejections: number
  /** Failures the breaker's `isFailure` did not count. */
  readonly ignored: number
  /** Calls answered by a fallback. */
  readonly fallbacks: number
  /** Milliseconds the breaker spent in each state. */
  readonly timeInState: Readonly<Partial<Record<CircuitBreaker.State["_tag"], number>>>
  /**
   * The retries of its retried members over the run (`retry_calls_total`
   * and `retry_attempts_total`, as deltas): all 0 without a `retry` option.
   *
   * @since 0.2.0
   */
  readonly retries: RetryReport
}

/**
 * How long the runs of one {@link Traffic} took, in virtual milliseconds
 * from a run's start (its step's instant) to its end: over every run that
 * ended, answered or failed (runs still in flight at the end are left out).
 * Nearest-rank percentiles: `p50` is the latency half the runs stayed
 * within, `p99` the one 99 % did.
 *
 * @since 0.2.0
 * @category models
 */
export interface Latency {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/**
 * What the callers of one {@link Traffic} got. Every run ends as `answered`
 * or `errors`, or is still `inFlight` at the end.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrafficReport {
  readonly name: string
  /** The dependency {@link calls} targets, by its `Faults` name (`undefined` for {@link traffic}). */
  readonly dependency: string | undefined
  readonly calls: number
  /** Runs that succeeded (by the service or a fallback). */
  readonly answered: number
  /** Runs whose caller got an error. */
  readonly errors: number
  /**
   * Runs whose caller got a breaker's `CallTimeoutError` (the one with
   * `breaker` and `timeout`): answered with that error at the deadline of
   * the call's `callTimeout`. Counted in `errors` too. A fallback that
   * answers after a timeout counts as `answered`: its wait shows in
   * `latency`, and the dependency's `timeouts` and `fallbacks` count it.
   */
  readonly timedOut: number
  /** `errors` by the `_tag` of the error (`Defect` for a defect). */
  readonly errorsByTag: Readonly<Record<string, number>>
  /** The first error of each `_tag`: when, and its message. */
  readonly errorSamples: Readonly<Record<string, { readonly at: number; readonly message: string }>>
  /** Runs still going when the scenario ended (interrupted then). */
  readonly inFlight: number
  /** Latency of the runs that answered or failed; `undefined` when none did. */
  readonly latency: Latency | undefined
}

/**
 * A log line of the simulated program (`Degradation: Optimal → Degraded (redis down)`),
 * with its cause when it has one. Paths in it are relative: the working
 * directory reads `.`, and a stack frame outside it keeps only its file name
 * (or its path from `node_modules`), so a saved report reads the same on
 * every machine.
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
  /** Traffic steps run. */
  readonly steps: number
  /** Traffic runs issued, all traffic together. */
  readonly calls: number
  /** Wall-clock milliseconds the run took. */
  readonly wallMillis: number
}

/**
 * The report of a scenario. Every time is in milliseconds from its start, to
 * the microsecond (a jittered back-off wakes between milliseconds), so the
 * same run reads the same wherever the clock started.
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
  /** The recovery interval of the layer's `Degradation`, milliseconds. */
  readonly recoveryInterval: number
  /** The level once the layer was built (its registration checks done). */
  readonly initialLevel: Level.DegradationLevel
  readonly faults: ReadonlyArray<AppliedFault>
  readonly levelTransitions: ReadonlyArray<LevelTransition>
  readonly breakerTransitions: ReadonlyArray<BreakerTransition>
  /** Per registered dependency, in registration order. */
  readonly perDependency: Readonly<Record<string, DependencyReport>>
  /** Per traffic, in the scenario's order. */
  readonly traffic: Readonly<Record<string, TrafficReport>>
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
 * Runs a scenario under `TestClock` and reports what happened: builds the
 * layer, checks the script against it, then moves the clock step by step,
 * applying faults and issuing traffic, until `duration`; closes the layer.
 *
 * A scenario that is wrong — a bad duration or time (negative, NaN), faults
 * out of time order, a probability outside [0, 1], a seed that is not an
 * integer or a non-empty string, a dependency or member the layer does not
 * have, a layer without `Degradation` — is a bug of the caller: the run dies
 * with an `InvalidOptionError` naming the field (`faults[3].at`,
 * `traffic[1].member`) before the clock moves or any traffic runs, as every
 * constructor of the toolkit does (a test reads it with
 * `Cause.squash(exit.cause)`). A layer that fails to build fails the run
 * with its error.
 *
 * @example
 * ```ts
 * import { Degradation, DegradationLevel, Dependency, Presets } from "@effect-resilience/core"
 * import { Faults, Simulation } from "@effect-resilience/simulation"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Cache extends Context.Tag("Cache")<Cache, {
 *   readonly get: (key: string) => Effect.Effect<string>
 * }>() {}
 *
 * // The app's Dependency layer over the Faults-wrapped raw service (provideMerge:
 * // the run reaches the Faults control), and Degradation.
 * const AppLive = Dependency.layer(Cache, {
 *   ...Presets.redis,
 *   fallback: { get: (_error, key) => Effect.succeed(`price of ${key} (from the database)`) }
 * }).pipe(
 *   Layer.provideMerge(Faults.layer(Cache, { name: "redis" })),
 *   Layer.provide(Layer.succeed(Cache, { get: (key) => Effect.succeed(`price of ${key}`) })),
 *   Layer.provideMerge(Degradation.layer())
 * )
 *
 * const program = Effect.gen(function*() {
 *   const report = yield* Simulation.run({
 *     name: "redis-down",
 *     duration: "2 minutes",
 *     layer: AppLive,
 *     faults: [
 *       { at: "30 seconds", dependency: "redis", fault: Faults.down },
 *       { at: "1 minute", dependency: "redis", fault: Simulation.recovered }
 *     ],
 *     traffic: [Simulation.calls(Cache, "get", { perSecond: 10, args: (i) => [`p${i % 50}`] })],
 *     expect: [
 *       Simulation.expectReaches(DegradationLevel.Degraded(), { after: "30 seconds", within: "1 second" }),
 *       Simulation.expectFinalLevel(DegradationLevel.Optimal())
 *     ]
 *   })
 *   console.log(report.ok, report.worstLevel._tag)
 *   // Output: true Degraded
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run: <ROut, E>(scenario: Scenario<ROut, E>) => Effect.Effect<Report, E> = internal.run

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
 * level, a per-dependency table, the retries of the dependencies that retried
 * (calls by outcome, retries made), per traffic what its callers got (calls,
 * answered, errors, timed out, in flight, latency p50 / p99 / max) and the checks.
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

/**
 * A fault action in words, as `Faults.describe` says it: `down`, `hang`, `slow 2s`, `flaky 20%`; or `recovered`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const describeFault: (fault: FaultAction) => string = render.describeFault
