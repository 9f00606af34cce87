import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"

interface Pending {
  readonly deadline: number
  readonly child: Fiber.RuntimeFiber<unknown, unknown>
  /** Resumes the caller; `undefined` once the call has settled. */
  resume: ((result: Effect.Effect<unknown, unknown>) => void) | undefined
  timedOut: boolean
}

/**
 * Call timeouts of one breaker, all of the same length, so deadlines arrive
 * in order and a FIFO queue watched by one fiber is enough.
 *
 * `Effect.timeoutFail` races every call against a sleep: two forked fibers
 * and the race machinery per call (~25–50 µs here). This forks the call only
 * (~5 µs): the caller waits on the child's exit, and a single watchdog fiber
 * per breaker, forked in its scope while calls are pending, sleeps on the
 * breaker's `Clock` until the oldest deadline and interrupts what is late.
 * The caller then fails with the timeout error once the call has been
 * interrupted, as with `Effect.timeoutFail`.
 *
 * @internal
 */
export class Deadlines<E> {
  private queue: Array<Pending> = []
  private head = 0
  private running = false
  private wake: (() => void) | undefined = undefined

  constructor(
    readonly clock: Clock.Clock,
    readonly scope: Scope.Scope,
    readonly timeout: Duration.Duration,
    readonly onTimeout: () => E
  ) {}

  run<A, E1, R>(effect: Effect.Effect<A, E1, R>): Effect.Effect<A, E1 | E, R> {
    return Effect.flatMap(Effect.fork(effect), (child) =>
      Effect.zipRight(
        this.ensureWatchdog(),
        Effect.async<A, E1 | E>((resume) => {
          const pending: Pending = {
            deadline: this.clock.unsafeCurrentTimeMillis() + Duration.toMillis(this.timeout),
            child,
            resume: resume as Pending["resume"],
            timedOut: false
          }
          child.addObserver((exit: Exit.Exit<unknown, unknown>) => {
            const resume = pending.resume
            if (resume === undefined) return
            pending.resume = undefined
            // As with `Fiber.join` (and `Effect.timeout`): a call that completed
            // hands its FiberRefs back to the caller.
            resume(
              pending.timedOut
                ? Effect.fail(this.onTimeout())
                : Exit.isSuccess(exit)
                ? Effect.zipLeft(exit, child.inheritAll)
                : exit
            )
          })
          if (pending.resume !== undefined) this.enqueue(pending)
          // The caller was interrupted: so is the call, and we wait for it.
          return Effect.suspend(() => {
            pending.resume = undefined
            return Fiber.interrupt(child)
          })
        })
      ))
  }

  private enqueue(pending: Pending) {
    this.queue.push(pending)
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
          this.watch.pipe(Effect.ensuring(Effect.sync(() => {
            this.running = false
            this.wake = undefined
          })), Effect.interruptible),
          this.scope
        )
      )
    })
  }

  /** Sleeps until the oldest deadline, interrupts late calls, idles when none is pending. */
  private readonly watch: Effect.Effect<void> = Effect.suspend(() => {
    while (this.head < this.queue.length && this.queue[this.head]!.resume === undefined) this.head++
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
      return Effect.zipRight(
        Effect.async<void>((resume) => {
          // The fiber may have yielded since it found the queue empty: a call
          // enqueued meanwhile saw no `wake` to call.
          if (this.head < this.queue.length) return resume(Effect.void)
          this.wake = () => resume(Effect.void)
        }),
        this.watch
      )
    }
    const pending = this.queue[this.head]!
    const delay = pending.deadline - this.clock.unsafeCurrentTimeMillis()
    if (delay > 0) return Effect.zipRight(this.clock.sleep(Duration.millis(delay)), this.watch)
    this.head++
    pending.timedOut = true
    // Not waiting for it: one slow interruption must not delay the others.
    pending.child.unsafeInterruptAsFork(FiberId.none)
    return this.watch
  })
}
