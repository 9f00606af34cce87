import { CircuitBreaker, InvalidOptionError, Metrics } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { calls, stateGauge, uniqueName } from "./utils.js"

const down = Effect.fail("503")
const ok = Effect.succeed("ok")

const keys = (breaker: string, state: string) =>
  Metric.value(Metrics.breakerKeys.pipe(Metric.tagged("breaker", breaker), Metric.tagged("state", state))).pipe(
    Effect.map((s) => s.value)
  )

const opts = (name: string, extra: Partial<CircuitBreaker.KeyedOptions> = {}): CircuitBreaker.KeyedOptions => ({
  name,
  trip: CircuitBreaker.consecutiveFailures(2),
  reset: Schedule.spaced("30 seconds"),
  ...extra
})

const open = (breaker: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    yield* Effect.ignore(breaker(down))
    yield* Effect.ignore(breaker(down))
  })

describe("CircuitBreaker.keyed", () => {
  it.scoped("10,000 keys: a failing key never rejects another key's call", () =>
    Effect.gen(function*() {
      const name = uniqueName("keyed")
      const byKey = yield* CircuitBreaker.keyed<string>(opts(name, { capacity: 20_000 }))
      // Every tenth key fails until it opens; the others answer.
      for (let i = 0; i < 10_000; i++) {
        const key = `tenant-${i}`
        if (i % 10 === 0) yield* open(byKey(key))
        else expect(yield* byKey(key)(ok)).toBe("ok")
      }
      for (let i = 0; i < 10_000; i++) {
        const state = byKey(`tenant-${i}`).unsafeState()._tag
        expect(state).toBe(i % 10 === 0 ? "Open" : "Closed")
      }
      // An open key rejects its own calls, and only those.
      expect((yield* Effect.flip(byKey("tenant-0")(ok)))._tag).toBe("CircuitOpenError")
      expect(yield* byKey("tenant-1")(ok)).toBe("ok")
      expect(yield* byKey.size).toBe(10_000)
      expect(yield* keys(name, "open")).toBe(1000)
      expect(yield* keys(name, "closed")).toBe(9000)
      // Aggregate metrics: one set of series under the breaker's name; its state is the worst key's.
      expect(yield* calls(name, "failure")).toBe(2000)
      expect(yield* calls(name, "rejected")).toBe(1)
      expect(yield* stateGauge(name)).toBe(1)
    }))

  it.scoped("under capacity pressure the least recently used closed key goes; size never exceeds capacity", () =>
    Effect.gen(function*() {
      const name = uniqueName("keyed")
      const byKey = yield* CircuitBreaker.keyed<string>(opts(name, { capacity: 3, idleTimeToLive: "1 minute" }))
      for (const key of ["a", "b", "c"]) {
        yield* byKey(key)(ok)
        yield* TestClock.adjust("5 seconds") // recency is kept to within a few seconds
      }
      yield* byKey("a")(ok) // a is the most recent now: b is the least
      yield* TestClock.adjust("5 seconds")
      yield* byKey("d")(ok)
      expect([...(yield* byKey.states).keys()].sort()).toEqual(["a", "c", "d"])
      expect(byKey.unsafeSize()).toBe(3)
      yield* TestClock.adjust("5 seconds")
      yield* byKey("e")(ok)
      expect([...(yield* byKey.states).keys()].sort()).toEqual(["a", "d", "e"])
      expect(yield* keys(name, "closed")).toBe(3)
    }))

  it.scoped("a key idle for idleTimeToLive is gone within twice that; a key in use stays", () =>
    Effect.gen(function*() {
      const byKey = yield* CircuitBreaker.keyed<string>(opts(uniqueName("keyed"), { idleTimeToLive: "1 minute" }))
      yield* byKey("idle")(ok)
      yield* byKey("busy")(ok)
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("30 seconds")
        yield* byKey("busy")(ok)
      }
      expect([...(yield* byKey.states).keys()]).toEqual(["busy"])
      // Not before the time to live.
      yield* byKey("late")(ok)
      yield* TestClock.adjust("50 seconds")
      expect((yield* byKey.states).has("late")).toBe(true)
    }))

  it.scoped("open keys survive churn past capacity: new keys share one overflow breaker until a slot frees", () =>
    Effect.gen(function*() {
      const name = uniqueName("keyed")
      const byKey = yield* CircuitBreaker.keyed<string>(opts(name, { capacity: 3 }))
      for (const key of ["a", "b", "c"]) yield* open(byKey(key))
      // 50 new keys churn through: the open ones are never forgotten, memory stays at 3.
      for (let i = 0; i < 50; i++) expect(yield* byKey(`new-${i}`)(ok)).toBe("ok")
      expect(yield* byKey.size).toBe(3)
      for (const key of ["a", "b", "c"]) expect(byKey(key).unsafeState()._tag).toBe("Open")
      expect((yield* Effect.flip(byKey("a")(ok)))._tag).toBe("CircuitOpenError")
      // The overflow breaker protects what it serves: failures open it for all overflow keys alike.
      yield* open(byKey("new-x"))
      expect((yield* Effect.flip(byKey("new-y")(ok)))._tag).toBe("CircuitOpenError")
      // Once the reset delay has passed (half-open) a slot may be taken again.
      yield* TestClock.adjust("30 seconds")
      expect(byKey("a").unsafeState()._tag).toBe("HalfOpen")
      yield* byKey("fresh")(ok)
      expect((yield* byKey.states).get("fresh")?._tag).toBe("Closed")
      expect(yield* byKey.size).toBe(3)
    }))

  it.scoped("nothing is left running after eviction and after the scope closes", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.track
      const scope = yield* Scope.make()
      const byKey = yield* CircuitBreaker.keyed<string>(
        opts(uniqueName("keyed"), { capacity: 2, idleTimeToLive: "1 minute", callTimeout: "1 second" })
      ).pipe(Scope.extend(scope), Effect.supervised(supervisor))
      const live = () => Effect.map(supervisor.value, (fibers) => fibers.filter((f) => f.unsafePoll() === null).length)
      const baseline = yield* live()
      yield* open(byKey("a")).pipe(Effect.supervised(supervisor))
      yield* TestClock.adjust("30 seconds") // its timer fired: half-open, no timer left
      for (let i = 0; i < 20; i++) {
        // Timed calls that suspend: the shared watchdog runs while they are in flight.
        const call = yield* Effect.fork(byKey(`k${i}`)(Effect.sleep("10 millis"))).pipe(Effect.supervised(supervisor))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.join(call)
      }
      yield* TestClock.adjust("3 minutes") // every key idle: evicted
      expect(yield* byKey.size).toBe(0)
      // The sweeper and the shared call-timeout watchdog at most: no fiber per key.
      expect(yield* live()).toBeLessThanOrEqual(baseline + 1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* live()).toBe(0)
    }))

  it.scoped("per key: states, reset, onChange/changes for the whole set, forceOpenAll/disableAll/resetAll", () =>
    Effect.gen(function*() {
      const name = uniqueName("keyed")
      const byKey = yield* CircuitBreaker.keyed<string>(opts(name))
      const seen: Array<string> = []
      yield* byKey.onChange((change) => {
        seen.push(`${change.key}:${change.from._tag}→${change.to._tag}`)
      })
      yield* open(byKey("a"))
      yield* byKey("b")(ok)
      expect(seen).toEqual(["a:Closed→Open"])
      yield* byKey.reset("a")
      expect(byKey("a").unsafeState()._tag).toBe("Closed")
      yield* byKey.forceOpenAll
      expect([...(yield* byKey.states).values()].map((s) => s._tag)).toEqual(["ForcedOpen", "ForcedOpen"])
      // A key made while forced starts forced.
      expect(byKey("c").unsafeState()._tag).toBe("ForcedOpen")
      yield* byKey.disableAll
      expect(yield* byKey("c")(down).pipe(Effect.flip)).toBe("503")
      expect(byKey("c").unsafeState()._tag).toBe("Disabled")
      yield* byKey.resetAll
      expect([...(yield* byKey.states).values()].every((s) => s._tag === "Closed")).toBe(true)
      // One key forced on its own rejects only its calls.
      yield* byKey("a").forceOpen
      expect((yield* Effect.flip(byKey("a")(ok)))._tag).toBe("CircuitOpenError")
      expect(yield* byKey("b")(ok)).toBe("ok")
      expect(yield* keys(name, "forced_open")).toBe(1)
    }))

  it.scoped("per-key metrics: each key has its series with a key label", () =>
    Effect.gen(function*() {
      const name = uniqueName("keyed")
      const byKey = yield* CircuitBreaker.keyed<string>(opts(name, { metrics: "per-key" }))
      yield* byKey("gpt-large")(ok)
      yield* open(byKey("gpt-small"))
      const perKey = (key: string, outcome: string) =>
        Metric.value(Metrics.breakerCalls.pipe(
          Metric.tagged("breaker", name),
          Metric.tagged("key", key),
          Metric.tagged("outcome", outcome)
        )).pipe(Effect.map((s) => s.count))
      expect(yield* perKey("gpt-large", "success")).toBe(1)
      expect(yield* perKey("gpt-small", "failure")).toBe(2)
      const state = Metric.value(
        Metrics.breakerState.pipe(Metric.tagged("breaker", name), Metric.tagged("key", "gpt-small"))
      )
      expect((yield* state).value).toBe(1)
      expect(yield* keys(name, "open")).toBe(1)
    }))

  it.effect("bad options are an InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (
        const [bad, option] of [
          [{ capacity: 0 }, "capacity"],
          [{ idleTimeToLive: "-1 seconds" }, "idleTimeToLive"],
          [{ metrics: "all" }, "metrics"],
          [{ trip: { _tag: "Nope" } }, "trip"]
        ] as const
      ) {
        const exit = yield* Effect.exit(Effect.scoped(CircuitBreaker.keyed({ name: "k", ...(bad as any) })))
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(defect).toBeInstanceOf(InvalidOptionError)
        expect((defect as InvalidOptionError).option).toContain(option)
        expect((defect as InvalidOptionError).module).toBe("CircuitBreaker.keyed")
      }
    }))
})
