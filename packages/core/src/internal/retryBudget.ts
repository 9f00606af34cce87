import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import { pipeArguments } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import type * as RB from "../RetryBudget.js"
import * as MetricHooks from "./metrics.js"
import { validated } from "./validate.js"

/** @internal */
export const TypeId: RB.TypeId = Symbol.for("@effect-resilience/core/RetryBudget") as RB.TypeId

/** The window is kept in this many buckets: the bound holds over windows aligned on them. */
const BUCKETS = 10

/**
 * First attempts are counted without reading the Clock (the hot path of a
 * call that succeeds reads none); every this many, the Clock is read and they
 * are given a bucket.
 */
const SYNC_EVERY = 16

/**
 * A Finagle-style retry budget on a ring of buckets. Every retry must be
 * covered in every window ending now: for each of the ten windows
 * `[bucket - i, bucket]`, `reserve + ratio × first attempts - retries ≥ 1`.
 * Any aligned window a retry falls in is one of those (its later buckets are
 * still empty), so no aligned window ever holds more retries than it allows.
 */
export class BudgetImpl {
  readonly deposits = new Float64Array(BUCKETS)
  readonly withdrawals = new Float64Array(BUCKETS)
  /** The bucket (counted from creation) of the last Clock read. */
  bucket = 0
  /** First attempts not yet given a bucket. */
  pending = 0
  /** Retries every window allows whatever the traffic: `minPerSecond × window`. */
  readonly reserve: number
  /** Bucket width in milliseconds. */
  readonly width: number

  constructor(
    readonly name: string | undefined,
    readonly ratio: number,
    readonly minPerSecond: number,
    readonly window: Duration.Duration,
    readonly clock: Clock.Clock,
    readonly start: number,
    readonly gauge: MetricHook.MetricHook<number, unknown> | undefined
  ) {
    const millis = Duration.toMillis(window)
    this.reserve = minPerSecond * millis / 1000
    this.width = millis / BUCKETS
    gauge?.update(this.tokens())
  }

  /** A first attempt ended (on the hot path: no Clock read). */
  deposit(): void {
    if (++this.pending >= SYNC_EVERY) this.sync()
  }

  /** A first attempt ended now, and the Clock may be read: it goes to the current bucket. */
  depositNow(): void {
    this.sync(1)
  }

  /**
   * Reads the Clock and moves the ring to the current bucket. The first
   * attempts counted since the last read ended at some time since then: they
   * go to the bucket of that read, the earliest they can belong to. So they
   * only ever count for windows that contain them — and leave the ring no
   * later than they should. `endedNow` first attempts are placed in the
   * current bucket.
   */
  sync(endedNow = 0): void {
    const index = Math.floor((this.clock.unsafeCurrentTimeMillis() - this.start) / this.width)
    if (this.pending > 0) {
      this.deposits[this.bucket % BUCKETS]! += this.pending
      this.pending = 0
    }
    // A Clock that went back (a wall clock stepped) keeps the current bucket.
    if (index > this.bucket) {
      const last = Math.min(index, this.bucket + BUCKETS)
      for (let i = this.bucket + 1; i <= last; i++) {
        this.deposits[i % BUCKETS] = 0
        this.withdrawals[i % BUCKETS] = 0
      }
      this.bucket = index
    }
    this.deposits[this.bucket % BUCKETS]! += endedNow
    this.gauge?.update(this.tokens())
  }

  /** The least, over the windows ending in the current bucket, of what each still allows. */
  balance(): number {
    let deposits = 0
    let withdrawals = 0
    let least = Infinity
    // Windows reaching back before creation hold nothing more than the shorter ones.
    const reach = Math.min(BUCKETS, this.bucket + 1)
    for (let i = 0; i < reach; i++) {
      const slot = (this.bucket - i) % BUCKETS
      deposits += this.deposits[slot]!
      withdrawals += this.withdrawals[slot]!
      const allowed = this.reserve + this.ratio * deposits - withdrawals
      if (allowed < least) least = allowed
    }
    return least
  }

  /** Whole retries allowed now. */
  tokens(): number {
    return Math.max(0, Math.floor(this.balance()))
  }

  /** Takes a token for a retry; `false` when the budget is empty. */
  withdraw(): boolean {
    this.sync()
    if (!(this.balance() >= 1)) return false
    this.withdrawals[this.bucket % BUCKETS]! += 1
    this.gauge?.update(this.tokens())
    return true
  }
}

const ImplKey = Symbol.for("@effect-resilience/core/RetryBudget/impl")

interface Handle {
  readonly [ImplKey]: BudgetImpl
}

/** @internal */
export const implOf = (budget: RB.RetryBudget): BudgetImpl => (budget as unknown as Handle)[ImplKey]

const BudgetProto = {
  [TypeId]: TypeId,
  get available() {
    const impl = implOf(this as unknown as RB.RetryBudget)
    return Effect.sync(() => {
      impl.sync()
      return impl.tokens()
    })
  },
  get deposit() {
    const impl = implOf(this as unknown as RB.RetryBudget)
    return Effect.sync(() => impl.depositNow())
  },
  get withdraw() {
    const impl = implOf(this as unknown as RB.RetryBudget)
    return Effect.sync(() => impl.withdraw())
  },
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

const module = "RetryBudget.make"

/** @internal */
export const make = (options: RB.Options = {}): Effect.Effect<RB.RetryBudget, never, Scope.Scope> =>
  Effect.flatMap(
    validated(module, (v) => {
      v.object("options", options)
      const ratio = options.ratio === undefined ? 0.2 : v.probability("ratio", options.ratio)
      const minPerSecond = options.minPerSecond === undefined ? 10 : options.minPerSecond
      if (typeof minPerSecond !== "number" || !(Number.isFinite(minPerSecond) && minPerSecond >= 0)) {
        v.fail("minPerSecond", "a non-negative finite number", minPerSecond)
      }
      const window = v.duration("window", options.window ?? "10 seconds")
      if (Duration.toMillis(window) < BUCKETS) {
        v.fail("window", `a duration of at least ${BUCKETS} milliseconds`, options.window)
      }
      const name = options.name === undefined ? undefined : v.nonEmptyString("name", options.name)
      return { ratio, minPerSecond, window, name }
    }),
    (checked) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const gauge = checked.name === undefined ? undefined : MetricHooks.unsafeHook(
            MetricHooks.keys.retryBudgetAvailable,
            [MetricLabel.make("dependency", checked.name)]
          )
          const impl = new BudgetImpl(
            checked.name,
            checked.ratio,
            checked.minPerSecond,
            checked.window,
            clock,
            clock.unsafeCurrentTimeMillis(),
            gauge
          )
          const budget = Object.create(BudgetProto)
          budget.name = checked.name
          budget.ratio = checked.ratio
          budget.minPerSecond = checked.minPerSecond
          budget.window = checked.window
          budget[ImplKey] = impl
          return budget as RB.RetryBudget
        })
      )
  )

/** @internal */
export const isRetryBudget = (u: unknown): u is RB.RetryBudget => typeof u === "object" && u !== null && TypeId in u
