import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import { identity } from "effect/Function"
import * as Logger from "effect/Logger"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import { CircuitBreaker as CB, Degradation, DegradationLevel as Level, Dependency, Describe, InvalidOptionError, Validation } from "@effect-resilience/core"
import type * as Simulation from "../Simulation.js"
import { formatSpan, formatTime } from "./simulationRender.js"
import { runVirtual, type SimClock } from "./simulationRuntime.js"

type DegradationLevel = Level.DegradationLevel
type Fault = Simulation.Fault
type StateTag = CB.State["_tag"]

/** @internal */
export class SyntheticError extends Data.TaggedError("SyntheticError")<{
  readonly dependency: string
  readonly message: string
}> {}

// -----------------------------------------------------------------------------
// validation
// -----------------------------------------------------------------------------

const module = "Simulation.run"
const v = Validation.validator(module)
const invalid = v.fail

const toMillis = (input: unknown, option: string, allowZero: boolean): number =>
  Duration.toMillis(v.duration(option, input, { allowZero }))

/** Milliseconds of a duration given to an expectation or a query (no validation beyond `decode`). */
const millisOf = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

interface ResolvedDependency {
  readonly spec: Simulation.DependencySpec
  readonly name: string
  readonly callsPerStep: number
  readonly writeShare: number
  readonly latency: Duration.Duration | undefined
  readonly callTimeout: Duration.Duration | undefined
  readonly healthCheck: boolean
}

interface Resolved {
  readonly scenario: Simulation.Scenario
  readonly duration: number
  readonly step: number
  readonly recoveryInterval: number
  /** The synthetic services time calls out themselves (see `Scenario.timeouts`). */
  readonly modelTimeouts: boolean
  readonly dependencies: ReadonlyArray<ResolvedDependency>
  readonly faults: ReadonlyArray<Simulation.AppliedFault>
}

const faultTags = new Set(["Down", "Slow", "Flaky", "Recovered"])

