import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import { pipeArguments } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as B from "../Bulkhead.js"
import { AdaptiveLimit, type Algorithm, algorithms } from "./adaptiveLimit.js"
import * as Crit from "./criticality.js"
import { withoutStack } from "./errors.js"
import * as MetricHooks from "./metrics.js"
import { maxTimerMillis, validated, type Validator } from "./validate.js"

/** @internal */
export const TypeId: B.TypeId = Symbol.for("@effect-resilience/core/Bulkhead") as B.TypeId

/** @internal */
export class BulkheadFullError extends Data.TaggedError("BulkheadFullError")<{
  /** The name of the bulkhead that refused the call. */
  readonly bulkhead: string
  /** Its limit when it refused. */
  readonly limit: number
  /** How long until it is likely to have room again: the time its recent calls took to free a slot. */
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Bulkhead "${this.bulkhead}" is full (limit ${this.limit}): retry after ${Duration.format(this.retryAfter)}`
  }
}

/** The default share of the limit each class may fill, by class index (least critical first). */
const defaultShares: ReadonlyArray<number> = [0.5, 0.75, 1, 1]

/** When no call has ended lately there is no rate to estimate from: the hint a refusal carries then. */
const unknownRetryAfterMillis = 1000
/** The period over which the rate of completed calls is measured for `retryAfter`. */
const ratePeriodMillis = 1000
const maxRetryAfterMillis = 60_000

/** Monotonic milliseconds: a step of the wall clock moves no queue deadline. */
const monotonicMillis = (clock: Clock.Clock): number => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)

type Handlers = {
  readonly onSuccess: (a: any) => Effect.Effect<any, any>
  readonly onFailure: (cause: Cause.Cause<any>) => Effect.Effect<any, any>
}

/**
 * The permits one fiber holds in one bulkhead.
 *
 * A call's permit is given back by the continuation that follows it
 * (`matchCauseEffect`), which the runtime skips when the fiber is
 * interrupted — and an interruption can also fall between taking the
 * permit and installing that continuation. Guarding every call with an
 * uninterruptible region would cost ~600 ns a call; instead, the permits
 * are counted per fiber, and whatever a fiber still holds when it ends is
 * taken back then, by an observer registered once per fiber. An interrupted
 * call's permit is so held a little longer than the call — until its fiber
 * has run its finalizers and ended — and never shorter: in flight never
 * exceeds the limit.
 */
class Holder {
  /** Permits of this fiber not given back. */
  count = 0
  /** Start times (Clock millis) of its adaptive calls in flight, innermost last: a fiber's calls nest. */
  readonly starts: Array<number> = []
  /** Shared by every call of this fiber: the hot path allocates nothing. */
  readonly handlers: Handlers

  constructor(impl: BulkheadImpl) {
    this.handlers = impl.adaptive === undefined
      ? {
        onSuccess: (a) => {
          impl.release(this)
          return Effect.succeed(a)
        },
        onFailure: (cause) => {
          impl.release(this)
          return Effect.failCause(cause)
        }
      }
      : {
        onSuccess: (a) =>
          impl.finish(this, false, false) ? Effect.zipRight(impl.publish, Effect.succeed(a)) : Effect.succeed(a),
        onFailure: (cause) =>
          impl.finish(this, true, Cause.isInterruptedOnly(cause))
            ? Effect.zipRight(impl.publish, Effect.failCause(cause))
            : Effect.failCause(cause)
      }
  }
}

const WAITING = 0
const GRANTED = 1
const SETTLED = 2

/** A call in the queue: a node of its class's list, oldest first. */
class Waiter {
  state: typeof WAITING | typeof GRANTED | typeof SETTLED = WAITING
  resume: ((result: Effect.Effect<void, BulkheadFullError>) => void) | undefined = undefined
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  constructor(
    readonly holder: Holder,
    readonly index: Crit.Index,
    /** Arrival order across classes. */
    readonly seq: number,
    readonly enqueuedAt: number,
    readonly deadline: number
  ) {}
}

/** Validated options. */
interface Checked {
  readonly name: string
  readonly limit: number
  readonly adaptive:
    | { readonly algorithm: Algorithm; readonly min: number; readonly max: number; readonly windowMillis: number }
    | undefined
  readonly maxQueue: number
  readonly maxWaitMillis: number
  readonly shares: ReadonlyArray<number>
}

/** @internal */
export class BulkheadImpl {
  inFlight = 0
  waiting = 0
  /** The integer limit in force. */
  limit: number
  /** Per class index: in flight must be below it for the class to be admitted. */
  readonly thresholds: Array<number> = [0, 0, 0, 0]
  /** The lowest threshold: below it every class is admitted without looking at the caller's class. */
  fast = 0
  readonly adaptive: AdaptiveLimit | undefined
  /** Writes {@link limit} to the `SubscriptionRef`: run by the call whose completion moved the limit. */
  readonly publish: Effect.Effect<void>
  completed = 0
  rejected = 0

  private readonly heads: Array<Waiter | undefined> = [undefined, undefined, undefined, undefined]
  private readonly tails: Array<Waiter | undefined> = [undefined, undefined, undefined, undefined]
  private seq = 0
  private readonly holders = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, Holder>()
  // The last fiber seen and its holder: sequential calls of one fiber skip the WeakMap.
  private lastFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private lastHolder: Holder | undefined = undefined

  // `retryAfter`: the rate at which calls end, measured over the last period.
  private rateSince: number
  private rateBase = 0
  private rate = 0
  private rejection: Effect.Effect<never, BulkheadFullError> | undefined = undefined
  private rejectionMillis = -1
  private rejectionLimit = -1

  private timerRunning = false
  private wake: (() => void) | undefined = undefined

  // Series resolved once: the hot path updates them without any lookup.
  private readonly inFlightHook: MetricHook.MetricHook<number, unknown>
  private readonly limitHook: MetricHook.MetricHook<number, unknown>
  private readonly waitHook: MetricHook.MetricHook<number, unknown>
  private readonly rejectedHooks: ReadonlyArray<MetricHook.MetricHook<number, unknown>>

  constructor(
    readonly name: string,
    readonly clock: Clock.Clock,
    readonly scope: Scope.Scope,
    readonly ref: SubscriptionRef.SubscriptionRef<number>,
    private readonly checked: Checked
  ) {
    this.limit = checked.limit
    const now = clock.unsafeCurrentTimeMillis()
    this.rateSince = now
    this.adaptive = checked.adaptive === undefined ? undefined : new AdaptiveLimit({
      algorithm: checked.adaptive.algorithm,
      min: checked.adaptive.min,
      max: checked.adaptive.max,
      initial: checked.limit,
      windowMillis: checked.adaptive.windowMillis
    }, now)
    this.publish = Effect.uninterruptible(Effect.suspend(() => SubscriptionRef.set(this.ref, this.limit)))
    const label = MetricLabel.make("bulkhead", name)
    this.inFlightHook = MetricHooks.unsafeHook(MetricHooks.bulkheadKeys.inFlight, [label])
    this.limitHook = MetricHooks.unsafeHook(MetricHooks.bulkheadKeys.limit, [label])
    this.waitHook = MetricHooks.unsafeHook(MetricHooks.bulkheadKeys.wait, [label])
    this.rejectedHooks = Crit.tags.map((tag) =>
      MetricHooks.unsafeHook(MetricHooks.bulkheadKeys.rejected, [label, MetricLabel.make("criticality", tag)])
    )
    // Every series exists from creation.
    this.inFlightHook.update(0)
    for (const hook of this.rejectedHooks) hook.update(0)
    this.thresholdsFor(this.limit)
  }

  // ---------------------------------------------------------------------------
  // calls
  // ---------------------------------------------------------------------------

  run<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R> {
    return Effect.withFiberRuntime((fiber) => {
      const holder = fiber === this.lastFiber ? this.lastHolder! : this.holderOf(fiber)
      // Room for every class: no need to know the caller's.
      if (this.inFlight < this.fast && holder !== undefined) return this.admit(holder, effect)
      return this.contended(fiber, holder, effect)
    })
  }

  /** Admitted: two Effect operations (`withFiberRuntime`, `matchCauseEffect`) and synchronous counters. */
  admit<A, E, R>(holder: Holder, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    holder.count++
    this.inFlightHook.update(++this.inFlight)
    const adaptive = this.adaptive
    if (adaptive !== undefined) {
      adaptive.admitted(this.inFlight)
      holder.starts.push(this.clock.unsafeCurrentTimeMillis())
    }
    return Effect.matchCauseEffect(effect, holder.handlers)
  }

  holderOf(fiber: Fiber.RuntimeFiber<unknown, unknown>): Holder | undefined {
    const holder = this.holders.get(fiber)
    if (holder !== undefined) {
      this.lastFiber = fiber
      this.lastHolder = holder
    }
    return holder
  }

  /** A fiber's first call: its holder, and the observer that takes back what it holds when it ends. */
  newHolder(fiber: Fiber.RuntimeFiber<unknown, unknown>): Holder {
    const holder = new Holder(this)
    this.holders.set(fiber, holder)
    this.lastFiber = fiber
    this.lastHolder = holder
    fiber.addObserver(() => {
      if (this.lastFiber === fiber) {
        this.lastFiber = undefined
        this.lastHolder = undefined
      }
      this.holders.delete(fiber)
      if (holder.count > 0) {
        this.inFlight -= holder.count
        holder.count = 0
        this.inFlightHook.update(this.inFlight)
        this.drain()
      }
    })
    return holder
  }

  /** Not every class fits, or the fiber is new: the caller's class decides. */
  contended<A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    known: Holder | undefined,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError, R> {
    const holder = known ?? this.newHolder(fiber)
    const index = Crit.indices[fiber.getFiberRef(Crit.fiberRef)._tag]
    // No waiter is ever eligible while it waits (each release grants them
    // first), so a class with room is admitted without looking at the queue.
    if (this.inFlight < this.thresholds[index]!) return this.admit(holder, effect)
    if (this.checked.maxQueue === 0 || (this.waiting >= this.checked.maxQueue && this.victim(index) === undefined)) {
      return this.reject(index)
    }
    this.adaptive?.refused()
    return this.queued(holder, index, effect)
  }

  /** Gives one permit of `holder` back; what a call does when it ends. */
  release(holder: Holder): void {
    holder.count--
    this.completed++
    this.inFlightHook.update(--this.inFlight)
    if (this.waiting > 0) this.drain()
  }

  /** An adaptive call ended: its latency goes to the limit. `true` when the limit moved (to be published). */
  finish(holder: Holder, failed: boolean, interrupted: boolean): boolean {
    const start = holder.starts.pop()
    let moved = false
    if (!interrupted && start !== undefined) {
      const now = this.clock.unsafeCurrentTimeMillis()
      const adaptive = this.adaptive!
      if (adaptive.sample(now - start, failed, now, this.inFlight - 1)) {
        this.thresholdsFor(adaptive.limit)
        moved = true
      }
    }
    this.release(holder)
    return moved
  }

  // ---------------------------------------------------------------------------
  // refusals
  // ---------------------------------------------------------------------------

  reject(index: Crit.Index): Effect.Effect<never, BulkheadFullError> {
    this.rejectedHooks[index]!.update(1)
    this.rejected++
    this.adaptive?.refused()
    const millis = this.retryAfterMillis()
    // Refusals of one burst carry the same hint: they share one error (and one
    // failed Effect), so shedding load costs no allocation.
    if (this.rejectionMillis !== millis || this.rejectionLimit !== this.limit) {
      this.rejectionMillis = millis
      this.rejectionLimit = this.limit
      this.rejection = Effect.failCause(Cause.fail(this.fullError(millis)))
    }
    return this.rejection!
  }

  fullError(retryAfterMillis: number): BulkheadFullError {
    return withoutStack(() =>
      new BulkheadFullError({ bulkhead: this.name, limit: this.limit, retryAfter: Duration.millis(retryAfterMillis) })
    )
  }

  /**
   * When a slot is likely to be free for one more caller behind those
   * waiting: (waiting + 1) / the rate at which calls ended over the last
   * second. Read from counters the hot path keeps anyway, and the Clock.
   */
  retryAfterMillis(): number {
    const now = this.clock.unsafeCurrentTimeMillis()
    const elapsed = now - this.rateSince
    if (elapsed >= ratePeriodMillis) {
      this.rate = (this.completed - this.rateBase) / elapsed
      this.rateSince = now
      this.rateBase = this.completed
    }
    let rate = this.rate
    if (!(rate > 0) && elapsed > 0) rate = (this.completed - this.rateBase) / elapsed
    if (!(rate > 0)) return unknownRetryAfterMillis
    return Math.min(maxRetryAfterMillis, Math.max(1, Math.ceil((this.waiting + 1) / rate)))
  }

  // ---------------------------------------------------------------------------
  // the queue
  // ---------------------------------------------------------------------------

  /**
   * Waits for a permit. Queued when the wait is registered — the same
   * synchronous step as the decision, so no node outlives an interruption in
   * between. An interrupted waiter leaves the queue, or gives back the
   * permit it was granted, through the canceler.
   */
  queued<A, E, R>(
    holder: Holder,
    index: Crit.Index,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError, R> {
    const wait = Effect.async<void, BulkheadFullError>((resume) => {
      if (this.inFlight < this.thresholds[index]!) {
        this.grant(holder)
        return resume(Effect.void)
      }
      if (this.waiting >= this.checked.maxQueue) {
        const victim = this.victim(index)
        if (victim === undefined) return resume(this.reject(index))
        this.settle(victim)
      }
      const now = monotonicMillis(this.clock)
      const node = new Waiter(holder, index, this.seq++, now, now + this.checked.maxWaitMillis)
      node.resume = resume
      this.enqueue(node)
      return Effect.sync(() => this.cancel(node))
    })
    const run = Effect.matchCauseEffect(wait, {
      onSuccess: () => {
        const adaptive = this.adaptive
        if (adaptive !== undefined) holder.starts.push(this.clock.unsafeCurrentTimeMillis())
        return Effect.matchCauseEffect(effect, holder.handlers)
      },
      onFailure: (cause) => Effect.failCause(cause)
    })
    return this.timerRunning || this.checked.maxWaitMillis === Infinity ? run : Effect.zipRight(this.startTimer, run)
  }

  /** The newest waiter of the least critical class below `index`, to make room for a more critical call. */
  victim(index: Crit.Index): Waiter | undefined {
    for (let i = 0; i < index; i++) {
      const tail = this.tails[i]
      if (tail !== undefined) return tail
    }
    return undefined
  }

  grant(holder: Holder): void {
    holder.count++
    this.inFlightHook.update(++this.inFlight)
    this.adaptive?.admitted(this.inFlight)
  }

  /** Grants permits to waiters while one is eligible: `CriticalPlus` first, then the oldest. */
  drain(): void {
    while (this.waiting > 0) {
      const node = this.eligible()
      if (node === undefined) return
      this.unlink(node)
      node.state = GRANTED
      this.grant(node.holder)
      this.waitHook.update((monotonicMillis(this.clock) - node.enqueuedAt) / 1000)
      node.resume!(Effect.void)
    }
  }

  eligible(): Waiter | undefined {
    const inFlight = this.inFlight
    if (inFlight >= this.thresholds[Crit.CRITICAL_PLUS]!) return undefined
    const first = this.heads[Crit.CRITICAL_PLUS]
    if (first !== undefined) return first
    let oldest: Waiter | undefined
    for (let i = Crit.CRITICAL; i >= Crit.SHEDDABLE; i--) {
      const head = this.heads[i]
      if (head !== undefined && inFlight < this.thresholds[i]! && (oldest === undefined || head.seq < oldest.seq)) {
        oldest = head
      }
    }
    return oldest
  }

  /** Refuses a waiter: its time is up, or a more critical call took its place. */
  settle(node: Waiter): void {
    this.unlink(node)
    node.state = SETTLED
    const millis = this.retryAfterMillis()
    this.rejectedHooks[node.index]!.update(1)
    this.rejected++
    this.waitHook.update((monotonicMillis(this.clock) - node.enqueuedAt) / 1000)
    node.resume!(Effect.failCause(Cause.fail(this.fullError(millis))))
  }

  /** The waiter was interrupted: it leaves the queue, or gives back the permit it was just granted. */
  cancel(node: Waiter): void {
    if (node.state === WAITING) {
      this.unlink(node)
      node.state = SETTLED
    } else if (node.state === GRANTED) {
      node.state = SETTLED
      node.holder.count--
      this.inFlightHook.update(--this.inFlight)
      this.drain()
    }
  }

  enqueue(node: Waiter): void {
    const tail = this.tails[node.index]
    if (tail === undefined) {
      this.heads[node.index] = node
    } else {
      tail.next = node
      node.prev = tail
    }
    this.tails[node.index] = node
    this.waiting++
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      wake()
    }
  }

  unlink(node: Waiter): void {
    const { next, prev } = node
    if (prev === undefined) this.heads[node.index] = next
    else prev.next = next
    if (next === undefined) this.tails[node.index] = prev
    else next.prev = prev
    node.prev = undefined
    node.next = undefined
    this.waiting--
  }

  /** The waiter whose deadline comes first: deadlines follow arrival, so the oldest head. */
  oldest(): Waiter | undefined {
    let oldest: Waiter | undefined
    for (const head of this.heads) {
      if (head !== undefined && (oldest === undefined || head.seq < oldest.seq)) oldest = head
    }
    return oldest
  }

  /** The queue's timer, forked in the bulkhead's scope by the first call that waits. */
  readonly startTimer: Effect.Effect<void> = Effect.suspend(() => {
    if (this.timerRunning) return Effect.void
    this.timerRunning = true
    return Effect.asVoid(Effect.forkIn(Effect.interruptible(this.watch()), this.scope))
  })

  /** Sleeps until the oldest deadline, refuses the waiters whose time is up, parks while the queue is empty. */
  watch(): Effect.Effect<void> {
    return Effect.suspend((): Effect.Effect<void> => {
      let oldest = this.oldest()
      if (oldest === undefined) {
        return Effect.zipRight(
          Effect.async<void>((resume) => {
            if (this.waiting > 0) return resume(Effect.void)
            this.wake = () => resume(Effect.void)
          }),
          this.watch()
        )
      }
      const now = monotonicMillis(this.clock)
      if (oldest.deadline > now) {
        return Effect.zipRight(this.clock.sleep(Duration.millis(oldest.deadline - now)), this.watch())
      }
      while (oldest !== undefined && oldest.deadline <= now) {
        this.settle(oldest)
        oldest = this.oldest()
      }
      return this.watch()
    })
  }

  // ---------------------------------------------------------------------------
  // the limit
  // ---------------------------------------------------------------------------

  /** Sets the limit in force and each class's threshold; a higher limit grants waiters at once. */
  thresholdsFor(limit: number): void {
    this.limit = limit
    const shares = this.checked.shares
    for (let i = 0; i < 4; i++) {
      // A class is admitted while in flight < share × limit; the epsilon keeps
      // 0.7 × 10 (7.000000000000001) from reading as 8.
      this.thresholds[i] = Math.max(1, Math.ceil(shares[i]! * limit - 1e-9))
    }
    this.fast = this.thresholds[Crit.SHEDDABLE]!
    this.limitHook.update(limit)
    if (this.waiting > 0) this.drain()
  }

  /**
   * A value written to the `SubscriptionRef`: the bulkhead's own (seen
   * again) or an operator's, which then becomes the limit — within [min,
   * max] for an adaptive one, which goes on from there.
   */
  follow(value: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (value === this.limit) return Effect.void
      if (!(Number.isInteger(value) && value >= 1)) {
        return Effect.zipRight(
          Effect.logError(
            `Bulkhead ${this.name}: ignored limit ${value} (not a positive integer); keeping ${this.limit}`
          ),
          this.publish
        )
      }
      const applied = this.adaptive === undefined ? value : this.adaptive.override(value)
      this.thresholdsFor(applied)
      if (applied === value) return Effect.void
      return Effect.zipRight(
        Effect.logWarning(`Bulkhead ${this.name}: limit ${value} is outside [min, max]; using ${applied}`),
        this.publish
      )
    })
  }

  stats(): B.Stats {
    return {
      limit: this.limit,
      inFlight: this.inFlight,
      waiting: this.waiting,
      completed: this.completed,
      rejected: this.rejected
    }
  }
}

const ImplKey = Symbol.for("@effect-resilience/core/Bulkhead/impl")

interface Handle {
  readonly [ImplKey]: BulkheadImpl
}

const implOf = (self: unknown): BulkheadImpl => (self as Handle)[ImplKey]

const BulkheadProto = Object.setPrototypeOf(
  {
    [TypeId]: TypeId,
    get inFlight() {
      const impl = implOf(this)
      return Effect.sync(() => impl.inFlight)
    },
    get waiting() {
      const impl = implOf(this)
      return Effect.sync(() => impl.waiting)
    },
    get limit() {
      return implOf(this).ref
    },
    get stats() {
      const impl = implOf(this)
      return Effect.sync(() => impl.stats())
    },
    unsafeStats(this: Handle) {
      return this[ImplKey].stats()
    },
    pipe() {
      // eslint-disable-next-line prefer-rest-params
      return pipeArguments(this, arguments)
    }
  },
  Function.prototype
)

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const module = "Bulkhead.make"

const integerIn = (v: Validator, option: string, value: unknown, min: number): number =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= maxTimerMillis
    ? value
    : v.fail(option, min === 0 ? "a non-negative integer" : "a positive integer", value)

const checkAdaptive = (v: Validator, limit: object): NonNullable<Checked["adaptive"]> & { initial: number } => {
  const { algorithm, initial, max, min, window } = limit as Partial<B.Adaptive>
  if (!algorithms.includes(algorithm as Algorithm)) {
    v.fail("limit.algorithm", `one of ${algorithms.map((a) => `"${a}"`).join(", ")}`, algorithm)
  }
  const lower = v.positiveInt("limit.min", min)
  const upper = integerIn(v, "limit.max", max, 1)
  if (upper < lower) v.fail("limit.max", `an integer at least limit.min (${lower})`, max)
  const start = typeof initial === "number" && Number.isInteger(initial) && initial >= lower && initial <= upper
    ? initial
    : v.fail("limit.initial", `an integer between limit.min (${lower}) and limit.max (${upper})`, initial)
  const windowMillis = Duration.toMillis(v.duration("limit.window", window ?? "1 second"))
  return { algorithm: algorithm as Algorithm, min: lower, max: upper, initial: start, windowMillis }
}

const checkMaxWait = (v: Validator, value: unknown, maxQueue: number): number => {
  const expected = maxQueue === 0
    ? "zero when maxQueue is 0 (without a queue no call waits)"
    : `a positive duration of at most ${maxTimerMillis} milliseconds, or Duration.infinity`
  if (Duration.isDuration(value) && !Duration.isFinite(value)) {
    return maxQueue === 0 ? v.fail("maxWait", expected, value) : Infinity
  }
  const millis = Duration.toMillis(v.duration("maxWait", value, { allowZero: true }))
  if (maxQueue === 0) return millis === 0 ? 0 : v.fail("maxWait", expected, value)
  return millis > 0 && millis <= maxTimerMillis ? millis : v.fail("maxWait", expected, value)
}

const checkShares = (v: Validator, value: unknown): ReadonlyArray<number> => {
  if (value === undefined) return defaultShares
  const given = v.object("shares", value) as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!(key in Crit.indices)) v.fail(`shares.${key}`, `a class (${Crit.tags.join(", ")})`, key)
  }
  const shares = Crit.tags.map((tag, i) => {
    const share = given[tag]
    return share === undefined ? defaultShares[i]! : v.rate(`shares.${tag}`, share)
  })
  // A less critical class never gets more room than a more critical one.
  for (let i = 1; i < 4; i++) {
    if (shares[i]! < shares[i - 1]!) {
      v.fail(
        `shares.${Crit.tags[i]}`,
        `at least the share of ${Crit.tags[i - 1]} (${
          shares[i - 1]
        }): a more critical class gets at least as much room`,
        shares[i]
      )
    }
  }
  return shares
}

const check = (v: Validator, options: B.Options): Checked => {
  v.object("options", options)
  const name = v.nonEmptyString("name", options.name)
  const limit: unknown = options.limit
  let adaptive: Checked["adaptive"]
  let initial: number
  if (typeof limit === "object" && limit !== null && (limit as { _tag?: unknown })._tag === "Adaptive") {
    const checked = checkAdaptive(v, limit)
    initial = checked.initial
    adaptive = { algorithm: checked.algorithm, min: checked.min, max: checked.max, windowMillis: checked.windowMillis }
  } else {
    initial = typeof limit === "number" && Number.isInteger(limit) && limit >= 1 && limit <= maxTimerMillis
      ? limit
      : v.fail("limit", "a positive integer or Bulkhead.adaptive({ … })", limit)
  }
  const maxQueue = options.maxQueue === undefined ? 0 : integerIn(v, "maxQueue", options.maxQueue, 0)
  const maxWaitMillis = checkMaxWait(v, options.maxWait ?? 0, maxQueue)
  return { name, limit: initial, adaptive, maxQueue, maxWaitMillis, shares: checkShares(v, options.shares) }
}

/** @internal */
export const make = (options: B.Options): Effect.Effect<B.Bulkhead, never, Scope.Scope> =>
  Effect.flatMap(validated(module, (v) => check(v, options)), (checked) =>
    Effect.flatMap(
      Effect.all([Effect.clock, Effect.scope, SubscriptionRef.make(checked.limit)]),
      ([clock, scope, ref]) => {
        const impl = new BulkheadImpl(checked.name, clock, scope, ref, checked)
        // A computed key names the function after the bulkhead, as the breaker does.
        const bulkhead = {
          [checked.name]: <A, E, R>(effect: Effect.Effect<A, E, R>) => impl.run(effect)
        }[checked.name]! as any
        Object.setPrototypeOf(bulkhead, BulkheadProto)
        bulkhead[ImplKey] = impl
        // Values written to `limit` from outside reach the hot path's copy.
        const follow = Stream.runForEach(ref.changes, (value) => impl.follow(value))
        return Effect.as(Effect.forkIn(follow, scope), bulkhead as B.Bulkhead)
      }
    ))

/** @internal */
export const isBulkhead = (u: unknown): u is B.Bulkhead => typeof u === "function" && TypeId in u
