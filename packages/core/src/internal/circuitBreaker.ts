import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as MetricHook from "effect/MetricHook"
import { pipeArguments } from "effect/Pipeable"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as MetricLabel from "effect/MetricLabel"
import type * as CB from "../CircuitBreaker.js"
import * as Metrics from "../Metrics.js"
import { Deadlines } from "./deadlines.js"
import { CallTimeoutError, CircuitOpenError, InvalidOptionError, withoutStack } from "./errors.js"
import * as Trip from "./trip.js"

/** @internal */
export const TypeId: CB.TypeId = Symbol.for("@effect-resilience/core/CircuitBreaker") as CB.TypeId

/** @internal */
export const State = Data.taggedEnum<CB.State>()

// State codes: the hot path switches on small integers, not on tags.
const CLOSED = 0
const OPEN = 1
const HALF_OPEN = 2
const FORCED_OPEN = 3
const DISABLED = 4

const states: ReadonlyArray<CB.State> = [
  State.Closed(),
  State.Open(),
  State.HalfOpen(),
  State.ForcedOpen(),
  State.Disabled()
]
const stateLabels = ["closed", "open", "half_open", "forced_open", "disabled"] as const
const gaugeValues = [0, 1, 2, 1, 0] as const
const fromLabels = stateLabels.map((state) => MetricLabel.make("from", state))
const toLabels = stateLabels.map((state) => MetricLabel.make("to", state))

// Outcome indices into the per-breaker label arrays.
const SUCCESS = 0
const FAILURE = 1
const TIMEOUT = 2
const REJECTED = 3
const IGNORED = 4
const INTERRUPTED = 5
type Outcome = typeof SUCCESS | typeof FAILURE | typeof TIMEOUT | typeof REJECTED | typeof IGNORED | typeof INTERRUPTED

const outcomeLabels = Metrics.callOutcomes.map((outcome) => MetricLabel.make("outcome", outcome))

/** Every transition a breaker can make: their series start at 0 so `increase()` sees the first one. */
const reachable: ReadonlyArray<readonly [number, number]> = [
  [CLOSED, OPEN],
  [CLOSED, FORCED_OPEN],
  [CLOSED, DISABLED],
  [OPEN, HALF_OPEN],
  [OPEN, CLOSED],
  [OPEN, FORCED_OPEN],
  [OPEN, DISABLED],
  [HALF_OPEN, CLOSED],
  [HALF_OPEN, OPEN],
  [HALF_OPEN, FORCED_OPEN],
  [HALF_OPEN, DISABLED],
  [FORCED_OPEN, CLOSED],
  [FORCED_OPEN, DISABLED],
  [DISABLED, CLOSED],
  [DISABLED, FORCED_OPEN]
]

const defaultReset = Schedule.spaced("30 seconds")
const defaultResetMillis = 30_000
const defaultTrip: Trip.TripPolicy = { _tag: "ConsecutiveFailures", threshold: 5 }
const zero = Duration.zero
const infinity = Duration.infinity

class BreakerImpl {
  code: number
  /** Bumped on every transition: outcomes of calls admitted earlier are stale. */
  generation = 0
  /** Epoch millis at which an Open breaker lets probes through. */
  until = 0
  openings = 0
  scheduleState: unknown
  lastDelay = -1
  probes = 0
  probeSuccesses = 0
  listeners: Array<(change: CB.StateChange) => void> | undefined = undefined
  forcedRejection: Effect.Effect<never, CircuitOpenError> | undefined = undefined
  busyRejection: Effect.Effect<never, CircuitOpenError> | undefined = undefined
  rejection: Effect.Effect<never, CircuitOpenError> | undefined = undefined
  /** Call timeouts, created with the first timed call. */
  deadlines: Deadlines<CallTimeoutError> | undefined = undefined
  rejectedAt = -1
  rejectedUntil = -1
  /** The generation in which a call decided to open the breaker, until it does (-1: none). */
  tripGeneration = -1
  /** Continuations of untimed closed calls, for the current generation. */
  untimed: ReturnType<BreakerImpl["handlers"]> | undefined = undefined

