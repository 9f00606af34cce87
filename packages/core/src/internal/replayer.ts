/**
 * Replays a dependency's write-behind queues through its breaker.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Dependency from "../Dependency.js"
import { CircuitOpenError } from "./errors.js"

/** @internal */
export interface ReplayerOptions<S> {
  readonly name: string
  readonly breaker: CircuitBreaker.CircuitBreaker
  /** The service through the breaker but never through a fallback: a write-behind fallback would queue the entry again. */
  readonly guarded: S
  readonly replays: ReadonlyArray<Dependency.Replay<S, any>>
  readonly replayInterval: Duration.DurationInput
  /** Errors a fallback would recover: anything else is the dependency refusing the entry. */
  readonly recoverable: (error: unknown) => boolean
}

/**
 * One replay pass over one queue. An entry rejected by this breaker was not
 * delivered (no attempt against it); one the dependency refused is
 * dead-lettered at once; a queue that fails, throws or dies is logged and
 * retried next time.
 */
const replayOne = <S>(options: ReplayerOptions<S>, replay: Dependency.Replay<S, unknown>) =>
  Effect.suspend(() =>
    replay.queue.replay(
      (entry, delivery) =>
        Effect.suspend(() => replay.run(options.guarded, entry, delivery)).pipe(
          Effect.catchIf(
            (error) => error instanceof CircuitOpenError && error.breaker === options.name,
            () => Effect.interrupt
          )
        ),
      { rejected: (error) => !options.recoverable(error) }
    )
  ).pipe(
    Effect.tap((n) =>
      n > 0 ? Effect.logInfo(`Dependency ${options.name}: replayed ${n} queued write(s)`) : Effect.void
    ),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.logDebug(`Dependency ${options.name}: replay rejected by the breaker; the queue waits`)
        : Effect.logWarning(`Dependency ${options.name}: replay stopped; the rest stays queued`, cause)
    )
  )

/**
 * Starts the replayer in the current scope: one pass at a time over every
 * queue, requested when the breaker half-opens or closes (the first replayed
 * entry is the probe), every `replayInterval` while the breaker admits calls
 * (a failure that did not open it, a disabled breaker, a half-open permit
 * taken by a call that was then ignored), and once at start (entries an
 * earlier process left in a durable queue).
 *
 * @internal
 */
export const start = <S>(options: ReplayerOptions<S>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const replayAll = Effect.forEach(options.replays, (replay) => replayOne(options, replay), { discard: true })
    // A request is a slot in a sliding queue of one: requests during a pass
    // ask for exactly one more pass, and none is dropped between a pass
    // ending and the next request.
    const requests = yield* Queue.sliding<void>(1)
    yield* Queue.take(requests).pipe(Effect.zipRight(replayAll), Effect.forever, Effect.forkScoped)
    const request = () => Queue.unsafeOffer(requests, undefined)
    const admits = (state: CircuitBreaker.State) => state._tag !== "Open" && state._tag !== "ForcedOpen"
    yield* options.breaker.onChange((change) => {
      if (admits(change.to)) request()
    })
    yield* Effect.sync(() => {
      if (admits(options.breaker.unsafeState())) request()
    }).pipe(Effect.repeat(Schedule.spaced(options.replayInterval)), Effect.forkScoped)
    request()
  })
