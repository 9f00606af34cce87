import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as CircuitBreaker from "../CircuitBreaker.js"
import { Degradation } from "../Degradation.js"
import * as Level from "../DegradationLevel.js"
import * as Policy from "../DegradationPolicy.js"
import * as Metrics from "../Metrics.js"
import { describeError } from "./describe.js"
import { peekFiberRefs } from "./fiberRefs.js"
import { forkNow } from "./forkNow.js"
import { validated } from "./validate.js"

type DegradationLevel = Level.DegradationLevel

// -----------------------------------------------------------------------------
// registrations (internal: `Dependency.layer` registers its own)
// -----------------------------------------------------------------------------

/**
 * A dependency the level depends on, as `Dependency.layer` registers it.
 *
 * @internal
 */
export interface Registration {
  /** The module the user called, for the errors of a bad registration (default `Degradation.register`). */
  readonly module?: string | undefined
  readonly name: string
  /** The level this dependency's outage calls for. */
  readonly whenDown: DegradationLevel
  /** Down while Open or ForcedOpen, and while HalfOpen without evidence of recovery. */
  readonly breaker?: CircuitBreaker.CircuitBreaker | undefined
  /** Run at registration and on every recovery tick; down when it fails, dies or times out. */
  readonly health?: Effect.Effect<unknown, unknown> | undefined
}

interface Registry {
  readonly register: (registration: Registration) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * How dependencies register, beside the service (handlers never see
 * `register`): `Degradation.layer` provides it, and a layer that decorates
 * `Degradation` keeps it by passing its input context through.
 *
 * @internal
 */
export class RegistryTag extends Context.Tag("@effect-resilience/core/Degradation/Registry")<RegistryTag, Registry>() {}

/** The registry of each service `make` built, for a service provided without the layer (`Layer.scoped(Degradation, make())`). */
const registries = new WeakMap<object, Registry>()

/** The same registries by the service's `unsafeCurrent`, which a decorator that spreads the service keeps. */
const registriesByRead = new WeakMap<object, Registry>()

const registryOf = (degradation: Degradation.Service): Registry | undefined => {
  // A decorator built on the service as its prototype finds the original's.
  for (let o: object | null = degradation; o !== null; o = Object.getPrototypeOf(o)) {
    const registry = registries.get(o)
    if (registry !== undefined) return registry
  }
  const read = degradation.unsafeCurrent as unknown
  return typeof read === "function" ? registriesByRead.get(read) : undefined
}

/**
 * Registers a dependency with `degradation` for the lifetime of the scope:
 * its breaker is subscribed and its first health check started (in the
 * background) before this returns. Invalid registrations are a defect
 * naming the option and `registration.module`.
 *
 * @internal
 */
export const register = (
  degradation: Degradation.Service,
  registration: Registration
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.serviceOption(RegistryTag), (provided) => {
    const registry = Option.getOrUndefined(provided) ?? registryOf(degradation)
    return registry === undefined
      ? Effect.dieMessage(
        `${registration?.module ?? "Degradation.register"}: the Degradation service in context was not built by ` +
          "Degradation.layer or Degradation.make, so dependencies cannot register with it"
      )
      : registry.register(registration)
  })

// -----------------------------------------------------------------------------
// state
// -----------------------------------------------------------------------------

interface Entry {
  readonly name: string
  readonly whenDown: DegradationLevel
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  readonly health: Effect.Effect<unknown, unknown> | undefined
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  lastCheck: Degradation.HealthCheck | undefined
  /** Checks started so far (a sequence number, not a time: the wall clock can step back). */
  checksStarted: number
  /** Which check `lastCheck` is the result of. */
  lastCheckStarted: number
  /** `checksStarted` when the breaker last half-opened: only a later check is evidence of recovery. */
  halfOpenedAfter: number
  /** The breaker state last seen, to notice it half-opening. */
  knownState: CircuitBreaker.State["_tag"] | undefined
  /** Whether a check is outstanding: at most one per dependency. */
  checking: boolean
  /** The fiber of the outstanding check, to end it with the registration. */
  running: Fiber.RuntimeFiber<unknown, unknown> | undefined
  down: boolean
}

/**
 * Everything about the level, held in one `SubscriptionRef`: it is changed
 * only under {@link DegradationImpl.lock}, and every applied change of level
 * is published once on {@link DegradationImpl.published}.
 */
interface LevelState {
  readonly level: DegradationLevel
  /** Epoch millis of the last change of level. */
  readonly since: number
  readonly forced: Degradation.Forced | undefined
  /** What would apply without a forced level: `set` and automatic changes land here. */
  readonly underlying: DegradationLevel
  /** The most recent transitions, newest first (bounded: {@link historySize}). */
  readonly history: ReadonlyArray<Degradation.Transition>
  /** The down dependencies as of the last change reported. */
  readonly reportedDown: ReadonlySet<string>
}

/** How many transitions `history` keeps. */
const historySize = 50

const transitionLabels = (from: DegradationLevel, to: DegradationLevel): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("from", from._tag),
  MetricLabel.make("to", to._tag)
]