const resolve = (scenario: Simulation.Scenario): Resolved => {
  if (scenario === null || typeof scenario !== "object") invalid("scenario", "an object", scenario)
  if (typeof scenario.name !== "string" || scenario.name.trim() === "") invalid("name", "a non-empty string", scenario.name)
  const duration = toMillis(scenario.duration, "duration", false)
  const step = toMillis(scenario.step ?? "1 second", "step", false)
  if (step > duration) invalid("step", "at most the duration", scenario.step)
  const recoveryInterval = toMillis(scenario.recoveryInterval ?? "30 seconds", "recoveryInterval", false)
  const timeouts = scenario.timeouts ?? "modelled"
  if (timeouts !== "modelled" && timeouts !== "breaker") invalid("timeouts", `"modelled" or "breaker"`, timeouts)
  if (scenario.healthCheckTimeout !== undefined) toMillis(scenario.healthCheckTimeout, "healthCheckTimeout", false)
  if (!Array.isArray(scenario.dependencies) || scenario.dependencies.length === 0) {
    invalid("dependencies", "a non-empty array", scenario.dependencies)
  }
  const names = new Set<string>()
  const dependencies = scenario.dependencies.map((spec, i): ResolvedDependency => {
    const at = `dependencies[${i}]`
    if (typeof spec?.name !== "string" || spec.name.trim() === "") invalid(`${at}.name`, "a non-empty string", spec?.name)
    if (names.has(spec.name)) invalid(`${at}.name`, "a name not used by another dependency", spec.name)
    names.add(spec.name)
    if (spec.whenDown === undefined || !Level.all.some((l) => l._tag === spec.whenDown._tag)) {
      invalid(`${at}.whenDown`, "a DegradationLevel", spec.whenDown)
    }
    const traffic = spec.trafficPerSecond ?? 10
    if (typeof traffic !== "number" || !Number.isFinite(traffic) || traffic < 0) {
      invalid(`${at}.trafficPerSecond`, "a finite number ≥ 0", traffic)
    }
    const writeShare = spec.writeShare ?? 0
    if (typeof writeShare !== "number" || !(writeShare >= 0 && writeShare <= 1)) {
      invalid(`${at}.writeShare`, "a number between 0 and 1", writeShare)
    }
    const callTimeout = spec.callTimeout === undefined
      ? undefined
      : Duration.millis(toMillis(spec.callTimeout, `${at}.callTimeout`, false))
    const latency = spec.latency === undefined ? undefined : toMillis(spec.latency, `${at}.latency`, true)
    for (const op of ["read", "write"] as const) {
      const fallback = spec.fallback?.[op]
      if (fallback !== undefined && typeof fallback !== "function") {
        invalid(`${at}.fallback.${op}`, "a function (error) => Effect", fallback)
      }
    }
    return {
      spec,
      name: spec.name,
      callsPerStep: traffic * step / 1000,
      writeShare,
      latency: latency === undefined || latency === 0 ? undefined : Duration.millis(latency),
      callTimeout,
      healthCheck: spec.healthCheck === undefined
        ? true
        : typeof spec.healthCheck === "boolean"
        ? spec.healthCheck
        : invalid(`${at}.healthCheck`, "a boolean", spec.healthCheck)
    }
  })
  const faults: Array<Simulation.AppliedFault> = []
  ;(scenario.faults ?? []).forEach((scheduled, i) => {
    const at = toMillis(scheduled?.at, `faults[${i}].at`, true)
    if (at > duration) invalid(`faults[${i}].at`, "within the duration", scheduled.at)
    const fault = scheduled.fault
    if (fault === null || typeof fault !== "object" || !faultTags.has(fault._tag)) {
      invalid(`faults[${i}].fault`, "a Simulation fault (down, slow, flaky, recovered)", fault)
    }
    if (fault._tag === "Flaky" && !(fault.rate >= 0 && fault.rate <= 1)) {
      invalid(`faults[${i}].fault.rate`, "a number between 0 and 1", fault.rate)
    }
    if (fault._tag === "Slow") toMillis(fault.latency, `faults[${i}].fault.latency`, true)
    const targets = typeof scheduled.dependency === "string" ? [scheduled.dependency] : scheduled.dependency
    if (!Array.isArray(targets) || targets.length === 0) {
      invalid(`faults[${i}].dependency`, "a dependency name or a non-empty array of names", scheduled.dependency)
    }
    for (const dependency of targets) {
      if (!names.has(dependency)) invalid(`faults[${i}].dependency`, `one of ${[...names].join(", ")}`, dependency)
      faults.push({ at, dependency, fault })
    }
  })
  // Stable: faults of the same instant apply in the order given.
  faults.sort((a, b) => a.at - b.at)
  for (const [i, expectation] of (scenario.expect ?? []).entries()) {
    if (typeof expectation?.check !== "function") invalid(`expect[${i}]`, "a Simulation expectation", expectation)
  }
  return { scenario, duration, step, recoveryInterval, modelTimeouts: timeouts === "modelled", dependencies, faults }
}

// -----------------------------------------------------------------------------
// the simulated program
// -----------------------------------------------------------------------------

/** Passed to every call, so its fallback can tell which error it recovered from. */
interface Ticket {
  usedFallback: boolean
  fallbackError: unknown
}

type Member = (ticket: Ticket) => Effect.Effect<unknown, unknown>

const recoveredFault: Fault = Data.taggedEnum<Fault>().Recovered()

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : typeof error

const messageOf = Describe.describe

class DependencyRun {
  fault: Fault = recoveredFault
  calls = 0
  successes = 0
  failures = 0
  timeouts = 0
  rejections = 0
  fallbacks = 0
  errors = 0
  readonly errorsByTag: Record<string, number> = {}
  readonly errorSamples: Record<string, { readonly at: number; readonly message: string }> = {}
  carry = 0
  writeCarry = 0
  read: Member | undefined
  write: Member | undefined

