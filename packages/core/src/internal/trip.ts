import * as Duration from "effect/Duration"
import type * as CB from "../CircuitBreaker.js"
import type { Validator } from "./validate.js"

type Window = CB.Window
/** @internal */
export type TripPolicy = CB.TripPolicy

/**
 * The mutable per-breaker counterpart of a {@link TripPolicy}. `record`
 * returns `true` when the recorded outcome must open the breaker.
 *
 * @internal
 */
export interface Tracker {
  /** Whether `record` reads its `durationMillis` or `now` arguments. */
  readonly needsTime: boolean
  record(failed: boolean, durationMillis: number, now: number): boolean
  clear(): void
  /** Counted failures currently held (consecutive, or in the window). */
  failures(now: number): number
  /** Calls currently held (0 for consecutive failures). */
  calls(now: number): number
}

/** A count window larger than this is a mistake (its ring buffer is one byte per call). */
const maxCountWindow = 1_000_000

/**
 * Checks a policy given as the `trip` option and builds its tracker; throws
 * the {@link InvalidOptionError} of the first problem (see `validate.ts`).
 *
 * @internal
 */
export const tracker = (v: Validator, policy: unknown): Tracker => {
  const expected = "a trip policy: CircuitBreaker.consecutiveFailures(n) or CircuitBreaker.failureRate({ ... })"
  if (policy === null || typeof policy !== "object") return v.fail("trip", expected, policy)
  const trip = policy as TripPolicy
  switch (trip._tag) {
    case "ConsecutiveFailures":
      return new ConsecutiveTracker(v.positiveInt("trip.threshold", trip.threshold))
    case "FailureRate": {
      const threshold = v.rate("trip.threshold", trip.threshold)
      const minimumCalls = v.positiveInt("trip.minimumCalls", trip.minimumCalls)
      const window = trip.window as Window | undefined
      if (window === null || typeof window !== "object") {
        return v.fail("trip.window", "CircuitBreaker.countWindow(size) or CircuitBreaker.timeWindow(duration)", window)
      }
      let slowMillis = Infinity
      let slowThreshold = Infinity
      if (trip.slowCall !== undefined) {
        slowThreshold = v.rate("trip.slowCall.threshold", trip.slowCall.threshold)
        slowMillis = Duration.toMillis(
          v.duration("trip.slowCall.duration", trip.slowCall.duration, { allowZero: true })
        )
      }
      switch (window._tag) {
        case "CountWindow": {
          const size = v.positiveInt("trip.window.size", window.size, maxCountWindow)
          if (minimumCalls > size) {
            v.fail(
              "trip.minimumCalls",
              `at most the count window size (${size}), or the breaker could never open`,
              minimumCalls
            )
          }
          return new CountWindowTracker(size, threshold, minimumCalls, slowMillis, slowThreshold)
        }
        case "TimeWindow": {
          const duration = Duration.toMillis(v.duration("trip.window.duration", window.duration))
          const buckets = v.positiveInt("trip.window.buckets", window.buckets, 10_000)
          return new TimeWindowTracker(buckets, duration, threshold, minimumCalls, slowMillis, slowThreshold)
        }
        default:
          return v.fail(
            "trip.window",
            "CircuitBreaker.countWindow(size) or CircuitBreaker.timeWindow(duration)",
            window
          )
      }
    }
    default:
      return v.fail("trip", expected, policy)
  }
}

class ConsecutiveTracker implements Tracker {
  get needsTime() {
    return false
  }
  count = 0
  constructor(readonly threshold: number) {}
  record(failed: boolean): boolean {
    if (!failed) {
      this.count = 0
      return false
    }
    return ++this.count >= this.threshold
  }
  clear() {
    this.count = 0
  }
  failures() {
    return this.count
  }
  calls() {
    return 0
  }
}

const FAILED = 1
const SLOW = 2

/** Ring buffer of the last `size` outcomes, with running totals. */
class CountWindowTracker implements Tracker {
  get needsTime() {
    return this.slowMillis !== Infinity
  }
  readonly outcomes: Uint8Array
  next = 0
  total = 0
  failed = 0
  slow = 0
  constructor(
    readonly size: number,
    readonly threshold: number,
    readonly minimumCalls: number,
    readonly slowMillis: number,
    readonly slowThreshold: number
  ) {
    this.outcomes = new Uint8Array(size)
  }
  record(failed: boolean, durationMillis: number): boolean {
    const flags = (failed ? FAILED : 0) | (durationMillis >= this.slowMillis ? SLOW : 0)
    if (this.total === this.size) {
      const evicted = this.outcomes[this.next]!
      if (evicted & FAILED) this.failed--
      if (evicted & SLOW) this.slow--
    } else {
      this.total++
    }
    this.outcomes[this.next] = flags
    if (flags & FAILED) this.failed++
    if (flags & SLOW) this.slow++
    this.next = this.next + 1 === this.size ? 0 : this.next + 1
    return this.total >= this.minimumCalls &&
      (this.failed / this.total >= this.threshold || this.slow / this.total >= this.slowThreshold)
  }
  clear() {
    this.outcomes.fill(0)
    this.next = 0
    this.total = 0
    this.failed = 0
    this.slow = 0
  }
  failures() {
    return this.failed
  }
  calls() {
    return this.total
  }
}

/**
 * `buckets` slices of `duration`: a slice is reused (and cleared) once its
 * epoch has left the window, so old outcomes age out without a timer.
 */
class TimeWindowTracker implements Tracker {
  get needsTime() {
    return true
  }
  readonly epochs: Float64Array
  readonly counts: Uint32Array // [calls, failed, slow] per bucket
  readonly bucketMillis: number
  constructor(
    readonly buckets: number,
    durationMillis: number,
    readonly threshold: number,
    readonly minimumCalls: number,
    readonly slowMillis: number,
    readonly slowThreshold: number
  ) {
    this.bucketMillis = durationMillis / buckets
    this.epochs = new Float64Array(buckets).fill(-Infinity)
    this.counts = new Uint32Array(buckets * 3)
  }
  private sum(now: number, offset: number): number {
    const current = Math.floor(now / this.bucketMillis)
    let n = 0
    for (let i = 0; i < this.buckets; i++) {
      if (this.epochs[i]! > current - this.buckets) n += this.counts[i * 3 + offset]!
    }
    return n
  }
  record(failed: boolean, durationMillis: number, now: number): boolean {
    const epoch = Math.floor(now / this.bucketMillis)
    const slot = epoch % this.buckets
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch
      this.counts[slot * 3] = 0
      this.counts[slot * 3 + 1] = 0
      this.counts[slot * 3 + 2] = 0
    }
    this.counts[slot * 3]!++
    if (failed) this.counts[slot * 3 + 1]!++
    if (durationMillis >= this.slowMillis) this.counts[slot * 3 + 2]!++
    const total = this.sum(now, 0)
    if (total < this.minimumCalls) return false
    // Division, not multiplication: 3 / 10 >= 0.3 holds, 3 >= 0.3 * 10 does not.
    return this.sum(now, 1) / total >= this.threshold || this.sum(now, 2) / total >= this.slowThreshold
  }
  clear() {
    this.epochs.fill(-Infinity)
    this.counts.fill(0)
  }
  failures(now: number) {
    return this.sum(now, 1)
  }
  calls(now: number) {
    return this.sum(now, 0)
  }
}