const isLevel = (u: unknown): u is DegradationLevel =>
  typeof u === "object" && u !== null && Level.all.some((level) => level._tag === (u as { _tag?: unknown })._tag)

/**
 * A dependency is down when its breaker is Open or ForcedOpen, or HalfOpen
 * without evidence of recovery (no health check started after it half-opened
 * has passed: a half-open breaker only means the reset delay elapsed), or
 * when its last health check failed.
 */
const isDown = (entry: Entry, state: CircuitBreaker.State["_tag"] | undefined): boolean => {
  if (entry.lastCheck?.healthy === false) return true
  switch (state) {
    case "Open":
    case "ForcedOpen":
      return true
    case "HalfOpen":
      return !(entry.lastCheck?.healthy === true && entry.lastCheckStarted > entry.halfOpenedAfter)
    default:
      return false
  }
}

class DegradationImpl {
  readonly entries = new Map<string, Entry>()

  constructor(
    readonly clock: Clock.Clock,
    readonly policy: Policy.DegradationPolicy,
    readonly healthCheckTimeout: Duration.Duration,
    readonly ref: SubscriptionRef.SubscriptionRef<LevelState>,
    readonly published: PubSub.PubSub<Degradation.Transition>,
    /** Serializes changes of {@link ref}: transitions are published in the order they are applied. */
    readonly lock: Effect.Semaphore
  ) {}

  /** The level of {@link ref}, kept in step by {@link setState}: for synchronous readers. */
  levelNow: DegradationLevel = Level.Optimal()

  /** Sets {@link ref} and {@link levelNow} together (uninterruptible: they never disagree). */
  setState(state: LevelState): Effect.Effect<void> {
    return Effect.uninterruptible(Effect.zipRight(
      SubscriptionRef.set(this.ref, state),
      Effect.sync(() => {
        this.levelNow = state.level
      })
    ))
  }

  /** Refreshes every entry's `down` flag and its `dependency_up` gauge. */
  refresh(): Effect.Effect<ReadonlyArray<Policy.DownDependency>> {
    return Effect.sync(() => {
      const down: Array<Policy.DownDependency> = []
      for (const entry of this.entries.values()) {
        const state = entry.breaker?.unsafeState()._tag
        if (state === "HalfOpen" && entry.knownState !== "HalfOpen") entry.halfOpenedAfter = entry.checksStarted
        entry.knownState = state
        const isNowDown = isDown(entry, state)
        if (isNowDown !== entry.down) {
          entry.down = isNowDown
          Metrics.dependencyUp.unsafeUpdate(isNowDown ? 0 : 1, entry.labels)
        }
        if (isNowDown) down.push({ name: entry.name, whenDown: entry.whenDown })
      }
      return down
    })
  }

  /**
   * The policy's level for `down`. A policy that throws or answers something
   * that is not a level cannot silence the other dependencies: the default
   * policy decides this evaluation instead, and the failure is logged.
   */
  evaluatePolicy(down: ReadonlyArray<Policy.DownDependency>): Effect.Effect<DegradationLevel> {
    return Effect.suspend(() => {
      let problem: string
      try {
        const level = this.policy(down)
        if (isLevel(level)) return Effect.succeed(level)
        problem = `returned ${describeError(level)}, not a DegradationLevel`
      } catch (error) {
        problem = `threw: ${describeError(error)}`
      }
      const fallback = Policy.defaultPolicy(down)
      return Effect.as(
        Effect.logError(`Degradation: the policy ${problem}; the default policy gives ${fallback._tag} this time`),
        fallback
      )
    })
  }

