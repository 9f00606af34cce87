/**
 * How much a request matters, so that overload drops the least critical work
 * first: `CriticalPlus`, `Critical` (the default), `SheddablePlus`,
 * `Sheddable`.
 *
 * The class lives in a `FiberRef`: set it once where a request enters
 * (`Criticality.with(handler, Criticality.Sheddable())`, or from its
 * `x-criticality` header with {@link fromHeader}) and every call the request
 * makes — on its own fiber or on fibers it forks — carries it to the
 * bulkheads it goes through.
 *
 * ```ts
 * const report = Criticality.with(buildReport, Criticality.Sheddable())
 * ```
 *
 * @since 0.2.0
 */
import type * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Num from "effect/Number"
import * as Order_ from "effect/Order"
import * as internal from "./internal/criticality.js"

/**
 * The four classes, ranked 4 (`CriticalPlus`) to 1 (`Sheddable`); see
 * {@link rank} and {@link Order}.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * const describe = Criticality.$match({
 *   CriticalPlus: () => "never shed before everything else is",
 *   Critical: () => "the default: a user waits for it",
 *   SheddablePlus: () => "retried or degraded gracefully",
 *   Sheddable: () => "batch work, prefetches: first to go"
 * })
 *
 * console.log(describe(Criticality.Sheddable()))
 * // Output: batch work, prefetches: first to go
 * console.log(Criticality.isMoreCriticalThan(Criticality.Critical(), Criticality.SheddablePlus()))
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Criticality = Data.TaggedEnum<{
  /** Shed only after every other class: what the service exists for (e.g. checkout, price reads of a checkout). */
  CriticalPlus: {}
  /** The default: a user is waiting for the answer. */
  Critical: {}
  /** Can wait or fail, and is retried or degraded gracefully. */
  SheddablePlus: {}
  /** Batch work, prefetches, enrichments: the first to go under overload. */
  Sheddable: {}
}>

/**
 * Rank 4: shed only after every other class.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.rank(Criticality.CriticalPlus()))
 * // Output: 4
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const CriticalPlus: (args?: void) => Criticality = internal.enumeration.CriticalPlus

/**
 * Rank 3, the default: a user is waiting for the answer.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.rank(Criticality.Critical()))
 * // Output: 3
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const Critical: (args?: void) => Criticality = internal.enumeration.Critical

/**
 * Rank 2: can wait or fail and be retried.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.rank(Criticality.SheddablePlus()))
 * // Output: 2
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const SheddablePlus: (args?: void) => Criticality = internal.enumeration.SheddablePlus

/**
 * Rank 1: the first to go under overload.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.rank(Criticality.Sheddable()))
 * // Output: 1
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const Sheddable: (args?: void) => Criticality = internal.enumeration.Sheddable

/**
 * Exhaustive pattern match on a class (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * const timeoutMillis = (c: Criticality.Criticality) =>
 *   Criticality.$match(c, {
 *     CriticalPlus: () => 5_000,
 *     Critical: () => 2_000,
 *     SheddablePlus: () => 1_000,
 *     Sheddable: () => 500
 *   })
 *
 * console.log(timeoutMillis(Criticality.Critical()))
 * // Output: 2000
 * ```
 *
 * @since 0.2.0
 * @category pattern matching
 */
export const $match = internal.enumeration.$match

/**
 * Type guards per tag: `Criticality.$is("Sheddable")(c)`.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.$is("Sheddable")(Criticality.Sheddable()))
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const $is = internal.enumeration.$is

/**
 * The tag of a class.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * const tag: Criticality.Tag = Criticality.SheddablePlus()._tag
 * console.log(tag)
 * // Output: SheddablePlus
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Tag = Criticality["_tag"]

const ranks: Record<Tag, 1 | 2 | 3 | 4> = { Sheddable: 1, SheddablePlus: 2, Critical: 3, CriticalPlus: 4 }

/**
 * Every class, most critical first.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.all.map((c) => c._tag).join(" > "))
 * // Output: CriticalPlus > Critical > SheddablePlus > Sheddable
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const all: ReadonlyArray<Criticality> = [CriticalPlus(), Critical(), SheddablePlus(), Sheddable()]

/**
 * The rank of a class: 4 (`CriticalPlus`) … 1 (`Sheddable`). Higher is more critical.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.rank(Criticality.CriticalPlus()))
 * // Output: 4
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const rank = (criticality: Criticality): 1 | 2 | 3 | 4 => ranks[criticality._tag]

/**
 * The class named by `value`, case-insensitively and with `_`, `-` and spaces
 * ignored (`"CriticalPlus"`, `"CRITICAL_PLUS"`, `"critical-plus"`), or
 * `undefined` when it names none.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.fromString("SHEDDABLE_PLUS")?._tag)
 * // Output: SheddablePlus
 * console.log(Criticality.fromString("urgent"))
 * // Output: undefined
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromString = (value: string): Criticality | undefined => internal.fromString(value)

/**
 * The header a request carries its class in, by default: `x-criticality`.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * // What a client sends to mark a prefetch as sheddable.
 * const headers = { [Criticality.headerName]: "sheddable" }
 * console.log(Criticality.fromHeader(headers["x-criticality"])._tag)
 * // Output: Sheddable
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const headerName = "x-criticality"

/**
 * The class of a request from the value of its {@link headerName} header:
 * {@link fromString} of it, and `Critical` when the header is absent or names
 * no class — an unknown value is treated as if no class were given, as a
 * request without one is. Pure, for HTTP middleware.
 *
 * A client can claim any class: where requests come from the internet, cap
 * what it may claim with {@link leastCritical}.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.fromHeader("sheddable")._tag)
 * // Output: Sheddable
 * console.log(Criticality.fromHeader(undefined)._tag)
 * // Output: Critical
 * // What a public client may claim: at most Critical.
 * console.log(Criticality.leastCritical(Criticality.fromHeader("critical_plus"), Criticality.Critical())._tag)
 * // Output: Critical
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromHeader = (value: string | undefined): Criticality =>
  (value === undefined ? undefined : internal.fromString(value)) ?? internal.byIndex[internal.CRITICAL]!

/**
 * Orders classes by rank, least critical first.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 * import { Array } from "effect"
 *
 * const sorted = Array.sort([Criticality.Critical(), Criticality.Sheddable()], Criticality.Order)
 * console.log(sorted.map((c) => c._tag))
 * // Output: [ 'Sheddable', 'Critical' ]
 * ```
 *
 * @since 0.2.0
 * @category instances
 */
