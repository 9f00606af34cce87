/**
 * A breaker per key (host, tenant, model), bounded in memory.
 *
 * Why not `RcMap` or `Cache`: `keyed(key)` answers a breaker synchronously
 * on the hot path of every call, and both of them answer an Effect (a scope,
 * a fiber-safe lookup) — ten times the cost budget of a keyed call. The keys
 * live in a `Map` in approximate least-recently-used order instead: a key is
 * moved to the end when used, at most once per `touchInterval`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import { pipeArguments } from "effect/Pipeable"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CB from "../CircuitBreaker.js"
import {
  type BreakerImpl,
  check,
  codes,
  type Group,
  handleOf,
  type Hooks,
  makeHooks,
  stateLabels,
  unsafeMakeImpl
} from "./circuitBreaker.js"
import * as MetricHooks from "./metrics.js"
import { validated } from "./validate.js"

const { CLOSED, DISABLED, FORCED_OPEN, HALF_OPEN, OPEN } = codes

const module = "CircuitBreaker.keyed"

/** A live key: its breaker and when it was last used. */
interface Entry<K> {
  readonly key: K
  readonly impl: BreakerImpl
  readonly breaker: CB.CircuitBreaker
  /** Clock millis of the last call. */
  lastUsed: number
  /** Clock millis of the last move to the end of the LRU order. */
  touched: number
}

type KeyedListener<K> = (change: CB.KeyedStateChange<K>) => Effect.Effect<void> | void

/** Gauge values of `circuit_breaker_state` for a keyed breaker: its worst key. */
const OPEN_GAUGE = 1
const HALF_OPEN_GAUGE = 2

class KeyedImpl<K> implements Group {
  readonly owner: object = this
  readonly hooks: Hooks | undefined
  deadlines: Group["deadlines"] = undefined
  readonly entries = new Map<K, Entry<K>>()
  /** Live keys per state code. */
  readonly counts = [0, 0, 0, 0, 0]
  readonly keysHooks: ReadonlyArray<MetricHook.MetricHook<number, unknown>>
  readonly stateHook: MetricHook.MetricHook<number, unknown>
  listeners: Array<KeyedListener<K>> | undefined = undefined
  /** The state new keys start in: Closed, or ForcedOpen / Disabled after `forceOpenAll` / `disableAll`. */
  mode: number = CLOSED
  /** Shared by the keys that find every slot held by a key that may not be evicted. */
  overflow: Entry<K> | undefined = undefined
  /** No key can be evicted before this instant (every slot holds an open or forced key): skip the scan. */
  noEvictionUntil = -Infinity
  warnedFull = false
  readonly breakerLabel: MetricLabel.MetricLabel

  constructor(
    readonly checked: Parameters<typeof unsafeMakeImpl>[0],
    readonly clock: Parameters<typeof unsafeMakeImpl>[1],
    readonly scope: Scope.Scope,
    readonly capacity: number,
    readonly idleMillis: number,
    readonly perKey: boolean,
    readonly runFork: (effect: Effect.Effect<void>) => unknown
  ) {
    this.breakerLabel = MetricLabel.make("breaker", checked.name)
    const labels = [this.breakerLabel]
    // Aggregate: every key counts into the breaker's own series; per key: each key has its own.
    const shared = makeHooks(labels, checked.disabled ? DISABLED : CLOSED)
    this.hooks = perKey ? undefined : shared
    this.stateHook = shared.stateHook
    this.keysHooks = stateLabels.map((state) =>
      MetricHooks.unsafeHook(MetricHooks.keys.breakerKeys, [this.breakerLabel, MetricLabel.make("state", state)])
    )
    for (const hook of this.keysHooks) hook.update(0)
    if (checked.disabled) this.mode = DISABLED
  }

  get touchInterval(): number {
    return Math.min(1000, this.idleMillis / 16)
  }

  // ---------------------------------------------------------------------------
  // the hot path
  // ---------------------------------------------------------------------------

