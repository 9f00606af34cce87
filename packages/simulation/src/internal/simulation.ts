/**
 * The engine of `Simulation.run`: builds the scenario's layer on `TestClock`,
 * checks the script against what it built, then drives the clock one step at
 * a time — faults, then the step's traffic in one batch — and reads the
 * report off `Degradation`, the breakers and the metric registry.
 *
 * @internal
 */
import {
  Degradation,
  DegradationLevel as Level,
  Describe,
  EffectInternals,
  Faults,
  InvalidOptionError,
  Metrics,
  Validation
} from "@effect-resilience/core"
import type { CircuitBreaker as CB } from "@effect-resilience/core"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import type * as Simulation from "../Simulation.js"
import { collector } from "./logs.js"
import { checked, modules, nested, perSecond } from "./options.js"
import { formatSpan, formatTime } from "./simulationRender.js"
import { runVirtual } from "./virtualClock.js"

type DegradationLevel = Level.DegradationLevel
type StateTag = CB.State["_tag"]

/** @internal */
export const recovered: Simulation.Recovered = { _tag: "Recovered" }

// -----------------------------------------------------------------------------
// traffic
// -----------------------------------------------------------------------------

const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, unknown> => Effect.isEffect(u)

/** @internal */
export const calls = <I, S, K extends Simulation.CallableMember<S>>(
  tag: Context.Tag<I, S>,
  member: K,
  options: {
    readonly perSecond: number
    readonly args?: ((i: number) => Simulation.MemberArgs<S[K]>) | undefined
    readonly name?: string | undefined
  }
): Simulation.Traffic<I> =>
  checked(() => {
    const v = Validation.validator(modules.calls)
    if (!Context.isTag(tag)) v.fail("tag", "the Context.Tag of a service the scenario's layer provides", tag)
    v.nonEmptyString("member", member)
    v.object("options", options)
    const rate = perSecond(v, "perSecond", options.perSecond)
    const args = options.args
    if (args !== undefined) v.func("args", args, "a function from the call's index to its arguments")
    if (options.name !== undefined) v.nonEmptyString("name", options.name)
    return {
      name: options.name ?? `${tag.key}.${String(member)}`,
      perSecond: rate,
      target: { tag, member, args },
      call: (i) =>
        Effect.flatMap(tag, (service) => {
          const m = (service as any)[member]
          if (isEffect(m)) return m
          return m.apply(service, args === undefined ? [] : args(i)) as Effect.Effect<unknown, unknown>
        }) as Effect.Effect<unknown, unknown, I>
    }
  })

/** @internal */
export const traffic = <R>(
  name: string,
  effect: Effect.Effect<unknown, unknown, R> | ((i: number) => Effect.Effect<unknown, unknown, R>),
  options: { readonly perSecond: number } | { readonly every: Duration.DurationInput }
): Simulation.Traffic<R> =>
  checked(() => {
    const v = Validation.validator(modules.traffic)
    v.nonEmptyString("name", name)
    if (!isEffect(effect) && typeof effect !== "function") {
      v.fail("effect", "an Effect, or a function from the run's index to an Effect", effect)
    }
    v.object("options", options)
    const given = options as { readonly perSecond?: unknown; readonly every?: unknown }
    if (given.every !== undefined && given.perSecond !== undefined) {
      v.fail("options", "{ perSecond } or { every }, not both", options)
    }
    const rate = given.every !== undefined
      ? 1000 / Duration.toMillis(v.duration("every", given.every))
      : perSecond(v, "perSecond", given.perSecond)
    return {
      name,
      perSecond: rate,
      target: undefined,
      call: isEffect(effect) ? () => effect : effect as (i: number) => Effect.Effect<unknown, unknown, R>
    }
  })

// -----------------------------------------------------------------------------
// validation
// -----------------------------------------------------------------------------

const module = modules.run
const v = Validation.validator(module)
const invalid = v.fail

const toMillis = (input: unknown, option: string, allowZero: boolean): number =>
  Duration.toMillis(v.duration(option, input, { allowZero }))

/** Milliseconds of a duration given to an expectation or a query (no validation beyond `decode`). */
const millisOf = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

interface ResolvedFault {
  readonly index: number
  readonly at: number
  readonly dependencies: ReadonlyArray<Simulation.DependencyRef>
  readonly member: string | undefined
  readonly fault: Simulation.FaultAction
}

interface ResolvedTraffic {
  readonly index: number
  readonly traffic: Simulation.Traffic<any>
  readonly perStep: number
}

