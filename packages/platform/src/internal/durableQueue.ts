/**
 * `DurableQueue.make`: a `Fallback.WriteBehindQueue` on a `PersistedQueue`
 * store, holding the contract the store alone does not (see
 * durableQueueStore.ts): live count and capacity, head-of-line order after
 * a failure, dead letters after `maxAttempts`, one replay at a time.
 *
 * `make` opens the queue (`open`); each operation is a function of the open
 * queue: `offer`, `replay` (one `deliver` per entry), `deadLetters` and
 * `redrive`.
 *
 * @internal
 */
import { Describe, Fallback, Metrics } from "@effect-resilience/core"
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

// Carries the handler's failure through the store's `take`, apart from the store's own errors.
class Failed extends Data.TaggedError("DurableQueue/Failed")<{ readonly cause: Cause.Cause<unknown> }> {
  override get message() {
    return Describe.cause(this.cause)
  }
}

const toWriteBehindError = (name: string, what: string) => (cause: unknown) =>
  new Fallback.WriteBehindError({
    message: `write-behind queue ${name}: ${what}: ${Describe.cause(Cause.fail(cause))}`,
    cause
  })

type Outcome = "delivered" | "dead"

// Dead-lettering is ours: the store's own limit must never apply (and its SQL column is an INTEGER).
const storeMaxAttempts = 2 ** 31 - 1

type Hook = ReturnType<typeof series<number>>

/** The `write_behind_*{dependency=name}` series of one queue. */
interface Hooks {
  readonly depth: Hook
  readonly enqueued: Hook
  readonly replayed: Hook
  readonly rejected: Hook
  readonly deadLettered: Hook
}

const makeHooks = (name: string): Hooks => {
  const labels = [MetricLabel.make("dependency", name)]
  const hooks = {
    depth: series(Metrics.writeBehindQueueDepth, labels),
    enqueued: series(Metrics.writeBehindEnqueued, labels),
    replayed: series(Metrics.writeBehindReplayed, labels),
    rejected: series(Metrics.writeBehindRejected, labels),
    deadLettered: series(Metrics.writeBehindDeadLettered, labels)
  }
  // Every series exists from creation: a counter at 0 is not an absent one. The depth is set once counted.
  hooks.enqueued.update(0)
  hooks.replayed.update(0)
  hooks.rejected.update(0)
  hooks.deadLettered.update(0)
  return hooks
}

/** An open queue: what its operations share. */
interface Open<A> {
  readonly name: string
  readonly capacity: number
  readonly maxAttempts: number
  readonly backend: Backend
  /** The store's queue, holding entries as the schema encodes them. */
  readonly queue: PersistedQueue.PersistedQueue<unknown>
  readonly encode: (entry: A) => Effect.Effect<unknown, ParseResult.ParseError>
  readonly decode: (element: unknown) => Effect.Effect<A, ParseResult.ParseError>
  readonly nextId: () => string
  readonly hooks: Hooks
  readonly failure: (what: string) => (cause: unknown) => Fallback.WriteBehindError
  /** Live entries, counted by the store. */
  readonly size: Effect.Effect<number, Fallback.WriteBehindError>
  /** The live entries as last counted, and the depth gauge with them. */
  readonly depth: () => number
  readonly setDepth: (n: number) => void
  /** Capacity is checked and the entry written under one permit (offers and redrives). */
  readonly offerLock: Effect.Semaphore
  readonly replayLock: Effect.Semaphore
}

const open = <A, I, R>(
  options: MakeOptions<A, I, R>
): Effect.Effect<Open<A>, Fallback.WriteBehindError, Scope.Scope | Store | R> =>
  Effect.gen(function*() {
    const { capacity, maxAttempts, name } = yield* Effect.orDie(
      Effect.try({ try: () => checkOptions(options), catch: (e) => e })
    )
    const backend = yield* Store
    const context = yield* Effect.context<R>()
    // The schema's services are those of `make`'s caller: run in that context as is (no merge per call).
    const encodeEntry = Schema.encode(options.schema)
    const decodeEntry = Schema.decodeUnknown(options.schema)
    // The store holds the encoded entry: `Schema.Unknown` makes `PersistedQueue` pass it through as is.
    const queue = yield* PersistedQueue.makeFactory.pipe(
      Effect.flatMap((factory) => factory.make({ name, schema: Schema.Unknown })),
      Effect.provideService(PersistedQueue.PersistedQueueStore, backend.persisted)
    )
    const failure = (what: string) => toWriteBehindError(name, what)
    const hooks = makeHooks(name)
    let depth = 0
    const setDepth = (n: number) => {
      depth = Math.max(0, n)
      hooks.depth.update(depth)
    }
    const size = Effect.mapError(backend.size(name), failure("cannot count the entries"))
    setDepth(yield* size)
    return {
      name,
      capacity,
      maxAttempts,
      backend,
      queue,
      encode: (entry) => Effect.mapInputContext(encodeEntry(entry), (_: Context.Context<never>) => context),
      decode: (element) => Effect.mapInputContext(decodeEntry(element), (_: Context.Context<never>) => context),
      nextId: entryId.generator(yield* Effect.clock),
      hooks,
      failure,
      size,
      depth: () => depth,
      setDepth,
      offerLock: yield* Effect.makeSemaphore(1),
      replayLock: yield* Effect.makeSemaphore(1)
    }
  })

