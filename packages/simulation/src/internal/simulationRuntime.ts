/**
 * Virtual time for `Simulation`: a `Clock` whose sleeps are entries of a
 * timer queue, and a `Scheduler` whose tasks run only when the driver drains
 * them. The driver alternates "run every runnable fiber until none is left"
 * and "advance the clock to the next timer": a discrete-event loop with no
 * real timer anywhere, so a wake-up costs microseconds (a `TestClock.adjust`
 * waits for fibers to settle with real `setTimeout`s, ~3 ms per wake-up).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashSet from "effect/HashSet"
import type * as Logger from "effect/Logger"
import * as Random from "effect/Random"
import * as Runtime from "effect/Runtime"
import * as Scheduler from "effect/Scheduler"
import * as Supervisor from "effect/Supervisor"

interface Timer {
  readonly at: number
  readonly priority: number
  readonly seq: number
  readonly fire: () => void
  cancelled: boolean
}

const before = (a: Timer, b: Timer): boolean =>
  a.at !== b.at ? a.at < b.at : a.priority !== b.priority ? a.priority < b.priority : a.seq < b.seq

/**
 * A `Clock` on virtual time, starting at 0 (so every `at` is "milliseconds
 * since the start of the scenario").
 *
 * @internal
 */
export class SimClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  now = 0
  /** Distinct instants the clock advanced to. */
  wakeUps = 0
  /** Timers fired (several may share an instant). */
  timersFired = 0
  private seq = 0
  private readonly heap: Array<Timer> = []

  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  unsafeCurrentTimeMillis(): number {
    return this.now
  }

  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return this.sleepUntil(() => this.now + Math.max(0, Duration.toMillis(duration)), 1)
  }

  /**
   * Resumes at the instant `at()` (read when the sleep starts). Timers of the
   * same instant fire by `priority`, then in the order they were set.
   */
  sleepUntil(at: () => number, priority: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const instant = at()
      if (!Number.isFinite(instant)) return // an infinite sleep never wakes
      const timer = this.schedule(Math.max(instant, this.now), priority, () => resume(Effect.void))
      return Effect.sync(() => {
        timer.cancelled = true
      })
    })
  }

  schedule(at: number, priority: number, fire: () => void): Timer {
    const timer: Timer = { at, priority, seq: this.seq++, fire, cancelled: false }
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
    return timer
  }

  private pop(): Timer | undefined {
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

  /** Fires the next timer, advancing the clock to it. `false` when none is pending. */
  fireNext(): boolean {
    for (;;) {
      const timer = this.pop()
      if (timer === undefined) return false
      if (timer.cancelled) continue
      if (timer.at > this.now) {
        this.now = timer.at
        this.wakeUps++
      }
      this.timersFired++
      timer.fire()
      return true
    }
  }
}

/**
 * A scheduler whose tasks run only in {@link SimScheduler.drain}: when drain
 * returns, every fiber of the simulation is suspended or done.
 *
 * @internal
 */
export class SimScheduler implements Scheduler.Scheduler {
  private tasks: Array<Scheduler.Task> = []

  scheduleTask(task: Scheduler.Task, _priority: number): void {
    this.tasks.push(task)
  }

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  /** Runs tasks, and the tasks they schedule, until there is none left. */
  drain(): void {
    while (this.tasks.length > 0) {
      const tasks = this.tasks
      this.tasks = []
      for (let i = 0; i < tasks.length; i++) tasks[i]!()
    }
  }
}

/**
 * What a virtual run cost.
 *
 * @internal
 */
export interface VirtualStats {
  readonly wakeUps: number
  readonly timersFired: number
  readonly wallMillis: number
  readonly virtualMillis: number
}

/**
 * Runs `program` on virtual time: its own clock, scheduler, seeded `Random`
 * and loggers. The calling fiber drives it in slices of a few milliseconds of
 * wall time, yielding in between, so it stays interruptible.
 *
 * @internal
 */
export const runVirtual = <A, E>(
  program: (clock: SimClock) => Effect.Effect<A, E>,
  options: {
    readonly seed: unknown
    /** The only loggers of the simulation (they may read the virtual clock). */
    readonly loggers: (clock: SimClock) => ReadonlyArray<Logger.Logger<unknown, unknown>>
    /** Dies when virtual time passes this instant (a program that never ends). */
    readonly maxMillis: number
  }
): Effect.Effect<readonly [A, VirtualStats], E> =>
  Effect.flatMap(Effect.runtime<never>(), (outer) =>
    Effect.suspend(() => {
      const clock = new SimClock()
      const scheduler = new SimScheduler()
      const started = performance.now()
      let exit: Exit.Exit<A, E> | undefined
      const effect = program(clock).pipe(Effect.withClock(clock), Effect.withRandom(Random.make(options.seed)))
      const fiber = Runtime.runFork(outer)(effect, {
        scheduler,
        immediate: false,
        updateRefs: (refs, fiberId) =>
          refs.pipe(
            FiberRefs.updateAs({ fiberId, fiberRef: FiberRef.currentLoggers, value: HashSet.fromIterable(options.loggers(clock)) }),
            FiberRefs.updateAs({ fiberId, fiberRef: FiberRef.currentSupervisor, value: Supervisor.none })
          )
      })
      fiber.addObserver((e) => {
        exit = e
      })

      let failure: string | undefined
      /** One slice: drain, advance, repeat, for at most ~10 ms of wall time. */
      const slice = Effect.sync(() => {
        const deadline = performance.now() + 10
        let n = 0
        while (exit === undefined) {
          scheduler.drain()
          if (exit !== undefined) break
          if (!clock.fireNext()) {
            failure = "every fiber of the simulation is waiting and no timer is pending " +
              "(an effect waits for something outside virtual time)"
            break
          }
          if (clock.now > options.maxMillis) {
            failure = `virtual time passed ${options.maxMillis} ms and the scenario has not ended`
            break
          }
          if ((++n & 63) === 0 && performance.now() > deadline) break
        }
        return exit !== undefined || failure !== undefined
      })

      const stop = Effect.sync(() => {
        fiber.unsafeInterruptAsFork(fiber.id())
        // Let the interruption run its finalizers (on virtual time).
        for (let i = 0; exit === undefined && i < 100_000; i++) {
          scheduler.drain()
          if (exit !== undefined || !clock.fireNext()) break
        }
      })

      // Between slices, yield; every ~50 ms of wall time, to the macrotask
      // queue: a microtask yield alone would keep timers and signals (a
      // timeout around the run, Ctrl-C) waiting ~2,048 slices.
      const yieldToMacrotasks = Effect.yieldNow().pipe(Effect.withScheduler(Scheduler.timer(0)))
      let slices = 0
      const loop: Effect.Effect<void> = Effect.flatMap(
        slice,
        (done) =>
          done ? Effect.void : Effect.zipRight(++slices % 5 === 0 ? yieldToMacrotasks : Effect.yieldNow(), loop)
      )

      return loop.pipe(
        Effect.onInterrupt(() => stop),
        Effect.flatMap(() => {
          if (exit === undefined) {
            return Effect.zipRight(stop, Effect.dieMessage(`Simulation: ${failure ?? "stopped"}`))
          }
          const stats: VirtualStats = {
            wakeUps: clock.wakeUps,
            timersFired: clock.timersFired,
            wallMillis: performance.now() - started,
            virtualMillis: clock.now
          }
          return Effect.map(exit, (a) => [a, stats] as const)
        })
      )
    })
  )
