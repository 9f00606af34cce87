import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import { pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CB from "../CircuitBreaker.js"
import * as Metrics from "../Metrics.js"
import { Deadlines } from "./deadlines.js"
import { describeError } from "./describe.js"
import { CallTimeoutError, CircuitOpenError, InvalidOptionError, withoutStack } from "./errors.js"
import * as MetricHooks from "./metrics.js"
import * as Trip from "./trip.js"
import { maxTimerMillis, validated, validator } from "./validate.js"

/** @internal */
export const TypeId: CB.TypeId = Symbol.for("@effect-resilience/core/CircuitBreaker") as CB.TypeId

/** @internal */
export const State = Data.taggedEnum<CB.State>()

// State codes: the hot path switches on small integers, not on tags.
/**
 * Marks a `CallTimeoutError` raised by a breaker's own deadline with that
 * breaker: by identity, not by name, so a timeout the wrapped code raises
 * (another breaker's, or one with the same name) is never mistaken for it.
 */
const OwnTimeout: unique symbol = Symbol("@effect-resilience/core/CircuitBreaker/OwnTimeout")

// Non-enumerable: the mark changes neither how the error prints nor its structural equality.
const ownTimeout = (owner: object, error: CallTimeoutError): CallTimeoutError =>
  Object.defineProperty(error, OwnTimeout, { value: owner, enumerable: false })

const isOwnTimeout = (owner: object, error: unknown): boolean =>
  error instanceof CallTimeoutError && (error as { readonly [OwnTimeout]?: unknown })[OwnTimeout] === owner

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
const defaultTrip: Trip.TripPolicy = { _tag: "ConsecutiveFailures", threshold: 5 }

/** A listener of `onChange`: called synchronously; an Effect it returns runs in the fiber that made the transition. */
type Listener = (change: CB.StateChange) => Effect.Effect<void> | void

/**
 * What the breakers of one keyed breaker share: their series (one set for
 * all keys, unless metrics are per key), their call timeouts (one watchdog
 * for all keys), and the group told of every transition instead of the state
 * gauge.
 *
 * @internal
 */
export interface Group {
  /** Marks the timeouts of every member: by identity, like a plain breaker's own mark. */
  readonly owner: object
  /** The series of every member; `undefined`: each member resolves its own (per-key metrics). */
  readonly hooks: Hooks | undefined
  deadlines: Deadlines<CallTimeoutError> | undefined
  /** Told first of every transition of a member; an Effect it returns runs like a listener's. */
  readonly onTransition: (
    impl: BreakerImpl,
    from: number,
    to: number,
    change: CB.StateChange
  ) => Effect.Effect<void> | undefined
  /** How logs name a member (`openai [gpt-4o]`). */
  readonly describe: (impl: BreakerImpl) => string
}

/** The series of one breaker (or of all the keys of a keyed one). @internal */
export interface Hooks {
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly stateHook: MetricHook.MetricHook<number, unknown>
  readonly failuresHook: MetricHook.MetricHook<number, unknown>
  readonly durationHook: MetricHook.MetricHook<number, unknown>
  readonly callHooks: ReadonlyArray<MetricHook.MetricHook<number, unknown>>
}

/**
 * The series of a breaker with these labels, every one created at 0 (so
 * `increase()` sees the first change); the state gauge set to `code`.
 *
 * @internal
 */
export const makeHooks = (labels: ReadonlyArray<MetricLabel.MetricLabel>, code: number): Hooks => {
  const hooks: Hooks = {
    labels,
    stateHook: MetricHooks.unsafeHook(MetricHooks.keys.breakerState, labels),
    failuresHook: MetricHooks.unsafeHook(MetricHooks.keys.breakerFailures, labels),
    durationHook: MetricHooks.unsafeHook(MetricHooks.keys.breakerCallDuration, labels),
    callHooks: outcomeLabels.map((outcome) =>
      MetricHooks.unsafeHook(MetricHooks.keys.breakerCalls, [...labels, outcome])
    )
  }
  hooks.stateHook.update(gaugeValues[code]!)
  hooks.failuresHook.update(0)
  for (const hook of hooks.callHooks) hook.update(0)
  MetricHooks.unsafeHook(MetricHooks.keys.breakerFallbackCalls, labels).update(0)
  MetricHooks.unsafeHook(MetricHooks.keys.fallbackDuration, labels)
  for (const [from, to] of reachable) transitionHook(labels, from, to).update(0)
  return hooks
}

const transitionHook = (
  labels: ReadonlyArray<MetricLabel.MetricLabel>,
  from: number,
  to: number
): MetricHook.MetricHook<number, unknown> =>
  MetricHooks.unsafeHook(MetricHooks.keys.breakerTransitions, [...labels, fromLabels[from]!, toLabels[to]!])

const zero = Duration.zero
const infinity = Duration.infinity

/** @internal */
export class BreakerImpl {
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
  listeners: Array<Listener> | undefined = undefined
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

  /** Whether calls read the Clock: for the duration histogram, slow calls or a time window. */
  readonly timing: boolean
  // Series resolved once: the hot path updates them without any lookup.
  readonly hooks: Hooks
  readonly failuresHook: MetricHook.MetricHook<number, unknown>
  readonly durationHook: MetricHook.MetricHook<number, unknown>
  readonly callHooks: ReadonlyArray<MetricHook.MetricHook<number, unknown>>
  /** What marks this breaker's own timeouts: itself, or its keyed group. */
  readonly owner: object

  constructor(
    readonly name: string,
    readonly clock: Clock.Clock,
    readonly scope: Scope.Scope,
    readonly tracker: Trip.Tracker,
    readonly schedule: Schedule.Schedule<unknown, unknown>,
    /** The first delay of `schedule`, taken when it ends before any opening. */
    readonly firstDelay: number,
    readonly permits: number,
    readonly successesToClose: number,
    readonly callTimeout: Duration.Duration | undefined,
    readonly isFailure: ((error: unknown) => boolean) | undefined,
    disabled: boolean,
    readonly recordDurations: boolean,
    /** The keyed breaker this one is a key of. */
    readonly group?: Group | undefined,
    /** The labels of its own series (a plain breaker's, or a key's with per-key metrics). */
    labels: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("breaker", name)],
    /** The state to start in, when not Closed or Disabled (a key of a keyed breaker forced open). */
    initial?: number | undefined
  ) {
    this.code = initial ?? (disabled ? DISABLED : CLOSED)
    this.timing = recordDurations || tracker.needsTime
    this.scheduleState = schedule.initial
    // Every series exists from creation: these start at 0.
    this.hooks = group?.hooks ?? makeHooks(labels, this.code)
    this.failuresHook = this.hooks.failuresHook
    this.durationHook = this.hooks.durationHook
    this.callHooks = this.hooks.callHooks
    this.owner = group?.owner ?? this
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
          return Effect.zipRight(this.transition(HALF_OPEN, now), this.probe(effect))
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
    const make = () =>
      new Deadlines(
        this.clock,
        this.scope,
        timeout,
        () => withoutStack(() => ownTimeout(this.owner, new CallTimeoutError({ breaker: this.name, timeout })))
      )
    // The keys of a keyed breaker share one list of deadlines (and its one watchdog fiber).
    const deadlines = this.group === undefined
      ? this.deadlines ??= make()
      : this.group.deadlines ??= make()
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
        this.completed(SUCCESS, start, generation)
          ? this.opening(Effect.succeed(a), "failure or slow-call rate reached")
          : Effect.succeed(a),
      onFailure: (cause) =>
        this.completed(this.classify(cause), start, generation)
          ? this.opening(Effect.failCause(cause), describeError(Cause.squash(cause)))
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
   * Opens the breaker, then goes on with `then` — paid only by the call that
   * trips, never on the hot path. The decision is kept in `tripGeneration`:
   * were the fiber interrupted before this step, the next call takes it; a
   * transition in between (a `reset`, say) makes it stale.
   */
  opening<A, E, R>(then: Effect.Effect<A, E, R>, reason = "an earlier call tripped it"): Effect.Effect<A, E, R> {
    // Uninterruptible from the check on: an interruption between deciding and
    // opening would leave the breaker open with no timer to half-open it.
    const open = Effect.uninterruptible(Effect.suspend(() => {
      const take = this.tripGeneration === this.generation && this.code === CLOSED
      this.tripGeneration = -1
      return take ? this.open(reason) : Effect.void
    }))
    return Effect.zipRight(open, then)
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
    // Only this breaker's own deadline makes a timeout; any other error (a
    // `CallTimeoutError` the wrapped code raised included) is for `isFailure`.
    if (isOwnTimeout(this.owner, error)) return TIMEOUT
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
      Effect.suspend(() => {
        // The state moved since `run` looked: start over, interruptible again.
        if (this.code !== HALF_OPEN) return restore(this.run(effect))
        if (this.probes >= this.permits) return this.reject(zero)
        this.probes++
        const generation = this.generation
        const start = this.clock.unsafeCurrentTimeMillis()
        return Effect.onExit(restore(this.timed(effect)), (exit) => this.probeDone(exit, generation, start))
      })
    )
  }

  probeDone(exit: Exit.Exit<unknown, unknown>, generation: number, start: number): Effect.Effect<void> {
    const outcome = exit._tag === "Success" ? SUCCESS : this.classify(exit.cause)
    if (outcome !== INTERRUPTED) {
      this.record(outcome, this.clock.unsafeCurrentTimeMillis() - start)
    }
    // A transition since admission (reset, forceOpen, …) already cleared the probes.
    if (generation !== this.generation) return Effect.void
    this.probes--
    switch (outcome) {
      case SUCCESS:
        return ++this.probeSuccesses >= this.successesToClose
          ? this.transition(CLOSED, this.clock.unsafeCurrentTimeMillis())
          : Effect.void
      case FAILURE:
      case TIMEOUT:
        return this.open(`probe failed: ${describeError(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause))}`)
      default:
        return Effect.void
    }
  }

  // ---------------------------------------------------------------------------
  // transitions
  // ---------------------------------------------------------------------------

  /**
   * Opens the breaker: the state changes now, when this is called, so no call
   * is admitted from here on; what remains is the Effect returned, which the
   * caller runs in the same uninterruptible region (an opening is never left
   * half done). The next delay of the reset schedule is
   * taken (its step is an Effect: jitter reads `Random`), then the
   * transition is announced, then the half-open timer is forked in the
   * breaker's scope — after the announcement, so that even with a zero delay
   * Closed → Open is delivered before Open → HalfOpen.
   */
  open(reason: string): Effect.Effect<void> {
    const now = this.clock.unsafeCurrentTimeMillis()
    // Rejections until the delay is known say "retry after infinity": the
    // step is synchronous for every schedule of Effect's, so none sees it.
    this.until = Infinity
    const announce = this.transition(OPEN, now, reason)
    const generation = this.generation
    const openings = this.openings++
    return Effect.flatMap(Effect.exit(this.schedule.step(now, openings, this.scheduleState)), (step) => {
      if (this.generation !== generation) return announce
      let delay: number
      let problem: string | undefined
      if (Exit.isFailure(step)) {
        problem = `its reset schedule failed (${describeError(Cause.squash(step.cause))})`
        delay = this.lastDelay >= 0 ? this.lastDelay : this.firstDelay
      } else if (ScheduleDecision.isContinue(step.value[2])) {
        this.scheduleState = step.value[0]
        delay = Math.max(0, ScheduleIntervals.start(step.value[2].intervals) - now)
      } else {
        // A schedule that has ended keeps its last delay.
        delay = this.lastDelay >= 0 ? this.lastDelay : this.firstDelay
      }
      if (!(delay <= maxTimerMillis)) {
        // An exponential back-off grows past what a timer can wait.
        problem = `its reset delay ${delay} ms exceeds ${maxTimerMillis} ms`
        delay = maxTimerMillis
      }
      this.lastDelay = delay
      this.until = now + delay
      const loud = problem === undefined ? announce : Effect.zipRight(
        announce,
        Effect.logError(`Circuit breaker ${this.name}: ${problem}; it stays open for ${delay} ms`)
      )
      const wake = Effect.zipRight(
        this.clock.sleep(Duration.millis(delay)),
        Effect.suspend(() =>
          this.generation === generation && this.code === OPEN
            ? this.transition(HALF_OPEN, this.clock.unsafeCurrentTimeMillis())
            : Effect.void
        )
      )
      // A timer left over from an earlier opening wakes up, sees a newer
      // generation and does nothing; closing the scope interrupts them all.
      return Effect.zipRight(loud, Effect.asVoid(Effect.forkIn(Effect.interruptible(wake), this.scope)))
    })
  }

  /**
   * Moves to `to` synchronously: the state, the counts, the gauge and the
   * transition counter change at once and synchronous listeners are called
   * in order. What is left — the log line and the Effects listeners returned
   * — is the Effect returned, for the transitioning fiber to run.
   */
  transition(to: number, now: number, reason?: string): Effect.Effect<void> {
    const from = this.code
    if (from === to) return Effect.void
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
    transitionHook(this.hooks.labels, from, to).update(1)
    const change: CB.StateChange = { breaker: this.name, from: states[from]!, to: states[to]!, at: now }
    // A key's state is summed up by its group (`circuit_breaker_keys`), unless it has series of its own.
    if (this.group === undefined || this.group.hooks === undefined) this.hooks.stateHook.update(gaugeValues[to]!)
    let effects: Array<Effect.Effect<void>> | undefined
    if (this.group !== undefined) {
      const effect = this.group.onTransition(this, from, to, change)
      if (effect !== undefined) effects = [effect]
    }
    const listeners = this.listeners
    if (listeners !== undefined && listeners.length > 0) {
      for (const listener of listeners.slice()) {
        try {
          const result = listener(change)
          // Only an Effect is run: a listener written `(c) => array.push(c)` returns a number.
          if (result !== undefined && Effect.isEffect(result)) (effects ??= []).push(result)
        } catch {
          // A listener must not break the breaker.
        }
      }
    }
    const log = this.logTransition(from, to, reason)
    if (effects === undefined) return log
    return Effect.zipRight(
      log,
      // One failing or dying listener must not stop the others.
      Effect.forEach(effects, (effect) => Effect.catchAllCause(effect, () => Effect.void), { discard: true })
    )
  }

  logTransition(from: number, to: number, reason: string | undefined): Effect.Effect<void> {
    const who = this.group === undefined ? this.name : this.group.describe(this)
    const message = `Circuit breaker ${who}: ${states[from]!._tag} → ${states[to]!._tag}` +
      (reason === undefined ? "" : ` (${reason})`)
    return (to === OPEN ? Effect.logWarning(message) : Effect.logInfo(message)).pipe(
      Effect.annotateLogs({ breaker: this.name, from: stateLabels[from], to: stateLabels[to] })
    )
  }

  /**
   * A manual transition; it clears the trip counts and, even when the state
   * does not change, makes calls admitted before it stale (a pending
   * half-open timer too): `reset` starts from nothing.
   */
  manual(to: number, action: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      let announce: Effect.Effect<void> = Effect.void
      if (this.code !== to) {
        announce = this.transition(to, this.clock.unsafeCurrentTimeMillis(), action)
      } else {
        this.generation++
        this.untimed = undefined
      }
      this.tracker.clear()
      return announce
    })
  }

  /** Reading the state never changes it: the timer fiber half-opens the breaker. */
  currentState(): CB.State {
    return states[this.code]!
  }

  addListener(listener: Listener): () => void {
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
            Effect.sync(() =>
              impl.addListener((change) => {
                emit.single(change)
              })
            ),
            (remove) => Effect.sync(remove)
          ),
        { bufferSize: "unbounded" }
      )
    },
    onChange(this: Handle, listener: Listener) {
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
      return implOf(this).manual(FORCED_OPEN, "forced open")
    },
    get disable() {
      return implOf(this).manual(DISABLED, "disabled")
    },
    get reset() {
      return implOf(this).manual(CLOSED, "reset")
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
      // `arguments`, as Effect's own `pipe` methods: no rest array per call.
      // eslint-disable-next-line prefer-rest-params
      return pipeArguments(this, arguments)
    }
  },
  Function.prototype
)

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const resetExpected = "a Schedule whose delays are finite (a breaker open indefinitely is forceOpen)"

