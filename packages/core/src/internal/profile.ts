import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Presets from "../Presets.js"
import type * as Profile from "../Profile.js"
import { maxTimerMillis } from "./validate.js"

/** @internal */
export const profiles: ReadonlyArray<Profile.Profile> = ["production", "staging", "development"]

const received = (raw: string): string => JSON.stringify(raw)

/** @internal */
export const profileConfig: Config.Config<Profile.Profile> = Config.string("RESILIENCE_PROFILE").pipe(
  Config.mapOrFail((raw) => {
    const profile = profiles.find((p) => p === raw.trim().toLowerCase())
    return profile === undefined
      ? Either.left(
        ConfigError.InvalidData([], `Expected one of (${profiles.join(", ")}) but received ${received(raw)}`)
      )
      : Either.right(profile)
  }),
  Config.withDefault<Profile.Profile>("production")
)

/** @internal */
export const positiveInteger = (name: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      // Digits only: `Config.integer` goes through `Number()`, which takes "0x10", "1e1" and "" (as 0).
      const text = raw.trim()
      const n = /^\d+$/.test(text) ? Number(text) : NaN
      return n > 0 && Number.isSafeInteger(n)
        ? Either.right(n)
        : Either.left(ConfigError.InvalidData([], `Expected a positive integer but received ${received(raw)}`))
    })
  )

/**
 * `Config.duration` syntax ("30 seconds", "500 millis") or a bare number of
 * seconds (`RESILIENCE_DB_RESET_TIMEOUT=30` is 30 seconds). Every such variable is a
 * timer's delay, so it must be one a timer can wait: at least 1 ms and at most
 * 2³¹−1 ms (Node's limit; `Clock.sleep` never fires outside it, and a level
 * or a breaker waiting on it would never recover).
 *
 * @internal
 */
export const timerDuration = (name: string): Config.Config<Duration.Duration> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const text = raw.trim()
      const decoded = /^\d+(\.\d+)?$/.test(text)
        ? Option.some(Duration.seconds(Number(text)))
        : Duration.decodeUnknown(text)
      const millis = Option.isSome(decoded) ? Duration.toMillis(decoded.value) : NaN
      return millis >= 1 && millis <= maxTimerMillis
        ? Either.right((decoded as Option.Some<Duration.Duration>).value)
        : Either.left(
          ConfigError.InvalidData(
            [],
            `Expected a duration from 1 millisecond to ${maxTimerMillis} milliseconds (~24.8 days), such as ` +
              `"30 seconds", or a number of seconds, but received ${received(raw)}`
          )
        )
    })
  )

/** @internal */
export const variables = (name: string): Profile.Variables => {
  const prefix = `RESILIENCE_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`
  return {
    failMax: `${prefix}_FAIL_MAX`,
    resetTimeout: `${prefix}_RESET_TIMEOUT`,
    callTimeout: `${prefix}_CALL_TIMEOUT`,
    retries: `${prefix}_RETRIES`,
    retryBudget: `${prefix}_RETRY_BUDGET`
  }
}

const half = (duration: Duration.Duration): Duration.Duration => Duration.times(duration, 0.5)

/** Halfway from `rate` to 1: fewer openings, never a rate above 1. */
const laxer = (rate: number): number => rate + (1 - rate) / 2

const stagingTrip = (trip: CircuitBreaker.TripPolicy): CircuitBreaker.TripPolicy => {
  switch (trip._tag) {
    case "ConsecutiveFailures":
      return CircuitBreaker.consecutiveFailures(trip.threshold * 2)
    case "FailureRate":
      return {
        ...trip,
        threshold: laxer(trip.threshold),
        slowCall: trip.slowCall === undefined
          ? undefined
          : { ...trip.slowCall, threshold: laxer(trip.slowCall.threshold) }
      }
  }
}

/** @internal */
export const apply: {
  (profile: Profile.Profile): <P extends Presets.Preset>(preset: P) => P
  <P extends Presets.Preset>(preset: P, profile: Profile.Profile): P
} = dual(2, <P extends Presets.Preset>(preset: P, profile: Profile.Profile): P => {
  switch (profile) {
    case "production":
      return preset
    case "staging":
      return {
        ...preset,
        breaker: {
          ...preset.breaker,
          trip: stagingTrip(preset.breaker.trip),
          reset: Schedule.modifyDelay(preset.breaker.reset, (_, delay) => half(delay))
        },
        callTimeout: half(preset.callTimeout)
      }
    case "development":
      return { ...preset, breaker: { ...preset.breaker, disabled: true } }
  }
})

/** @internal */
export const overrides = (name: string): Config.Config<Profile.Overrides> => {
  const names = variables(name)
  return Config.all({
    failMax: Config.option(positiveInteger(names.failMax)),
    resetTimeout: Config.option(timerDuration(names.resetTimeout)),
    callTimeout: Config.option(timerDuration(names.callTimeout)),
    retries: Config.option(positiveInteger(names.retries)),
    retryBudget: Config.option(ratio(names.retryBudget))
  })
}

/** @internal */
export const override: {
  (overrides: Profile.Overrides): <P extends Presets.Preset>(preset: P) => P
  <P extends Presets.Preset>(preset: P, overrides: Profile.Overrides): P
} = dual(2, <P extends Presets.Preset>(preset: P, overrides: Profile.Overrides): P => ({
  ...preset,
  breaker: {
    ...preset.breaker,
    trip: Option.match(overrides.failMax, {
      onNone: () => preset.breaker.trip,
      onSome: CircuitBreaker.consecutiveFailures
    }),
    reset: Option.match(overrides.resetTimeout, {
      onNone: () => preset.breaker.reset,
      onSome: (duration): Schedule.Schedule<unknown, unknown> => Schedule.spaced(duration)
    })
  },
  callTimeout: Option.getOrElse(overrides.callTimeout, () => preset.callTimeout),
  ...(preset.retries === undefined ? {} : {
    retries: {
      ...preset.retries,
      maxAttempts: Option.getOrElse(overrides.retries, () => preset.retries!.maxAttempts),
      budgetRatio: Option.getOrElse(overrides.retryBudget, () => preset.retries!.budgetRatio)
    }
  })
}))

/** @internal */
export const dependency = <P extends Presets.Preset>(preset: P): Config.Config<P> =>
  Config.all([profileConfig, overrides(preset.name)]).pipe(
    Config.mapOrFail(([profile, values]) => {
      const unused = preset.retries === undefined &&
        (Option.isSome(values.retries) || Option.isSome(values.retryBudget))
      return unused
        ? Either.left(ConfigError.InvalidData(
          [Option.isSome(values.retries) ? variables(preset.name).retries : variables(preset.name).retryBudget],
          `${preset.name} retries no member: its preset has no retries to adjust`
        ))
        : Either.right(override(apply(preset, profile), values))
    })
  )

/** A number from 0 to 1 (a budget's ratio). */
const ratio = (name: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const value = raw.trim() === "" ? NaN : Number(raw)
      return value >= 0 && value <= 1
        ? Either.right(value)
        : Either.left(ConfigError.InvalidData([], `Expected a number from 0 to 1 but received ${received(raw)}`))
    })
  )

/** @internal */
export const recoveryInterval: Config.Config<Duration.Duration> = timerDuration("RESILIENCE_RECOVERY_INTERVAL").pipe(
  Config.withDefault(Duration.seconds(30))
)

/** @internal */
export const healthCheckTimeout: Config.Config<Duration.Duration> = timerDuration("RESILIENCE_HEALTH_CHECK_TIMEOUT")
  .pipe(
    Config.withDefault(Duration.seconds(5))
  )
