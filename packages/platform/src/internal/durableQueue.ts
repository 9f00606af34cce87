/**
 * `DurableQueue.make`: a `Fallback.WriteBehindQueue` on a `PersistedQueue`
 * store, holding the contract the store alone does not (see
 * durableQueueStore.ts): live count and capacity, head-of-line order after
 * a failure, dead letters after `maxAttempts`, one replay at a time.
 *
 * @internal
 */
import { Fallback, Metrics } from "@effect-resilience/core"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as MetricLabel from "effect/MetricLabel"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type Backend, Store } from "./durableQueueStore.js"
import * as entryId from "./entryId.js"
import { series } from "./metrics.js"
import * as options from "./options.js"

/** Options of `DurableQueue.make`. */
export interface MakeOptions<A, I, R> {
  readonly name: string
  readonly schema: Schema.Schema<A, I, R>
  readonly capacity?: number | undefined
  readonly maxAttempts?: number | undefined
}

const module = "DurableQueue.make"
const defaultMaxAttempts = 10

const invalid = (option: string, expected: string, actual: unknown): never =>
  options.fail(module, option, expected, actual)

const positiveInt = (option: string, value: unknown): number => options.positiveInt(module, option, value)

const checkOptions = (options: unknown) => {
  if (options === null || typeof options !== "object") return invalid("options", "an object", options)
  const o = options as { name?: unknown; schema?: unknown; capacity?: unknown; maxAttempts?: unknown }
  // The SQL store keeps the name in a VARCHAR(100).
  const name = typeof o.name === "string" && o.name.trim() !== "" && o.name.length <= 100
    ? o.name
    : invalid("name", "a non-empty string of at most 100 characters", o.name)
  if (!Schema.isSchema(o.schema)) invalid("schema", "a Schema", o.schema)
  return {
    name,
    capacity: o.capacity === undefined ? Number.POSITIVE_INFINITY : positiveInt("capacity", o.capacity),
    maxAttempts: o.maxAttempts === undefined ? defaultMaxAttempts : positiveInt("maxAttempts", o.maxAttempts)
  }
}

/**
 * A failure in words: its message (and, a few levels deep, the message of the
 * error it wraps: a store's "failed to offer" says little without the
 * driver's reason), else its tag and fields; never `""` or `[object Object]`.
 */
const describeValue = (u: unknown, depth = 0): string => {
  if (typeof u === "string") return u
  if (u instanceof Error && u.message !== "") {
    const tag = (u as { _tag?: unknown })._tag
    const own = typeof tag === "string" && tag !== u.message ? `${tag}: ${u.message}` : u.message
    const inner = (u as { cause?: unknown }).cause
    return depth < 3 && inner instanceof Error && inner !== u && inner.message !== "" && inner.message !== u.message
      ? `${own} (${describeValue(inner, depth + 1)})`
      : own
  }
  if (typeof u === "object" && u !== null) {
    const tag = (u as { _tag?: unknown })._tag ?? (u as { name?: unknown }).name
    let fields = ""
    try {
      fields = JSON.stringify({ ...u }) ?? ""
    } catch {
      fields = ""
    }
    const head = typeof tag === "string" ? tag : "error"
    return fields === "" || fields === "{}" ? head : `${head} ${fields}`
  }
  return String(u)
}

/** @internal */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return describeValue(failure.value)
  const defect = Cause.dieOption(cause)
  if (defect._tag === "Some") return `defect: ${describeValue(defect.value)}`
  return Cause.isInterruptedOnly(cause) ? "interrupted" : Cause.pretty(cause)
}

// Carries the handler's failure through the store's `take`, apart from the store's own errors.
class Failed extends Data.TaggedError("DurableQueue/Failed")<{ readonly cause: Cause.Cause<unknown> }> {
  override get message() {
    return describeCause(this.cause)
  }
}

const toWriteBehindError = (name: string, what: string) => (cause: unknown) =>
  new Fallback.WriteBehindError({
    message: `write-behind queue ${name}: ${what}: ${
      cause instanceof Error || typeof cause === "string" ? describeValue(cause) : String(cause)
    }`,
    cause
  })

type Outcome = "delivered" | "dead"

// Dead-lettering is ours: the store's own limit must never apply (and its SQL column is an INTEGER).
const storeMaxAttempts = 2 ** 31 - 1

/**
 * Bounds the wait for an entry the count says is there, not the handler's
 * delivery. The take is awaited to its end even when interrupted, so the
 * store has requeued the entry before anyone repairs its place.
 */
const withTakeTimeout =
  (timeout: Duration.Duration, waiting: () => boolean) =>
  <X, E, R>(take: Effect.Effect<X, E, R>): Effect.Effect<X, E | Fallback.WriteBehindError, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(restore(take))
        let timedOut = false
        const watchdog = yield* Effect.sleep(timeout).pipe(
          Effect.zipRight(Effect.suspend(() => {
            if (!waiting()) return Effect.void
            timedOut = true
            return Fiber.interrupt(fiber)
          })),
          Effect.interruptible,
          Effect.fork
        )
        const exit = yield* restore(Fiber.await(fiber)).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
        yield* Fiber.interrupt(watchdog)
        if (timedOut && Exit.isInterrupted(exit)) {
          return yield* new Fallback.WriteBehindError({
            message: `no entry could be taken within ${Duration.format(timeout)}: another consumer holds the next one`
          })
        }
        return yield* exit
      })
    )