  computed(): Effect.Effect<{ readonly down: ReadonlyArray<Policy.DownDependency>; readonly level: DegradationLevel }> {
    return Effect.flatMap(this.refresh(), (down) => Effect.map(this.evaluatePolicy(down), (level) => ({ down, level })))
  }

  /**
   * An event (breaker transition, failed first check, registration): applies
   * a worse level at once; a better one waits for the recovery fiber.
   */
  degradeIfWorse(): Effect.Effect<void> {
    return this.lock.withPermits(1)(
      Effect.flatMap(
        this.computed(),
        ({ down, level }) =>
          Effect.flatMap(SubscriptionRef.get(this.ref), (state) =>
            Level.isWorseThan(level, state.underlying)
              ? this.update(state, level, "degrade", down)
              : Effect.void)
      )
    )
  }

  /** A recovery tick's verdict: applies the computed level, better or worse. */
  recover(): Effect.Effect<DegradationLevel> {
    return this.lock.withPermits(1)(
      Effect.flatMap(this.computed(), ({ down, level }) =>
        Effect.flatMap(SubscriptionRef.get(this.ref), (state) => {
          if (level._tag === state.underlying._tag) return Effect.succeed(state.level)
          const kind = Level.isWorseThan(level, state.underlying) ? "degrade" : "recover"
          return Effect.zipRight(
            this.update(state, level, kind, down),
            Effect.map(SubscriptionRef.get(this.ref), (s) => s.level)
          )
        }))
    )
  }

  /** Records `level` as the underlying level and applies it unless forced (under the lock). */
  update(
    state: LevelState,
    level: DegradationLevel,
    kind: Degradation.Transition["kind"],
    down: ReadonlyArray<Policy.DownDependency> | undefined
  ): Effect.Effect<void> {
    let reportedDown = state.reportedDown
    let reason = "set manually"
    if (down !== undefined) {
      const names = new Set(down.map((d) => d.name))
      reason = describeChange(reportedDown, names)
      reportedDown = names
    }
    const next: LevelState = { ...state, underlying: level, reportedDown }
    if (state.forced !== undefined) {
      return Effect.zipRight(
        this.setState(next),
        level._tag === state.level._tag ? Effect.void : Effect.logInfo(
          `Degradation: ${level._tag} recorded but not applied: forced ${state.level._tag} (${reason})`
        )
      )
    }
    return this.apply(next, level, kind, reason)
  }

  /** Applies `to` over `state` (under the lock): the new state is set, then the transition published. */
  apply(
    state: LevelState,
    to: DegradationLevel,
    kind: Degradation.Transition["kind"],
    reason: string
  ): Effect.Effect<void> {
    const from = state.level
    if (from._tag === to._tag) return this.setState(state)
    const at = this.clock.unsafeCurrentTimeMillis()
    const transition: Degradation.Transition = { from, to, at, kind, reason }
    const next: LevelState = {
      ...state,
      level: to,
      since: at,
      history: [transition, ...state.history.slice(0, historySize - 1)]
    }
    return Effect.zipRight(this.setState(next), PubSub.publish(this.published, transition))
  }