  readonly healthy: Effect.Effect<void>
  readonly failDown: Effect.Effect<never, SyntheticError>
  readonly failFlaky: Effect.Effect<never, SyntheticError>
  /** The raw service's behaviour under the current fault (what health checks see). */
  readonly behave: Effect.Effect<void, SyntheticError>
  /** What a call through the breaker runs: `behave`, or `behave` timed out by the service itself. */
  readonly callBehave: Effect.Effect<void, SyntheticError | CB.CallTimeoutError>
  /** The one error a modelled timeout fails with, so the breaker's `isFailure` can count it. */
  readonly modelledTimeout: CB.CallTimeoutError | undefined

  constructor(readonly resolved: ResolvedDependency, readonly clock: SimClock, modelTimeouts: boolean) {
    const dependency = resolved.name
    this.healthy = resolved.latency === undefined ? Effect.void : Effect.sleep(resolved.latency)
    this.failDown = Effect.fail(new SyntheticError({ dependency, message: `${dependency}: connection refused` }))
    this.failFlaky = Effect.fail(new SyntheticError({ dependency, message: `${dependency}: intermittent failure` }))
    const behave = <E>(
      wait: (latency: Duration.Duration) => Effect.Effect<void, E>,
      healthy: Effect.Effect<void, E>
    ): Effect.Effect<void, SyntheticError | E> =>
      Effect.suspend((): Effect.Effect<void, SyntheticError | E> => {
        const fault = this.fault
        switch (fault._tag) {
          case "Down":
            return this.failDown
          case "Slow":
            return wait(fault.latency)
          case "Flaky":
            return Effect.flatMap(
              Random.next,
              (r): Effect.Effect<void, SyntheticError | E> => r < fault.rate ? this.failFlaky : healthy
            )
          case "Recovered":
            return healthy
        }
      })
    this.behave = behave<never>(Effect.sleep, this.healthy)
    const timeout = resolved.callTimeout
    if (!modelTimeouts || timeout === undefined) {
      this.callBehave = this.behave
      this.modelledTimeout = undefined
    } else {
      // What the breaker's timeout would do, decided up front: the call takes
      // `callTimeout` and fails with the breaker's own error. No timer race.
      const modelledTimeout = this.modelledTimeout = new CB.CallTimeoutError({ breaker: dependency, timeout })
      const timedOut = Effect.zipRight(Effect.sleep(timeout), Effect.fail(modelledTimeout))
      const wait = (latency: Duration.Duration): Effect.Effect<void, CB.CallTimeoutError> =>
        Duration.greaterThan(latency, timeout) ? timedOut : Effect.sleep(latency)
      this.callBehave = behave(wait, resolved.latency === undefined ? Effect.void : wait(resolved.latency))
    }
  }

  /** Counts the raw outcome of a call that did not succeed. */
  unavailable(error: unknown) {
    if (error instanceof CB.CircuitOpenError) this.rejections++
    else if (error instanceof CB.CallTimeoutError) this.timeouts++
    else this.failures++
  }

  callerError(tag: string, error: unknown) {
    this.errors++
    this.errorsByTag[tag] = (this.errorsByTag[tag] ?? 0) + 1
    if (this.errorSamples[tag] === undefined) {
      this.errorSamples[tag] = { at: this.clock.now, message: messageOf(error) }
    }
  }

  call(member: Member): Effect.Effect<void> {
    return Effect.suspend(() => {
      const ticket: Ticket = { usedFallback: false, fallbackError: undefined }
      return Effect.matchCause(member(ticket), {
        onSuccess: () => {
          if (ticket.usedFallback) {
            this.fallbacks++
            this.unavailable(ticket.fallbackError)
          } else {
            this.successes++
          }
        },
        onFailure: (cause) => {
          const failure = Cause.failureOption(cause)
          if (ticket.usedFallback) {
            this.fallbacks++
            this.unavailable(ticket.fallbackError)
          } else if (failure._tag === "Some") {
            this.unavailable(failure.value)
          } else {
            this.failures++
          }
          if (failure._tag === "Some") this.callerError(tagOf(failure.value), failure.value)
          else this.callerError(Cause.isDie(cause) ? "Defect" : "Interrupted", Cause.squash(cause))
        }
      })
    })
  }