/** @internal */
export const make = <A, I, R>(
  options: MakeOptions<A, I, R>
): Effect.Effect<Fallback.WriteBehindQueue<A>, Fallback.WriteBehindError, Scope.Scope | Store | R> =>
  Effect.gen(function*() {
    const { capacity, maxAttempts, name } = yield* Effect.try({ try: () => checkOptions(options), catch: (e) => e })
      .pipe(
        Effect.orDie
      )
    const backend: Backend = yield* Store
    const context = yield* Effect.context<R>()
    // The schema's services are those of `make`'s caller: run in that context as is (no merge per call).
    const encodeEntry = Schema.encode(options.schema)
    const decodeEntry = Schema.decodeUnknown(options.schema)
    const encode = (entry: A) => Effect.mapInputContext(encodeEntry(entry), (_: Context.Context<never>) => context)
    const decode = (element: unknown) =>
      Effect.mapInputContext(decodeEntry(element), (_: Context.Context<never>) => context)
    const nextId = entryId.generator(yield* Effect.clock)
    // The store holds the encoded entry: `Schema.Unknown` makes `PersistedQueue` pass it through as is.
    const queue = yield* PersistedQueue.makeFactory.pipe(
      Effect.flatMap((factory) => factory.make({ name, schema: Schema.Unknown })),
      Effect.provideService(PersistedQueue.PersistedQueueStore, backend.persisted)
    )
    const failure = (what: string) => toWriteBehindError(name, what)

    const labels = [MetricLabel.make("dependency", name)]
    const hooks = {
      depth: series(Metrics.writeBehindQueueDepth, labels),
      enqueued: series(Metrics.writeBehindEnqueued, labels),
      replayed: series(Metrics.writeBehindReplayed, labels),
      rejected: series(Metrics.writeBehindRejected, labels),
      deadLettered: series(Metrics.writeBehindDeadLettered, labels)
    }
    // Every series exists from creation (DESIGN §6); the depth is what the store already holds.
    hooks.enqueued.update(0)
    hooks.replayed.update(0)
    hooks.rejected.update(0)
    hooks.deadLettered.update(0)
    const size = Effect.mapError(backend.size(name), failure("cannot count the entries"))
    let depth = yield* size
    const setDepth = (n: number) => {
      depth = Math.max(0, n)
      hooks.depth.update(depth)
    }
    setDepth(depth)

    // Capacity is checked and the entry written under one permit: exact within a process, approximate
    // (by the offers of the last second) across processes sharing the store.
    const offerLock = yield* Effect.makeSemaphore(1)
    let countedAt = Number.NEGATIVE_INFINITY
    const replayLock = yield* Effect.makeSemaphore(1)

    const full = () =>
      new Fallback.WriteBehindError({ message: `write-behind queue ${name} is full (capacity ${capacity})` })
    const cannotKeep = failure("cannot keep the entry")
    const kept = Effect.sync(() => {
      hooks.enqueued.update(1)
      setDepth(depth + 1)
    })
    const put = (encoded: unknown) =>
      Effect.suspend(() => Effect.zipRight(Effect.mapError(queue.offer(encoded, { id: nextId() }), cannotKeep), kept))
    const write = (encoded: unknown) =>
      Number.isFinite(capacity) ?
        Effect.gen(function*() {
          // A count per offer is O(live entries) on SQL: trust the local count for a second, and
          // always recount before refusing (another instance may have drained the queue).
          const now = yield* Clock.currentTimeMillis
          if (depth >= capacity || now - countedAt >= 1000) {
            setDepth(yield* size)
            countedAt = now
          }
          if (depth >= capacity) {
            hooks.rejected.update(1)
            return yield* full()
          }
          yield* put(encoded)
        }) :
        put(encoded)

    const offer = (entry: A): Effect.Effect<void, Fallback.WriteBehindError> =>
      encode(entry).pipe(
        Effect.mapError((error) =>
          new Fallback.WriteBehindError({
            message: `write-behind queue ${name}: the entry does not match its schema: ${
              ParseResult.TreeFormatter.formatErrorSync(error)
            }`,
            cause: error
          })
        ),
        Effect.flatMap((encoded) =>
          Number.isFinite(capacity) ? offerLock.withPermits(1)(write(encoded)) : write(encoded)
        )
      )

    const deliverOne = <E, R2>(
      f: (entry: A, delivery: Fallback.WriteBehindQueue.Delivery) => Effect.Effect<unknown, E, R2>,
      rejected: ((error: E) => boolean) | undefined
    ): Effect.Effect<Outcome, E | Fallback.WriteBehindError, R2> => {
      let taken: string | undefined
      return queue.take((element, meta) => {
        taken = meta.id
        const attempts = meta.attempts + 1
        return decode(element).pipe(
          Effect.mapError(failure(`entry ${meta.id} cannot be decoded`)),
          Effect.flatMap((entry) => f(entry, { id: meta.id, attempts })),
          Effect.matchCauseEffect({
            onSuccess: (): Effect.Effect<Outcome, Failed> => Effect.succeed("delivered"),
            onFailure: (cause): Effect.Effect<Outcome, Failed> => {
              // An interrupted delivery is no evidence against the entry: not an attempt.
              if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
              const refused = Fallback.isRejectedDelivery(cause as Cause.Cause<E>, { rejected })
              if (!refused && attempts < maxAttempts) return Effect.fail(new Failed({ cause }))
              const error = describeCause(cause)
              // Recorded before the live entry completes: a crash in between redelivers it, never loses it.
              return backend.deadLetter(name, { id: meta.id, element, attempts, error }).pipe(
                Effect.mapError((e) => new Failed({ cause: Cause.fail(failure("cannot dead-letter")(e)) })),
                Effect.zipRight(
                  Effect.logError(
                    `Write-behind ${name}: entry ${meta.id} dead-lettered ${
                      refused ? "at once: the dependency rejected it" : `after ${attempts} failed attempt(s)`
                    }: ${error}`,
                    cause
                  ).pipe(Effect.annotateLogs({ dependency: name, id: meta.id, attempts }))
                ),
                Effect.as("dead" as const)
              )
            }
          })
        )
      }, { maxAttempts: storeMaxAttempts }).pipe(
        withTakeTimeout(backend.takeTimeout, () => taken === undefined),
        Effect.onExit((exit) =>
          taken === undefined
            ? Effect.void
            : Exit.isSuccess(exit)
            ? Effect.ignore(backend.completed(name, taken))
            : Effect.catchAll(
              backend.keepFirst(name, taken),
              (e) => Effect.logWarning(`Write-behind ${name}: entry ${taken} may have lost its place`, e)
            )
        ),
        Effect.catchAll((error): Effect.Effect<never, E | Fallback.WriteBehindError> =>
          error instanceof Failed
            ? Effect.failCause(error.cause as Cause.Cause<E | Fallback.WriteBehindError>)
            : error instanceof Fallback.WriteBehindError
            ? Effect.fail(error)
            : Effect.fail(failure("the store failed")(error))
        )
      ) as Effect.Effect<Outcome, E | Fallback.WriteBehindError, R2>
    }

    const replay = <E, R2>(
      f: (entry: A, delivery: Fallback.WriteBehindQueue.Delivery) => Effect.Effect<unknown, E, R2>,
      options?: Fallback.WriteBehindQueue.ReplayOptions<E>
    ): Effect.Effect<number, E | Fallback.WriteBehindError, R2> =>
      replayLock.withPermits(1)(Effect.scoped(Effect.gen(function*() {
        const lease = yield* Effect.mapError(backend.lease(name), failure("cannot take the replay lease"))
        yield* Effect.mapError(backend.recover(name), failure("cannot recover entries left in delivery"))
        let replayed = 0
        while (true) {
          const n = yield* size
          setDepth(n)
          if (n === 0) break
          // The count is exact under the lease: nobody else takes entries meanwhile.
          for (let i = 0; i < n; i++) {
            if (yield* lease.lost) {
              return yield* failure("replay stopped")("the replay lease expired and was taken over")
            }
            const outcome = yield* deliverOne(f, options?.rejected)
            setDepth(depth - 1)
            if (outcome === "delivered") {
              replayed++
              hooks.replayed.update(1)
            } else {
              hooks.deadLettered.update(1)
            }
          }
        }
        yield* Effect.mapError(backend.prune(name), failure("cannot prune delivered entries"))
        return replayed
      })))

    const deadLetters: Effect.Effect<
      ReadonlyArray<Fallback.WriteBehindQueue.DeadLetter<A>>,
      Fallback.WriteBehindError
    > = backend.deadLetters(name).pipe(
      Effect.mapError(failure("cannot read the dead letters")),
      Effect.flatMap((letters) =>
        Effect.forEach(letters, (letter) =>
          decode(letter.element).pipe(
            Effect.mapError(failure(`dead letter ${letter.id} cannot be decoded`)),
            Effect.map((entry) => ({ id: letter.id, entry, attempts: letter.attempts, error: letter.error }))
          ))
      )
    )

    const redrive = (id: string): Effect.Effect<void, Fallback.WriteBehindError> =>
      offerLock.withPermits(1)(Effect.gen(function*() {
        if (Number.isFinite(capacity)) {
          const n = yield* size
          if (n >= capacity) return yield* full()
        }
        const found = yield* Effect.mapError(backend.redrive(name, id), failure(`cannot redrive ${id}`))
        if (!found) {
          return yield* new Fallback.WriteBehindError({
            message: `write-behind queue ${name} has no dead letter "${id}"`
          })
        }
        setDepth(depth + 1)
      }))

    return {
      offer,
      replay,
      deadLetters,
      redrive,
      size: Effect.tap(size, setDepth)
    } satisfies Fallback.WriteBehindQueue<A>
  })
