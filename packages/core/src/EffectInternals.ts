/**
 * The Effect 3 internals the packages of this toolkit read, in one guarded
 * place: each is read only where a benchmark shows that the public way costs
 * too much on a hot path, each has a public fallback should Effect change,
 * and a test pins that they still exist and agree with the public API.
 *
 * | internal | read by | public fallback |
 * |---|---|---|
 * | `FiberRuntime._fiberRefs` | call timeouts, health checks, the simulation's workers | `fiber.getFiberRefs()` (copies the map) |
 * | `FiberRefs.locals` | comparing two `FiberRefs` by value | none needed: only an optimisation's check |
 * | `FiberRuntime.setFiberRef` | the HTTP middleware's header handler | `FiberRef.set` (one more Effect per request) |
 *
 * Not an API for applications: it follows the Effect versions this toolkit supports.
 *
 * @since 0.2.0
 */
import type * as Fiber from "effect/Fiber"
import type * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import * as internal from "./internal/fiberRefs.js"

/**
 * The internals read, as the table above names them (what the pinning test
 * checks).
 *
 * @since 0.2.0
 * @category internals
 */
export const read: ReadonlyArray<string> = [
  "FiberRuntime._fiberRefs",
  "FiberRefs.locals",
  "FiberRuntime.setFiberRef"
]

/**
 * A fiber's FiberRefs as they stand, without the copy `getFiberRefs()` makes
 * (it first writes the runtime flags in, copying the whole map). Only the
 * runtime-flags entry may be stale.
 *
 * @example
 * ```ts
 * import { EffectInternals } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const refs = Effect.withFiberRuntime((fiber) => Effect.succeed(EffectInternals.peekFiberRefs(fiber)))
 * ```
 *
 * @since 0.2.0
 * @category internals
 */
export const peekFiberRefs: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => FiberRefs.FiberRefs =
  internal.peekFiberRefs

/**
 * Whether two FiberRefs hold the same values (by identity), the runtime-flags
 * entry aside.
 *
 * @example
 * ```ts
 * import { EffectInternals } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const unchanged = Effect.withFiberRuntime((fiber) => {
 *   const before = EffectInternals.peekFiberRefs(fiber)
 *   return Effect.sync(() => EffectInternals.sameFiberRefValues(before, EffectInternals.peekFiberRefs(fiber)))
 * })
 * ```
 *
 * @since 0.2.0
 * @category internals
 */
export const sameFiberRefValues: (before: FiberRefs.FiberRefs, after: FiberRefs.FiberRefs) => boolean =
  internal.sameValues

/**
 * Sets `ref` on the running `fiber` in place and answers `true`, or answers
 * `false` when the fiber cannot (then use `FiberRef.set`).
 *
 * @example
 * ```ts
 * import { EffectInternals } from "@effect-resilience/core"
 * import { Effect, FiberRef } from "effect"
 *
 * const ref = FiberRef.unsafeMake(0)
 * const program = Effect.withFiberRuntime((fiber) =>
 *   EffectInternals.unsafeSetFiberRef(fiber, ref, 1) ? Effect.void : FiberRef.set(ref, 1)
 * )
 * ```
 *
 * @since 0.2.0
 * @category internals
 */
export const unsafeSetFiberRef: <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  ref: FiberRef.FiberRef<A>,
  value: A
) => boolean = internal.unsafeSetFiberRef
