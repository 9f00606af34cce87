import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as MetricLabel from "effect/MetricLabel"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type { Degradation } from "../Degradation.js"
import * as Level from "../DegradationLevel.js"
import * as Policy from "../DegradationPolicy.js"
import * as Metrics from "../Metrics.js"
import { describeError } from "./describe.js"
import { InvalidOptionError } from "./errors.js"

type DegradationLevel = Level.DegradationLevel

interface Entry {
  readonly name: string
  readonly whenDown: DegradationLevel
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  readonly health: Effect.Effect<unknown, unknown> | undefined
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  lastCheck: Degradation.HealthCheck | undefined
  /** Checks started so far, and which of them `lastCheck` is the result of. */
  checksStarted: number
  lastCheckStarted: number
  down: boolean
}

const isBreakerDown = (breaker: CircuitBreaker.CircuitBreaker | undefined): boolean => {
  if (breaker === undefined) return false
  const tag = breaker.unsafeState()._tag
  return tag === "Open" || tag === "ForcedOpen"
}

type LogEntry = { readonly warn: boolean; readonly message: string }

class DegradationImpl {
  level: DegradationLevel = Level.Optimal()
  since: number
  forced: Degradation.Forced | undefined = undefined
  /** What would apply without a forced level: `set` and automatic changes land here. */
  underlying: DegradationLevel = Level.Optimal()
  readonly entries = new Map<string, Entry>()
  /** The down dependencies as of the last change reported in a log line. */
  reportedDown = new Set<string>()
  refreshing = false
  readonly transitionListeners = new Set<(transition: Degradation.Transition) => void>()
  /** The most recent transitions, oldest first (bounded: {@link historySize}). */
  readonly history: Array<Degradation.Transition> = []

  constructor(
    readonly clock: Clock.Clock,
    readonly policy: Policy.DegradationPolicy,
    readonly healthCheckTimeout: Duration.Duration,
    readonly logs: Queue.Queue<LogEntry>,
    readonly ref: SubscriptionRef.SubscriptionRef<DegradationLevel>,
    readonly runtime: Runtime.Runtime<never>
  ) {
    this.since = clock.unsafeCurrentTimeMillis()
    Metrics.degradationLevel.unsafeUpdate(Level.rank(this.level), [])
    for (const from of Level.all) {
      for (const to of Level.all) {
        if (from._tag !== to._tag) Metrics.degradationTransitions.unsafeUpdate(0, transitionLabels(from, to))
      }
    }
  }

  downList(): ReadonlyArray<Policy.DownDependency> {
    const down: Array<Policy.DownDependency> = []
    for (const entry of this.entries.values()) {
      if (entry.down) down.push({ name: entry.name, whenDown: entry.whenDown })
    }
    return down
  }

  /** Refreshes every entry's `down` flag and its `dependency_up` gauge. */
  refresh() {
    // Reading a breaker's state may move it Open → HalfOpen, whose listener
    // calls back in here: the outer pass covers it.
    if (this.refreshing) return
    this.refreshing = true
    try {
      this.refreshEntries()
    } finally {
      this.refreshing = false
    }
  }

  refreshEntries() {
    for (const entry of this.entries.values()) {
      const down = isBreakerDown(entry.breaker) || entry.lastCheck?.healthy === false
      if (down !== entry.down) {
        entry.down = down
        Metrics.dependencyUp.unsafeUpdate(down ? 0 : 1, entry.labels)
      }
    }
  }

  /** Which dependencies went down or came up since the last applied change. */
  reason(): string {
    const down = this.downList()
    const names = new Set(down.map((d) => d.name))
    const wentDown = [...names].filter((name) => !this.reportedDown.has(name))
    const cameUp = [...this.reportedDown].filter((name) => !names.has(name))
    this.reportedDown = names
    const parts: Array<string> = []
    if (wentDown.length > 0) parts.push(`${wentDown.join(", ")} down`)
    if (cameUp.length > 0) parts.push(`${cameUp.join(", ")} up`)
    if (parts.length === 0) parts.push(down.length === 0 ? "all dependencies up" : `${[...names].join(", ")} down`)
    else if (cameUp.length > 0 && names.size > 0) parts.push(`still down: ${[...names].join(", ")}`)
    return parts.join("; ")
  }

  computed(): DegradationLevel {
    return this.policy(this.downList())
  }

  /**
   * An event (breaker transition, registration): applies a worse level at
   * once; a better one waits for the recovery fiber.
   */
  onEvent() {
    this.refresh()
    let computed: DegradationLevel
    try {
      computed = this.computed()
    } catch (error) {
      this.log(true, `Degradation: policy failed (${describeError(error)}); level unchanged`)
      return
    }
    if (Level.isWorseThan(computed, this.underlying)) {
      this.update(computed, "degrade", this.reason())
    }
  }