  /** Whether a call may take virtual time under the current fault. */
  mayTakeTime(): boolean {
    return this.fault._tag === "Slow" || this.resolved.latency !== undefined
  }

  /**
   * The calls of one step. Calls that may take time are forked one by one
   * (`fork`), so a slow call holds back neither the others nor the next
   * step; instant ones are appended to `batch` and run one after another in
   * a single fiber: a fiber per call would cost more than the call.
   */
  issue(fork: (effect: Effect.Effect<void>) => void, batch: Array<Effect.Effect<void>>, share: number) {
    // `share` < 1 for a last step cut short by the end of the scenario.
    this.carry += this.resolved.callsPerStep * share
    const n = Math.floor(this.carry + 1e-9)
    this.carry -= n
    const concurrent = this.mayTakeTime()
    for (let i = 0; i < n; i++) {
      this.calls++
      let write = false
      if (this.resolved.writeShare > 0) {
        this.writeCarry += this.resolved.writeShare
        if (this.writeCarry >= 1 - 1e-9) {
          this.writeCarry -= 1
          write = true
        }
      }
      const call = this.call(write ? this.write! : this.read!)
      if (concurrent) fork(call)
      else batch.push(call)
    }
  }
}

interface RawResult {
  readonly levelTransitions: ReadonlyArray<Simulation.LevelTransition>
  readonly breakerTransitions: ReadonlyArray<Simulation.BreakerTransition>
  readonly faults: ReadonlyArray<Simulation.AppliedFault>
  readonly runs: ReadonlyArray<DependencyRun>
  readonly finalLevel: DegradationLevel
  readonly steps: number
}

// Timers of one instant fire by priority: faults first, then the breakers'
// and the recovery fiber's timers and the calls' sleeps, then the traffic of
// the step, then the end of the scenario.
const FAULTS = 0
const TRAFFIC = 2
const END = 3

/**
 * The breaker judges a `CallTimeoutError` raised by the code it wraps by
 * `isFailure`, like any error: a modelled timeout stands for the breaker's
 * own, so it always counts as a failure.
 */
const breakerOptions = (
  options: Simulation.DependencySpec["breaker"],
  modelledTimeout: CB.CallTimeoutError | undefined
): Simulation.DependencySpec["breaker"] => {
  if (modelledTimeout === undefined) return options
  const isFailure = options?.isFailure
  return {
    ...options,
    isFailure: isFailure === undefined
      ? undefined
      : (error) => error === modelledTimeout || isFailure(error)
  }
}

