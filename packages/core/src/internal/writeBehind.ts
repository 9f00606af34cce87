/**
 * What every write-behind queue shares: its metrics, the description and
 * the log line of a dead letter, and the in-memory queue.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as MetricHook from "effect/MetricHook"
import * as MetricLabel from "effect/MetricLabel"
import * as Random from "effect/Random"
import type * as Fallback from "../Fallback.js"
import { WriteBehindError } from "../Fallback.js"
import { describeFailure } from "./describe.js"
import * as Metrics from "./metrics.js"
import { validated } from "./validate.js"

/** @internal */
export { WriteBehindError } from "../Fallback.js"

/** The default number of failed deliveries after which an entry is dead-lettered. */
export const defaultMaxAttempts = 10

/** The `write_behind_*` series of one queue, created at 0 with the queue. */
export interface QueueMetrics {
  readonly depth: MetricHook.MetricHook<number, unknown>
  readonly enqueued: MetricHook.MetricHook<number, unknown>
  readonly replayed: MetricHook.MetricHook<number, unknown>
  readonly rejected: MetricHook.MetricHook<number, unknown>
  readonly deadLettered: MetricHook.MetricHook<number, unknown>
}

/** @internal */
export const metrics = (name: string): QueueMetrics => {
  const labels = [MetricLabel.make("dependency", name)]
  const hooks: QueueMetrics = {
    depth: Metrics.unsafeHook(Metrics.keys.writeBehindQueueDepth, labels),
    enqueued: Metrics.unsafeHook(Metrics.keys.writeBehindEnqueued, labels),
    replayed: Metrics.unsafeHook(Metrics.keys.writeBehindReplayed, labels),
    rejected: Metrics.unsafeHook(Metrics.keys.writeBehindRejected, labels),
    deadLettered: Metrics.unsafeHook(Metrics.keys.writeBehindDeadLettered, labels)
  }
  // Every series exists from creation: a counter at 0 is not an absent one (`increase()` sees the first entry).
  hooks.depth.update(0)
  hooks.enqueued.update(0)
  hooks.replayed.update(0)
  hooks.rejected.update(0)
  hooks.deadLettered.update(0)
  return hooks
}

/** The last failure of a delivery, as a dead letter's `error` (`Describe.cause`: defects marked). */
export const describeCause = (cause: Cause.Cause<unknown>): string => describeFailure(cause)

/**
 * Whether a failed delivery was refused by the dependency (by the replay's
 * `rejected` option): a typed failure only — a defect or an interruption
 * never is — and a `rejected` that throws says no.
 */
export const isRejected = <E>(
  cause: Cause.Cause<E>,
  rejected: ((error: E) => boolean) | undefined
): boolean => {
  if (rejected === undefined || Cause.isDie(cause)) return false
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return false
  try {
    return rejected(failure.value) === true
  } catch {
    return false
  }
}

/** The error-level line of a dead letter: the queue, the entry's id, its attempts and the cause. */
export const logDeadLetter = (
  name: string,
  id: string,
  attempts: number,
  cause: Cause.Cause<unknown>,
  rejectedEntry = false
): Effect.Effect<void> =>
  Effect.logError(
    `Write-behind ${name}: entry ${id} dead-lettered ${
      rejectedEntry ? "at once: the dependency rejected it" : `after ${attempts} failed attempt(s)`
    }: ${describeCause(cause)}`,
    cause
  ).pipe(Effect.annotateLogs({ dependency: name, id, attempts }))

/** The options every queue takes, checked: a positive `maxAttempts`, a positive `capacity`. */
export const queueOptions = (
  module: string,
  options: unknown,
  defaultCapacity: number
): Effect.Effect<{ readonly name: string; readonly capacity: number; readonly maxAttempts: number }> =>
  validated(module, (v) => {
    const o = v.object("options", options) as { name?: unknown; capacity?: unknown; maxAttempts?: unknown }
    return {
      name: v.nonEmptyString("name", o.name),
      capacity: o.capacity === undefined
        ? defaultCapacity
        : v.positiveInt("capacity", o.capacity, Number.MAX_SAFE_INTEGER),
      maxAttempts: o.maxAttempts === undefined ? defaultMaxAttempts : v.positiveInt("maxAttempts", o.maxAttempts)
    }
  })