  /** A recovery tick: applies the computed level, better or worse. */
  recover(): DegradationLevel {
    this.refresh()
    const computed = this.computed()
    if (computed._tag !== this.underlying._tag) {
      const kind = Level.isWorseThan(computed, this.underlying) ? "degrade" : "recover"
      this.update(computed, kind, this.reason())
    }
    return this.level
  }

  /** Records `level` as the underlying level and applies it unless forced. */
  update(level: DegradationLevel, kind: Degradation.Transition["kind"], reason: string) {
    this.underlying = level
    if (this.forced !== undefined) {
      if (level._tag !== this.level._tag) {
        this.log(false, `Degradation: ${level._tag} recorded but not applied: forced ${this.level._tag} (${reason})`)
      }
      return
    }
    this.apply(level, kind, reason)
  }

  apply(to: DegradationLevel, kind: Degradation.Transition["kind"], reason: string) {
    const from = this.level
    if (from._tag === to._tag) return
    const at = this.clock.unsafeCurrentTimeMillis()
    this.level = to
    this.since = at
    Metrics.degradationLevel.unsafeUpdate(Level.rank(to), [])
    Metrics.degradationTransitions.unsafeUpdate(1, transitionLabels(from, to))
    const title = kind === "recover" ? "Recovery" : "Degradation"
    this.log(Level.isWorseThan(to, from), `${title}: ${from._tag} → ${to._tag} (${reason})`)
    const transition: Degradation.Transition = { from, to, at, kind, reason }
    this.history.push(transition)
    if (this.history.length > historySize) this.history.shift()
    // The level is applied synchronously (a breaker callback may be the
    // cause); the SubscriptionRef follows in the same step. Its critical
    // sections never suspend, so this completes at once; should it ever have
    // to wait, the fiber finishes later, in order, rather than being lost.
    Runtime.runSyncExit(this.runtime)(SubscriptionRef.set(this.ref, to))
    for (const listener of [...this.transitionListeners]) listener(transition)
  }

  log(warn: boolean, message: string) {
    Queue.unsafeOffer(this.logs, { warn, message })
  }

  checkOne(entry: Entry): Effect.Effect<void> {
    const health = entry.health
    if (health === undefined) return Effect.void
    return Effect.suspend(() => {
      // A sequence number, not a time: the wall clock can step back.
      const started = ++entry.checksStarted
      // Disconnected: a check that ignores interruption cannot hold up the tick.
      return Effect.disconnect(health).pipe(
        Effect.timeoutFail({
          duration: this.healthCheckTimeout,
          onTimeout: () => `health check timed out after ${Duration.format(this.healthCheckTimeout)}`
        }),
        Effect.exit,
        Effect.map((exit) => {
          // Checks overlap (`evaluate` next to the recovery fiber's ticks): a
          // result older than the one on record must not replace it.
          if (started < entry.lastCheckStarted) return
          entry.lastCheckStarted = started
          const at = this.clock.unsafeCurrentTimeMillis()
          entry.lastCheck = Exit.isSuccess(exit)
            ? { at, healthy: true, error: undefined }
            : { at, healthy: false, error: describeError(exit.cause._tag === "Fail" ? exit.cause.error : exit.cause) }
        })
      )
    })
  }

  /** Runs every health check concurrently, then applies the result. */
  tick(): Effect.Effect<DegradationLevel> {
    return Effect.suspend(() =>
      Effect.forEach([...this.entries.values()], (entry) => this.checkOne(entry), {
        concurrency: "unbounded",
        discard: true
      })
    ).pipe(Effect.zipRight(Effect.sync(() => this.recover())))
  }

  /** The computed level, or the underlying one when the policy throws. */
  computedOrUnderlying(): DegradationLevel {
    this.refresh()
    try {
      return this.computed()
    } catch {
      return this.underlying
    }
  }

  status(): Degradation.Status {
    const computed = this.computedOrUnderlying()
    return {
      level: this.level,
      since: this.since,
      forced: this.forced,
      computed,
      dependencies: [...this.entries.values()].map((entry) => ({
        name: entry.name,
        up: !entry.down,
        whenDown: entry.whenDown,
        breaker: entry.breaker?.unsafeState(),
        lastCheck: entry.lastCheck
      }))
    }
  }
}

/** How many transitions `history` keeps. */
const historySize = 50

const transitionLabels = (from: DegradationLevel, to: DegradationLevel): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("from", from._tag),
  MetricLabel.make("to", to._tag)
]

const invalid = (option: string, expected: string, actual: unknown) =>
  Effect.die(new InvalidOptionError({ module: "Degradation.make", option, expected, actual }))

const decodeDuration = (input: unknown): Duration.Duration | undefined => {
  try {
    const duration = Duration.decode(input as Duration.DurationInput)
    return Duration.isFinite(duration) && Duration.toMillis(duration) > 0 ? duration : undefined
  } catch {
    return undefined
  }
}