  readonly breakerLabel: MetricLabel.MetricLabel
  /** Whether calls read the Clock: for the duration histogram, slow calls or a time window. */
  readonly timing: boolean
  // Series resolved once: the hot path updates them without any lookup.
  readonly stateHook: MetricHook.MetricHook<number, unknown>
  readonly failuresHook: MetricHook.MetricHook<number, unknown>
  readonly durationHook: MetricHook.MetricHook<number, unknown>
  readonly callHooks: ReadonlyArray<MetricHook.MetricHook<number, unknown>>

  constructor(
    readonly name: string,
    readonly clock: Clock.Clock,
    readonly scope: Scope.Scope,
    readonly tracker: Trip.Tracker,
    readonly schedule: Schedule.Schedule<unknown, unknown>,
    readonly permits: number,
    readonly successesToClose: number,
    readonly callTimeout: Duration.Duration | undefined,
    readonly isFailure: ((error: unknown) => boolean) | undefined,
    disabled: boolean,
    readonly recordDurations: boolean
  ) {
    this.code = disabled ? DISABLED : CLOSED
    this.timing = recordDurations || tracker.needsTime
    this.scheduleState = schedule.initial
    this.breakerLabel = MetricLabel.make("breaker", name)
    const labels = [this.breakerLabel]
    this.stateHook = Metrics.unsafeHook(Metrics.keys.breakerState, labels)
    this.failuresHook = Metrics.unsafeHook(Metrics.keys.breakerFailures, labels)
    this.durationHook = Metrics.unsafeHook(Metrics.keys.breakerCallDuration, labels)
    this.callHooks = outcomeLabels.map((outcome) => Metrics.unsafeHook(Metrics.keys.breakerCalls, [this.breakerLabel, outcome]))
    // Every series exists from creation: these start at 0.
    this.stateHook.update(gaugeValues[this.code]!)
    this.failuresHook.update(0)
    for (const hook of this.callHooks) hook.update(0)
    Metrics.unsafeHook(Metrics.keys.breakerFallbackCalls, labels).update(0)
    Metrics.unsafeHook(Metrics.keys.fallbackDuration, labels)
    for (const [from, to] of reachable) this.transitionHook(from, to).update(0)
  }

  transitionHook(from: number, to: number): MetricHook.MetricHook<number, unknown> {
    return Metrics.unsafeHook(Metrics.keys.breakerTransitions, [this.breakerLabel, fromLabels[from]!, toLabels[to]!])
  }

  // ---------------------------------------------------------------------------
  // calls
  // ---------------------------------------------------------------------------

  run<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R> {
    return Effect.suspend(() => {
      switch (this.code) {
        case CLOSED:
          // An earlier call decided to open but its fiber never took the step.
          if (this.tripGeneration === this.generation) return this.opening(this.run(effect))
          return this.observe(effect, this.generation)
        case DISABLED:
          return this.observe(effect, this.generation)
        case OPEN: {
          const now = this.clock.unsafeCurrentTimeMillis()
          if (now < this.until) return this.rejectOpen(now)
          // The delay has passed but the timer fiber has not run yet.
          this.transition(HALF_OPEN, now)
          return this.probe(effect)
        }
        case HALF_OPEN:
          return this.probe(effect)
        default:
          return this.reject(infinity)
      }
    })
  }

  /** Forced open (`retryAfter` infinite) or half-open and busy (zero): built once, when first needed. */
  reject(retryAfter: typeof infinity | typeof zero): Effect.Effect<never, CircuitOpenError> {
    this.callHooks[REJECTED]!.update(1)
    return retryAfter === infinity
      ? this.forcedRejection ??= Effect.failCause(Cause.fail(this.openError(infinity)))
      : this.busyRejection ??= Effect.failCause(Cause.fail(this.openError(zero)))
  }

