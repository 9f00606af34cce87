import * as Data from "effect/Data"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import type * as C from "../Criticality.js"

/** @internal */
export const enumeration = Data.taggedEnum<C.Criticality>()

/**
 * Class indices, least critical first: a bulkhead keeps its per-class
 * thresholds and queues in arrays indexed by them.
 *
 * @internal
 */
export const SHEDDABLE = 0
/** @internal */
export const SHEDDABLE_PLUS = 1
/** @internal */
export const CRITICAL = 2
/** @internal */
export const CRITICAL_PLUS = 3

/** @internal */
export type Index = typeof SHEDDABLE | typeof SHEDDABLE_PLUS | typeof CRITICAL | typeof CRITICAL_PLUS

/** @internal */
export const indices: Readonly<Record<C.Tag, Index>> = {
  Sheddable: SHEDDABLE,
  SheddablePlus: SHEDDABLE_PLUS,
  Critical: CRITICAL,
  CriticalPlus: CRITICAL_PLUS
}

/** Every class, least critical first (by index). @internal */
export const byIndex: ReadonlyArray<C.Criticality> = [
  enumeration.Sheddable(),
  enumeration.SheddablePlus(),
  enumeration.Critical(),
  enumeration.CriticalPlus()
]

/** @internal */
export const tags: ReadonlyArray<C.Tag> = ["Sheddable", "SheddablePlus", "Critical", "CriticalPlus"]

/**
 * The class of the running fiber. Global, so that two copies of this module
 * (a dual package, a bundle) still share one value per fiber; forked fibers
 * inherit it, as every `FiberRef`.
 *
 * @internal
 */
export const fiberRef: FiberRef.FiberRef<C.Criticality> = globalValue(
  Symbol.for("@effect-resilience/core/Criticality/fiberRef"),
  () => FiberRef.unsafeMake<C.Criticality>(byIndex[CRITICAL]!)
)

/** Lower case, without `_`, `-` or spaces: `CRITICAL_PLUS`, `critical-plus` and `CriticalPlus` read alike. */
const normalize = (value: string): string => value.trim().toLowerCase().replace(/[\s_-]/g, "")

const byName: ReadonlyMap<string, C.Criticality> = new Map(byIndex.map((c) => [normalize(c._tag), c]))

/** @internal */
export const fromString = (value: string): C.Criticality | undefined => byName.get(normalize(value))
