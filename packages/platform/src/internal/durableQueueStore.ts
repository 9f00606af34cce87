/**
 * What every store under `DurableQueue` shares: the `Store` tag and the
 * `Backend` it holds, the timing options, the replay lease and the store's
 * error. Each backend lives in a file of its own (durableQueueSql.ts,
 * durableQueueSqlite.ts, durableQueueRedis.ts), loaded only by the subpath
 * module that exports its layer, so that the main entry never loads an
 * optional peer.
 *
 * A backend wraps one of `@effect/experimental`'s `PersistedQueue` stores
 * and adds what the write-behind contract needs and `PersistedQueue` does not
 * offer: a live count, dead letters, a replay lease shared by every
 * instance, and the repair of the head of the queue after a failed delivery
 * (the SQL and Redis stores both put a failed entry behind later ones).
 *
 * @internal
 */
import { Describe } from "@effect-resilience/core"
import type * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { DurableQueueError } from "./durableQueueError.js"
import { fail as invalid, optionalDuration } from "./options.js"

/** A dead letter as stored: the encoded entry. */
export interface StoredDeadLetter {
  readonly id: string
  readonly element: unknown
  readonly attempts: number
  readonly error: string
}

/** The replay lease of one queue, held until its scope closes. */
export interface Lease {
  /** True once a refresh found the lease taken over (this holder stalled past its expiry). */
  readonly lost: Effect.Effect<boolean>
}

/** What `DurableQueue.make` needs from a store. */
export interface Backend {
  readonly store: DurableQueueError["store"]
  readonly location: string
  readonly persisted: PersistedQueue.PersistedQueueStore["Type"]
  /** How long a take may wait for an entry the count says is there. */
  readonly takeTimeout: Duration.Duration
  /** Live entries: waiting or being delivered, dead letters excluded. */
  readonly size: (name: string) => Effect.Effect<number, DurableQueueError>
  /** Puts `id` back at the head after a failed or interrupted delivery (the store requeued it behind later ones). */
  readonly keepFirst: (name: string, id: string) => Effect.Effect<void, DurableQueueError>
  /** Bookkeeping after an entry left the live queue. */
  readonly completed: (name: string, id: string) => Effect.Effect<void, DurableQueueError>
  /** Records a dead letter (idempotent by id); the caller then completes the live entry. */
  readonly deadLetter: (name: string, letter: StoredDeadLetter) => Effect.Effect<void, DurableQueueError>
  readonly deadLetters: (name: string) => Effect.Effect<ReadonlyArray<StoredDeadLetter>, DurableQueueError>
  /** Re-queues a dead letter at the tail, attempts 0, same id; false when there is no such dead letter. */
  readonly redrive: (name: string, id: string) => Effect.Effect<boolean, DurableQueueError>
  /** Waits for the queue's replay lease (one replay at a time across every instance sharing the store). */
  readonly lease: (name: string) => Effect.Effect<Lease, DurableQueueError, Scope.Scope>
  /** Under the lease: entries a dead consumer held go back to the head. */
  readonly recover: (name: string) => Effect.Effect<void, DurableQueueError>
  /** Drops what the store keeps of delivered entries. */
  readonly prune: (name: string) => Effect.Effect<void, DurableQueueError>
}

/**
 * The store of `DurableQueue.make`: provided by `layerSqlite`, `layerSql`
 * or `layerRedis`.
 *
 * @internal
 */
export class Store extends Context.Tag("@effect-resilience/platform/DurableQueue/Store")<Store, Backend>() {}

/** Options common to every store. */
export interface CommonOptions {
  readonly pollInterval?: Duration.DurationInput | undefined
  readonly lockExpiration?: Duration.DurationInput | undefined
}

/** The timing options checked, with their defaults (100 ms, 30 s). */
export const commonOptions = (module: string, options: CommonOptions | undefined) => {
  const pollInterval = optionalDuration(module, "pollInterval", options?.pollInterval) ?? Duration.millis(100)
  const lockExpiration = optionalDuration(module, "lockExpiration", options?.lockExpiration) ?? Duration.seconds(30)
  if (Duration.toMillis(lockExpiration) < 3000) {
    invalid(module, "lockExpiration", "at least 3 seconds", options?.lockExpiration)
  }
  return {
    pollInterval,
    lockExpiration,
    // The store's own lock refresh: three chances before the lock expires.
    lockRefreshInterval: Duration.millis(Duration.toMillis(lockExpiration) / 3)
  }
}

/** An error value, or a whole `Cause` (a sandboxed failure), in words. */
export const reason = (cause: unknown): string => Describe.cause(Cause.isCause(cause) ? cause : Cause.fail(cause))

/** The errors of one store: `what (where): why`, the failure it wraps kept as `cause`. */
export const storeErrors = (store: DurableQueueError["store"], location: string) => (what: string) => {
  const error = (cause: unknown) =>
    new DurableQueueError({ message: `${what} (${location}): ${reason(cause)}`, store, location, cause })
  return error
}

/** Waits for the lease, then keeps it fresh until the scope closes. */
export const holdLease = (options: {
  readonly acquire: (holder: string, expiresAt: number) => Effect.Effect<boolean, DurableQueueError>
  readonly refresh: (holder: string, expiresAt: number) => Effect.Effect<boolean, DurableQueueError>
  readonly release: (holder: string) => Effect.Effect<void, DurableQueueError>
  readonly pollInterval: Duration.Duration
  readonly ttl: Duration.Duration
}): Effect.Effect<Lease, DurableQueueError, Scope.Scope> =>
  Effect.gen(function*() {
    const holder = crypto.randomUUID()
    const ttl = Duration.toMillis(options.ttl)
    const expiry = Effect.map(Clock.currentTimeMillis, (now) => now + ttl)
    yield* Effect.acquireRelease(
      Effect.flatMap(expiry, (at) => options.acquire(holder, at)).pipe(
        Effect.repeat({ until: (acquired) => acquired, schedule: Schedule.spaced(options.pollInterval) })
      ),
      () => Effect.ignore(options.release(holder))
    )
    const lost = yield* Ref.make(false)
    yield* Effect.flatMap(expiry, (at) => options.refresh(holder, at)).pipe(
      Effect.flatMap((kept) => kept ? Effect.void : Ref.set(lost, true)),
      Effect.catchAll((error) => Effect.logWarning("DurableQueue: could not refresh the replay lease", error)),
      Effect.repeat(Schedule.spaced(Duration.millis(ttl / 3))),
      Effect.interruptible,
      Effect.forkScoped
    )
    return { lost: Ref.get(lost) }
  })