interface Item<A> {
  readonly id: string
  readonly entry: A
  attempts: number
}

/** @internal */
export const memoryQueue = <A>(
  options: { readonly name: string; readonly capacity?: number | undefined; readonly maxAttempts?: number | undefined }
): Effect.Effect<Fallback.WriteBehindQueue<A>> =>
  Effect.gen(function*() {
    const { capacity, maxAttempts, name } = yield* queueOptions(
      "Fallback.memoryQueue",
      options,
      Number.POSITIVE_INFINITY
    )
    const hooks = metrics(name)
    // Ids unique across queue instances, not only within one: they are idempotency keys.
    const prefix = `${name}-${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}`
    let sequence = 0
    // Mutated only inside `Effect.sync`/`suspend`: each change is atomic for the fibers.
    const live: Array<Item<A>> = []
    const dead: Array<Fallback.WriteBehindQueue.DeadLetter<A>> = []
    // One replay at a time: two would deliver the same entries twice.
    const lock = yield* Effect.makeSemaphore(1)
    const full = () => new WriteBehindError({ message: `write-behind queue ${name} is full (capacity ${capacity})` })
    const remove = (item: Item<A>) => {
      const index = live.indexOf(item)
      if (index >= 0) live.splice(index, 1)
      hooks.depth.update(live.length)
    }

    const deliver = <E, R>(
      item: Item<A>,
      f: (entry: A, delivery: Fallback.WriteBehindQueue.Delivery) => Effect.Effect<unknown, E, R>,
      rejected: ((error: E) => boolean) | undefined
    ): Effect.Effect<boolean, E, R> =>
      // The bookkeeping after a delivery runs even if the replay is interrupted during it.
      Effect.uninterruptibleMask((restore) => {
        item.attempts++
        return restore(Effect.suspend(() => f(item.entry, { id: item.id, attempts: item.attempts }))).pipe(
          Effect.matchCauseEffect({
            onSuccess: () =>
              Effect.sync(() => {
                remove(item)
                hooks.replayed.update(1)
                return true
              }),
            onFailure: (cause): Effect.Effect<boolean, E> => {
              // An interrupted delivery is no evidence against the entry: not an attempt.
              if (Cause.isInterruptedOnly(cause)) {
                item.attempts--
                return Effect.failCause(cause)
              }
              const refused = isRejected(cause, rejected)
              if (!refused && item.attempts < maxAttempts) return Effect.failCause(cause)
              remove(item)
              dead.push({ id: item.id, entry: item.entry, attempts: item.attempts, error: describeCause(cause) })
              hooks.deadLettered.update(1)
              return Effect.as(logDeadLetter(name, item.id, item.attempts, cause, refused), false)
            }
          })
        )
      })

    return {
      offer: (entry) =>
        Effect.suspend(() => {
          if (live.length >= capacity) {
            hooks.rejected.update(1)
            return Effect.fail(full())
          }
          live.push({ id: `${prefix}-${++sequence}`, entry, attempts: 0 })
          hooks.enqueued.update(1)
          hooks.depth.update(live.length)
          return Effect.void
        }),
      replay: (f, options) =>
        lock.withPermits(1)(Effect.gen(function*() {
          let replayed = 0
          // By length: `undefined` is a valid entry (a `WriteBehindQueue<void>`).
          while (live.length > 0) {
            if (yield* deliver(live[0]!, f, options?.rejected)) replayed++
          }
          return replayed
        })),
      deadLetters: Effect.sync(() => dead.map((letter) => ({ ...letter }))),
      redrive: (id) =>
        Effect.suspend(() => {
          const index = dead.findIndex((letter) => letter.id === id)
          if (index < 0) {
            return Effect.fail(
              new WriteBehindError({ message: `write-behind queue ${name} has no dead letter "${id}"` })
            )
          }
          if (live.length >= capacity) return Effect.fail(full())
          const [letter] = dead.splice(index, 1)
          live.push({ id: letter!.id, entry: letter!.entry, attempts: 0 })
          hooks.depth.update(live.length)
          return Effect.void
        }),
      size: Effect.sync(() => live.length)
    } satisfies Fallback.WriteBehindQueue<A>
  })