interface Resolved {
  readonly scenario: Simulation.Scenario
  readonly clock: "TestClock" | "virtual"
  readonly duration: number
  readonly step: number
  /** Traffic steps: the last one may be cut short by the end. */
  readonly steps: number
  readonly faults: ReadonlyArray<ResolvedFault>
  readonly traffic: ReadonlyArray<ResolvedTraffic>
}

const resolve = (scenario: Simulation.Scenario): Resolved => {
  v.object("scenario", scenario)
  v.nonEmptyString("name", scenario.name)
  const duration = toMillis(scenario.duration, "duration", false)
  const step = toMillis(scenario.step ?? "1 second", "step", false)
  if (step > duration) invalid("step", "at most the duration", scenario.step)
  if (!Layer.isLayer(scenario.layer)) {
    invalid("layer", "a Layer providing the app's services and Degradation", scenario.layer)
  }
  const seed = scenario.seed
  if (
    seed !== undefined && !(typeof seed === "number" && Number.isInteger(seed)) &&
    !(typeof seed === "string" && seed !== "")
  ) {
    invalid("seed", "an integer or a non-empty string", seed)
  }
  const faults = resolveFaults(scenario.faults ?? [], duration)
  const traffic = resolveTraffic(scenario.traffic ?? [], step)
  for (const [i, expectation] of (scenario.expect ?? []).entries()) {
    if (typeof expectation?.check !== "function") invalid(`expect[${i}]`, "a Simulation expectation", expectation)
  }
  const clock = scenario.clock ?? "TestClock"
  if (clock !== "TestClock" && clock !== "virtual") invalid("clock", `"TestClock" or "virtual"`, clock)
  const steps = Math.ceil(duration / step - 1e-9)
  return { scenario, clock, duration, step, steps, faults, traffic }
}

const resolveFaults = (list: ReadonlyArray<Simulation.ScheduledFault>, duration: number): Array<ResolvedFault> => {
  if (!Array.isArray(list)) invalid("faults", "an array", list)
  let previous = 0
  return list.map((scheduled, index): ResolvedFault => {
    const at = `faults[${index}]`
    v.object(at, scheduled)
    const millis = toMillis(scheduled.at, `${at}.at`, true)
    if (millis > duration) invalid(`${at}.at`, `within the duration (${formatTime(duration)})`, scheduled.at)
    if (millis < previous) {
      invalid(
        `${at}.at`,
        `not before faults[${index - 1}].at (${formatTime(previous)}): a script is in time order`,
        scheduled.at
      )
    }
    previous = millis
    const refs = typeof scheduled.dependency === "string" || !Array.isArray(scheduled.dependency)
      ? [scheduled.dependency as Simulation.DependencyRef]
      : scheduled.dependency
    if (refs.length === 0) {
      invalid(`${at}.dependency`, "a dependency or a non-empty array of them", scheduled.dependency)
    }
    for (const ref of refs) {
      if (!(typeof ref === "string" && ref.trim() !== "") && !Context.isTag(ref)) {
        invalid(`${at}.dependency`, "a dependency name (Faults.layer's name) or the Tag it wraps", ref)
      }
    }
    if (scheduled.member !== undefined) v.nonEmptyString(`${at}.member`, scheduled.member)
    const fault = scheduled.fault as Simulation.FaultAction | undefined
    const action: Simulation.FaultAction = (fault as { _tag?: unknown } | undefined)?._tag === "Recovered"
      ? recovered
      : nested(module, at, () => Faults.unsafeValidate(module, fault))
    return { index, at: millis, dependencies: refs, member: scheduled.member, fault: action }
  })
}

const resolveTraffic = (list: ReadonlyArray<Simulation.Traffic<any>>, step: number): Array<ResolvedTraffic> => {
  if (!Array.isArray(list)) invalid("traffic", "an array", list)
  const names = new Set<string>()
  return list.map((t, index): ResolvedTraffic => {
    const at = `traffic[${index}]`
    if (t === null || typeof t !== "object" || typeof t.call !== "function") {
      invalid(at, "a Simulation.calls(…) or Simulation.traffic(…)", t)
    }
    v.nonEmptyString(`${at}.name`, t.name)
    if (names.has(t.name)) invalid(`${at}.name`, "a name no other traffic of the scenario uses", t.name)
    names.add(t.name)
    perSecond(v, `${at}.perSecond`, t.perSecond)
    return { index, traffic: t, perStep: t.perSecond * step / 1000 }
  })
}