  /**
   * Runs the check of `entry` unless one is outstanding (a tick skips it).
   * The check runs in a fiber of its own, so that one ignoring interruption
   * cannot hold up the tick past `healthCheckTimeout`; it stays the
   * outstanding check until it really ends, and the registration's scope
   * ends it.
   */
  checkOne(entry: Entry): Effect.Effect<void> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const health = entry.health
        if (health === undefined || entry.checking || !this.entries.has(entry.name)) return Effect.void
        entry.checking = true
        const started = ++entry.checksStarted
        const ended = Effect.sync(() => {
          entry.checking = false
          entry.running = undefined
        })
        // Forked uninterruptible, so `ended` runs whenever it is interrupted;
        // the check itself is interruptible unless it says otherwise. Started
        // at once: a check that answers synchronously needs no timeout timer.
        return Effect.withFiberRuntime((parent, status) => {
          const fiber = forkNow(
            parent,
            peekFiberRefs(parent),
            status.runtimeFlags,
            Effect.onExit(Effect.interruptible(health), () => ended)
          )
          const done = fiber.unsafePoll()
          if (done === null) entry.running = fiber
          const result: Effect.Effect<Option.Option<Exit.Exit<unknown, unknown>>> = done !== null
            ? Effect.succeed(Option.some(done))
            // The wait is interruptible even for an uninterruptible caller: else the timeout could not end it.
            : restore(Effect.timeoutOption(Effect.interruptible(Fiber.await(fiber)), this.healthCheckTimeout))
              .pipe(Effect.onInterrupt(() => Fiber.interruptFork(fiber)))
          return result.pipe(
            Effect.flatMap((result) => {
              const at = this.clock.unsafeCurrentTimeMillis()
              const previous = entry.lastCheck
              entry.lastCheckStarted = started
              entry.lastCheck = Option.isNone(result)
                ? {
                  at,
                  healthy: false,
                  error: `health check timed out after ${Duration.format(this.healthCheckTimeout)}`
                }
                : Exit.isSuccess(result.value)
                ? { at, healthy: true, error: undefined }
                : { at, healthy: false, error: describeError(result.value.cause) }
              const current = entry.lastCheck
              const interrupt = Option.isNone(result) ? Fiber.interruptFork(fiber) : Effect.void
              const log = !current.healthy && previous?.healthy !== false
                ? Effect.logWarning(`Health check of ${entry.name} failed: ${current.error}`)
                : current.healthy && previous?.healthy === false
                ? Effect.logInfo(`Health check of ${entry.name} passed`)
                : Effect.void
              return Effect.zipRight(interrupt, Effect.annotateLogs(log, "dependency", entry.name))
            })
          )
        })
      })
    )
  }

  /** Runs every health check concurrently (skipping outstanding ones), then applies the result. */
  tick(): Effect.Effect<DegradationLevel> {
    return Effect.suspend(() =>
      Effect.forEach([...this.entries.values()], (entry) => this.checkOne(entry), {
        concurrency: "unbounded",
        discard: true
      })
    ).pipe(Effect.zipRight(this.recover()))
  }

  /**
   * Ends the outstanding check of a removed entry: interrupted, and waited
   * for at most `healthCheckTimeout`. One that ignores interruption longer
   * cannot be stopped by anyone: it is logged and left to finish.
   */
  stopCheck(entry: Entry): Effect.Effect<void> {
    return Effect.suspend(() => {
      const fiber = entry.running
      if (fiber === undefined) return Effect.void
      // A finalizer is uninterruptible: the wait is made interruptible, or the timeout could not end it.
      return Effect.flatMap(
        Effect.zipRight(
          Fiber.interruptFork(fiber),
          Effect.timeoutOption(Effect.interruptible(Fiber.await(fiber)), this.healthCheckTimeout)
        ),
        (ended) =>
          Option.isSome(ended) ? Effect.void : Effect.logWarning(
            `Degradation: the health check of ${entry.name} ignores interruption and is still running ` +
              `${Duration.format(this.healthCheckTimeout)} after its dependency was released`
          ).pipe(Effect.annotateLogs("dependency", entry.name))
      )
    })
  }

  status(): Effect.Effect<Degradation.Status> {
    return Effect.flatMap(
      this.computed(),
      ({ level: computed }) =>
        Effect.map(SubscriptionRef.get(this.ref), (state): Degradation.Status => ({
          level: state.level,
          since: state.since,
          forced: state.forced,
          computed,
          dependencies: [...this.entries.values()].map((entry) => ({
            name: entry.name,
            up: !entry.down,
            whenDown: entry.whenDown,
            breaker: entry.breaker?.unsafeState(),
            lastCheck: entry.lastCheck
          }))
        }))
    )
  }

  register(registration: Registration): Effect.Effect<void, never, Scope.Scope> {
    const module = typeof registration?.module === "string" ? registration.module : "Degradation.register"
    return Effect.gen(this, function*() {
      const checked = yield* validated(module, (v) => {
        v.object("registration", registration)
        const name = v.nonEmptyString("name", registration.name)
        if (this.entries.has(name)) v.fail("name", "a dependency name not registered yet", name)
        const whenDown = v.level("whenDown", registration.whenDown)
        const breaker = registration.breaker
        if (breaker !== undefined && !CircuitBreaker.isCircuitBreaker(breaker)) {
          v.fail("breaker", "a CircuitBreaker", breaker)
        }
        const health = registration.health
        if (health !== undefined && !Effect.isEffect(health)) v.fail("health", "an Effect", health)
        return { name, whenDown, breaker, health }
      })
      const entry: Entry = {
        ...checked,
        labels: [MetricLabel.make("dependency", checked.name)],
        lastCheck: undefined,
        checksStarted: 0,
        lastCheckStarted: 0,
        halfOpenedAfter: 0,
        knownState: undefined,
        checking: false,
        running: undefined,
        down: false
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          this.entries.set(entry.name, entry)
          Metrics.dependencyUp.unsafeUpdate(1, entry.labels)
        }),
        () =>
          Effect.zipRight(
            Effect.sync(() => this.entries.delete(entry.name)),
            this.stopCheck(entry)
          )
      )
      // Subscribed first, then the current state read: a transition in
      // between is seen by one or the other, never lost. The listener's Effect
      // runs in the fiber that made the transition, before it goes on: the
      // caller of the call that opened the breaker sees the new level.
      if (entry.breaker !== undefined) {
        yield* entry.breaker.onChange((change) =>
          Effect.suspend(() => {
            if (change.to._tag === "HalfOpen") entry.halfOpenedAfter = entry.checksStarted
            entry.knownState = change.to._tag
            return this.degradeIfWorse()
          })
        )
      }
      yield* this.degradeIfWorse()
      // Health is known from the start: the first check runs now, in the
      // background; failing, it moves the level at once.
      if (entry.health !== undefined) {
        yield* Effect.forkScoped(Effect.zipRight(this.checkOne(entry), this.degradeIfWorse()))
      }
    })
  }
}