export const Order: Order_.Order<Criticality> = Order_.mapInput(Num.Order, rank)

/**
 * The more critical of two classes.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.mostCritical(Criticality.Sheddable(), Criticality.Critical())._tag)
 * // Output: Critical
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const mostCritical: {
  (that: Criticality): (self: Criticality) => Criticality
  (self: Criticality, that: Criticality): Criticality
} = Order_.max(Order)

/**
 * The less critical of two classes: caps the class a caller may claim.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.leastCritical(Criticality.CriticalPlus(), Criticality.Critical())._tag)
 * // Output: Critical
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const leastCritical: {
  (that: Criticality): (self: Criticality) => Criticality
  (self: Criticality, that: Criticality): Criticality
} = Order_.min(Order)

/**
 * `true` when `self` is strictly more critical than `that`.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.isMoreCriticalThan(Criticality.CriticalPlus(), Criticality.Critical()))
 * // Output: true
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const isMoreCriticalThan: {
  (that: Criticality): (self: Criticality) => boolean
  (self: Criticality, that: Criticality): boolean
} = Order_.greaterThan(Order)

/**
 * `true` when `self` is at least as critical as `that`: e.g. the classes a
 * level still serves, `Criticality.isAtLeast(c, Criticality.SheddablePlus())`.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 *
 * console.log(Criticality.isAtLeast(Criticality.Sheddable(), Criticality.SheddablePlus()))
 * // Output: false
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const isAtLeast: {
  (that: Criticality): (self: Criticality) => boolean
  (self: Criticality, that: Criticality): boolean
} = Order_.greaterThanOrEqualTo(Order)

/**
 * The `FiberRef` holding the class of the running fiber (`Critical` unless
 * set). Forked fibers inherit it. Prefer {@link with} and {@link current};
 * the ref is there for `Effect.locallyScoped` and `Layer.locally`.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     yield* Effect.locallyScoped(Criticality.fiberRef, Criticality.SheddablePlus())
 *     return (yield* Criticality.current)._tag
 *   })
 * )
 *
 * Effect.runPromise(program).then(console.log)
 * // Output: SheddablePlus
 * ```
 *
 * @since 0.2.0
 * @category fiber refs
 */
export const fiberRef: FiberRef.FiberRef<Criticality> = internal.fiberRef

/**
 * The class of the running fiber: `Critical` unless a caller set another.
 *
 * @example
 * ```ts
 * import { Criticality } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * Effect.runPromise(Criticality.current).then((c) => console.log(c._tag))
 * // Output: Critical
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const current: Effect.Effect<Criticality> = FiberRef.get(internal.fiberRef)

const with_: {
  (criticality: Criticality): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, criticality: Criticality): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, criticality: Criticality): Effect.Effect<A, E, R> =>
    Effect.locally(effect, internal.fiberRef, criticality)
)

export {
  /**
   * Runs `effect` with `criticality` as its class: every call it makes,
   * on its own fiber or on the fibers it forks, carries that class to the
   * bulkheads it goes through. Data-first or data-last.
   *
   * @example
   * ```ts
   * import { Criticality } from "@effect-resilience/core"
   * import { Effect } from "effect"
   *
   * const prefetch = Effect.map(Criticality.current, (c) => `prefetching as ${c._tag}`)
   *
   * Effect.runPromise(prefetch.pipe(Criticality.with(Criticality.Sheddable()))).then(console.log)
   * // Output: prefetching as Sheddable
   * ```
   *
   * @since 0.2.0
   * @category combinators
   */
  with_ as with
}