/**
 * The `Faults` controls of the built layer, by name: every `Faults.layer`
 * registers with the registry the run provides to the scenario's layer (or
 * with the app's own, when its layer provides one).
 */
const controlsOf = (context: Context.Context<never>): Effect.Effect<Map<string, Faults.Control<any>>> =>
  Option.match(Context.getOption(context as Context.Context<Faults.Registry>, Faults.Registry), {
    onNone: () => Effect.succeed(new Map()),
    onSome: (registry) =>
      Effect.map(registry.dependencies, (controls) => new Map(controls.map((c) => [c.dependency, c])))
  })

const controlOf = (
  context: Context.Context<never>,
  byName: Map<string, Faults.Control<any>>,
  ref: Simulation.DependencyRef
): Faults.Control<any> | undefined =>
  typeof ref === "string" ? byName.get(ref) : Option.getOrUndefined(Context.getOption(context, Faults.control(ref)))

interface ScriptedFault {
  readonly at: number
  readonly controls: ReadonlyArray<Faults.Control<any>>
  readonly member: string | undefined
  readonly fault: Simulation.FaultAction
}

/** The script bound to the built layer: its faults' controls, and the dependency each traffic calls. */
interface Script {
  readonly faults: ReadonlyArray<ScriptedFault>
  /** Per traffic, the `Faults` name of the dependency {@link calls} targets. */
  readonly targets: ReadonlyArray<string | undefined>
}

/** The script against the built layer: every dependency and member must exist. */
const bind = (
  resolved: Resolved,
  context: Context.Context<never>,
  byName: Map<string, Faults.Control<any>>
): Script => {
  const known = () => byName.size === 0 ? "none: wrap a raw service with Faults.layer" : [...byName.keys()].join(", ")
  const faults = resolved.faults.map((f): ScriptedFault => {
    const controls = f.dependencies.map((ref) =>
      controlOf(context, byName, ref) ??
        invalid(`faults[${f.index}].dependency`, `a dependency wrapped by Faults.layer (${known()})`, ref)
    )
    if (f.member !== undefined) {
      for (const control of controls) {
        if (!control.members.includes(f.member)) {
          invalid(
            `faults[${f.index}].member`,
            `one of ${control.dependency}'s members (${control.members.join(", ")})`,
            f.member
          )
        }
      }
    }
    return { at: f.at, controls, member: f.member, fault: f.fault }
  })
  const targets = resolved.traffic.map(({ index, traffic }) => {
    const target = traffic.target
    if (target === undefined) return undefined
    const service = Option.getOrUndefined(Context.getOption(context as Context.Context<any>, target.tag))
    if (service === undefined) {
      invalid(`traffic[${index}]`, "a Tag the scenario's layer provides", target.tag)
    }
    const member = (service as Record<string, unknown>)[target.member]
    if (!isEffect(member) && typeof member !== "function") {
      invalid(`traffic[${index}].member`, `an Effect or a method of ${target.tag.key}`, target.member)
    }
    return Option.getOrUndefined(Context.getOption(context, Faults.control(target.tag)))?.dependency
  })
  return { faults, targets }
}

// -----------------------------------------------------------------------------
// the runs of a traffic
// -----------------------------------------------------------------------------

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : typeof error

/** A breaker's own `CallTimeoutError` (`breaker` and `timeout` set), not an app's error of that tag. */
const isCallTimeout = (error: unknown): boolean => {
  const e = error as { readonly _tag?: unknown; readonly breaker?: unknown; readonly timeout?: unknown } | null
  return typeof e === "object" && e !== null && e._tag === "CallTimeoutError" && typeof e.breaker === "string" &&
    Duration.isDuration(e.timeout)
}

/**
 * Milliseconds to the microsecond. A jittered back-off sleeps fractions of a
 * millisecond, and the time from the run's start to such an instant then
 * depends, by a float rounding, on where the clock started: rounded, a run
 * reports the same times from any start.
 */
const toMicros = (millis: number): number => Math.round(millis * 1000) / 1000

/** Latencies kept at first, per traffic: a longer run grows the array as it goes. */
const latencyCapacity = 1 << 16