const program = (resolved: Resolved, clock: SimClock): Effect.Effect<RawResult> =>
  Effect.scoped(Effect.gen(function*() {
    const { scenario } = resolved
    const degradation = yield* Degradation.make({
      recoveryInterval: Duration.millis(resolved.recoveryInterval),
      policy: scenario.policy,
      healthCheckTimeout: scenario.healthCheckTimeout
    })

    const levelTransitions: Array<Simulation.LevelTransition> = []
    yield* Stream.runForEach(degradation.transitions, (t) =>
      Effect.sync(() => {
        levelTransitions.push({ at: t.at, from: t.from, to: t.to, kind: t.kind, reason: t.reason })
      })).pipe(Effect.forkScoped)
    // Resumes once every fiber waits: the stream above has subscribed.
    yield* clock.sleepUntil(() => clock.now, FAULTS)

    const breakerTransitions: Array<Simulation.BreakerTransition> = []
    const runs = resolved.dependencies.map((d) => new DependencyRun(d, clock, resolved.modelTimeouts))
    for (const run of runs) {
      const { spec } = run.resolved
      const fallbacks: Record<string, (error: unknown, ticket: Ticket) => Effect.Effect<unknown, unknown>> = {}
      for (const op of ["read", "write"] as const) {
        const fallback = spec.fallback?.[op]
        if (fallback === undefined) continue
        fallbacks[op] = (error, ticket) => {
          ticket.usedFallback = true
          ticket.fallbackError = error
          return fallback(error)
        }
      }
      const raw = { read: (_: Ticket) => run.callBehave, write: (_: Ticket) => run.callBehave }
      const wrapped = yield* Dependency.wrap(raw, {
        name: spec.name,
        whenDown: spec.whenDown,
        breaker: breakerOptions(spec.breaker, run.modelledTimeout),
        callTimeout: resolved.modelTimeouts ? undefined : spec.callTimeout,
        health: run.resolved.healthCheck ? () => run.behave : undefined,
        fallback: fallbacks as never
      }).pipe(Effect.provideService(Degradation, degradation))
      run.read = wrapped.service.read
      run.write = wrapped.service.write
      yield* wrapped.breaker.onChange((change) => {
        breakerTransitions.push({ at: change.at, dependency: spec.name, from: change.from._tag, to: change.to._tag })
      })
    }

    // Faults, each at its instant and before anything else of that instant.
    const byName = new Map(runs.map((r) => [r.resolved.name, r]))
    const applied: Array<Simulation.AppliedFault> = []
    yield* Effect.forEach(resolved.faults, (fault) =>
      Effect.zipRight(
        clock.sleepUntil(() => fault.at, FAULTS),
        Effect.sync(() => {
          byName.get(fault.dependency)!.fault = fault.fault
          applied.push({ at: clock.now, dependency: fault.dependency, fault: fault.fault })
        })
      ), { discard: true }).pipe(Effect.forkScoped)

    // Traffic: one batch per step, issued at once without a sleep per call,
    // in fibers of their own (open loop: a slow call does not hold back the
    // next step).
    const calls = yield* FiberSet.make<void>()
    const fork = yield* FiberSet.runtime(calls)<never>()
    const run = (effect: Effect.Effect<void>) => {
      fork(effect, { immediate: false })
    }
    const steps = Math.ceil(resolved.duration / resolved.step - 1e-9)
    for (let i = 0; i < steps; i++) {
      yield* clock.sleepUntil(() => i * resolved.step, TRAFFIC)
      const batch: Array<Effect.Effect<void>> = []
      const share = Math.min(1, (resolved.duration - i * resolved.step) / resolved.step)
      for (const r of runs) r.issue(run, batch, share)
      if (batch.length > 0) run(Effect.forEach(batch, identity, { discard: true }))
    }
    yield* clock.sleepUntil(() => resolved.duration, END)
    const finalLevel = yield* degradation.current

    return {
      levelTransitions,
      breakerTransitions,
      faults: applied,
      runs,
      finalLevel,
      steps
    } satisfies RawResult
  }))

// -----------------------------------------------------------------------------
// the report
// -----------------------------------------------------------------------------

const formatMessage = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => typeof m === "string" ? m : String(m)).join(" ") : String(message)

const timeInStates = (
  transitions: ReadonlyArray<Simulation.BreakerTransition>,
  initial: StateTag,
  duration: number
): Partial<Record<StateTag, number>> => {
  const times: Partial<Record<StateTag, number>> = {}
  let state = initial
  let since = 0
  for (const t of transitions) {
    times[state] = (times[state] ?? 0) + (t.at - since)
    state = t.to
    since = t.at
  }
  times[state] = (times[state] ?? 0) + (duration - since)
  return times
}