  /**
   * Rejections in the same millisecond of the same opening share one error
   * (and one failed Effect): they carry the same `retryAfter`, and a burst of
   * rejections then costs no allocation.
   */
  rejectOpen(now: number): Effect.Effect<never, CircuitOpenError> {
    this.callHooks[REJECTED]!.update(1)
    if (this.rejectedAt !== now || this.rejectedUntil !== this.until) {
      this.rejectedAt = now
      this.rejectedUntil = this.until
      this.rejection = Effect.failCause(Cause.fail(this.openError(Duration.millis(this.until - now))))
    }
    return this.rejection!
  }

  openError(retryAfter: Duration.Duration): CircuitOpenError {
    return withoutStack(() => new CircuitOpenError({ breaker: this.name, retryAfter }))
  }

  timed<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CallTimeoutError, R> {
    const timeout = this.callTimeout
    if (timeout === undefined) return effect
    const deadlines = this.deadlines ??= new Deadlines(
      this.clock,
      this.scope,
      timeout,
      () => withoutStack(() => new CallTimeoutError({ breaker: this.name, timeout }))
    )
    return deadlines.run(effect)
  }

  /** Closed (or disabled) path: two Effect operations and synchronous bookkeeping. */
  observe<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    generation: number
  ): Effect.Effect<A, E | CallTimeoutError, R> {
    // Untimed calls of one generation share their continuations: nothing is
    // allocated per call beyond what `matchCauseEffect` itself needs.
    if (!this.timing) {
      return Effect.matchCauseEffect(this.timed(effect), this.untimed ??= this.handlers(0, generation))
    }
    // Durations use the Clock's milliseconds: two reads of the nanosecond
    // clock (a BigInt each) would cost more than the rest of the hot path.
    return Effect.matchCauseEffect(
      this.timed(effect),
      this.handlers(this.clock.unsafeCurrentTimeMillis(), generation)
    )
  }

  handlers(start: number, generation: number): {
    readonly onSuccess: (a: any) => Effect.Effect<any, any>
    readonly onFailure: (cause: Cause.Cause<any>) => Effect.Effect<any, any>
  } {
    return {
      onSuccess: (a) =>
        // A success can trip too: it adds a call to a window whose failure rate
        // already reaches the threshold, or a slow call to the slow-call rate.
        this.completed(SUCCESS, start, generation) ? this.opening(Effect.succeed(a)) : Effect.succeed(a),
      onFailure: (cause) =>
        this.completed(this.classify(cause), start, generation)
          ? this.opening(Effect.failCause(cause))
          : Effect.failCause(cause)
    }
  }

  /** Records an outcome of the closed path; `true` when the trip policy says the breaker must open. */
  completed(outcome: Outcome, start: number, generation: number): boolean {
    if (outcome === INTERRUPTED) return false
    const now = this.timing ? this.clock.unsafeCurrentTimeMillis() : 0
    const millis = now - start
    this.record(outcome, millis)
    if (this.code !== CLOSED || generation !== this.generation || outcome === IGNORED) return false
    if (!this.tracker.record(outcome !== SUCCESS, millis, now)) return false
    this.tripGeneration = generation
    return true
  }

  /**
   * Opens the breaker, then goes on with `then`. The opening needs the
   * calling fiber (its context steps the reset schedule and forks the timer),
   * so it is one more Effect operation — paid only by the call that trips,
   * never on the hot path. The decision is kept in `tripGeneration`: were
   * the fiber interrupted before this step, the next call takes it; a
   * transition in between (a `reset`, say) makes it stale.
   */
  opening<A, E, R>(then: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.withFiberRuntime((fiber) => {
      if (this.tripGeneration === this.generation && this.code === CLOSED) {
        this.open(this.clock.unsafeCurrentTimeMillis(), fiber)
      }
      this.tripGeneration = -1
      return then
    })
  }

  record(outcome: Outcome, millis: number) {
    this.callHooks[outcome]!.update(1)
    if (this.recordDurations) this.durationHook.update(millis / 1000)
    if (outcome === FAILURE || outcome === TIMEOUT) this.failuresHook.update(1)
  }

  classify(cause: Cause.Cause<unknown>): Outcome {
    if (Cause.isInterruptedOnly(cause)) return INTERRUPTED
    // A defect is a failure whatever else the cause holds.
    if (Cause.isDie(cause)) return FAILURE
    const failure = Cause.failureOption(cause)
    if (failure._tag === "None") return INTERRUPTED
    const error = failure.value
    // A timeout in this breaker's name always counts, whatever `isFailure`
    // says — also one raised for it by the code it wraps (a simulation's).
    if (error instanceof CallTimeoutError && error.breaker === this.name) return TIMEOUT
    if (this.isFailure === undefined) return FAILURE
    try {
      return this.isFailure(error) ? FAILURE : IGNORED
    } catch {
      return FAILURE
    }
  }

  /**
   * Half-open path. Uninterruptible between taking a permit and installing
   * the finalizer that returns it, so an interrupted probe never leaks one.
   */
  probe<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError | CallTimeoutError, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime((fiber) => {
        // The state moved since `run` looked: start over, interruptible again.
        if (this.code !== HALF_OPEN) return restore(this.run(effect))
        if (this.probes >= this.permits) return this.reject(zero)
        this.probes++
        const generation = this.generation
        const start = this.clock.unsafeCurrentTimeMillis()
        return Effect.onExit(restore(this.timed(effect)), (exit) => this.probeDone(exit, generation, start, fiber))
      })
    )
  }

  probeDone(
    exit: Exit.Exit<unknown, unknown>,
    generation: number,
    start: number,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ): Effect.Effect<void> {
    const outcome = exit._tag === "Success" ? SUCCESS : this.classify(exit.cause)
    if (outcome !== INTERRUPTED) {
      this.record(outcome, this.clock.unsafeCurrentTimeMillis() - start)
    }
    // A transition since admission (reset, forceOpen, …) already cleared the probes.
    if (generation !== this.generation) return Effect.void
    this.probes--
    switch (outcome) {
      case SUCCESS:
        if (++this.probeSuccesses >= this.successesToClose) this.close(this.clock.unsafeCurrentTimeMillis())
        return Effect.void
      case FAILURE:
      case TIMEOUT:
        this.open(this.clock.unsafeCurrentTimeMillis(), fiber)
        return Effect.void
      default:
        return Effect.void
    }
  }

  // ---------------------------------------------------------------------------
  // transitions
  // ---------------------------------------------------------------------------

  /**
   * Opens the breaker, synchronously: the next delay of the reset schedule is
   * taken at once (its step is an Effect, run with the calling fiber's
   * context; jitter reads `Random`), then the half-open timer is forked in
   * the breaker's scope. Nothing is left for a later Effect step that an
   * interruption could skip.
   */
  open(now: number, fiber: Fiber.RuntimeFiber<unknown, unknown>) {
    const runtime = Runtime.make({
      context: fiber.currentContext,
      fiberRefs: fiber.getFiberRefs(),
      runtimeFlags: Runtime.defaultRuntimeFlags
    })
    let delay: number
    const step = Runtime.runSyncExit(runtime)(this.schedule.step(now, this.openings, this.scheduleState))
    if (Exit.isSuccess(step) && ScheduleDecision.isContinue(step.value[2])) {
      this.scheduleState = step.value[0]
      delay = Math.max(0, ScheduleIntervals.start(step.value[2].intervals) - now)
      this.lastDelay = delay
    } else {
      // A schedule that has ended keeps its last delay (one that could not be
      // stepped synchronously, too); with none yet, the default delay.
      delay = this.lastDelay >= 0 ? this.lastDelay : defaultResetMillis
    }
    this.openings++
    this.until = now + delay
    this.transition(OPEN, now)
    const generation = this.generation
    const wake = Effect.zipRight(
      this.clock.sleep(Duration.millis(delay)),
      Effect.sync(() => {
        if (this.generation === generation && this.code === OPEN) {
          this.transition(HALF_OPEN, this.clock.unsafeCurrentTimeMillis())
        }
      })
    )
    // A timer left over from an earlier opening wakes up, sees a newer
    // generation and does nothing; closing the scope interrupts them all.
    Runtime.runFork(runtime)(Effect.forkIn(wake, this.scope))
  }

  close(now: number) {
    this.transition(CLOSED, now)
  }

  transition(to: number, now: number) {
    const from = this.code
    if (from === to) return
    this.code = to
    this.generation++
    this.untimed = undefined
    this.probes = 0
    this.probeSuccesses = 0
    if (to === CLOSED) {
      this.tracker.clear()
      this.scheduleState = this.schedule.initial
      this.openings = 0
      this.lastDelay = -1
    }
    this.stateHook.update(gaugeValues[to]!)
    this.transitionHook(from, to).update(1)
    const listeners = this.listeners
    if (listeners !== undefined && listeners.length > 0) {
      const change: CB.StateChange = { breaker: this.name, from: states[from]!, to: states[to]!, at: now }
      for (const listener of listeners.slice()) {
        try {
          listener(change)
        } catch {
          // A listener must not break the breaker.
        }
      }
    }
  }

  /**
   * A manual transition; it clears the trip counts and, even when the state
   * does not change, makes calls admitted before it stale (a pending
   * half-open timer too): `reset` starts from nothing.
   */
  manual(to: number): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.code !== to) {
        this.transition(to, this.clock.unsafeCurrentTimeMillis())
      } else {
        this.generation++
        this.untimed = undefined
      }
      this.tracker.clear()
    })
  }

  currentState(): CB.State {
    if (this.code === OPEN) {
      const now = this.clock.unsafeCurrentTimeMillis()
      if (now >= this.until) this.transition(HALF_OPEN, now)
    }
    return states[this.code]!
  }

  addListener(listener: (change: CB.StateChange) => void): () => void {
    const listeners = this.listeners ??= []
    listeners.push(listener)
    return () => {
      const index = listeners.indexOf(listener)
      if (index >= 0) listeners.splice(index, 1)
    }
  }
}