class TrafficRun {
  carry = 0
  issued = 0
  answered = 0
  errors = 0
  timedOut = 0
  readonly errorsByTag: Record<string, number> = {}
  readonly errorSamples: Record<string, { readonly at: number; readonly message: string }> = {}
  /**
   * Virtual milliseconds from the start of each run that ended to its end:
   * the first `ended` entries, numbers in one array rather than an object per run.
   */
  private latencies: Float64Array
  private ended = 0
  /** The `i`-th run. */
  readonly call: (i: number) => Effect.Effect<unknown, unknown>
  constructor(
    readonly resolved: ResolvedTraffic,
    readonly dependency: string | undefined,
    readonly now: () => number,
    context: Context.Context<never>,
    steps: number
  ) {
    const target = resolved.traffic.target
    const service = target === undefined
      ? undefined
      : Option.getOrUndefined(Context.getOption(context as Context.Context<any>, target.tag))
    // A member of a service the run's layer built: called on it directly, without looking it up per run.
    const call = service === undefined
      ? resolved.traffic.call as (i: number) => Effect.Effect<unknown, unknown>
      : (i: number) => {
        const member = service[target!.member]
        return isEffect(member) ? member : member.apply(service, target!.args === undefined ? [] : target!.args(i))
      }
    const name = resolved.traffic.name
    // A run whose `args`, handler or member throws (or answers no Effect) has
    // failed: a defect of that run, reported with the others, never a run
    // left in flight.
    this.call = (i) => {
      let result: unknown
      try {
        result = call(i)
      } catch (error) {
        return Effect.die(error)
      }
      return isEffect(result)
        ? result as Effect.Effect<unknown, unknown>
        : Effect.die(new TypeError(`traffic ${name}: run ${i} answered ${Describe.value(result)}, not an Effect`))
    }
    this.latencies = new Float64Array(Math.min(Math.ceil(resolved.perStep * steps) + 1, latencyCapacity))
  }

  /** Counts the outcome of a run started at `startedAt`; one interrupted at the end stays in flight. */
  record(exit: Exit.Exit<unknown, unknown>, startedAt: number): void {
    if (exit._tag === "Success") {
      this.answered++
      this.ends(startedAt)
      return
    }
    const cause = exit.cause
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    const error = failure._tag === "Some" ? failure.value : Cause.squash(cause)
    const tag = failure._tag === "Some" ? tagOf(error) : "Defect"
    this.errors++
    if (failure._tag === "Some" && isCallTimeout(error)) this.timedOut++
    this.errorsByTag[tag] = (this.errorsByTag[tag] ?? 0) + 1
    if (this.errorSamples[tag] === undefined) {
      this.errorSamples[tag] = { at: this.now(), message: Describe.describe(error) }
    }
    this.ends(startedAt)
  }

  private ends(startedAt: number): void {
    if (this.ended === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2)
      grown.set(this.latencies)
      this.latencies = grown
    }
    this.latencies[this.ended++] = toMicros(this.now() - startedAt)
  }

  /** How many runs the step at hand issues; `share` < 1 for a last step cut short by the end. */
  take(share: number): number {
    this.carry += this.resolved.perStep * share
    const n = Math.floor(this.carry + 1e-9)
    this.carry -= n
    return n
  }

  /** The latencies of the runs that ended, by rank (nearest-rank percentiles). */
  latency(): Simulation.Latency | undefined {
    const n = this.ended
    if (n === 0) return undefined
    const sorted = this.latencies.subarray(0, n).sort()
    const rank = (q: number) => sorted[Math.ceil(q * n) - 1]!
    return { p50: rank(0.5), p99: rank(0.99), max: sorted[n - 1]! }
  }

  report(): Simulation.TrafficReport {
    return {
      name: this.resolved.traffic.name,
      dependency: this.dependency,
      calls: this.issued,
      answered: this.answered,
      errors: this.errors,
      timedOut: this.timedOut,
      errorsByTag: { ...this.errorsByTag },
      errorSamples: { ...this.errorSamples },
      inFlight: this.issued - this.answered - this.errors,
      latency: this.latency()
    }
  }
}

// A run that set a FiberRef retires its worker: compared without copying, through core's guarded internals.
const { peekFiberRefs, sameFiberRefValues: sameRefs } = EffectInternals

/** The runs a worker has left: `next` up to `end`, exclusive, all issued at `at`. */
interface Batch {
  next: number
  end: number
  readonly at: number
}

/** Runs the runs of `batch` one after the other while they answer synchronously and leave the FiberRefs alone. */
const worker = (r: TrafficRun, batch: Batch): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const refs = peekFiberRefs(fiber)
    return Effect.whileLoop({
      // A run that set a FiberRef retires the worker: the next run starts on a fresh one.
      while: () => batch.next < batch.end && sameRefs(refs, peekFiberRefs(fiber)),
      body: () => Effect.exit(r.call(batch.next++)),
      step: (exit) => r.record(exit, batch.at)
    })
  })

