/**
 * The system-wide degradation level, from `Optimal` (1) to `Emergency` (5).
 *
 * ```ts
 * DegradationLevel.$match(level, {
 *   Optimal: () => full,
 *   Degraded: () => full,
 *   Limited: () => cached,
 *   Minimal: () => basic,
 *   Emergency: () => statusOnly
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Num from "effect/Number"
import * as Order_ from "effect/Order"

/**
 * The five levels, ranked 1 (Optimal) to 5 (Emergency); see {@link rank} and {@link Order}.
 *
 * @example
 * ```ts
 * import { DegradationLevel } from "@effect-resilience/core"
 *
 * const features = DegradationLevel.$match({
 *   Optimal: () => "everything",
 *   Degraded: () => "everything, maybe slower",
 *   Limited: () => "no AI features",
 *   Minimal: () => "read-only",
 *   Emergency: () => "status page only"
 * })
 *
 * console.log(features(DegradationLevel.Limited()))
 * // Output: no AI features
 * console.log(DegradationLevel.rank(DegradationLevel.Minimal()))
 * // Output: 4
 * console.log(DegradationLevel.isWorseThan(DegradationLevel.Minimal(), DegradationLevel.Limited()))
 * // Output: true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DegradationLevel = Data.TaggedEnum<{
  /** Everything works. */
  Optimal: {}
  /** A non-essential dependency is down; responses may be slower or less fresh. */
  Degraded: {}
  /** An important dependency is down; features are reduced. */
  Limited: {}
  /** The core store is down: reads only, writes are refused. */
  Minimal: {}
  /** Almost everything is down: status routes only. */
  Emergency: {}
}>

const enumeration = Data.taggedEnum<DegradationLevel>()

/**
 * Level 1: everything works.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Optimal: (args?: void) => DegradationLevel = enumeration.Optimal

/**
 * Level 2: a non-essential dependency is down.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Degraded: (args?: void) => DegradationLevel = enumeration.Degraded

/**
 * Level 3: an important dependency is down; features are reduced.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Limited: (args?: void) => DegradationLevel = enumeration.Limited

/**
 * Level 4: the core store is down; reads only, writes refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Minimal: (args?: void) => DegradationLevel = enumeration.Minimal

/**
 * Level 5: almost everything is down; status routes only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Emergency: (args?: void) => DegradationLevel = enumeration.Emergency

/**
 * Exhaustive pattern match on a level (data-first or data-last).
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const $match = enumeration.$match

/**
 * Type guards per tag: `DegradationLevel.$is("Minimal")(level)`.
 *
 * @since 0.1.0
 * @category guards
 */
export const $is = enumeration.$is

/**
 * The tag of a level.
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = DegradationLevel["_tag"]

const ranks: Record<Tag, 1 | 2 | 3 | 4 | 5> = { Optimal: 1, Degraded: 2, Limited: 3, Minimal: 4, Emergency: 5 }

/**
 * Every level, best first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const all: ReadonlyArray<DegradationLevel> = [Optimal(), Degraded(), Limited(), Minimal(), Emergency()]

/**
 * The rank of a level: 1 (Optimal) … 5 (Emergency). Higher is worse.
 *
 * @since 0.1.0
 * @category getters
 */
export const rank = (level: DegradationLevel): 1 | 2 | 3 | 4 | 5 => ranks[level._tag]

/**
 * The level of a rank, `undefined` when the rank is not 1 … 5.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRank = (rank: number): DegradationLevel | undefined =>
  Number.isInteger(rank) && rank >= 1 && rank <= 5 ? all[rank - 1] : undefined

/**
 * The level of a tag (case-insensitive), `undefined` when there is none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromString = (tag: string): DegradationLevel | undefined =>
  all.find((level) => level._tag.toLowerCase() === tag.trim().toLowerCase())

/**
 * Orders levels by rank, best first.
 *
 * @since 0.1.0
 * @category instances
 */
export const Order: Order_.Order<DegradationLevel> = Order_.mapInput(Num.Order, rank)

/**
 * The worse of two levels.
 *
 * @since 0.1.0
 * @category combinators
 */
export const worst: {
  (that: DegradationLevel): (self: DegradationLevel) => DegradationLevel
  (self: DegradationLevel, that: DegradationLevel): DegradationLevel
} = Order_.max(Order)

/**
 * The better of two levels.
 *
 * @since 0.1.0
 * @category combinators
 */
export const best: {
  (that: DegradationLevel): (self: DegradationLevel) => DegradationLevel
  (self: DegradationLevel, that: DegradationLevel): DegradationLevel
} = Order_.min(Order)

/**
 * `true` when `self` is strictly worse than `that`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isWorseThan: {
  (that: DegradationLevel): (self: DegradationLevel) => boolean
  (self: DegradationLevel, that: DegradationLevel): boolean
} = Order_.greaterThan(Order)

/**
 * `true` when `self` is at least as bad as `that`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAtLeast: {
  (that: DegradationLevel): (self: DegradationLevel) => boolean
  (self: DegradationLevel, that: DegradationLevel): boolean
} = Order_.greaterThanOrEqualTo(Order)
