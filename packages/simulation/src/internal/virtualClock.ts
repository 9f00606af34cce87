/**
 * The faster clock of `Simulation.run` (`clock: "virtual"`): `TestClock`'s
 * algorithm without its real-time settling. `TestClock.adjust` wakes one
 * sleep at a time — the earliest, the most recently set first among sleeps
 * of one instant — and lets the program settle after each with three real
 * `setTimeout(0)`s. Here the program runs on a scheduler of its own, so
 * "settled" is known exactly (no task left) and costs nothing: the same
 * sleeps wake in the same order with the same work between them, in
 * microseconds instead of milliseconds. Everything the program does must
 * stay inside Effect: a real Promise or socket would never resume it.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as Scheduler from "effect/Scheduler"
import * as Supervisor from "effect/Supervisor"

interface Sleep {
  readonly at: number
  /** Set order: among sleeps of one instant the latest wakes first, as in `TestClock`. */
  readonly seq: number
  /** `adjust`'s own wait: after every sleep due by its instant. */
  readonly barrier: boolean
  readonly wake: () => void
  cancelled: boolean
}

const before = (a: Sleep, b: Sleep): boolean =>
  a.at !== b.at ? a.at < b.at : a.barrier !== b.barrier ? b.barrier : a.seq > b.seq

/** @internal */
export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private instant = 0
  private seq = 0
  private readonly heap: Array<Sleep> = []

  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.instant)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  unsafeCurrentTimeMillis(): number {
    return this.instant
  }

  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.instant * 1_000_000))
  }

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      const at = this.instant + Duration.toMillis(duration)
      // As `TestClock`: a sleep that ends now does not wait.
      return at > this.instant ? this.wait(at, false) : Effect.void
    })
  }

  /** Moves the clock by `millis`, waking every sleep due by then (as `TestClock.adjust`). */
  adjust(millis: number): Effect.Effect<void> {
    return Effect.suspend(() => this.wait(this.instant + Math.max(0, millis), true))
  }

  private wait(at: number, barrier: boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (!Number.isFinite(at)) return // an infinite sleep never wakes
      const sleep: Sleep = { at, seq: this.seq++, barrier, wake: () => resume(Effect.void), cancelled: false }
      this.push(sleep)
      return Effect.sync(() => {
        sleep.cancelled = true
      })
    })
  }

  private push(sleep: Sleep) {
    const heap = this.heap
    heap.push(sleep)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  private pop(): Sleep | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }

  /** Wakes the next sleep, moving the clock to it; `false` when none is pending. */
  wakeNext(): boolean {
    for (;;) {
      const sleep = this.pop()
      if (sleep === undefined) return false
      if (sleep.cancelled) continue
      if (sleep.at > this.instant) this.instant = sleep.at
      sleep.wake()
      return true
    }
  }
}

/** Tasks run only in `drain`: when it returns, every fiber of the program is suspended or done. */
class DrainScheduler implements Scheduler.Scheduler {
  private tasks: Array<Scheduler.Task> = []

  scheduleTask(task: Scheduler.Task, _priority: number): void {
    this.tasks.push(task)
  }

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  drain(): void {
    while (this.tasks.length > 0) {
      const tasks = this.tasks
      this.tasks = []
      for (let i = 0; i < tasks.length; i++) tasks[i]!()
    }
  }
}

/**
 * Runs `program` on a {@link VirtualClock} and a scheduler of its own. The
 * calling fiber drives it in slices of ~10 ms of wall time and yields in
 * between, so the run stays interruptible.
 *
 * @internal
 */
export const runVirtual = <A, E>(program: (clock: VirtualClock) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.runtime<never>(), (outer) =>
    Effect.suspend(() => {
      const clock = new VirtualClock()
      const scheduler = new DrainScheduler()
      let exit: Exit.Exit<A, E> | undefined
      const fiber = Runtime.runFork(outer)(program(clock).pipe(Effect.withClock(clock)), {
        scheduler,
        immediate: false,
        updateRefs: (refs, fiberId) =>
          FiberRefs.updateAs(refs, { fiberId, fiberRef: FiberRef.currentSupervisor, value: Supervisor.none })
      })
      fiber.addObserver((e) => {
        exit = e
      })
      let stuck = false
      const slice = Effect.sync(() => {
        const deadline = performance.now() + 10
        let n = 0
        while (exit === undefined) {
          scheduler.drain()
          if (exit !== undefined) break
          if (!clock.wakeNext()) {
            stuck = true
            break
          }
          if ((++n & 63) === 0 && performance.now() > deadline) break
        }
        return exit !== undefined || stuck
      })
      const stop = Effect.sync(() => {
        fiber.unsafeInterruptAsFork(fiber.id())
        // Let the interruption run its finalizers, on virtual time.
        for (let i = 0; exit === undefined && i < 100_000; i++) {
          scheduler.drain()
          if (exit !== undefined || !clock.wakeNext()) break
        }
      })
      // Every ~50 ms of wall time, yield to the macrotask queue: a timeout around the run, or a signal, can fire.
      const yieldToMacrotasks = Effect.yieldNow().pipe(Effect.withScheduler(Scheduler.timer(0)))
      let slices = 0
      const loop: Effect.Effect<void> = Effect.flatMap(
        slice,
        (done) => done ? Effect.void : Effect.zipRight(++slices % 5 === 0 ? yieldToMacrotasks : Effect.yieldNow(), loop)
      )
      return loop.pipe(
        Effect.onInterrupt(() => stop),
        Effect.flatMap(() =>
          exit === undefined
            ? Effect.zipRight(
              stop,
              Effect.dieMessage(
                "Simulation: every fiber waits and no sleep is pending on the virtual clock " +
                  "(the program waits for something outside Effect: use the TestClock)"
              )
            )
            : exit
        )
      )
    }))