/** The options of a breaker, checked; the trip policy checked but its tracker made per breaker. @internal */
export interface Checked {
  readonly name: string
  readonly trip: Trip.TripPolicy
  readonly reset: Schedule.Schedule<unknown, unknown>
  readonly permits: number
  readonly successesToClose: number
  readonly callTimeout: Duration.Duration | undefined
  readonly isFailure: ((error: unknown) => boolean) | undefined
  readonly disabled: boolean
  readonly recordDurations: boolean
  /** The first delay of `reset`, in milliseconds. */
  readonly firstDelay: number
}

/**
 * Checks a breaker's options, naming `module` in errors. The first delay of
 * `reset` is checked here, once: an infinite one (`spaced(Infinity)`) would
 * leave the breaker open for good.
 *
 * @internal
 */
export const check = (module: string, options: CB.Options): Effect.Effect<Checked> =>
  Effect.flatMap(
    validated(module, (v) => {
      v.object("options", options)
      const trip = options.trip ?? defaultTrip
      Trip.tracker(v, trip)
      return {
        name: v.nonEmptyString("name", options.name),
        trip,
        reset: v.schedule("reset", options.reset ?? defaultReset),
        permits: options.halfOpen?.permits === undefined
          ? 1
          : v.positiveInt("halfOpen.permits", options.halfOpen.permits),
        successesToClose: options.halfOpen?.successesToClose === undefined
          ? 1
          : v.positiveInt("halfOpen.successesToClose", options.halfOpen.successesToClose),
        callTimeout: options.callTimeout === undefined
          ? undefined
          : v.duration("callTimeout", options.callTimeout, { timer: true }),
        isFailure: options.isFailure === undefined
          ? undefined
          : v.func("isFailure", options.isFailure) as (error: unknown) => boolean,
        disabled: options.disabled === undefined ? false : v.boolean("disabled", options.disabled),
        recordDurations: options.recordDurations === undefined
          ? false
          : v.boolean("recordDurations", options.recordDurations)
      }
    }),
    (checked) =>
      Effect.flatMap(Effect.clock, (clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        return Effect.flatMap(Effect.exit(checked.reset.step(now, 0, checked.reset.initial)), (step) => {
          const firstDelay = Exit.isSuccess(step) && ScheduleDecision.isContinue(step.value[2])
            ? ScheduleIntervals.start(step.value[2].intervals) - now
            : NaN
          return firstDelay >= 0 && firstDelay <= maxTimerMillis
            ? Effect.succeed({ ...checked, firstDelay })
            : Effect.die(
              new InvalidOptionError({ module, option: "reset", expected: resetExpected, actual: checked.reset })
            )
        })
      })
  )