  get(key: K): CB.CircuitBreaker {
    const now = this.clock.unsafeCurrentTimeMillis()
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      entry.lastUsed = now
      if (now - entry.touched >= this.touchInterval) {
        // Re-inserted: `Map` keeps insertion order, the oldest first.
        this.entries.delete(key)
        this.entries.set(key, entry)
        entry.touched = now
      }
      return entry.breaker
    }
    return this.add(key, now)
  }

  add(key: K, now: number): CB.CircuitBreaker {
    if (this.entries.size >= this.capacity && !this.evictOne(now)) return this.overflowBreaker(key, now)
    const labels = this.perKey ? [this.breakerLabel, MetricLabel.make("key", String(key))] : undefined
    const impl = unsafeMakeImpl(this.checked, this.clock, this.scope, this, labels, this.mode)
    const entry: Entry<K> = { key, impl, breaker: handleOf(impl), lastUsed: now, touched: now }
    this.entries.set(key, entry)
    this.count(this.mode, 1)
    keyOf.set(impl, key)
    return entry.breaker
  }

  /**
   * Every slot is held by a key that may not be evicted (open, or forced):
   * the new key shares one overflow breaker — calls are still protected and
   * counted, memory stays bounded, and the outage of the held keys is not
   * forgotten by the churn of new ones.
   */
  overflowBreaker(key: K, now: number): CB.CircuitBreaker {
    if (this.overflow === undefined) {
      const impl = unsafeMakeImpl(this.checked, this.clock, this.scope, this, undefined, this.mode)
      this.overflow = { key, impl, breaker: handleOf(impl), lastUsed: now, touched: now }
    }
    if (!this.warnedFull) {
      this.warnedFull = true
      // Once per fill-up, from a synchronous lookup: forked on the runtime the keyed breaker was made with.
      this.runFork(
        Effect.logWarning(
          `Circuit breaker ${this.checked.name}: all ${this.capacity} keys are open or forced; ` +
            "new keys share one overflow breaker until a slot frees up"
        )
      )
    }
    return this.overflow.breaker
  }

  // ---------------------------------------------------------------------------
  // eviction
  // ---------------------------------------------------------------------------

  /**
   * A key may go when nothing waits on it: closed, disabled or half-open
   * (its reset delay has passed, so no timer is pending). An open or forced
   * key stays until its delay has passed: an outage must not be forgotten.
   */
  evictable(entry: Entry<K>): boolean {
    const code = entry.impl.code
    // Forced with the whole set, it would come back forced: it may go.
    return code === CLOSED || code === DISABLED || code === HALF_OPEN ||
      (code === FORCED_OPEN && this.mode === FORCED_OPEN)
  }

  /** Evicts the least recently used key that may go; `false` when none may. */
  evictOne(now: number): boolean {
    if (now < this.noEvictionUntil) return false
    let earliest = Infinity
    for (const entry of this.entries.values()) {
      if (this.evictable(entry) && entry.impl.probes === 0) {
        this.remove(entry)
        return true
      }
      if (entry.impl.code === OPEN) earliest = Math.min(earliest, entry.impl.until)
    }
    this.noEvictionUntil = earliest
    return false
  }

  remove(entry: Entry<K>): void {
    this.entries.delete(entry.key)
    this.count(entry.impl.code, -1)
    // Calls admitted earlier finish against a breaker nobody sees any more.
    entry.impl.generation++
  }

  /** Evicts every key idle for `idleTimeToLive` that may go: a key idle that long is gone within twice that. */
  sweep(): void {
    const now = this.clock.unsafeCurrentTimeMillis()
    const cutoff = now - this.idleMillis
    for (const entry of [...this.entries.values()]) {
      // The order is by last move, which lags the last use by at most `touchInterval`.
      if (entry.touched > cutoff + this.touchInterval) break
      if (entry.lastUsed <= cutoff && this.evictable(entry) && entry.impl.probes === 0) this.remove(entry)
    }
    if (this.entries.size < this.capacity) {
      this.warnedFull = false
      this.noEvictionUntil = -Infinity
    }
  }

  // ---------------------------------------------------------------------------
  // states
  // ---------------------------------------------------------------------------

  count(code: number, delta: number): void {
    this.counts[code]! += delta
    this.keysHooks[code]!.update(this.counts[code]!)
    this.stateHook.update(
      this.counts[OPEN]! + this.counts[FORCED_OPEN]! > 0
        ? OPEN_GAUGE
        : this.counts[HALF_OPEN]! > 0
        ? HALF_OPEN_GAUGE
        : 0
    )
  }

  onTransition(impl: BreakerImpl, from: number, to: number, change: CB.StateChange): Effect.Effect<void> | undefined {
    const key = keyOf.get(impl) as K | undefined
    const live = key !== undefined && this.entries.get(key)?.impl === impl
    if (live) {
      this.count(from, -1)
      this.count(to, 1)
      if (to === OPEN) this.noEvictionUntil = Math.min(this.noEvictionUntil, impl.until)
      if (to !== OPEN && to !== FORCED_OPEN) this.noEvictionUntil = -Infinity
    }
    const overflow = impl === this.overflow?.impl
    const listeners = this.listeners
    if (listeners === undefined || listeners.length === 0 || (!live && !overflow)) return undefined
    const keyed: CB.KeyedStateChange<K> = { ...change, key: key as K, overflow }
    let effects: Array<Effect.Effect<void>> | undefined
    for (const listener of listeners.slice()) {
      try {
        const result = listener(keyed)
        if (result !== undefined && Effect.isEffect(result)) (effects ??= []).push(result)
      } catch {
        // A listener must not break the breaker.
      }
    }
    return effects === undefined
      ? undefined
      : Effect.forEach(effects, (effect) => Effect.catchAllCause(effect, () => Effect.void), { discard: true })
  }

  describe(impl: BreakerImpl): string {
    if (impl === this.overflow?.impl) return `${this.checked.name} [overflow]`
    const key = keyOf.get(impl)
    return key === undefined ? this.checked.name : `${this.checked.name} [${String(key)}]`
  }

  states(): ReadonlyMap<K, CB.State> {
    const out = new Map<K, CB.State>()
    for (const [key, entry] of this.entries) out.set(key, entry.impl.currentState())
    return out
  }

  /** Every live key, and the overflow breaker. */
  all(): Array<BreakerImpl> {
    const impls = [...this.entries.values()].map((entry) => entry.impl)
    if (this.overflow !== undefined) impls.push(this.overflow.impl)
    return impls
  }

  setAll(mode: number, action: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.mode = mode === CLOSED && this.checked.disabled ? DISABLED : mode
      return Effect.forEach(this.all(), (impl) => impl.manual(this.mode, action), { discard: true })
    })
  }
}