const buildReport = (
  resolved: Resolved,
  raw: RawResult,
  logs: ReadonlyArray<Simulation.LogLine>,
  stats: { readonly wakeUps: number; readonly timersFired: number; readonly wallMillis: number }
): Simulation.Report => {
  const { scenario, duration } = resolved
  const perDependency: Record<string, Simulation.DependencyReport> = {}
  for (const run of raw.runs) {
    const name = run.resolved.name
    const completed = run.successes + run.failures + run.timeouts + run.rejections
    perDependency[name] = {
      name,
      whenDown: run.resolved.spec.whenDown,
      calls: run.calls,
      successes: run.successes,
      failures: run.failures,
      timeouts: run.timeouts,
      rejections: run.rejections,
      fallbacks: run.fallbacks,
      errors: run.errors,
      errorsByTag: { ...run.errorsByTag },
      errorSamples: { ...run.errorSamples },
      inFlight: run.calls - completed,
      timeInState: timeInStates(
        raw.breakerTransitions.filter((t) => t.dependency === name),
        run.resolved.spec.breaker?.disabled === true ? "Disabled" : "Closed",
        duration
      )
    }
  }
  const timeAtLevel = Object.fromEntries(Level.all.map((l) => [l._tag, 0])) as Record<Level.Tag, number>
  let level: DegradationLevel = Level.Optimal()
  let worst = level
  let since = 0
  for (const t of raw.levelTransitions) {
    timeAtLevel[level._tag] += t.at - since
    level = t.to
    worst = Level.worst(worst, level)
    since = t.at
  }
  timeAtLevel[level._tag] += duration - since
  const report: Simulation.Report = {
    name: scenario.name,
    description: scenario.description,
    duration,
    step: resolved.step,
    recoveryInterval: resolved.recoveryInterval,
    faults: raw.faults,
    levelTransitions: raw.levelTransitions,
    breakerTransitions: raw.breakerTransitions,
    perDependency,
    timeAtLevel,
    finalLevel: raw.finalLevel,
    worstLevel: worst,
    checks: [],
    ok: true,
    logs,
    stats: {
      wakeUps: stats.wakeUps,
      timersFired: stats.timersFired,
      steps: raw.steps,
      calls: raw.runs.reduce((n, r) => n + r.calls, 0),
      wallMillis: stats.wallMillis
    }
  }
  const checks = (scenario.expect ?? []).map((expectation): Simulation.Check => {
    try {
      const { detail, ok } = expectation.check(report)
      return { description: expectation.description, ok, detail }
    } catch (error) {
      return { description: expectation.description, ok: false, detail: `the check threw: ${String(error)}` }
    }
  })
  return { ...report, checks, ok: checks.every((c) => c.ok) }
}

/** @internal */
export const run = (scenario: Simulation.Scenario): Effect.Effect<Simulation.Report> =>
  Effect.suspend(() => {
    let resolved: Resolved
    try {
      resolved = resolve(scenario)
    } catch (error) {
      if (error instanceof InvalidOptionError) return Effect.die(error)
      return Effect.die(error)
    }
    const logs: Array<Simulation.LogLine> = []
    return runVirtual((clock) => program(resolved, clock), {
      seed: scenario.seed ?? 0,
      maxMillis: resolved.duration + 86_400_000,
      loggers: (clock) => [
        Logger.make<unknown, void>(({ cause, logLevel, message }) => {
          const text = formatMessage(message)
          logs.push({
            at: clock.now,
            level: logLevel.label,
            message: Cause.isEmpty(cause) ? text : `${text}\n${Cause.pretty(cause)}`
          })
        })
      ]
    }).pipe(Effect.map(([raw, stats]) => buildReport(resolved, raw, logs, stats)))
  })

// -----------------------------------------------------------------------------
// queries and expectations
// -----------------------------------------------------------------------------

const levelAtMillis = (report: Simulation.Report, at: number): DegradationLevel => {
  let level: DegradationLevel = Level.Optimal()
  for (const t of report.levelTransitions) {
    if (t.at > at) break
    level = t.to
  }
  return level
}

/** @internal */
export const levelAt = (report: Simulation.Report, at: Duration.DurationInput): DegradationLevel =>
  levelAtMillis(report, millisOf(at))

/** @internal */
export const expectLevel = (at: Duration.DurationInput, level: DegradationLevel): Simulation.Expectation => {
  const t = millisOf(at)
  return {
    description: `level at ${formatTime(t)} is ${level._tag}`,
    check: (report) => {
      const actual = levelAtMillis(report, t)
      return { ok: actual._tag === level._tag, detail: `level was ${actual._tag}` }
    }
  }
}