/**
 * A breaker of checked options, with its own tracker; a member of `group`
 * (a key of a keyed breaker) when given.
 *
 * @internal
 */
export const unsafeMakeImpl = (
  checked: Checked,
  clock: Clock.Clock,
  scope: Scope.Scope,
  group?: Group,
  labels?: ReadonlyArray<MetricLabel.MetricLabel>,
  initial?: number
): BreakerImpl =>
  new BreakerImpl(
    checked.name,
    clock,
    scope,
    Trip.tracker(validator("CircuitBreaker"), checked.trip),
    checked.reset,
    checked.firstDelay,
    checked.permits,
    checked.successesToClose,
    checked.callTimeout,
    checked.isFailure,
    checked.disabled,
    checked.recordDurations,
    group,
    labels,
    initial
  )

/**
 * The callable breaker of `impl`. A computed key names the function without
 * `defineProperty`, which would put it in dictionary mode (~200 B more per breaker).
 *
 * @internal
 */
export const handleOf = (impl: BreakerImpl): CB.CircuitBreaker => {
  const breaker = {
    [impl.name]: <A, E, R>(effect: Effect.Effect<A, E, R>) => impl.run(effect)
  }[impl.name]! as any
  Object.setPrototypeOf(breaker, BreakerProto)
  breaker[ImplKey] = impl
  return breaker as CB.CircuitBreaker
}

/** @internal */
export const make = (options: CB.Options): Effect.Effect<CB.CircuitBreaker, never, Scope.Scope> =>
  Effect.flatMap(
    check("CircuitBreaker.make", options),
    (checked) =>
      Effect.map(Effect.all([Effect.clock, Effect.scope]), ([clock, scope]) =>
        // No finalizer of its own (it would cost ~500 B per breaker): the only
        // fiber a breaker owns, its half-open timer, is forked in this scope.
        handleOf(unsafeMakeImpl(checked, clock, scope)))
  )

/** The breaker behind a handle made by {@link handleOf}. @internal */
export const unsafeImplOf = (breaker: CB.CircuitBreaker): BreakerImpl => implOf(breaker)

/** State codes, for the keyed breaker. @internal */
export const codes = { CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED } as const

/** The `state` label values by state code. @internal */
export { stateLabels }

/** @internal */
export const isCircuitBreaker = (u: unknown): u is CB.CircuitBreaker => typeof u === "function" && TypeId in u