/**
 * Issues the runs of a step, in order, each started as soon as the one before
 * it answers or suspends — exactly as with a fiber per run started at once,
 * but a fiber is forked only where a run suspends: a worker runs them one
 * after the other while they answer synchronously, and when one suspends the
 * worker is left with it and the next run goes to a new worker. Each run
 * starts from the worker's own FiberRefs, as a fiber of its own would.
 * Workers still running when the run ends are interrupted.
 */
const issuer = (
  context: Context.Context<never>,
  now: () => number
): Effect.Effect<(r: TrafficRun, n: number) => void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>().pipe(Effect.provide(context)))
    const inFlight = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
    yield* Effect.addFinalizer(() => Fiber.interruptAll(inFlight))
    return (r, n) => {
      let next = r.issued
      const end = next + n
      r.issued = end
      const at = now()
      while (next < end) {
        const batch: Batch = { next, end, at }
        const fiber = runFork(worker(r, batch))
        next = batch.next
        if (fiber.unsafePoll() === null) {
          // Suspended in run `next - 1`: the worker ends with it, a new one takes the rest.
          batch.end = next
          inFlight.add(fiber)
          fiber.addObserver(() => inFlight.delete(fiber))
        }
      }
    }
  })

// -----------------------------------------------------------------------------
// the run
// -----------------------------------------------------------------------------

type Counts = Record<"success" | "failure" | "timeout" | "rejected" | "ignored" | "fallback", number>

const readCounts = (breaker: CB.CircuitBreaker): Effect.Effect<Counts> =>
  Effect.gen(function*() {
    const calls = Metrics.breakerCalls.pipe(Metric.tagged("breaker", breaker.name))
    const count = (outcome: string) =>
      Effect.map(Metric.value(calls.pipe(Metric.tagged("outcome", outcome))), (state) => state.count)
    return {
      success: yield* count("success"),
      failure: yield* count("failure"),
      timeout: yield* count("timeout"),
      rejected: yield* count("rejected"),
      ignored: yield* count("ignored"),
      fallback: (yield* Metric.value(Metrics.breakerFallbackCalls.pipe(Metric.tagged("breaker", breaker.name)))).count
    }
  })

/** `retry_calls_total` by outcome and `retry_attempts_total` of one dependency. */
type RetryCounts = Record<Metrics.RetryOutcome | "attempts", number>

const retryCallsName = "retry_calls_total"
const retryAttemptsName = "retry_attempts_total"
const retryOutcomes: ReadonlySet<string> = new Set(Metrics.retryOutcomes)

const noRetries = (): RetryCounts => ({
  first_try: 0,
  after_retry: 0,
  gave_up: 0,
  budget_exhausted: 0,
  stopped_open: 0,
  attempts: 0
})

/**
 * The retry series of every dependency, from one snapshot of the registry:
 * read this way, none is created (a dependency without retries has none,
 * and the report leaves it so).
 */
const readRetries: Effect.Effect<ReadonlyMap<string, RetryCounts>> = Effect.map(Metric.snapshot, (pairs) => {
  const byDependency = new Map<string, RetryCounts>()
  for (const { metricKey, metricState } of pairs) {
    const name = metricKey.name
    if ((name !== retryCallsName && name !== retryAttemptsName) || !MetricState.isCounterState(metricState)) continue
    let dependency: string | undefined
    let outcome: string | undefined
    for (const label of metricKey.tags) {
      if (label.key === "dependency") dependency = label.value
      else if (label.key === "outcome") outcome = label.value
    }
    const field = name === retryAttemptsName
      ? "attempts"
      : outcome !== undefined && retryOutcomes.has(outcome)
      ? outcome as Metrics.RetryOutcome
      : undefined
    if (dependency === undefined || field === undefined) continue
    let counts = byDependency.get(dependency)
    if (counts === undefined) {
      counts = noRetries()
      byDependency.set(dependency, counts)
    }
    counts[field] += Number(metricState.count)
  }
  return byDependency
})

/** What the retries of `dependency` did between two reads. */
const retryDelta = (
  before: ReadonlyMap<string, RetryCounts>,
  after: ReadonlyMap<string, RetryCounts>,
  dependency: string
): Simulation.RetryReport => {
  const start = before.get(dependency) ?? noRetries()
  const end = after.get(dependency) ?? noRetries()
  const delta = (k: keyof RetryCounts) => end[k] - start[k]
  return {
    firstTry: delta("first_try"),
    afterRetry: delta("after_retry"),
    gaveUp: delta("gave_up"),
    budgetExhausted: delta("budget_exhausted"),
    stoppedOpen: delta("stopped_open"),
    attempts: delta("attempts")
  }
}

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

