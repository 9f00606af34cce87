import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"

/**
 * A fiber's FiberRefs as they stand, without the copy `getFiberRefs()` makes.
 *
 * `getFiberRefs()` first writes the fiber's runtime flags into its FiberRefs,
 * which copies the whole map (~20 entries) every time — three copies per
 * timed call, ~13 % of a simulated hour. FiberRefs are immutable, so the
 * fiber's current value can be shared as is; only its runtime-flags entry may
 * be stale, and every reader here ignores that entry (a forked fiber takes
 * its flags from `Runtime.make`, not from its FiberRefs). The field is
 * Effect 3's `FiberRuntime` internal: should it ever go, this falls back to
 * `getFiberRefs()` (a test pins that both agree).
 *
 * @internal
 */
export const peekFiberRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs =>
  (fiber as unknown as { readonly _fiberRefs?: FiberRefs.FiberRefs })._fiberRefs ?? fiber.getFiberRefs()

/**
 * Whether two FiberRefs hold the same values (by identity), the runtime-flags
 * entry aside: a fiber's flags are its own, and `inheritAll` never hands them
 * back.
 *
 * @internal
 */
export const sameValues = (before: FiberRefs.FiberRefs, after: FiberRefs.FiberRefs): boolean => {
  if (before === after) return true
  const a = (before as unknown as Locals).locals
  const b = (after as unknown as Locals).locals
  if (a.size !== b.size) return false
  for (const [ref, stack] of b) {
    if (ref !== FiberRef.currentRuntimeFlags && a.get(ref)?.[0][1] !== stack[0][1]) return false
  }
  return true
}

/** What `FiberRefs` is made of (not public: read only to compare the values of two of them). */
interface Locals {
  readonly locals: ReadonlyMap<FiberRef.FiberRef<unknown>, readonly [readonly [unknown, unknown], ...Array<unknown>]>
}

/**
 * Sets `ref` on `fiber` in place, if its runtime can (Effect 3's
 * `FiberRuntime.setFiberRef`); `false` otherwise.
 *
 * @internal
 */
export const unsafeSetFiberRef = <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  ref: FiberRef.FiberRef<A>,
  value: A
): boolean => {
  const set = (fiber as unknown as { readonly setFiberRef?: (ref: FiberRef.FiberRef<A>, value: A) => void })
    .setFiberRef
  if (typeof set !== "function") return false
  set.call(fiber, ref, value)
  return true
}
