/**
 * A stream through a breaker: one call per run.
 *
 * @internal
 */
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as CB from "../CircuitBreaker.js"

type Pull<A, E, R> = Effect.Effect<Chunk.Chunk<A>, Option.Option<E>, R>

/**
 * Running `stream` until its first chunk (or its end) is one call through
 * `breaker` — rejected while open, timed by its `callTimeout`, counted — and
 * a failure after that counts as one more failed call (while open, the stream
 * still fails with its own error).
 *
 * @internal
 */
export const stream = <A, E, R>(
  breaker: CB.CircuitBreaker,
  self: Stream.Stream<A, E, R>
): Stream.Stream<A, E | CB.CircuitOpenError | CB.CallTimeoutError, R> =>
  Stream.suspend(() => {
    let started = false
    return Stream.unwrapScoped(Effect.map(Stream.toPull(self), (pull) =>
      Stream.repeatEffectChunkOption(Effect.suspend((): Pull<A, E | CB.CircuitOpenError | CB.CallTimeoutError, R> => {
        if (started) {
          return Effect.catchAll(pull, (end: Option.Option<E>): Effect.Effect<never, Option.Option<E>> =>
            Option.isNone(end)
              ? Effect.fail(end)
              : Effect.zipRight(Effect.ignore(breaker(Effect.fail(end.value))), Effect.fail(end)))
        }
        const first = Effect.catchAll(
          Effect.map(pull, Option.some),
          (end) =>
            Option.isNone(end) ? Effect.succeed(Option.none()) : Effect.fail(end.value)
        )
        return breaker(first).pipe(
          Effect.mapError(Option.some),
          Effect.flatMap((chunk) => {
            started = true
            return Option.isNone(chunk) ? Effect.fail(Option.none()) : Effect.succeed(chunk.value)
          })
        )
      }))))
  })
