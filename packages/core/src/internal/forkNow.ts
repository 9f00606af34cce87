import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import type * as RuntimeFlags from "effect/RuntimeFlags"

/**
 * Forks `effect` as a daemon of `parent` (its context, the given FiberRefs —
 * the parent's own, as `peekFiberRefs` reads them — and runtime flags) and
 * runs it at once, on the caller's stack, until it first suspends.
 *
 * `Effect.forkDaemon` only schedules the child, so even a call that could
 * answer synchronously (a cache hit, an in-memory service, a simulated
 * dependency) costs two scheduler round trips (~20 µs here) and is still in
 * flight when the caller looks: its deadline then needs a timer. Started at
 * once, such a call is done before the caller's next step (~4 µs).
 *
 * @internal
 */
export const forkNow = <A, E, R>(
  parent: Fiber.RuntimeFiber<unknown, unknown>,
  fiberRefs: FiberRefs.FiberRefs,
  runtimeFlags: RuntimeFlags.RuntimeFlags,
  effect: Effect.Effect<A, E, R>
): Fiber.RuntimeFiber<A, E> =>
  Runtime.runFork(
    Runtime.make({
      context: parent.currentContext as Context.Context<R>,
      fiberRefs,
      runtimeFlags
    }),
    effect
  )
