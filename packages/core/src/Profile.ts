/**
 * Environment profiles and per-dependency overrides, read through Effect
 * `Config` (so any `ConfigProvider` works: environment, files, tests).
 *
 * | variable | value | default |
 * |---|---|---|
 * | `RESILIENCE_PROFILE` | `production`, `staging` or `development` (case-insensitive) | `production` |
 * | `RESILIENCE_<NAME>_FAIL_MAX` | positive integer: consecutive failures that open the breaker | the profile's |
 * | `RESILIENCE_<NAME>_RESET_TIMEOUT` | duration (`"30 seconds"`) or a number of seconds (`30`): each opening | the profile's |
 * | `RESILIENCE_<NAME>_CALL_TIMEOUT` | duration or a number of seconds | the profile's |
 * | `RESILIENCE_RECOVERY_INTERVAL` | duration or a number of seconds | 30 s |
 *
 * `<NAME>` is the dependency name upper-cased, each non-alphanumeric character
 * replaced by `_` (`open-ai` → `RESILIENCE_OPEN_AI_FAIL_MAX`). Every duration
 * is a timer's delay and must lie between 1 ms and 2³¹−1 ms (~24.8 days):
 * Effect's timers never fire outside that range, so a breaker or a level
 * waiting on such a delay would never recover.
 *
 * - `production`: the presets as they are.
 * - `staging`: twice the failures before opening (flakier infrastructure
 *   should not keep breakers open), half the reset and call timeouts (slow
 *   calls surface early, recovery paths get exercised often).
 * - `development`: breakers disabled — every call goes through and is only
 *   measured. Call timeouts still apply: a hung dependency fails, it does not
 *   hang the request.
 *
 * Overrides apply after the profile and are taken as given. An invalid value
 * fails the layer with a `ConfigError` at that variable's path, so the
 * rendered error names it.
 *
 * The layers that read them are `Dependency.layerConfig` and
 * `Degradation.layerConfig`:
 *
 * ```ts
 * const DbLive = Dependency.layerConfig(Db, Presets.db, {
 *   fallback: { getPrice: Fallback.fromDependency(Cache, (cache, _e, id) => cache.getPrice(id)) }
 * }) // Layer<Db, ConfigError, Db | Degradation | Cache>
 * const DegradationLive = Degradation.layerConfig() // Layer<Degradation, ConfigError>
 * ```
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import * as internal from "./internal/profile.js"
import type * as Presets from "./Presets.js"

/**
 * The deployment environment a service runs in.
 *
 * @since 0.1.0
 * @category models
 */
export type Profile = "production" | "staging" | "development"

/**
 * Every profile, in the order error messages list them.
 *
 * @since 0.1.0
 * @category constants
 */
export const profiles: ReadonlyArray<Profile> = internal.profiles

/**
 * `RESILIENCE_PROFILE`, case-insensitive, default `production`. Any other value
 * fails with a `ConfigError` listing the allowed ones.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Profile> = internal.profileConfig

/**
 * The names of a dependency's override variables.
 *
 * @since 0.1.0
 * @category models
 */
export interface Variables {
  readonly failMax: string
  readonly resetTimeout: string
  readonly callTimeout: string
  /** Attempts in all (1: no retries), for a preset with `retries`. */
  readonly retries: string
  /** The retry budget's ratio, from 0 to 1. */
  readonly retryBudget: string
}

/**
 * The override variables of the dependency `name`:
 * `variables("db").failMax === "RESILIENCE_DB_FAIL_MAX"`.
 *
 * @since 0.1.0
 * @category config
 */
export const variables: (name: string) => Variables = internal.variables

/**
 * The per-dependency overrides that were set.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overrides {
  /** Replaces the trip policy with `consecutiveFailures(failMax)`. */
  readonly failMax: Option.Option<number>
  /** Replaces the reset schedule with `Schedule.spaced(resetTimeout)`. */
  readonly resetTimeout: Option.Option<Duration.Duration>
  readonly callTimeout: Option.Option<Duration.Duration>
  /** Replaces `retries.maxAttempts`. */
  readonly retries: Option.Option<number>
  /** Replaces `retries.budgetRatio`. */
  readonly retryBudget: Option.Option<number>
}

/**
 * Reads the override variables of the dependency `name`; unset ones are
 * `None`, invalid ones fail.
 *
 * @since 0.1.0
 * @category config
 */
export const overrides: (name: string) => Config.Config<Overrides> = internal.overrides

/**
 * Adjusts a preset to a profile (pure). `staging` doubles a consecutive
 * failure threshold (a failure-rate threshold moves halfway to 100 %) and
 * halves the reset delays and the call timeout; `development` disables the
 * breaker.
 *
 * ```ts
 * const db = Profile.apply(Presets.db, "staging")
 * const same = pipe(Presets.db, Profile.apply("staging"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply: {
  (profile: Profile): <P extends Presets.Preset>(preset: P) => P
  <P extends Presets.Preset>(preset: P, profile: Profile): P
} = internal.apply

/**
 * Applies overrides to a preset (pure): they win over the profile.
 *
 * ```ts
 * const db = Profile.override(Presets.db, overrides)
 * const configured = pipe(Presets.db, Profile.apply("staging"), Profile.override(overrides))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const override: {
  (overrides: Overrides): <P extends Presets.Preset>(preset: P) => P
  <P extends Presets.Preset>(preset: P, overrides: Overrides): P
} = internal.override

/**
 * A preset as configured: the profile of `RESILIENCE_PROFILE` applied, then
 * the `RESILIENCE_<NAME>_*` overrides.
 *
 * @example
 * ```ts
 * import { Presets, Profile } from "@effect-resilience/core"
 * import { ConfigProvider, Duration, Effect } from "effect"
 *
 * // What the environment would say; any ConfigProvider works.
 * const env = ConfigProvider.fromMap(
 *   new Map([
 *     ["RESILIENCE_PROFILE", "staging"],
 *     ["RESILIENCE_DB_CALL_TIMEOUT", "2 seconds"]
 *   ])
 * )
 *
 * const program = Effect.gen(function*() {
 *   const db = yield* Profile.dependency(Presets.db)
 *   // staging doubled the failure threshold (3 → 6); the override set the call timeout.
 *   console.log(db.breaker.trip, Duration.format(db.callTimeout))
 *   // Output: { _tag: 'ConsecutiveFailures', threshold: 6 } 2s
 * })
 *
 * Effect.runPromise(program.pipe(Effect.withConfigProvider(env)))
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const dependency: <P extends Presets.Preset>(preset: P) => Config.Config<P> = internal.dependency

/**
 * `RESILIENCE_RECOVERY_INTERVAL`: how often `Degradation` may improve the
 * level. Default 30 s.
 *
 * @since 0.1.0
 * @category config
 */
export const recoveryInterval: Config.Config<Duration.Duration> = internal.recoveryInterval

/**
 * `RESILIENCE_HEALTH_CHECK_TIMEOUT`: how long a health check may take before
 * it counts as failed. Default 5 s.
 *
 * @since 0.1.0
 * @category config
 */
export const healthCheckTimeout: Config.Config<Duration.Duration> = internal.healthCheckTimeout
