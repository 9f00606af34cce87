/**
 * The system-wide degradation level and the fiber that lifts it.
 *
 * Worse levels apply at once (a breaker opening, a failed health check);
 * better ones only on a recovery tick, every `recoveryInterval` (default
 * 30 s), and only on evidence: a half-open breaker counts as down until it
 * closes or a health check started after it half-opened passes. A level
 * forced for maintenance sticks until `release`. The level lives in a
 * `SubscriptionRef`: `changes` starts with the current level.
 *
 * Handlers read it with `yield* Degradation.current`, or
 * `yield* (yield* Degradation).current`.
 *
 * @example
 * ```ts
 * import { Degradation, DegradationLevel } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // A sticky level for maintenance: recovery ticks leave it alone until `release`.
 *   yield* Degradation.force(DegradationLevel.Minimal(), "database maintenance")
 *   const status = yield* Degradation.status
 *   console.log(status.level._tag, status.forced?.reason)
 *   // Output: Minimal database maintenance
 *   yield* Degradation.release
 *   return yield* Degradation.current
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Degradation.layer({ recoveryInterval: "30 seconds" }))))
 *   .then((level) => console.log(level._tag))
 * // Output: Optimal
 * ```
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import type { DegradationLevel } from "./DegradationLevel.js"
import type { DegradationPolicy } from "./DegradationPolicy.js"
import * as internal from "./internal/degradation.js"
import * as profile from "./internal/profile.js"

/**
 * The degradation service. Handlers read it with `yield* Degradation`, or
 * through the accessors: `yield* Degradation.current`. The module's example
 * shows it in use.
 *
 * @since 0.1.0
 * @category tags
 */
export class Degradation extends Context.Tag("@effect-resilience/core/Degradation")<
  Degradation,
  Degradation.Service