/** Which dependencies went down or came up since the last reported change. */
const describeChange = (before: ReadonlySet<string>, now: ReadonlySet<string>): string => {
  const wentDown = [...now].filter((name) => !before.has(name))
  const cameUp = [...before].filter((name) => !now.has(name))
  const parts: Array<string> = []
  if (wentDown.length > 0) parts.push(`${wentDown.join(", ")} down`)
  if (cameUp.length > 0) parts.push(`${cameUp.join(", ")} up`)
  if (parts.length === 0) parts.push(now.size === 0 ? "all dependencies up" : `${[...now].join(", ")} down`)
  else if (cameUp.length > 0 && now.size > 0) parts.push(`still down: ${[...now].join(", ")}`)
  return parts.join("; ")
}

/**
 * One log line per transition, the same shape both ways:
 * `Degradation: Optimal → Degraded (redis down)` when the level gets worse,
 * `Recovery: Degraded → Optimal (redis up)` when it gets better.
 *
 * @internal
 */
export const logLine = (transition: Degradation.Transition): string =>
  `${Level.isWorseThan(transition.to, transition.from) ? "Degradation" : "Recovery"}: ` +
  `${transition.from._tag} → ${transition.to._tag} (${transition.reason})`

/** What a published transition does to the logs and the metrics. */
const report = (transition: Degradation.Transition): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.sync(() => {
      Metrics.degradationLevel.unsafeUpdate(Level.rank(transition.to), [])
      Metrics.degradationTransitions.unsafeUpdate(1, transitionLabels(transition.from, transition.to))
    }),
    (Level.isWorseThan(transition.to, transition.from) ? Effect.logWarning : Effect.logInfo)(logLine(transition)).pipe(
      Effect.annotateLogs({ from: transition.from._tag, to: transition.to._tag, kind: transition.kind })
    )
  )

