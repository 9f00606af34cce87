import { CircuitBreaker } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

type Op =
  | { readonly _tag: "success" }
  | { readonly _tag: "failure" }
  | { readonly _tag: "defect" }
  | { readonly _tag: "ignored" }
  | { readonly _tag: "advance"; readonly millis: number }

const op: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  FastCheck.constant({ _tag: "success" } as const),
  FastCheck.constant({ _tag: "failure" } as const),
  FastCheck.constant({ _tag: "defect" } as const),
  FastCheck.constant({ _tag: "ignored" } as const),
  FastCheck.integer({ min: 0, max: 15_000 }).map((millis) => ({ _tag: "advance", millis } as const))
)

const allowed = new Set(["Closed>Open", "Open>HalfOpen", "HalfOpen>Closed", "HalfOpen>Open"])

const effectOf = (op: Op, runs: { n: number }): Effect.Effect<string, string> => {
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.zipRight(Effect.sync(() => runs.n++), effect)
  switch (op._tag) {
    case "success":
      return run(Effect.succeed("ok"))
    case "failure":
      return run(Effect.fail("boom"))
    case "defect":
      return run(Effect.die("bug"))
    default:
      return run(Effect.fail("ignored"))
  }
}

/**
 * Drives a breaker with a random sequence and checks, after every step:
 * the state is a legal one reached by a legal transition, the failure count
 * stays below its threshold while Closed, and an Open breaker runs nothing.
 */
const check = (trip: CircuitBreaker.TripPolicy, threshold: number | undefined, ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const breaker = yield* CircuitBreaker.make({
      name: uniqueName("prop"),
      trip,
      reset: Schedule.spaced("10 seconds"),
      halfOpen: { permits: 1, successesToClose: 2 },
      isFailure: (e) => e !== "ignored"
    }).pipe(Scope.extend(scope))
    const illegal: Array<string> = []
    yield* breaker.onChange((c) => {
      const key = `${c.from._tag}>${c.to._tag}`
      if (!allowed.has(key)) illegal.push(key)
    }).pipe(Scope.extend(scope))
    const runs = { n: 0 }
    for (const op of ops) {
      if (op._tag === "advance") {
        yield* TestClock.adjust(Duration.millis(op.millis))
      } else {
        const before = yield* breaker.stats
        const ran = runs.n
        const result = yield* Effect.either(
          Effect.catchAllDefect(breaker(effectOf(op, runs)), () => Effect.fail("bug"))
        )
        if (before.state._tag === "Open" && Duration.toMillis(before.retryAfter) > 0) {
          expect(runs.n).toBe(ran)
          expect(Either.isLeft(result) && typeof result.left === "object" && result.left._tag).toBe("CircuitOpenError")
        }
      }
      const stats = yield* breaker.stats
      expect(["Closed", "Open", "HalfOpen"]).toContain(stats.state._tag)
      // an Open breaker always knows when it will probe again
      if (stats.state._tag === "Open") expect(Duration.isFinite(stats.retryAfter)).toBe(true)
      if (stats.state._tag === "Closed" && threshold !== undefined) {
        expect(stats.failures).toBeLessThan(threshold)
      }
      if (stats.state._tag === "Closed" && trip._tag === "FailureRate") {
        // a closed breaker whose window is full enough never holds a tripping rate
        if (stats.calls >= trip.minimumCalls) expect(stats.failures / stats.calls).toBeLessThan(trip.threshold)
      }
    }
    expect(illegal).toEqual([])
    yield* Scope.close(scope, Exit.void)
  })

describe("CircuitBreaker properties", () => {
  it.effect.prop(
    "consecutiveFailures: legal states only, count below threshold while Closed, Open runs nothing",
    [FastCheck.integer({ min: 1, max: 5 }), FastCheck.array(op, { maxLength: 120 })],
    ([threshold, ops]) => check(CircuitBreaker.consecutiveFailures(threshold), threshold, ops),
    { fastCheck: { numRuns: 150 } }
  )

  it.effect.prop(
    "failureRate over a count window: legal states only, Open runs nothing",
    [
      FastCheck.integer({ min: 1, max: 10 }).chain((size) =>
        FastCheck.record({
          size: FastCheck.constant(size),
          minimumCalls: FastCheck.integer({ min: 1, max: size }),
          threshold: FastCheck.double({ min: 0.05, max: 1, noNaN: true })
        })
      ),
      FastCheck.array(op, { maxLength: 120 })
    ],
    ([{ minimumCalls, size, threshold }, ops]) =>
      check(
        CircuitBreaker.failureRate({ threshold, minimumCalls, window: CircuitBreaker.countWindow(size) }),
        undefined,
        ops
      ),
    { fastCheck: { numRuns: 150 } }
  )

  it.effect.prop(
    "consecutiveFailures matches a reference model",
    [FastCheck.integer({ min: 1, max: 4 }), FastCheck.array(op, { maxLength: 80 })],
    ([threshold, ops]) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("model"),
          trip: CircuitBreaker.consecutiveFailures(threshold),
          reset: Schedule.spaced("10 seconds"),
          isFailure: (e) => e !== "ignored"
        }).pipe(Scope.extend(scope))
        // the model: Closed with a count, Open until a time, or HalfOpen
        let state: "Closed" | "Open" | "HalfOpen" = "Closed"
        let count = 0
        let now = 0
        let until = 0
        const runs = { n: 0 }
        for (const op of ops) {
          if (op._tag === "advance") {
            now += op.millis
            yield* TestClock.adjust(Duration.millis(op.millis))
            if (state === "Open" && now >= until) state = "HalfOpen"
          } else {
            yield* Effect.either(Effect.catchAllDefect(breaker(effectOf(op, runs)), () => Effect.fail("bug")))
            const failed = op._tag === "failure" || op._tag === "defect"
            if (state === "Closed" && op._tag !== "ignored") {
              count = failed ? count + 1 : 0
              if (count >= threshold) {
                state = "Open"
                until = now + 10_000
                count = 0
              }
            } else if (state === "HalfOpen" && op._tag !== "ignored") {
              if (failed) {
                state = "Open"
                until = now + 10_000
              } else {
                state = "Closed"
                count = 0
              }
            }
          }
          expect((yield* breaker.state)._tag).toBe(state)
          if (state === "Closed") expect((yield* breaker.stats).failures).toBe(count)
        }
        yield* Scope.close(scope, Exit.void)
      }),
    { fastCheck: { numRuns: 150 } }
  )
})