const full = <A>(q: Open<A>) =>
  new Fallback.WriteBehindError({ message: `write-behind queue ${q.name} is full (capacity ${q.capacity})` })

// ---------------------------------------------------------------------------
// offer
// ---------------------------------------------------------------------------

const offer = <A>(q: Open<A>): (entry: A) => Effect.Effect<void, Fallback.WriteBehindError> => {
  const bounded = Number.isFinite(q.capacity)
  const cannotKeep = q.failure("cannot keep the entry")
  const kept = Effect.sync(() => {
    q.hooks.enqueued.update(1)
    q.setDepth(q.depth() + 1)
  })
  const put = (encoded: unknown) =>
    Effect.suspend(() => Effect.zipRight(Effect.mapError(q.queue.offer(encoded, { id: q.nextId() }), cannotKeep), kept))
  // Exact within a process, approximate (by the offers of the last second) across processes sharing the store.
  let countedAt = Number.NEGATIVE_INFINITY
  const putBounded = (encoded: unknown) =>
    Effect.gen(function*() {
      // A count per offer is O(live entries) on SQL: trust the local count for a second, and
      // always recount before refusing (another instance may have drained the queue).
      const now = yield* Clock.currentTimeMillis
      if (q.depth() >= q.capacity || now - countedAt >= 1000) {
        q.setDepth(yield* q.size)
        countedAt = now
      }
      if (q.depth() >= q.capacity) {
        q.hooks.rejected.update(1)
        return yield* full(q)
      }
      yield* put(encoded)
    })
  const write = bounded ? (encoded: unknown) => q.offerLock.withPermits(1)(putBounded(encoded)) : put
  return (entry) =>
    q.encode(entry).pipe(
      Effect.mapError((error) =>
        new Fallback.WriteBehindError({
          message: `write-behind queue ${q.name}: the entry does not match its schema: ${
            ParseResult.TreeFormatter.formatErrorSync(error)
          }`,
          cause: error
        })
      ),
      Effect.flatMap(write)
    )
}

// ---------------------------------------------------------------------------
// delivery: one entry, from the store's take to its settlement
// ---------------------------------------------------------------------------

type Handler<A, E, R> = (entry: A, delivery: Fallback.WriteBehindQueue.Delivery) => Effect.Effect<unknown, E, R>

interface Taken {
  readonly id: string
  readonly element: unknown
  /** This attempt included. */
  readonly attempts: number
}

/**
 * A failed delivery: retried (the take fails, the store keeps the entry)
 * before `maxAttempts`, dead-lettered at `maxAttempts` or at once when the
 * dependency rejected it. Interruption is no evidence against the entry: not
 * an attempt.
 */
const failedDelivery = <A, E>(
  q: Open<A>,
  taken: Taken,
  cause: Cause.Cause<E | Fallback.WriteBehindError>,
  rejected: ((error: E) => boolean) | undefined
): Effect.Effect<Outcome, Failed> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const refused = Fallback.isRejectedDelivery(cause as Cause.Cause<E>, { rejected })
  if (!refused && taken.attempts < q.maxAttempts) return Effect.fail(new Failed({ cause }))
  const error = Describe.cause(cause)
  // Recorded before the live entry completes: a crash in between redelivers it, never loses it.
  return q.backend.deadLetter(q.name, { ...taken, error }).pipe(
    Effect.mapError((e) => new Failed({ cause: Cause.fail(q.failure("cannot dead-letter")(e)) })),
    Effect.zipRight(
      Effect.logError(
        `Write-behind ${q.name}: entry ${taken.id} dead-lettered ${
          refused ? "at once: the dependency rejected it" : `after ${taken.attempts} failed attempt(s)`
        }: ${error}`,
        cause
      ).pipe(Effect.annotateLogs({ dependency: q.name, id: taken.id, attempts: taken.attempts }))
    ),
    Effect.as("dead" as const)
  )
}

/** Runs the handler on a taken entry (decoded), with its stable id and attempts. */
const deliver = <A, E, R>(
  q: Open<A>,
  f: Handler<A, E, R>,
  rejected: ((error: E) => boolean) | undefined,
  taken: Taken
): Effect.Effect<Outcome, Failed, R> =>
  q.decode(taken.element).pipe(
    Effect.mapError(q.failure(`entry ${taken.id} cannot be decoded`)),
    Effect.flatMap((entry) => f(entry, { id: taken.id, attempts: taken.attempts })),
    Effect.matchCauseEffect({
      onSuccess: (): Effect.Effect<Outcome, Failed> => Effect.succeed("delivered"),
      onFailure: (cause) => failedDelivery(q, taken, cause, rejected)
    })
  )

