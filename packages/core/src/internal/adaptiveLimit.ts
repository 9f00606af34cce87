/**
 * Adaptive concurrency limits: AIMD, Gradient2 and Vegas, driven by the
 * latency of the calls a bulkhead lets through.
 *
 * Calls are grouped in windows (a duration, closed by the first call that
 * ends after it has passed and holds at least {@link minSamples} samples);
 * every window compares its average latency with a **baseline**, the
 * latency of the dependency when it is not congested, and moves the limit —
 * only when the limit is what holds the load back (a call was refused or
 * queued, or half the limit was in use): otherwise latency says nothing
 * about the limit, and it stays.
 *
 * The baseline is the lowest window average seen, allowed to creep up by
 * {@link baselineDrift} per window. It is never measured by a probe:
 * Envoy's filter periodically drops its limit to the minimum to re-measure
 * its minRTT, which turns every probe into a burst of rejections. Without a
 * probe, a dependency that became slower for everyone would look congested
 * forever and the limit would sink to `min`; so the decreases are an
 * experiment of their own: when the limit has come down by 30 % since
 * congestion began and latency has not improved by 10 %, the latency is not
 * ours to fix and the current window becomes the baseline.
 *
 * Growth starts slow and doubles with every window in a row that grew the
 * limit (at most 8×, as TCP's slow start), until the first decrease; from
 * then on the limit grows by single steps until demand lapses.
 *
 * Pure bookkeeping, no Effect: the bulkhead calls it synchronously on its
 * hot path with times from its `Clock`.
 *
 * @internal
 */

/** @internal */
export type Algorithm = "aimd" | "gradient2" | "vegas"

/** @internal */
export const algorithms: ReadonlyArray<Algorithm> = ["aimd", "gradient2", "vegas"]

/** @internal */
export interface Settings {
  readonly algorithm: Algorithm
  readonly min: number
  readonly max: number
  readonly initial: number
  readonly windowMillis: number
}

/** Fewer samples than this say too little about latency: the window stays open. @internal */
export const minSamples = 10

/** How far the baseline may rise per window when no window is faster. @internal */
export const baselineDrift = 0.002

/** Latency is read in Clock milliseconds: below one, ratios would be noise over nothing. */
const minBaselineMillis = 1

/** What a window tells an algorithm. */
interface Window {
  /** The estimate (a real number) the window ran with. */
  readonly limit: number
  /** Average latency over the baseline (1: not congested). */
  readonly ratio: number
  /** The most calls in flight at once during the window. */
  readonly peak: number
  /** How much faster than its base step the limit may grow: doubles with every window in a row that grew it. */
  readonly boost: number
}

/**
 * AIMD: a window 10 % slower than the baseline multiplies the limit by 0.9;
 * otherwise it grows by 1 — or by 5 % once that is more, so that a limit of
 * hundreds does not take hundreds of windows to grow.
 */
const aimd = (w: Window): number =>
  w.ratio > 1.1
    ? w.limit * 0.9
    : w.limit + Math.max(1, w.limit * 0.05) * w.boost

/**
 * Gradient2: moves halfway (smoothing 0.5) towards the limit that would
 * bring latency back within 5 % of the baseline — limit × 1.05 × baseline /
 * latency, at most halving per window; within tolerance it grows by
 * √limit, the queue Gradient2 allows for.
 */
const gradient2 = (w: Window): number => {
  const target = w.ratio > 1.05
    ? Math.max(w.limit * 0.5, w.limit * 1.05 / w.ratio)
    : w.limit + Math.sqrt(w.limit) * w.boost
  return w.limit * 0.5 + target * 0.5
}

/**
 * Vegas: estimates the calls queued at the dependency, in flight × (1 −
 * baseline / latency), and keeps it between α = max(1, log₁₀ limit) and β =
 * 2α: above β the limit comes down by half the excess (at least α), below α
 * it goes up by α.
 */
const vegas = (w: Window): number => {
  const queued = Math.min(w.limit, w.peak) * (1 - 1 / w.ratio)
  const alpha = Math.max(1, Math.log10(w.limit))
  const beta = 2 * alpha
  if (queued > beta) return w.limit - Math.max(alpha, (queued - beta) / 2)
  if (queued < alpha) return w.limit + alpha * w.boost
  return w.limit
}