/** The key of each breaker a keyed breaker made (for its transitions). */
const keyOf = new WeakMap<BreakerImpl, any>()

/** Where a keyed handle keeps its state: module-private. */
const ImplKey: unique symbol = Symbol("@effect-resilience/core/CircuitBreaker/keyed")

const KeyedProto = {
  get states() {
    const impl = (this as unknown as Handle)[ImplKey]
    return Effect.sync(() => impl.states())
  },
  get size() {
    const impl = (this as unknown as Handle)[ImplKey]
    return Effect.sync(() => impl.entries.size)
  },
  unsafeSize(this: Handle) {
    return this[ImplKey].entries.size
  },
  reset(this: Handle, key: unknown) {
    const impl = this[ImplKey]
    return Effect.suspend(() => {
      const entry = impl.entries.get(key)
      return entry === undefined ? Effect.void : entry.impl.manual(CLOSED, "reset")
    })
  },
  get forceOpenAll() {
    return (this as unknown as Handle)[ImplKey].setAll(FORCED_OPEN, "forced open")
  },
  get disableAll() {
    return (this as unknown as Handle)[ImplKey].setAll(DISABLED, "disabled")
  },
  get resetAll() {
    return (this as unknown as Handle)[ImplKey].setAll(CLOSED, "reset")
  },
  onChange(this: Handle, listener: KeyedListener<unknown>) {
    const impl = this[ImplKey]
    return Effect.acquireRelease(
      Effect.sync(() => {
        ;(impl.listeners ??= []).push(listener)
      }),
      () =>
        Effect.sync(() => {
          const index = impl.listeners?.indexOf(listener) ?? -1
          if (index >= 0) impl.listeners!.splice(index, 1)
        })
    )
  },
  get changes() {
    const handle = this as unknown as Handle
    return Stream.asyncPush<CB.KeyedStateChange<unknown>>(
      (emit) =>
        (KeyedProto.onChange as (listener: KeyedListener<unknown>) => Effect.Effect<void, never, Scope.Scope>)
          .call(handle, (change) => {
            emit.single(change)
          }),
      { bufferSize: "unbounded" }
    )
  },
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

Object.setPrototypeOf(KeyedProto, Function.prototype)

interface Handle {
  readonly [ImplKey]: KeyedImpl<unknown>
}

/** @internal */
export const keyed = <K>(options: CB.KeyedOptions): Effect.Effect<CB.Keyed<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const limits = yield* validated(module, (v) => {
      const o = v.object("options", options) as CB.KeyedOptions
      return {
        capacity: o.capacity === undefined ? 1000 : v.positiveInt("capacity", o.capacity, 10_000_000),
        idle: v.duration("idleTimeToLive", o.idleTimeToLive ?? "10 minutes", { timer: true }),
        perKey: o.metrics === undefined || o.metrics === "aggregate"
          ? false
          : o.metrics === "per-key"
          ? true
          : v.fail("metrics", `"aggregate" or "per-key"`, o.metrics)
      }
    })
    const checked = yield* check(module, options)
    const clock = yield* Effect.clock
    const scope = yield* Effect.scope
    const impl = new KeyedImpl<K>(
      checked,
      clock,
      scope,
      limits.capacity,
      Duration.toMillis(limits.idle),
      limits.perKey,
      Runtime.runFork(yield* Effect.runtime<never>())
    )
    // One sweeper for all keys, every half of the idle time to live.
    yield* Effect.sync(() => impl.sweep()).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1, Duration.toMillis(limits.idle) / 2)))),
      Effect.interruptible,
      Effect.forkScoped
    )
    const self = {
      [checked.name]: (key: K) => impl.get(key)
    }[checked.name]! as any
    Object.setPrototypeOf(self, KeyedProto)
    self[ImplKey] = impl
    return self as CB.Keyed<K>
  })