/** What the driver needs of a clock: `TestClock`, or the faster {@link VirtualClock}. */
interface DriverClock {
  readonly unsafeCurrentTimeMillis: () => number
  readonly adjust: (millis: number) => Effect.Effect<void>
}

const isTestClock = (clock: unknown): clock is TestClock.TestClock =>
  typeof (clock as Partial<TestClock.TestClock>).adjust === "function" &&
  (clock as Partial<TestClock.TestClock>).sleeps !== undefined

/** What the run built: the app's services, its `Degradation`, and the script bound to them. */
interface App {
  readonly context: Context.Context<never>
  readonly degradation: Degradation.Service
  readonly script: Script
}

/**
 * Builds the scenario's layer in the run's scope and binds the script to it.
 * A layer without `Degradation`, or a script naming a dependency or member it
 * does not have, is a bad scenario: the run dies with an `InvalidOptionError`.
 */
const build = (resolved: Resolved): Effect.Effect<App, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const layer = resolved.scenario.layer as Layer.Layer<unknown, unknown>
    // A registry of the run's own, unless the app's layer brings one: the Faults layers register there.
    const context = (yield* Layer.build(layer.pipe(Layer.provideMerge(Faults.layerRegistry)))) as Context.Context<
      never
    >
    const degradation = Context.getOption(context as Context.Context<Degradation>, Degradation)
    if (degradation._tag === "None") {
      return yield* Effect.die(
        new InvalidOptionError({
          module,
          option: "layer",
          expected: "a Layer that provides Degradation (merge Degradation.layer() into it)",
          actual: layer
        })
      )
    }
    const controls = yield* controlsOf(context)
    const script = yield* Effect.sync(() => checked(() => bind(resolved, context, controls)))
    return { context, degradation: degradation.value, script }
  })

/** What the breakers and the level do from now on, and where they start. */
interface Observed {
  readonly breakers: ReadonlyArray<readonly [string, CB.CircuitBreaker]>
  readonly initialStates: ReadonlyMap<string, StateTag>
  readonly before: ReadonlyMap<string, Counts>
  readonly retriesBefore: ReadonlyMap<string, RetryCounts>
  readonly breakerTransitions: ReadonlyArray<Simulation.BreakerTransition>
  readonly levelTransitions: ReadonlyArray<Simulation.LevelTransition>
  readonly initial: Degradation.Status
  readonly recoveryInterval: number
}

const observe = (
  service: Degradation.Service,
  clock: DriverClock,
  fromStart: (at: number) => number
): Effect.Effect<Observed, never, Scope.Scope> =>
  Effect.gen(function*() {
    const breakers = [...(yield* service.breakers).entries()]
    const breakerTransitions: Array<Simulation.BreakerTransition> = []
    const initialStates = new Map<string, StateTag>()
    const before = new Map<string, Counts>()
    for (const [dependency, breaker] of breakers) {
      initialStates.set(dependency, breaker.unsafeState()._tag)
      before.set(dependency, yield* readCounts(breaker))
      yield* breaker.onChange((change) => {
        breakerTransitions.push({ at: fromStart(change.at), dependency, from: change.from._tag, to: change.to._tag })
      })
    }
    const levelTransitions: Array<Simulation.LevelTransition> = []
    // Subscribed here, in this fiber: no transition after this line is missed.
    const pull = yield* Stream.toPull(service.transitions)
    yield* pull.pipe(
      Effect.map(Chunk.forEach((t) => {
        levelTransitions.push({ at: fromStart(t.at), from: t.from, to: t.to, kind: t.kind, reason: t.reason })
      })),
      Effect.forever,
      Effect.ignore,
      Effect.forkScoped
    )
    const retriesBefore = yield* readRetries
    const initial = yield* service.status
    const recoveryInterval = (yield* service.nextRecoveryAt) - clock.unsafeCurrentTimeMillis()
    return {
      breakers,
      initialStates,
      before,
      retriesBefore,
      breakerTransitions,
      levelTransitions,
      initial,
      recoveryInterval
    }
  })

/**
 * The script's faults, in order: `faultsUntil(t)` applies every fault due by
 * `t`, each in place 1 ms before its instant (before the timers and traffic
 * due then); `until(t)` sleeps to `t`.
 */