/** @internal */
export const make = (options: Degradation.Options = {}): Effect.Effect<Degradation.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recoveryInterval = decodeDuration(options.recoveryInterval ?? "30 seconds")
    if (recoveryInterval === undefined) {
      return yield* invalid("recoveryInterval", "a positive finite duration", options.recoveryInterval)
    }
    const healthCheckTimeout = decodeDuration(options.healthCheckTimeout ?? "5 seconds")
    if (healthCheckTimeout === undefined) {
      return yield* invalid("healthCheckTimeout", "a positive finite duration", options.healthCheckTimeout)
    }
    if (options.policy !== undefined && typeof options.policy !== "function") {
      return yield* invalid("policy", "a function", options.policy)
    }
    const clock = yield* Effect.clock
    const logs = yield* Effect.acquireRelease(Queue.unbounded<LogEntry>(), Queue.shutdown)
    const ref = yield* SubscriptionRef.make<DegradationLevel>(Level.Optimal())
    const impl = new DegradationImpl(
      clock,
      options.policy ?? Policy.defaultPolicy,
      healthCheckTimeout,
      logs,
      ref,
      yield* Effect.runtime<never>()
    )

    // Logs are written by a fiber of the layer, so they go through the
    // application's logger even when the transition came from a breaker callback.
    yield* Queue.take(logs).pipe(
      Effect.flatMap((entry) => entry.warn ? Effect.logWarning(entry.message) : Effect.logInfo(entry.message)),
      Effect.forever,
      Effect.forkScoped
    )

    // The recovery fiber: a tick every interval. A tick that dies (a throwing
    // policy, say) is logged, and the fiber starts over after the interval.
    // At a fixed rate (every interval from the start), not interval after the
    // end of a tick: a slow health check does not push the next tick back.
    yield* Effect.sleep(recoveryInterval).pipe(
      Effect.zipRight(Effect.repeat(impl.tick(), Schedule.fixed(recoveryInterval))),
      Effect.sandbox,
      Effect.tapError((cause) => Effect.logError("Degradation: recovery fiber died; restarting it", cause)),
      Effect.retry(Schedule.forever),
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "degradation-recovery")
    )

    const transitions = Stream.asyncPush<Degradation.Transition>((emit) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const listener = (transition: Degradation.Transition) => emit.single(transition)
          impl.transitionListeners.add(listener)
          return listener
        }),
        (listener) => Effect.sync(() => impl.transitionListeners.delete(listener))
      ), { bufferSize: "unbounded" })

    const service: Degradation.Service = {
      current: Effect.sync(() => impl.level),
      unsafeCurrent: () => impl.level,
      status: Effect.sync(() => impl.status()),
      changes: ref.changes.pipe(Stream.changesWith((a, b) => a._tag === b._tag)),
      transitions,
      history: Effect.sync(() => impl.history.slice().reverse()),
      breakers: Effect.sync(() => {
        const breakers = new Map<string, CircuitBreaker.CircuitBreaker>()
        for (const entry of impl.entries.values()) if (entry.breaker !== undefined) breakers.set(entry.name, entry.breaker)
        return breakers
      }),
      set: (level) => Effect.sync(() => impl.update(level, "set", "set manually")),
      force: (level, reason) =>
        Effect.sync(() => {
          impl.forced = { level, reason, since: clock.unsafeCurrentTimeMillis() }
          impl.apply(level, "force", `forced: ${reason}`)
        }),
      release: Effect.sync(() => {
        if (impl.forced === undefined) return
        const reason = impl.forced.reason
        impl.forced = undefined
        const level = impl.computedOrUnderlying()
        impl.underlying = level
        impl.apply(level, "release", `released: ${reason}`)
      }),
      // Unlike the recovery fiber (which is restarted), a caller of `evaluate`
      // gets the level in force when a tick dies (a throwing policy, say).
      evaluate: impl.tick().pipe(
        Effect.catchAllDefect((defect) =>
          Effect.as(Effect.logError("Degradation: evaluate failed; level unchanged", defect), impl.level)
        )
      ),
      register: (registration) =>
        Effect.gen(function*() {
          if (impl.entries.has(registration.name)) {
            return yield* invalid("name", `a dependency name not registered yet`, registration.name)
          }
          const entry: Entry = {
            name: registration.name,
            whenDown: registration.whenDown,
            breaker: registration.breaker,
            health: registration.health,
            labels: [MetricLabel.make("dependency", registration.name)],
            lastCheck: undefined,
            checksStarted: 0,
            lastCheckStarted: 0,
            down: false
          }
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              impl.entries.set(entry.name, entry)
              Metrics.dependencyUp.unsafeUpdate(1, entry.labels)
            }),
            () =>
              Effect.sync(() => {
                impl.entries.delete(entry.name)
                impl.reportedDown.delete(entry.name)
              })
          )
          // Subscribed first, then the current state read: a transition in
          // between is seen by one or the other, never lost.
          if (registration.breaker !== undefined) yield* registration.breaker.onChange(() => impl.onEvent())
          impl.onEvent()
        }        )
    }
    return service
  })