/** @internal */
export const make = (options?: Degradation.Options): Effect.Effect<Degradation.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validated("Degradation.make", (v) => {
      const opts = options === undefined ? {} : v.object("options", options) as Degradation.Options
      return {
        recoveryInterval: v.duration("recoveryInterval", opts.recoveryInterval ?? "30 seconds", { timer: true }),
        healthCheckTimeout: v.duration("healthCheckTimeout", opts.healthCheckTimeout ?? "5 seconds", { timer: true }),
        policy: opts.policy === undefined
          ? Policy.defaultPolicy
          : v.func("policy", opts.policy, "a DegradationPolicy (a function)") as Policy.DegradationPolicy
      }
    })
    const clock = yield* Effect.clock
    const ref = yield* SubscriptionRef.make<LevelState>({
      level: Level.Optimal(),
      since: clock.unsafeCurrentTimeMillis(),
      forced: undefined,
      underlying: Level.Optimal(),
      history: [],
      reportedDown: new Set()
    })
    const published = yield* Effect.acquireRelease(PubSub.unbounded<Degradation.Transition>(), PubSub.shutdown)
    const impl = new DegradationImpl(
      clock,
      config.policy,
      config.healthCheckTimeout,
      ref,
      published,
      yield* Effect.makeSemaphore(1)
    )

    // Every series exists from the start: a counter at 0 is not an absent one.
    yield* Effect.sync(() => {
      Metrics.degradationLevel.unsafeUpdate(Level.rank(Level.Optimal()), [])
      for (const from of Level.all) {
        for (const to of Level.all) {
          if (from._tag !== to._tag) Metrics.degradationTransitions.unsafeUpdate(0, transitionLabels(from, to))
        }
      }
    })

    // Logs and metrics read the published transitions, in order, in a fiber
    // of the layer (subscribed before anything can be published).
    const reported = yield* PubSub.subscribe(published)
    yield* Queue.take(reported).pipe(
      Effect.flatMap(report),
      Effect.forever,
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "degradation-report")
    )

    // The recovery fiber: a tick every interval from the start, at a fixed
    // rate (`schedule`, not `repeat`: a slow first tick does not shift every
    // later one). A tick that dies is logged, and the fiber starts over.
    yield* Effect.schedule(impl.tick(), Schedule.fixed(config.recoveryInterval)).pipe(
      Effect.sandbox,
      Effect.tapError((cause) => Effect.logError("Degradation: recovery fiber died; restarting it", cause)),
      Effect.retry(Schedule.forever),
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "degradation-recovery")
    )

    // Ticks run at a fixed rate from here: the next one is computable.
    const startedAt = clock.unsafeCurrentTimeMillis()
    const intervalMillis = Duration.toMillis(config.recoveryInterval)
    const registry: Registry = { register: (registration) => impl.register(registration) }
    const current = Effect.map(SubscriptionRef.get(ref), (state) => state.level)

    const service: Degradation.Service = {
      current,
      unsafeCurrent: () => impl.levelNow,
      status: Effect.suspend(() => impl.status()),
      nextRecoveryAt: Effect.sync(() => {
        const elapsed = Math.max(0, clock.unsafeCurrentTimeMillis() - startedAt)
        return startedAt + (Math.floor(elapsed / intervalMillis) + 1) * intervalMillis
      }),
      changes: ref.changes.pipe(
        Stream.map((state) => state.level),
        Stream.changesWith((a, b) => a._tag === b._tag)
      ),
      transitions: Stream.fromPubSub(published),
      history: Effect.map(SubscriptionRef.get(ref), (state) => state.history),
      breakers: Effect.sync(() => {
        const breakers = new Map<string, CircuitBreaker.CircuitBreaker>()
        for (const entry of impl.entries.values()) {
          if (entry.breaker !== undefined) breakers.set(entry.name, entry.breaker)
        }
        return breakers
      }),
      set: (level) =>
        impl.lock.withPermits(1)(
          Effect.flatMap(SubscriptionRef.get(ref), (state) => impl.update(state, level, "set", undefined))
        ),
      force: (level, reason) =>
        impl.lock.withPermits(1)(
          Effect.flatMap(SubscriptionRef.get(ref), (state) =>
            impl.apply(
              { ...state, forced: { level, reason, since: clock.unsafeCurrentTimeMillis() } },
              level,
              "force",
              `forced: ${reason}`
            ))
        ),
      release: impl.lock.withPermits(1)(
        Effect.flatMap(SubscriptionRef.get(ref), (state) => {
          if (state.forced === undefined) return Effect.void
          const reason = state.forced.reason
          return Effect.flatMap(impl.computed(), ({ down, level }) =>
            impl.apply(
              { ...state, forced: undefined, underlying: level, reportedDown: new Set(down.map((d) => d.name)) },
              level,
              "release",
              `released: ${reason}`
            ))
        })
      ),
      // Unlike the recovery fiber (which is restarted), a caller of `evaluate`
      // gets the level in force when a tick dies.
      evaluate: impl.tick().pipe(
        Effect.catchAllDefect((defect) =>
          Effect.zipRight(Effect.logError("Degradation: evaluate failed; level unchanged", defect), current)
        )
      )
    }
    registries.set(service, registry)
    registriesByRead.set(service.unsafeCurrent, registry)
    return service
  })

/** @internal */
export const layer = (options?: Degradation.Options): Layer.Layer<Degradation> =>
  Layer.scopedContext(Effect.map(make(options), (service) =>
    Context.make(Degradation, service).pipe(
      Context.add(RegistryTag, registries.get(service)!)
    ))) as Layer.Layer<Degradation>