const scriptOf = (faults: ReadonlyArray<ScriptedFault>, now: () => number) => {
  const applied: Array<Simulation.AppliedFault> = []
  const apply = (f: ScriptedFault) =>
    Effect.forEach(f.controls, (control) => {
      applied.push({ at: f.at, dependency: control.dependency, member: f.member, fault: f.fault })
      const target = f.member === undefined ? undefined : { member: f.member }
      return f.fault._tag === "Recovered" ? control.recover(target) : control.inject(f.fault, target)
    }, { discard: true })
  const until = (t: number) => Effect.suspend(() => t > now() ? Effect.sleep(t - now()) : Effect.void)
  let next = 0
  const faultsUntil = (t: number) =>
    Effect.whileLoop({
      while: () => next < faults.length && faults[next]!.at <= t,
      body: () => {
        const f = faults[next++]!
        return Effect.zipRight(until(f.at - 1), apply(f))
      },
      step: () => {}
    })
  return { applied, until, faultsUntil }
}

interface Driven {
  readonly runs: ReadonlyArray<TrafficRun>
  readonly applied: ReadonlyArray<Simulation.AppliedFault>
  /** Traffic runs issued, all traffic together. */
  readonly issued: number
}

/**
 * Moves the clock to the end of the scenario. The driver sleeps on the clock
 * from one instant of the script to the next, and the clock moves in one
 * `adjust` over the whole run: every wake-up settles the program once (a
 * separate `adjust` per step would settle it twice). `elapsed` is the time
 * the driver sleeps by; `now`, the time the report records.
 */
const drive = (
  resolved: Resolved,
  app: App,
  clock: DriverClock,
  elapsed: () => number,
  now: () => number
): Effect.Effect<Driven, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { duration, step, steps } = resolved
    const runs = resolved.traffic.map((t, i) => new TrafficRun(t, app.script.targets[i], now, app.context, steps))
    const issue = yield* issuer(app.context, now)
    const script = scriptOf(app.script.faults, elapsed)
    let issued = 0
    const driver = Effect.gen(function*() {
      for (let i = 0; i < steps; i++) {
        const t = i * step
        yield* script.faultsUntil(t)
        yield* script.until(t)
        // Woken by `TestClock.adjust`, which next settles the program with real
        // `setTimeout(0)`s: yielding once lets it start the first of them, so the
        // step's calls (microtasks, which run before any timer) use its wait.
        yield* Effect.yieldNow()
        const share = Math.min(1, (duration - t) / step)
        for (const r of runs) {
          const n = r.take(share)
          if (n > 0) issue(r, n)
          issued += n
        }
      }
      yield* script.faultsUntil(duration)
    })
    const driving = yield* Effect.forkScoped(driver)
    yield* clock.adjust(duration - elapsed())
    yield* Fiber.join(driving)
    return { runs, applied: script.applied, issued }
  })

const dependencyReports = (
  observed: Observed,
  after: ReadonlyArray<Counts>,
  retriesAfter: ReadonlyMap<string, RetryCounts>,
  duration: number
): Record<string, Simulation.DependencyReport> => {
  const reports: Record<string, Simulation.DependencyReport> = {}
  const whenDown = new Map(observed.initial.dependencies.map((d) => [d.name, d.whenDown]))
  observed.breakers.forEach(([dependency], i) => {
    const end = after[i]!
    const start = observed.before.get(dependency)!
    const delta = (k: keyof Counts) => end[k] - start[k]
    reports[dependency] = {
      name: dependency,
      whenDown: whenDown.get(dependency) ?? Level.Degraded(),
      successes: delta("success"),
      failures: delta("failure"),
      timeouts: delta("timeout"),
      rejections: delta("rejected"),
      ignored: delta("ignored"),
      fallbacks: delta("fallback"),
      timeInState: timeInStates(
        observed.breakerTransitions.filter((t) => t.dependency === dependency),
        observed.initialStates.get(dependency)!,
        duration
      ),
      retries: retryDelta(observed.retriesBefore, retriesAfter, dependency)
    }
  })
  return reports
}