/** After the take: a delivered entry is completed, any other goes back to the head of the queue. */
const settle = <A>(q: Open<A>, id: string, exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit)
    ? Effect.ignore(q.backend.completed(q.name, id))
    : Effect.catchAll(
      q.backend.keepFirst(q.name, id),
      (e) => Effect.logWarning(`Write-behind ${q.name}: entry ${id} may have lost its place`, e)
    )

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

/** The handler's own failure as it was; the store's as a `WriteBehindError`. */
const unwrap = <A, E>(q: Open<A>) => (error: unknown): Effect.Effect<never, E | Fallback.WriteBehindError> =>
  error instanceof Failed
    ? Effect.failCause(error.cause as Cause.Cause<E | Fallback.WriteBehindError>)
    : error instanceof Fallback.WriteBehindError
    ? Effect.fail(error)
    : Effect.fail(q.failure("the store failed")(error))

/** Takes the head entry and delivers it. */
const deliverOne = <A, E, R>(
  q: Open<A>,
  f: Handler<A, E, R>,
  rejected: ((error: E) => boolean) | undefined
): Effect.Effect<Outcome, E | Fallback.WriteBehindError, R> => {
  let taken: string | undefined
  return q.queue.take((element, meta) => {
    taken = meta.id
    return deliver(q, f, rejected, { id: meta.id, element, attempts: meta.attempts + 1 })
  }, { maxAttempts: storeMaxAttempts }).pipe(
    withTakeTimeout(q.backend.takeTimeout, () => taken === undefined),
    Effect.onExit((exit) => taken === undefined ? Effect.void : settle(q, taken, exit)),
    Effect.catchAll(unwrap<A, E>(q))
  ) as Effect.Effect<Outcome, E | Fallback.WriteBehindError, R>
}

// ---------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------

/** One replay under the queue's lease: every live entry, oldest first, until the queue is empty. */
const replayAll = <A, E, R>(
  q: Open<A>,
  f: Handler<A, E, R>,
  rejected: ((error: E) => boolean) | undefined
): Effect.Effect<number, E | Fallback.WriteBehindError, R> =>
  Effect.scoped(Effect.gen(function*() {
    const lease = yield* Effect.mapError(q.backend.lease(q.name), q.failure("cannot take the replay lease"))
    yield* Effect.mapError(q.backend.recover(q.name), q.failure("cannot recover entries left in delivery"))
    let replayed = 0
    while (true) {
      const n = yield* q.size
      q.setDepth(n)
      if (n === 0) break
      // The count is exact under the lease: nobody else takes entries meanwhile.
      for (let i = 0; i < n; i++) {
        if (yield* lease.lost) {
          return yield* q.failure("replay stopped")("the replay lease expired and was taken over")
        }
        const outcome = yield* deliverOne(q, f, rejected)
        q.setDepth(q.depth() - 1)
        if (outcome === "delivered") {
          replayed++
          q.hooks.replayed.update(1)
        } else {
          q.hooks.deadLettered.update(1)
        }
      }
    }
    yield* Effect.mapError(q.backend.prune(q.name), q.failure("cannot prune delivered entries"))
    return replayed
  }))

const replay = <A>(q: Open<A>): Fallback.WriteBehindQueue<A>["replay"] => (f, options) =>
  q.replayLock.withPermits(1)(replayAll(q, f, options?.rejected))

// ---------------------------------------------------------------------------
// dead letters
// ---------------------------------------------------------------------------

const deadLetters = <A>(
  q: Open<A>
): Effect.Effect<ReadonlyArray<Fallback.WriteBehindQueue.DeadLetter<A>>, Fallback.WriteBehindError> =>
  q.backend.deadLetters(q.name).pipe(
    Effect.mapError(q.failure("cannot read the dead letters")),
    Effect.flatMap((letters) =>
      Effect.forEach(letters, (letter) =>
        q.decode(letter.element).pipe(
          Effect.mapError(q.failure(`dead letter ${letter.id} cannot be decoded`)),
          Effect.map((entry) => ({ id: letter.id, entry, attempts: letter.attempts, error: letter.error }))
        ))
    )
  )

const redrive = <A>(q: Open<A>) => (id: string): Effect.Effect<void, Fallback.WriteBehindError> =>
  q.offerLock.withPermits(1)(Effect.gen(function*() {
    if (Number.isFinite(q.capacity) && (yield* q.size) >= q.capacity) return yield* full(q)
    const found = yield* Effect.mapError(q.backend.redrive(q.name, id), q.failure(`cannot redrive ${id}`))
    if (!found) {
      return yield* new Fallback.WriteBehindError({
        message: `write-behind queue ${q.name} has no dead letter "${id}"`
      })
    }
    q.setDepth(q.depth() + 1)
  }))

/** @internal */
export const make = <A, I, R>(
  options: MakeOptions<A, I, R>
): Effect.Effect<Fallback.WriteBehindQueue<A>, Fallback.WriteBehindError, Scope.Scope | Store | R> =>
  Effect.map(open(options), (q) => ({
    offer: offer(q),
    replay: replay(q),
    deadLetters: deadLetters(q),
    redrive: redrive(q),
    size: Effect.tap(q.size, q.setDepth)
  } satisfies Fallback.WriteBehindQueue<A>))