const ImplKey = Symbol.for("@effect-resilience/core/CircuitBreaker/impl")

interface Handle {
  readonly [ImplKey]: BreakerImpl
}

const implOf = (self: unknown): BreakerImpl => (self as Handle)[ImplKey]

// Shared by every breaker: per-instance memory is the function and its impl.
const BreakerProto = Object.setPrototypeOf(
  {
    [TypeId]: TypeId,
    get state() {
      const impl = implOf(this)
      return Effect.sync(() => impl.currentState())
    },
    get changes() {
      const impl = implOf(this)
      return Stream.asyncPush<CB.StateChange>(
        (emit) =>
          Effect.acquireRelease(
            Effect.sync(() => impl.addListener((change) => emit.single(change))),
            (remove) => Effect.sync(remove)
          ),
        { bufferSize: "unbounded" }
      )
    },
    onChange(this: Handle, listener: (change: CB.StateChange) => void) {
      const impl = this[ImplKey]
      return Effect.acquireRelease(
        Effect.sync(() => impl.addListener(listener)),
        (remove) => Effect.sync(remove)
      ).pipe(Effect.asVoid)
    },
    unsafeState(this: Handle) {
      return this[ImplKey].currentState()
    },
    get forceOpen() {
      return implOf(this).manual(FORCED_OPEN)
    },
    get disable() {
      return implOf(this).manual(DISABLED)
    },
    get reset() {
      return implOf(this).manual(CLOSED)
    },
    get stats() {
      const impl = implOf(this)
      return Effect.sync((): CB.Stats => {
        const now = impl.clock.unsafeCurrentTimeMillis()
        return {
          state: impl.currentState(),
          failures: impl.tracker.failures(now),
          calls: impl.tracker.calls(now),
          openings: impl.openings,
          retryAfter: impl.code === OPEN
            ? Duration.millis(Math.max(0, impl.until - now))
            : impl.code === FORCED_OPEN
            ? infinity
            : zero
        }
      })
    },
    pipe() {
      return pipeArguments(this, arguments)
    }
  },
  Function.prototype
)

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const module = "CircuitBreaker.make"