>() {
  /**
   * A layer with the recovery fiber forked in its scope.
   *
   * @since 0.1.0
   */
  static readonly layer = (options?: Degradation.Options): Layer.Layer<Degradation> => internal.layer(options)

  /**
   * {@link Degradation.layer} with `recoveryInterval` read from
   * `RESILIENCE_RECOVERY_INTERVAL` (default 30 s) and `healthCheckTimeout`
   * from `RESILIENCE_HEALTH_CHECK_TIMEOUT` (default 5 s): a duration or a
   * number of seconds. A bad value fails with a `ConfigError` naming it.
   *
   * @since 0.1.0
   */
  static readonly layerConfig = (
    options?: Omit<Degradation.Options, "recoveryInterval" | "healthCheckTimeout">
  ): Layer.Layer<Degradation, ConfigError.ConfigError> =>
    Layer.unwrapEffect(
      Effect.map(
        Config.all([profile.recoveryInterval, profile.healthCheckTimeout]),
        ([recoveryInterval, healthCheckTimeout]) =>
          Degradation.layer({ ...options, recoveryInterval, healthCheckTimeout })
      )
    )

  /**
   * Builds the service in the current scope (what {@link Degradation.layer} uses).
   * Invalid options are a defect (`InvalidOptionError`) naming the option.
   *
   * @since 0.1.0
   */
  static readonly make: (options?: Degradation.Options) => Effect.Effect<Degradation.Service, never, Scope.Scope> =
    internal.make

  /**
   * The level in force.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly current: Effect.Effect<DegradationLevel, never, Degradation> = Effect.flatMap(
    this,
    (degradation) => degradation.current
  )

  /**
   * Level, forced override, computed level and per-dependency health.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly status: Effect.Effect<Degradation.Status, never, Degradation> = Effect.flatMap(
    this,
    (degradation) => degradation.status
  )

  /**
   * When the next recovery tick runs (epoch millis).
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly nextRecoveryAt: Effect.Effect<number, never, Degradation> = Effect.flatMap(
    this,
    (degradation) => degradation.nextRecoveryAt
  )

  /**
   * The current level first, then every change; never the same level twice in a row.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly changes: Stream.Stream<DegradationLevel, never, Degradation> = Stream.unwrap(
    Effect.map(this, (degradation) => degradation.changes)
  )

  /**
   * Every applied transition with its cause, from the moment the stream runs.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly transitions: Stream.Stream<Degradation.Transition, never, Degradation> = Stream.unwrap(
    Effect.map(this, (degradation) => degradation.transitions)
  )

  /**
   * The most recent applied transitions (the last 50), newest first.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly history: Effect.Effect<ReadonlyArray<Degradation.Transition>, never, Degradation> = Effect
    .flatMap(this, (degradation) => degradation.history)

  /**
   * The breakers of the registered dependencies, by dependency name.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly breakers: Effect.Effect<ReadonlyMap<string, CircuitBreaker.CircuitBreaker>, never, Degradation> =
    Effect.flatMap(this, (degradation) => degradation.breakers)

  /**
   * Sets the level now; the next recovery tick may improve it again.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly set = (level: DegradationLevel): Effect.Effect<void, never, Degradation> =>
    Effect.flatMap(Degradation, (degradation) => degradation.set(level))

  /**
   * A sticky override (maintenance) until {@link Degradation.release}.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly force = (level: DegradationLevel, reason: string): Effect.Effect<void, never, Degradation> =>
    Effect.flatMap(Degradation, (degradation) => degradation.force(level, reason))

  /**
   * Ends a forced level and applies the computed level at once.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly release: Effect.Effect<void, never, Degradation> = Effect.flatMap(
    this,
    (degradation) => degradation.release
  )

  /**
   * Runs every health check now and applies the result, as a recovery tick does.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly evaluate: Effect.Effect<DegradationLevel, never, Degradation> = Effect.flatMap(
    this,
    (degradation) => degradation.evaluate
  )
}

/**
 * The types of the {@link Degradation} service.
 *
 * @since 0.1.0
 */
export declare namespace Degradation {
  /**
   * What `yield* Degradation` gives: the level, its changes, manual control.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The level in force. */
    readonly current: Effect.Effect<DegradationLevel>
    /**
     * The level in force, read synchronously — for code on a hot path that
     * cannot afford an Effect per read (an HTTP middleware, every request).
     * The same value `current` answers at that instant.
     */
    readonly unsafeCurrent: () => DegradationLevel
    /** Level, forced override, computed level, per-dependency health, since when. */
    readonly status: Effect.Effect<Status>
    /**
     * When the next recovery tick runs (epoch millis): the earliest a better
     * level can apply — what a `retry-after` header should say.
     */
    readonly nextRecoveryAt: Effect.Effect<number>
    /** The current level first, then every change; never the same level twice in a row. */
    readonly changes: Stream.Stream<DegradationLevel>
    /** Every applied transition with its cause, from the moment the stream runs. */
    readonly transitions: Stream.Stream<Transition>
    /** The most recent applied transitions (the last 50), newest first. */
    readonly history: Effect.Effect<ReadonlyArray<Transition>>
    /** The breakers of the registered dependencies, by dependency name (for status and admin routes). */
    readonly breakers: Effect.Effect<ReadonlyMap<string, CircuitBreaker.CircuitBreaker>>
    /** Sets the level now; the next recovery tick may improve it again. */
    readonly set: (level: DegradationLevel) => Effect.Effect<void>
    /** A sticky override (maintenance) until {@link Service.release}. */
    readonly force: (level: DegradationLevel, reason: string) => Effect.Effect<void>
    /** Ends a forced level and applies the computed level at once. */
    readonly release: Effect.Effect<void>
    /**
     * Runs every health check now (skipping one still outstanding) and
     * applies the result, as a recovery tick does.
     */
    readonly evaluate: Effect.Effect<DegradationLevel>
  }

  /**
   * Options of {@link Degradation.layer} and {@link Degradation.make}.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options {
    /** How often the recovery fiber runs the health checks (default 30 s). */
    readonly recoveryInterval?: Duration.DurationInput | undefined
    /**
     * From down dependencies to a level (default `DegradationPolicy.defaultPolicy`).
     * A policy that throws is replaced by the default for that evaluation, and logged.
     */
    readonly policy?: DegradationPolicy | undefined
    /** A check that takes longer has failed (default 5 s). */
    readonly healthCheckTimeout?: Duration.DurationInput | undefined
  }

  /**
   * A level forced by {@link Service.force}: why and since when (epoch millis).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Forced {
    readonly level: DegradationLevel
    readonly reason: string
    readonly since: number
  }

  /**
   * The last health check of a dependency: when it ended (epoch millis) and how.
   *
   * @since 0.1.0
   * @category models
   */
  export interface HealthCheck {
    readonly at: number
    readonly healthy: boolean
    /** What went wrong, in words: a message, else a tag and fields (`RedisError { code: "ECONNREFUSED" }`). */
    readonly error: string | undefined
  }

  /**
   * A registered dependency as the level sees it: up or down, and why. Down
   * while its breaker is Open or ForcedOpen, or HalfOpen without a passing
   * health check started after it half-opened, or while its last check failed.
   *
   * @since 0.1.0
   * @category models
   */
  export interface DependencyStatus {
    readonly name: string
    readonly up: boolean
    readonly whenDown: DegradationLevel
    readonly breaker: CircuitBreaker.State | undefined
    readonly lastCheck: HealthCheck | undefined
  }

  /**
   * What {@link Service.status} reports.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Status {
    readonly level: DegradationLevel
    /** Epoch millis of the last change of level. */
    readonly since: number
    readonly forced: Forced | undefined
    /** The level the policy gives for the dependencies down now. */
    readonly computed: DegradationLevel
    readonly dependencies: ReadonlyArray<DependencyStatus>
  }

  /**
   * An applied change of level, with its cause (`kind`) and a readable reason.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Transition {
    readonly from: DegradationLevel
    readonly to: DegradationLevel
    readonly at: number
    readonly kind: "degrade" | "recover" | "set" | "force" | "release"
    readonly reason: string
  }
}