const steps: Readonly<Record<Algorithm, (w: Window) => number>> = { aimd, gradient2, vegas }

/** @internal */
export class AdaptiveLimit {
  /** The limit as a real number; the bulkhead admits up to {@link limit}, its rounding. */
  estimate: number
  /** The integer limit in force, within [min, max]. */
  limit: number
  /** The latency of the dependency when not congested, in milliseconds; `undefined` before the first window. */
  baseline: number | undefined = undefined
  private readonly step: (w: Window) => number
  private windowStart: number
  private samples = 0
  private sum = 0
  private peak = 0
  private pressed = false
  /** The limit and latency ratio when the current run of decreases began (ratio 0: none). */
  private episodeLimit = 0
  private episodeRatio = 0
  /** Windows in a row that grew the limit. */
  private streak = 0
  /**
   * Until the first decrease of a run of demand, growth doubles with every
   * window that grew (as TCP's slow start): far below the capacity, the
   * limit gets there in a few windows. After a decrease it grows by steps.
   */
  private slowStart = true

  constructor(readonly settings: Settings, now: number) {
    this.step = steps[settings.algorithm]
    this.estimate = settings.initial
    this.limit = settings.initial
    this.windowStart = now
  }

  /** A call was admitted and `inFlight` calls are now in flight. */
  admitted(inFlight: number): void {
    if (inFlight > this.peak) this.peak = inFlight
  }

  /** A call was refused or had to queue for lack of capacity. */
  refused(): void {
    this.pressed = true
  }

  /**
   * A call ended after `millis`. Returns `true` when it closed a window that
   * changed {@link limit}. A failed call's latency never pulls the window
   * below the baseline: a connection refused in a millisecond says nothing
   * about how fast the dependency answers.
   */
  sample(millis: number, failed: boolean, now: number, inFlight: number): boolean {
    // A wall clock stepped back: no latency to learn from.
    if (!(millis >= 0)) return false
    const baseline = this.baseline
    this.samples++
    this.sum += failed && baseline !== undefined && millis < baseline ? baseline : millis
    if (this.samples < minSamples || now - this.windowStart < this.settings.windowMillis) return false
    return this.close(now, inFlight)
  }

  /** Sets the estimate from outside (an operator writing the limit); returns the limit in force. */
  override(limit: number): number {
    this.estimate = this.clamp(limit)
    this.limit = Math.round(this.estimate)
    this.episodeRatio = 0
    return this.limit
  }

  private close(now: number, inFlight: number): boolean {
    const average = this.sum / this.samples
    const peak = this.peak
    const pressed = this.pressed
    this.windowStart = now
    this.samples = 0
    this.sum = 0
    this.peak = inFlight
    this.pressed = false
    let baseline = this.baseline === undefined ? average : Math.min(average, this.baseline * (1 + baselineDrift))
    const limit = this.estimate
    const ratio = average / Math.max(baseline, minBaselineMillis)
    // Without demand the limit is not what holds the load back: latency then
    // says nothing about it, and the limit stays where it is.
    if (!(pressed || peak * 2 >= limit)) {
      this.streak = 0
      this.slowStart = true
      this.episodeRatio = 0
      this.baseline = baseline
      return false
    }
    const boost = this.slowStart ? 2 ** Math.min(this.streak, 3) : 1
    let next = this.step({ limit, ratio, peak, boost })
    if (next < limit) {
      this.streak = 0
      this.slowStart = false
      if (this.episodeRatio === 0) {
        this.episodeLimit = limit
        this.episodeRatio = ratio
      } else if (limit <= this.episodeLimit * 0.7 && ratio >= this.episodeRatio * 0.9) {
        // 30 % less concurrency and no faster: the dependency is slower for
        // everyone, not congested by us. Its latency now is the baseline, and
        // the limit finds its level again from here.
        baseline = average
        this.episodeRatio = 0
        this.slowStart = true
        next = this.step({ limit, ratio: 1, peak, boost: 1 })
      }
    } else {
      this.streak = next > limit ? this.streak + 1 : 0
      this.episodeRatio = 0
    }
    this.baseline = baseline
    this.estimate = this.clamp(next)
    const rounded = Math.round(this.estimate)
    if (rounded === this.limit) return false
    this.limit = rounded
    return true
  }

  private clamp(limit: number): number {
    return Math.min(this.settings.max, Math.max(this.settings.min, limit))
  }
}
