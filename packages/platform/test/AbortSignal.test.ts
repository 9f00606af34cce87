/**
 * `callTimeout` cancels real I/O: a call built with
 * `Effect.tryPromise((signal) => fetch(url, { signal }))` has its
 * `AbortSignal` aborted when the timeout fires, so the request is cancelled
 * (its socket closed), not merely abandoned. A promise that is not handed the
 * signal keeps running: the control case shows the test can tell.
 */
import { CircuitBreaker } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { createServer, type IncomingMessage } from "node:http"

/** A local HTTP server that accepts every request and never answers, and tells when a request's socket closes. */
const silentServer = Effect.acquireRelease(
  Effect.gen(function*() {
    const arrived = yield* Deferred.make<IncomingMessage>()
    const closed = yield* Deferred.make<{ readonly aborted: boolean }>()
    let aborted = false
    const server = createServer((request) => {
      request.on("aborted", () => {
        aborted = true
      })
      request.socket.on("close", () => Deferred.unsafeDone(closed, Exit.succeed({ aborted })))
      Deferred.unsafeDone(arrived, Exit.succeed(request))
    })
    const port = yield* Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
    })
    return { server, url: `http://127.0.0.1:${port}/slow`, arrived, closed }
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const breaker = (name: string) => CircuitBreaker.make({ name: `${name}-${process.pid}`, callTimeout: "200 millis" })

describe("callTimeout and AbortSignal", () => {
  it.scopedLive("a fetch given the signal is aborted when callTimeout fires: the server sees its socket close", () =>
    Effect.gen(function*() {
      const { arrived, closed, url } = yield* silentServer
      const cb = yield* breaker("abort-fetch")
      let seen: AbortSignal | undefined
      const started = Date.now()
      const exit = yield* cb(
        Effect.tryPromise({
          try: (signal) => {
            seen = signal
            return fetch(url, { signal }).then((response) => response.text())
          },
          catch: (error) => new Error(String(error))
        })
      ).pipe(Effect.exit)
      const elapsed = Date.now() - started

      // The caller is answered at the deadline with the breaker's timeout error.
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      expect(error).toBeInstanceOf(CircuitBreaker.CallTimeoutError)
      expect(elapsed).toBeGreaterThanOrEqual(190)
      expect(elapsed).toBeLessThan(1500)

      // The request really reached the server, and was really cancelled.
      yield* Deferred.await(arrived).pipe(Effect.timeout("1 second"))
      expect(seen?.aborted).toBe(true)
      const close = yield* Deferred.await(closed).pipe(Effect.timeout("1 second"))
      expect(close.aborted).toBe(true)
    }))

  it.scopedLive("control: a promise that ignores the signal is abandoned, not cancelled: its socket stays open", () =>
    Effect.gen(function*() {
      const { arrived, closed, url } = yield* silentServer
      const cb = yield* breaker("abort-ignored")
      const controller = new AbortController()
      const exit = yield* cb(
        Effect.tryPromise({
          // The signal is dropped: nothing tells fetch that the call was interrupted.
          try: () => fetch(url, { signal: controller.signal }).then((response) => response.text()),
          catch: (error) => new Error(String(error))
        })
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBeInstanceOf(CircuitBreaker.CallTimeoutError)
      yield* Deferred.await(arrived).pipe(Effect.timeout("1 second"))
      yield* Effect.sleep("300 millis")
      expect(yield* Deferred.isDone(closed)).toBe(false)
      // Cancelled by hand, so that nothing outlives the test.
      controller.abort()
      yield* Deferred.await(closed).pipe(Effect.timeout("1 second"))
    }))
})
