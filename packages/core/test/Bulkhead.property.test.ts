import { Bulkhead, Criticality } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Scope from "effect/Scope"
import { uniqueName } from "./utils.js"

type Command =
  | { readonly _tag: "arrive"; readonly criticality: Criticality.Criticality }
  | { readonly _tag: "finish"; readonly pick: number }

const command: FastCheck.Arbitrary<Command> = FastCheck.oneof(
  {
    weight: 2,
    arbitrary: FastCheck.constantFrom(...Criticality.all).map((c) => ({ _tag: "arrive", criticality: c } as const))
  },
  { weight: 1, arbitrary: FastCheck.nat().map((pick) => ({ _tag: "finish", pick } as const)) }
)

/** Shares that grow with criticality, each in (0, 1]. */
const shares = FastCheck.array(FastCheck.double({ min: 0.05, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 })
  .map((xs) => [...xs].sort((a, b) => a - b))
  .map(([sheddable, sheddablePlus, critical, criticalPlus]) => ({
    Sheddable: sheddable!,
    SheddablePlus: sheddablePlus!,
    Critical: critical!,
    CriticalPlus: criticalPlus!
  }))

const settle = Effect.repeatN(Effect.yieldNow(), 20)

interface Event {
  readonly kind: "admitted" | "refused"
  readonly criticality: Criticality.Criticality
}

/**
 * Runs a script of arrivals and completions against a bulkhead; each command
 * is one instant, after which every fiber has run until it blocks. Returns,
 * per instant, what happened and the calls in flight around it.
 */
const run = (
  options: { readonly limit: number; readonly maxQueue: number; readonly shares: Bulkhead.Settings["shares"] },
  commands: ReadonlyArray<Command>
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const bulkhead = yield* Bulkhead.make({
      name: uniqueName("prop"),
      limit: options.limit,
      maxQueue: options.maxQueue,
      maxWait: options.maxQueue === 0 ? 0 : Duration.infinity,
      shares: options.shares
    }).pipe(Scope.extend(scope))
    const running: Array<Deferred.Deferred<void>> = []
    let events: Array<Event> = []
    const instants: Array<{ readonly command: Command; readonly before: number; readonly events: Array<Event> }> = []
    const call = (criticality: Criticality.Criticality) =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const result = yield* Effect.either(
          bulkhead(Effect.suspend(() => {
            events.push({ kind: "admitted", criticality })
            running.push(gate)
            return Deferred.await(gate)
          })).pipe(Criticality.with(criticality))
        )
        if (result._tag === "Left") events.push({ kind: "refused", criticality })
      })
    for (const command of commands) {
      const before = running.length
      events = []
      if (command._tag === "arrive") {
        yield* Effect.fork(call(command.criticality))
      } else if (running.length > 0) {
        const [gate] = running.splice(command.pick % running.length, 1)
        yield* Deferred.succeed(gate!, undefined)
      }
      yield* settle
      instants.push({ command, before, events })
      expect(running.length).toBeLessThanOrEqual(options.limit)
    }
    // What the drain at the end does belongs to no instant.
    events = []
    for (const gate of running) yield* Deferred.succeed(gate, undefined)
    yield* Scope.close(scope, Exit.void)
    return instants
  })

const threshold = (share: number, limit: number) => Math.ceil(share * limit - 1e-9)

const arrive = (criticality: Criticality.Criticality): Command => ({ _tag: "arrive", criticality })
const finish: Command = { _tag: "finish", pick: 0 }

/** Scripts that reach overload for sure, run before the random ones. */
const overloaded: ReadonlyArray<[number, number, Array<Command>]> = [
  // Full, a CriticalPlus call shed, one call ends, a Sheddable one arrives.
  [4, 0, [
    ...Array.from({ length: 4 }, () => arrive(Criticality.Critical())),
    arrive(Criticality.CriticalPlus()),
    finish,
    arrive(Criticality.Sheddable())
  ]],
  // The same with a queue that fills with Sheddable calls first.
  [2, 2, [
    arrive(Criticality.Critical()),
    arrive(Criticality.Critical()),
    arrive(Criticality.Sheddable()),
    arrive(Criticality.Sheddable()),
    arrive(Criticality.CriticalPlus()),
    arrive(Criticality.CriticalPlus()),
    arrive(Criticality.CriticalPlus()),
    finish,
    finish,
    finish,
    arrive(Criticality.Sheddable())
  ]]
]

describe("Bulkhead properties", () => {
  it.effect.prop(
    "no CriticalPlus call is shed while a Sheddable one is being admitted",
    [
      FastCheck.integer({ min: 1, max: 6 }),
      FastCheck.integer({ min: 0, max: 3 }),
      FastCheck.option(shares, { nil: undefined }),
      FastCheck.array(command, { maxLength: 80 })
    ],
    ([limit, maxQueue, given, commands]) =>
      Effect.gen(function*() {
        const instants = yield* run({ limit, maxQueue, shares: given }, commands)
        const sheddable = threshold(given?.Sheddable ?? 0.5, limit)
        // Once a CriticalPlus call has been shed, a Sheddable call is admitted
        // again only after the calls in flight fell below the Sheddable share.
        let shedding = false
        for (const { before, command, events } of instants) {
          if (command._tag === "finish" && before > 0 && before - 1 < sheddable) shedding = false
          for (const event of events) {
            if (event.kind === "admitted" && event.criticality._tag === "Sheddable") expect(shedding).toBe(false)
            if (event.kind === "refused" && event.criticality._tag === "CriticalPlus") shedding = true
          }
        }
      }),
    {
      fastCheck: {
        numRuns: 200,
        examples: overloaded.map(([limit, maxQueue, commands]) => [limit, maxQueue, undefined, commands] as const)
      }
    }
  )

  it.effect.prop(
    "each call is admitted only while in flight is below its class's share; a full queue refuses only less critical calls",
    [
      FastCheck.integer({ min: 1, max: 6 }),
      FastCheck.integer({ min: 0, max: 3 }),
      shares,
      FastCheck.array(command, { maxLength: 80 })
    ],
    ([limit, maxQueue, given, commands]) =>
      Effect.gen(function*() {
        const instants = yield* run({ limit, maxQueue, shares: given }, commands)
        for (const { before, command, events } of instants) {
          // In flight just before the admission: an arrival sees `before`; a
          // waiter is granted the permit the finished call gave back.
          const inFlight = command._tag === "arrive" ? before : before - 1
          for (const event of events) {
            if (event.kind === "admitted") {
              expect(inFlight).toBeLessThan(threshold(given[event.criticality._tag], limit))
            }
            // Refused at its arrival, or displaced by a strictly more critical arrival.
            if (event.kind === "refused" && command._tag === "arrive" && event !== events[events.length - 1]) {
              expect(Criticality.isMoreCriticalThan(command.criticality, event.criticality)).toBe(true)
            }
          }
          // A completion admits at most the one waiter it makes room for.
          if (command._tag === "finish") {
            expect(events.filter((e) => e.kind === "admitted").length).toBeLessThanOrEqual(1)
          }
        }
      }),
    { fastCheck: { numRuns: 200 } }
  )
})