const invalid = (option: string, expected: string, actual: unknown) =>
  Effect.die(new InvalidOptionError({ module, option, expected, actual }))

const isPositiveInt = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n > 0

const decodeDuration = (input: unknown): Duration.Duration | undefined => {
  try {
    return Duration.decode(input as Duration.DurationInput)
  } catch {
    return undefined
  }
}

/** @internal */
export const make = (options: CB.Options): Effect.Effect<CB.CircuitBreaker, never, Scope.Scope> =>
  Effect.suspend(() => {
    if (options === null || typeof options !== "object") return invalid("options", "an object", options)
    if (typeof options.name !== "string" || options.name.trim().length === 0) {
      return invalid("name", "a non-empty string", options.name)
    }
    const trip = (options.trip ?? defaultTrip) as Trip.TripPolicy
    const tripError = Trip.validate(module, trip)
    if (tripError !== undefined) return Effect.die(tripError)
    const reset = options.reset ?? defaultReset
    if (!Schedule.isSchedule(reset)) return invalid("reset", "a Schedule", reset)
    const permits = options.halfOpen?.permits ?? 1
    if (!isPositiveInt(permits)) return invalid("halfOpen.permits", "a positive integer", permits)
    const successesToClose = options.halfOpen?.successesToClose ?? 1
    if (!isPositiveInt(successesToClose)) {
      return invalid("halfOpen.successesToClose", "a positive integer", successesToClose)
    }
    let callTimeout: Duration.Duration | undefined
    if (options.callTimeout !== undefined) {
      callTimeout = decodeDuration(options.callTimeout)
      if (callTimeout === undefined || !Duration.isFinite(callTimeout) || Duration.toMillis(callTimeout) <= 0) {
        return invalid("callTimeout", "a positive finite duration", options.callTimeout)
      }
    }
    if (options.isFailure !== undefined && typeof options.isFailure !== "function") {
      return invalid("isFailure", "a function", options.isFailure)
    }
    return Effect.flatMap(Effect.all([Effect.clock, Effect.scope]), ([clock, scope]) => {
      const impl = new BreakerImpl(
        options.name,
        clock,
        scope,
        Trip.makeTracker(trip),
        reset,
        permits,
        successesToClose,
        callTimeout,
        options.isFailure,
        options.disabled === true,
        options.recordDurations === true
      )
      // A computed key names the function without `defineProperty`, which would
      // put it in dictionary mode (~200 B more per breaker).
      const breaker = {
        [options.name]: <A, E, R>(effect: Effect.Effect<A, E, R>) => impl.run(effect)
      }[options.name]! as any
      Object.setPrototypeOf(breaker, BreakerProto)
      breaker[ImplKey] = impl
      // No finalizer of its own (it would cost ~500 B per breaker): the only
      // fiber a breaker owns, its half-open timer, is forked in this scope.
      return Effect.succeed(breaker as unknown as CB.CircuitBreaker)
    })
  })

/** @internal */
export const isCircuitBreaker = (u: unknown): u is CB.CircuitBreaker =>
  typeof u === "function" && TypeId in u
