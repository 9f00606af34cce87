import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import { peekFiberRefs, sameValues } from "./fiberRefs.js"
import { forkNow } from "./forkNow.js"

/** A call in flight: a node of the deadline list, unlinked the moment the call settles. */
interface Pending {
  /** Monotonic milliseconds (from `Clock.unsafeCurrentTimeNanos`). */
  readonly deadline: number
  readonly child: Fiber.RuntimeFiber<unknown, unknown>
  /** Resumes the caller; `undefined` once the call has settled, timed out or been abandoned. */
  resume: ((result: Effect.Effect<unknown, unknown>) => void) | undefined
  prev: Pending | undefined
  next: Pending | undefined
}

/** Monotonic milliseconds: a step of the wall clock moves no deadline. */
const monotonicMillis = (clock: Clock.Clock): number => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)

/**
 * Call timeouts of one breaker, all of the same length, so deadlines arrive
 * in call order and one list watched by one fiber is enough.
 *
 * `Effect.timeoutFail` races every call against a sleep: two forked fibers
 * and the race machinery per call (~25–50 µs here). This forks the call only,
 * and starts it at once (`forkNow`): a call that answers synchronously is
 * done without a timer or a scheduler round trip (~4 µs). Otherwise the
 * caller waits on the child's exit, and a single watchdog fiber per breaker,
 * forked in its scope, sleeps on the breaker's `Clock` until the oldest
 * deadline.
 *
 * At the deadline the caller is resumed with the timeout error at once and
 * the call is interrupted without waiting for it: a call stuck in an
 * uninterruptible region (a driver ignoring interruption, a transaction's
 * release) finishes in the background and its result is discarded — as
 * with `Effect.disconnect`. The call runs as a daemon for the same reason:
 * as a child it would hold its parent's exit until it ended.
 *
 * Memory is O(1) per call in flight and released when it settles: a settled
 * call is unlinked from the list at once, so nothing keeps its fiber or its
 * result.
 *
 * @internal
 */
export class Deadlines<E> {
  private head: Pending | undefined = undefined
  private tail: Pending | undefined = undefined
  private running = false
  private wake: (() => void) | undefined = undefined
  /** The watchdog found no call in flight at its last wake-up. */
  private idle = false
  private readonly timeoutMillis: number

  constructor(
    readonly clock: Clock.Clock,
    readonly scope: Scope.Scope,
    readonly timeout: Duration.Duration,
    readonly onTimeout: () => E
  ) {
    this.timeoutMillis = Duration.toMillis(timeout)
  }

  run<A, E1, R>(effect: Effect.Effect<A, E1, R>): Effect.Effect<A, E1 | E, R> {
    return Effect.withFiberRuntime((parent, status) => {
      // The caller's flags, taken before the mask: the call is exactly as
      // interruptible as its caller.
      const flags = status.runtimeFlags
      // Uninterruptible from the fork until the caller waits: an interruption
      // in between would leave the daemon running with nobody to stop it.
      return Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          // The FiberRefs the call starts from: if it ends with the same
          // values, it changed none and has nothing to hand back.
          const refs = peekFiberRefs(parent)
          const child = forkNow(parent, refs, flags, effect)
          // As with `Fiber.join` (and `Effect.timeout`): a call that completed
          // hands its FiberRefs back to the caller — when it changed any.
          const inherit = (exit: Exit.Exit<A, E1>): Effect.Effect<A, E1> =>
            Exit.isSuccess(exit) && !sameValues(refs, peekFiberRefs(child))
              ? Effect.zipRight(child.inheritAll, exit)
              : exit
          const done = child.unsafePoll()
          // Answered synchronously: it cannot miss its deadline, so no timer.
          if (done !== null) return inherit(done)
          let pending: Pending | undefined
          return Effect.zipRight(
            this.ensureWatchdog(),
            Effect.onInterrupt(
              restore(Effect.async<A, E1 | E>((resume) => {
                const node: Pending = pending = {
                  deadline: monotonicMillis(this.clock) + this.timeoutMillis,
                  child,
                  resume: resume as Pending["resume"],
                  prev: undefined,
                  next: undefined
                }
                child.addObserver((exit: Exit.Exit<A, E1>) => {
                  const resume = node.resume
                  if (resume === undefined) return
                  this.settle(node)
                  resume(inherit(exit))
                })
                // The observer may have run already: the call completed meanwhile.
                if (node.resume !== undefined) this.enqueue(node)
              })),
              // The caller was interrupted: so is the call, without waiting for it.
              () =>
                Effect.sync(() => {
                  if (pending !== undefined && pending.resume !== undefined) this.settle(pending)
                  child.unsafeInterruptAsFork(FiberId.none)
                })
            )
          )
        })
      )
    })
  }

  /** Unlinks a call and marks it settled; O(1). */
  private settle(pending: Pending) {
    pending.resume = undefined
    const { next, prev } = pending
    if (prev === undefined) {
      if (this.head === pending) this.head = next
    } else {
      prev.next = next
    }
    if (next === undefined) {
      if (this.tail === pending) this.tail = prev
    } else {
      next.prev = prev
    }
    pending.prev = undefined
    pending.next = undefined
  }

  private enqueue(pending: Pending) {
    const tail = this.tail
    if (tail === undefined) {
      this.head = this.tail = pending
    } else {
      tail.next = pending
      pending.prev = tail
      this.tail = pending
    }
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      wake()
    }
  }

  private ensureWatchdog(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.running) return Effect.void
      this.running = true
      return Effect.asVoid(
        Effect.forkIn(
          this.watch.pipe(
            Effect.ensuring(Effect.sync(() => {
              this.running = false
              this.wake = undefined
            })),
            Effect.interruptible
          ),
          this.scope
        )
      )
    })
  }

  /** Sleeps until the oldest deadline, times out late calls, idles when none is pending. */
  private readonly watch: Effect.Effect<void> = Effect.suspend(() => {
    const pending = this.head
    if (pending === undefined) {
      if (!this.idle) {
        // Linger one timeout before parking: while calls keep coming, none of
        // them has to wake the watchdog (a scheduled resumption per call).
        this.idle = true
        return Effect.zipRight(this.clock.sleep(this.timeout), this.watch)
      }
      return Effect.zipRight(
        Effect.async<void>((resume) => {
          // The fiber may have yielded since it found the list empty: a call
          // enqueued meanwhile saw no `wake` to call.
          if (this.head !== undefined) return resume(Effect.void)
          this.wake = () => resume(Effect.void)
        }),
        this.watch
      )
    }
    this.idle = false
    const delay = pending.deadline - monotonicMillis(this.clock)
    if (delay > 0) return Effect.zipRight(this.clock.sleep(Duration.millis(delay)), this.watch)
    const resume = pending.resume!
    this.settle(pending)
    resume(Effect.fail(this.onTimeout()))
    // Not waiting for it: the caller has its answer, and one slow
    // interruption must not delay the others.
    pending.child.unsafeInterruptAsFork(FiberId.none)
    return this.watch
  })
}