/** @internal */
export const expectLevelAtLeast = (at: Duration.DurationInput, level: DegradationLevel): Simulation.Expectation => {
  const t = millisOf(at)
  return {
    description: `level at ${formatTime(t)} is ${level._tag} or worse`,
    check: (report) => {
      const actual = levelAtMillis(report, t)
      return { ok: Level.isAtLeast(actual, level), detail: `level was ${actual._tag}` }
    }
  }
}

/** @internal */
export const expectReaches = (
  level: DegradationLevel,
  options: { readonly after: Duration.DurationInput; readonly within: Duration.DurationInput }
): Simulation.Expectation => {
  const after = millisOf(options.after)
  const within = millisOf(options.within)
  return {
    description: `${level._tag} within ${formatSpan(within)} of ${formatTime(after)}`,
    check: (report) => {
      let reached: number | undefined = levelAtMillis(report, after)._tag === level._tag ? after : undefined
      if (reached === undefined) {
        reached = report.levelTransitions.find((t) => t.at > after && t.to._tag === level._tag)?.at
      }
      if (reached === undefined) {
        return { ok: false, detail: `never reached (level at the end: ${report.finalLevel._tag})` }
      }
      return {
        ok: reached <= after + within,
        detail: `reached at ${formatTime(reached)} (+${formatSpan(reached - after)})`
      }
    }
  }
}

/** @internal */
export const expectNeverWorseThan = (
  level: DegradationLevel,
  options?: { readonly from?: Duration.DurationInput | undefined; readonly until?: Duration.DurationInput | undefined }
): Simulation.Expectation => {
  const from = options?.from === undefined ? 0 : millisOf(options.from)
  const until = options?.until === undefined ? undefined : millisOf(options.until)
  const range = options?.from === undefined && until === undefined
    ? ""
    : ` from ${formatTime(from)}${until === undefined ? "" : ` until ${formatTime(until)}`}`
  return {
    description: `never worse than ${level._tag}${range}`,
    check: (report) => {
      const end = until ?? report.duration
      let worst = levelAtMillis(report, from)
      let worstAt = from
      for (const t of report.levelTransitions) {
        if (t.at > from && t.at <= end && Level.isWorseThan(t.to, worst)) {
          worst = t.to
          worstAt = t.at
        }
      }
      return {
        ok: !Level.isWorseThan(worst, level),
        detail: `worst was ${worst._tag}${Level.isWorseThan(worst, level) ? ` at ${formatTime(worstAt)}` : ""}`
      }
    }
  }
}

/** @internal */
export const expectFinalLevel = (level: DegradationLevel): Simulation.Expectation => ({
  description: `final level is ${level._tag}`,
  check: (report) => ({ ok: report.finalLevel._tag === level._tag, detail: `final level was ${report.finalLevel._tag}` })
})

/** @internal */
export const expectSequence = (
  levels: ReadonlyArray<DegradationLevel>,
  options?: { readonly after?: Duration.DurationInput | undefined }
): Simulation.Expectation => {
  const after = options?.after === undefined ? 0 : millisOf(options.after)
  const expected = levels.map((l) => l._tag)
  return {
    description: `levels ${expected.join(" → ")}${options?.after === undefined ? "" : ` after ${formatTime(after)}`}`,
    check: (report) => {
      const observed = [
        levelAtMillis(report, after)._tag,
        ...report.levelTransitions.filter((t) => t.at > after).map((t) => t.to._tag)
      ]
      return {
        ok: observed.length === expected.length && observed.every((tag, i) => tag === expected[i]),
        detail: `observed ${observed.join(" → ")}`
      }
    }
  }
}

/** @internal */
export const expectThat = (
  description: string,
  predicate: (report: Simulation.Report) => boolean | string | undefined
): Simulation.Expectation => ({
  description,
  check: (report) => {
    const result = predicate(report)
    if (result === true || result === undefined) return { ok: true, detail: "ok" }
    return { ok: false, detail: typeof result === "string" ? result : "not satisfied" }
  }
})