/** Milliseconds at each level, and the worst level reached. */
const levelTimes = (
  initial: DegradationLevel,
  transitions: ReadonlyArray<Simulation.LevelTransition>,
  duration: number
): { readonly timeAtLevel: Record<Level.Tag, number>; readonly worst: DegradationLevel } => {
  const timeAtLevel = Object.fromEntries(Level.all.map((l) => [l._tag, 0])) as Record<Level.Tag, number>
  let level: DegradationLevel = initial
  let worst = level
  let since = 0
  for (const t of transitions) {
    timeAtLevel[level._tag] += t.at - since
    level = t.to
    worst = Level.worst(worst, level)
    since = t.at
  }
  timeAtLevel[level._tag] += duration - since
  return { timeAtLevel, worst }
}

/** The report's `checks`: every expectation evaluated on it (one that throws fails). */
const withChecks = (
  report: Simulation.Report,
  expectations: ReadonlyArray<Simulation.Expectation>
): Simulation.Report => {
  const checks = expectations.map((expectation): Simulation.Check => {
    try {
      const { detail, ok } = expectation.check(report)
      return { description: expectation.description, ok, detail }
    } catch (error) {
      return { description: expectation.description, ok: false, detail: `the check threw: ${String(error)}` }
    }
  })
  return { ...report, checks, ok: checks.every((c) => c.ok) }
}

const program = (resolved: Resolved, clock: DriverClock): Effect.Effect<Simulation.Report, unknown> =>
  Effect.suspend(() => {
    const wallStart = performance.now()
    const { duration, scenario, step } = resolved
    const origin = clock.unsafeCurrentTimeMillis()
    const elapsed = () => clock.unsafeCurrentTimeMillis() - origin
    const fromStart = (at: number) => toMicros(at - origin)
    const now = () => fromStart(clock.unsafeCurrentTimeMillis())
    const logs = collector(now)
    return Effect.locally(
      Effect.scoped(Effect.gen(function*() {
        const app = yield* build(resolved)
        const observed = yield* observe(app.degradation, clock, fromStart)
        const driven = yield* drive(resolved, app, clock, elapsed, now)
        const finalLevel = yield* app.degradation.current
        const after = yield* Effect.forEach(observed.breakers, ([, breaker]) => readCounts(breaker))
        const retriesAfter = yield* readRetries
        const { timeAtLevel, worst } = levelTimes(observed.initial.level, observed.levelTransitions, duration)
        const report: Simulation.Report = {
          name: scenario.name,
          description: scenario.description,
          duration,
          step,
          recoveryInterval: observed.recoveryInterval,
          initialLevel: observed.initial.level,
          faults: driven.applied,
          levelTransitions: [...observed.levelTransitions],
          breakerTransitions: [...observed.breakerTransitions],
          perDependency: dependencyReports(observed, after, retriesAfter, duration),
          traffic: Object.fromEntries(driven.runs.map((r) => [r.resolved.traffic.name, r.report()])),
          timeAtLevel,
          finalLevel,
          worstLevel: worst,
          checks: [],
          ok: true,
          logs: logs.lines,
          stats: { steps: resolved.steps, calls: driven.issued, wallMillis: performance.now() - wallStart }
        }
        return withChecks(report, scenario.expect ?? [])
      })),
      FiberRef.currentLoggers,
      HashSet.make(logs.logger)
    )
  })

/** @internal */
export const run = <ROut, E>(scenario: Simulation.Scenario<ROut, E>): Effect.Effect<Simulation.Report, E> =>
  Effect.suspend(() => {
    let resolved: Resolved
    try {
      resolved = checked(() => resolve(scenario))
    } catch (error) {
      // A bad scenario is a bug of the caller, not an outcome: the run dies with it.
      return Effect.die(error)
    }
    const seeded = <A, E1>(effect: Effect.Effect<A, E1>) => Effect.withRandom(effect, Random.make(scenario.seed ?? 0))
    if (resolved.clock === "virtual") {
      return runVirtual((clock) => seeded(program(resolved, clock))) as Effect.Effect<Simulation.Report, E>
    }
    return Effect.clockWith((clock) =>
      isTestClock(clock)
        ? seeded(program(resolved, clock))
        // Outside a test: a TestClock of the run's own.
        : Effect.provide(
          Effect.clockWith((testClock) => seeded(program(resolved, testClock as TestClock.TestClock))),
          TestContext.TestContext
        )
    ) as Effect.Effect<Simulation.Report, E>
  })

// -----------------------------------------------------------------------------
// queries and expectations
// -----------------------------------------------------------------------------

const levelAtMillis = (report: Simulation.Report, at: number): DegradationLevel => {
  let level: DegradationLevel = report.initialLevel
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
  check: (report) => ({
    ok: report.finalLevel._tag === level._tag,
    detail: `final level was ${report.finalLevel._tag}`
  })
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
