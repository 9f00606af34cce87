import { Bulkhead, Criticality, InvalidOptionError, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

/** Lets forked fibers run until they block (a yield is meant, not time). */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

/** A call that counts itself running until `gate` opens; its release runs as a finalizer. */
const gated = (gate: Deferred.Deferred<void>, running: { now: number; max: number }) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      running.now++
      running.max = Math.max(running.max, running.now)
    }),
    () => Deferred.await(gate),
    () => Effect.sync(() => void running.now--)
  )

const refusal = <A, E>(exit: Exit.Exit<A, E>): Bulkhead.BulkheadFullError => {
  assert(Exit.isFailure(exit), "the call was refused")
  const error = Cause.failureOption(exit.cause)
  assert(Option.isSome(error) && error.value instanceof Bulkhead.BulkheadFullError, "with a BulkheadFullError")
  return error.value
}

const inFlightGauge = (name: string) =>
  Metric.value(Metrics.bulkheadInFlight.pipe(Metric.tagged("bulkhead", name))).pipe(Effect.map((s) => s.value))
const limitGauge = (name: string) =>
  Metric.value(Metrics.bulkheadLimit.pipe(Metric.tagged("bulkhead", name))).pipe(Effect.map((s) => s.value))
const rejectedCount = (name: string, criticality: Criticality.Tag) =>
  Metric.value(
    Metrics.bulkheadRejected.pipe(Metric.tagged("bulkhead", name), Metric.tagged("criticality", criticality))
  ).pipe(Effect.map((s) => s.count))
const waits = (name: string) =>
  Metric.value(Metrics.bulkheadWait.pipe(Metric.tagged("bulkhead", name))).pipe(Effect.map((s) => s.count))

/** Forks `n` calls that hold a permit until `gate` opens. */
const hold = (bulkhead: Bulkhead.Bulkhead, n: number, gate: Deferred.Deferred<void>) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.fork(bulkhead(Deferred.await(gate))))

describe("Bulkhead", () => {
  describe("limit", () => {
    it.scoped("at most `limit` calls run at once; the next is refused at once and never runs", () =>
      Effect.gen(function*() {
        const name = uniqueName("limit")
        const bulkhead = yield* Bulkhead.make({ name, limit: 3 })
        const gate = yield* Deferred.make<void>()
        const running = { now: 0, max: 0 }
        const holders = yield* Effect.forEach([1, 2, 3], () => Effect.fork(bulkhead(gated(gate, running))))
        yield* settle
        expect(running.now).toBe(3)
        expect(yield* bulkhead.inFlight).toBe(3)
        let ran = false
        const error = refusal(yield* Effect.exit(bulkhead(Effect.sync(() => ran = true))))
        expect(ran).toBe(false)
        expect(error.bulkhead).toBe(name)
        expect(error.limit).toBe(3)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(holders, Fiber.join, { discard: true })
        expect(running.max).toBe(3)
        expect(yield* bulkhead.inFlight).toBe(0)
      }))

    it.scoped("a permit comes back when the call succeeds, fails or dies", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("outcomes"), limit: 1 })
        expect(yield* bulkhead(Effect.succeed("ok"))).toBe("ok")
        expect(yield* Effect.flip(bulkhead(Effect.fail("boom" as const)))).toBe("boom")
        const died = yield* Effect.exit(bulkhead(Effect.die("bug")))
        assert(Exit.isFailure(died) && Cause.isDie(died.cause))
        expect(yield* bulkhead.inFlight).toBe(0)
        expect(yield* bulkhead(Effect.succeed("still admitted"))).toBe("still admitted")
        expect((yield* bulkhead.stats).completed).toBe(4)
      }))

    it.scoped("a call running its finalizers is still in flight", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("finalizers"), limit: 1 })
        const started = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const call = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
          Effect.ensuring(Deferred.await(finish))
        )
        const caller = yield* Effect.fork(bulkhead(call))
        yield* Deferred.await(started)
        // Interrupted: the call now runs its finalizer, which waits for `finish`.
        yield* Fiber.interruptFork(caller)
        yield* settle
        expect(yield* bulkhead.inFlight).toBe(1)
        refusal(yield* Effect.exit(bulkhead(Effect.void)))
        yield* Deferred.succeed(finish, undefined)
        yield* Fiber.await(caller)
        expect(yield* bulkhead.inFlight).toBe(0)
        expect(yield* bulkhead(Effect.succeed("admitted"))).toBe("admitted")
      }))

    it.scoped("a call that ends normally holds its permit through its finalizers too", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("finalizers"), limit: 1 })
        const finish = yield* Deferred.make<void>()
        const caller = yield* Effect.fork(bulkhead(Effect.ensuring(Effect.succeed(1), Deferred.await(finish))))
        yield* settle
        expect(yield* bulkhead.inFlight).toBe(1)
        refusal(yield* Effect.exit(bulkhead(Effect.void)))
        yield* Deferred.succeed(finish, undefined)
        expect(yield* Fiber.join(caller)).toBe(1)
        expect(yield* bulkhead.inFlight).toBe(0)
      }))

    it.scoped("BulkheadFullError is stackless, catchTag-able and says which bulkhead and limit", () =>
      Effect.gen(function*() {
        const name = uniqueName("error")
        const bulkhead = yield* Bulkhead.make({ name, limit: 1 })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const error = yield* Effect.flip(bulkhead(Effect.void))
        expect(error._tag).toBe("BulkheadFullError")
        expect(error.message).toContain(name)
        expect(error.message).toContain("limit 1")
        // No frames: only the first line of `stack`, the message.
        expect(error.stack?.split("\n").filter((line) => line.trim().startsWith("at ")).length ?? 0).toBe(0)
        const recovered = yield* bulkhead(Effect.succeed("fresh")).pipe(
          Effect.catchTag("BulkheadFullError", (e) => Effect.succeed(`fallback (${e.bulkhead})`))
        )
        expect(recovered).toBe(`fallback (${name})`)
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("inFlight, waiting and stats are read at once", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("stats"), limit: 2, maxQueue: 1, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 3, gate)
        yield* settle
        yield* Effect.exit(bulkhead(Effect.void))
        expect(yield* bulkhead.stats).toEqual({ limit: 2, inFlight: 2, waiting: 1, completed: 0, rejected: 1 })
        expect(bulkhead.unsafeStats()).toEqual(yield* bulkhead.stats)
        expect(yield* bulkhead.waiting).toBe(1)
        yield* Deferred.succeed(gate, undefined)
        yield* settle
        expect(yield* bulkhead.stats).toEqual({ limit: 2, inFlight: 0, waiting: 0, completed: 3, rejected: 1 })
      }))
  })

  describe("queue", () => {
    it.scoped("a call beyond the limit waits, and gets the first permit given back", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("queue"), limit: 1, maxQueue: 1, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        let ran = false
        const waiter = yield* Effect.fork(bulkhead(Effect.sync(() => ran = true)))
        yield* settle
        expect(ran).toBe(false)
        expect(yield* bulkhead.waiting).toBe(1)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(waiter)
        expect(ran).toBe(true)
        expect(yield* bulkhead.waiting).toBe(0)
      }))

    it.scoped("a queued call is refused after maxWait on the Clock; its wait is recorded", () =>
      Effect.gen(function*() {
        const name = uniqueName("maxWait")
        const bulkhead = yield* Bulkhead.make({ name, limit: 1, maxQueue: 1, maxWait: "1 second" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const waiter = yield* Effect.fork(Effect.exit(bulkhead(Effect.void)))
        yield* settle
        yield* TestClock.adjust("999 millis")
        expect(waiter.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        const error = refusal(yield* Fiber.join(waiter))
        expect(error.limit).toBe(1)
        expect(yield* bulkhead.waiting).toBe(0)
        expect(yield* rejectedCount(name, "Critical")).toBe(1)
        expect(yield* waits(name)).toBe(1)
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("waits expire in arrival order, each after its own maxWait", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("expiry"),
          limit: 1,
          maxQueue: 3,
          maxWait: "1 second"
        })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const first = yield* Effect.fork(Effect.exit(bulkhead(Effect.void)))
        yield* settle
        yield* TestClock.adjust("400 millis")
        const second = yield* Effect.fork(Effect.exit(bulkhead(Effect.void)))
        yield* settle
        yield* TestClock.adjust("600 millis")
        refusal(yield* Fiber.join(first))
        expect(second.unsafePoll()).toBeNull()
        yield* TestClock.adjust("400 millis")
        refusal(yield* Fiber.join(second))
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("maxWait: Duration.infinity waits as long as it takes", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("forever"),
          limit: 1,
          maxQueue: 1,
          maxWait: Duration.infinity
        })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const waiter = yield* Effect.fork(bulkhead(Effect.succeed("served")))
        yield* TestClock.adjust("1 day")
        expect(waiter.unsafePoll()).toBeNull()
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(waiter)).toBe("served")
      }))

    it.scoped("beyond maxQueue a call is refused at once", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("full"), limit: 1, maxQueue: 2, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 3, gate)
        yield* settle
        expect(yield* bulkhead.waiting).toBe(2)
        refusal(yield* Effect.exit(bulkhead(Effect.void)))
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("the queue serves CriticalPlus first, then in arrival order", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("order"),
          limit: 1,
          maxQueue: 10,
          maxWait: "1 minute"
        })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const served: Array<string> = []
        const arrivals: Array<[string, Criticality.Criticality]> = [
          ["critical-1", Criticality.Critical()],
          ["sheddable-1", Criticality.Sheddable()],
          ["critical-plus-1", Criticality.CriticalPlus()],
          ["sheddable-plus-1", Criticality.SheddablePlus()],
          ["critical-2", Criticality.Critical()],
          ["critical-plus-2", Criticality.CriticalPlus()]
        ]
        const waiters = []
        for (const [label, criticality] of arrivals) {
          waiters.push(
            yield* Effect.fork(bulkhead(Effect.sync(() => served.push(label))).pipe(Criticality.with(criticality)))
          )
          yield* settle
        }
        expect(yield* bulkhead.waiting).toBe(6)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(waiters, Fiber.join, { discard: true })
        expect(served).toEqual([
          "critical-plus-1",
          "critical-plus-2",
          "critical-1",
          "sheddable-1",
          "sheddable-plus-1",
          "critical-2"
        ])
      }))

    it.scoped("an interrupted waiter leaves the queue", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("leave"), limit: 1, maxQueue: 1, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        let ran = false
        const waiter = yield* Effect.fork(bulkhead(Effect.sync(() => ran = true)))
        yield* settle
        yield* Fiber.interrupt(waiter)
        expect(yield* bulkhead.waiting).toBe(0)
        const next = yield* Effect.fork(bulkhead(Effect.succeed("next")))
        yield* settle
        expect(yield* bulkhead.waiting).toBe(1)
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(next)).toBe("next")
        expect(ran).toBe(false)
        expect(yield* bulkhead.inFlight).toBe(0)
      }))
  })

  describe("criticality", () => {
    it.scoped("each class is admitted only while in flight is below its share of the limit", () =>
      Effect.gen(function*() {
        const name = uniqueName("shares")
        const bulkhead = yield* Bulkhead.make({ name, limit: 4 })
        const gate = yield* Deferred.make<void>()
        const as = (c: Criticality.Criticality) => Effect.exit(bulkhead(Effect.void)).pipe(Criticality.with(c))
        const holdAs = (c: Criticality.Criticality) =>
          Effect.zipLeft(Effect.fork(bulkhead(Deferred.await(gate)).pipe(Criticality.with(c))), settle)
        // Sheddable up to 50 % of 4: two in flight.
        yield* holdAs(Criticality.Sheddable())
        yield* holdAs(Criticality.Sheddable())
        refusal(yield* as(Criticality.Sheddable()))
        // SheddablePlus up to 75 %: a third.
        yield* holdAs(Criticality.SheddablePlus())
        refusal(yield* as(Criticality.SheddablePlus()))
        // Critical and CriticalPlus up to the limit.
        yield* holdAs(Criticality.Critical())
        refusal(yield* as(Criticality.CriticalPlus()))
        expect(yield* bulkhead.inFlight).toBe(4)
        expect(yield* rejectedCount(name, "Sheddable")).toBe(1)
        expect(yield* rejectedCount(name, "SheddablePlus")).toBe(1)
        expect(yield* rejectedCount(name, "Critical")).toBe(0)
        expect(yield* rejectedCount(name, "CriticalPlus")).toBe(1)
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("shares are configurable", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("custom-shares"),
          limit: 10,
          shares: { Sheddable: 0.1, SheddablePlus: 0.2, Critical: 0.9 }
        })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate).pipe(Criticality.with(Criticality.Sheddable()))
        yield* settle
        refusal(yield* Effect.exit(bulkhead(Effect.void).pipe(Criticality.with(Criticality.Sheddable()))))
        yield* hold(bulkhead, 8, gate)
        yield* settle
        expect(yield* bulkhead.inFlight).toBe(9)
        refusal(yield* Effect.exit(bulkhead(Effect.void)))
        expect(yield* bulkhead(Effect.succeed("last permit")).pipe(Criticality.with(Criticality.CriticalPlus()))).toBe(
          "last permit"
        )
        yield* Deferred.succeed(gate, undefined)
      }))

    it.scoped("a queued call waits until in flight is below its class's share, while more critical calls pass", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("queued-share"),
          limit: 2,
          maxQueue: 5,
          maxWait: "1 minute"
        })
        const first = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        yield* Effect.fork(bulkhead(Deferred.await(first)))
        yield* Effect.fork(bulkhead(Deferred.await(second)))
        yield* settle
        let shed = false
        const sheddable = yield* Effect.fork(
          bulkhead(Effect.sync(() => shed = true)).pipe(Criticality.with(Criticality.Sheddable()))
        )
        yield* settle
        // One permit back: one in flight, not below 50 % of 2.
        yield* Deferred.succeed(first, undefined)
        yield* settle
        expect(shed).toBe(false)
        expect(yield* bulkhead.waiting).toBe(1)
        // A Critical call takes the free permit past the waiting Sheddable one.
        expect(yield* bulkhead(Effect.succeed("critical"))).toBe("critical")
        yield* Deferred.succeed(second, undefined)
        yield* Fiber.join(sheddable)
        expect(shed).toBe(true)
      }))

    it.scoped("a full queue makes room for a more critical call by refusing the newest less critical one", () =>
      Effect.gen(function*() {
        const name = uniqueName("displace")
        const bulkhead = yield* Bulkhead.make({ name, limit: 1, maxQueue: 2, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const call = (label: string, c: Criticality.Criticality) =>
          Effect.zipLeft(Effect.fork(Effect.exit(bulkhead(Effect.succeed(label))).pipe(Criticality.with(c))), settle)
        const older = yield* call("sheddable-1", Criticality.Sheddable())
        const newer = yield* call("sheddable-2", Criticality.Sheddable())
        const critical = yield* call("critical", Criticality.Critical())
        refusal(yield* Fiber.join(newer))
        expect(older.unsafePoll()).toBeNull()
        const criticalPlus = yield* call("critical-plus", Criticality.CriticalPlus())
        refusal(yield* Fiber.join(older))
        // Nothing less critical left to make room: refused at once.
        refusal(yield* Effect.exit(bulkhead(Effect.void).pipe(Criticality.with(Criticality.Sheddable()))))
        expect(yield* rejectedCount(name, "Sheddable")).toBe(3)
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(criticalPlus)).toEqual(Exit.succeed("critical-plus"))
        expect(yield* Fiber.join(critical)).toEqual(Exit.succeed("critical"))
      }))
  })

  describe("the limit as a SubscriptionRef", () => {
    it.scoped("writing it resizes the bulkhead; a higher limit grants waiters at once", () =>
      Effect.gen(function*() {
        const name = uniqueName("resize")
        const bulkhead = yield* Bulkhead.make({ name, limit: 1, maxQueue: 2, maxWait: "1 minute" })
        expect(yield* SubscriptionRef.get(bulkhead.limit)).toBe(1)
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 3, gate)
        yield* settle
        expect(yield* bulkhead.waiting).toBe(2)
        yield* SubscriptionRef.set(bulkhead.limit, 3)
        yield* settle
        expect(yield* bulkhead.waiting).toBe(0)
        expect(yield* bulkhead.inFlight).toBe(3)
        expect(yield* limitGauge(name)).toBe(3)
        // A lower limit admits nothing new until in flight is below it.
        yield* SubscriptionRef.set(bulkhead.limit, 1)
        yield* settle
        const late = yield* Effect.fork(bulkhead(Effect.succeed("late")))
        yield* settle
        expect(yield* bulkhead.waiting).toBe(1)
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(late)).toBe("late")
        expect(yield* limitGauge(name)).toBe(1)
      }))

    it.scoped("a write that is not a positive integer is logged and undone", () =>
      Effect.gen(function*() {
        const messages: Array<string> = []
        const logger = Logger.make(({ message }) => {
          messages.push(String(message))
        })
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("bad-write"), limit: 4 }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        yield* SubscriptionRef.set(bulkhead.limit, 0)
        yield* settle
        expect(yield* SubscriptionRef.get(bulkhead.limit)).toBe(4)
        expect((yield* bulkhead.stats).limit).toBe(4)
        expect(messages.some((m) => m.includes("ignored limit 0"))).toBe(true)
      }))
  })

  describe("retryAfter", () => {
    it.scoped("is the time recent calls took to free a slot for one more caller", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("retry-after"),
          limit: 1,
          maxQueue: 1,
          maxWait: "1 minute"
        })
        // Ten calls of 100 ms, one after the other: one slot frees every 100 ms.
        const calls = yield* Effect.fork(Effect.repeatN(bulkhead(Effect.sleep("100 millis")), 9))
        for (let i = 0; i < 10; i++) yield* TestClock.adjust("100 millis")
        yield* Fiber.join(calls)
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        const alone = yield* Effect.fork(Effect.exit(bulkhead(Effect.void)))
        yield* settle
        // One caller ahead in the queue: two slots to wait for.
        expect(Duration.toMillis(refusal(yield* Effect.exit(bulkhead(Effect.void))).retryAfter)).toBe(200)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(alone)
      }))

    it.scoped("is 1 second when no call has ended yet", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("retry-after"), limit: 1 })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 1, gate)
        yield* settle
        expect(Duration.toMillis(refusal(yield* Effect.exit(bulkhead(Effect.void))).retryAfter)).toBe(1000)
        yield* Deferred.succeed(gate, undefined)
      }))
  })

  describe("metrics", () => {
    it.scoped("every series exists from creation: in flight 0, the limit, refusals per class at 0", () =>
      Effect.gen(function*() {
        const name = uniqueName("metrics")
        yield* Bulkhead.make({ name, limit: 7 })
        const snapshot = yield* Metric.snapshot
        const series = snapshot.filter((pair) =>
          pair.metricKey.tags.some((t) => t.key === "bulkhead" && t.value === name)
        )
        expect([...new Set(series.map((pair) => pair.metricKey.name))].sort()).toEqual([
          "bulkhead_inflight",
          "bulkhead_limit",
          "bulkhead_rejected_total",
          "bulkhead_wait_seconds"
        ])
        expect(yield* inFlightGauge(name)).toBe(0)
        expect(yield* limitGauge(name)).toBe(7)
        for (const c of Criticality.all) expect(yield* rejectedCount(name, c._tag)).toBe(0)
        expect(yield* waits(name)).toBe(0)
      }))

    it.scoped("the in-flight gauge follows the calls; a call admitted at once records no wait", () =>
      Effect.gen(function*() {
        const name = uniqueName("gauges")
        const bulkhead = yield* Bulkhead.make({ name, limit: 5, maxQueue: 1, maxWait: "1 minute" })
        const gate = yield* Deferred.make<void>()
        yield* hold(bulkhead, 3, gate)
        yield* settle
        expect(yield* inFlightGauge(name)).toBe(3)
        expect(yield* bulkhead(inFlightGauge(name))).toBe(4)
        expect(yield* waits(name)).toBe(0)
        yield* Deferred.succeed(gate, undefined)
        yield* settle
        expect(yield* inFlightGauge(name)).toBe(0)
      }))
  })

  describe("scope", () => {
    it.effect("closing the scope leaves no fiber running", () =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        const scope = yield* Scope.make()
        const bulkhead = yield* Bulkhead.make({
          name: uniqueName("scope"),
          limit: Bulkhead.adaptive({ algorithm: "vegas", min: 1, max: 10, initial: 1 }),
          maxQueue: 1,
          maxWait: "1 minute"
        }).pipe(Scope.extend(scope), Effect.supervised(supervisor))
        const gate = yield* Deferred.make<void>()
        // A waiting call starts the queue timer.
        const fibers = yield* hold(bulkhead, 2, gate).pipe(Effect.supervised(supervisor))
        yield* settle
        expect(yield* bulkhead.waiting).toBe(1)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(fibers, Fiber.join, { discard: true })
        expect((yield* supervisor.value).length).toBeGreaterThan(0)
        yield* Scope.close(scope, Exit.void)
        expect((yield* supervisor.value).length).toBe(0)
      }))
  })

  describe("bad input", () => {
    const dies = (options: Bulkhead.Options, option: string) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(Bulkhead.make(options)))
        assert(Exit.isFailure(exit), `${option} is refused`)
        const defect = Cause.dieOption(exit.cause)
        assert(defect._tag === "Some")
        assert(defect.value instanceof InvalidOptionError)
        expect(defect.value.module).toBe("Bulkhead.make")
        expect(defect.value.option).toBe(option)
        expect(defect.value.message).toContain(option)
      })
    const adaptive = (options: Partial<Parameters<typeof Bulkhead.adaptive>[0]>) =>
      Bulkhead.adaptive({ algorithm: "aimd", min: 1, max: 10, initial: 5, ...options })

    it.effect("names the invalid option", () =>
      Effect.gen(function*() {
        yield* dies({ name: "", limit: 1 }, "name")
        yield* dies({ name: "x", limit: 0 }, "limit")
        yield* dies({ name: "x", limit: 1.5 }, "limit")
        yield* dies({ name: "x", limit: "10" as never }, "limit")
        yield* dies({ name: "x", limit: 1, maxQueue: -1 }, "maxQueue")
        yield* dies({ name: "x", limit: 1, maxQueue: 0.5 }, "maxQueue")
        // Without a queue nothing waits: a maxWait would be a mistake.
        yield* dies({ name: "x", limit: 1, maxWait: "1 second" }, "maxWait")
        // With a queue a call must be able to wait.
        yield* dies({ name: "x", limit: 1, maxQueue: 5 }, "maxWait")
        yield* dies({ name: "x", limit: 1, maxQueue: 5, maxWait: "soon" as never }, "maxWait")
        yield* dies({ name: "x", limit: 1, maxQueue: 5, maxWait: -1 }, "maxWait")
        yield* dies({ name: "x", limit: 1, shares: { Sheddable: 0 } }, "shares.Sheddable")
        yield* dies({ name: "x", limit: 1, shares: { Critical: 1.5 } }, "shares.Critical")
        yield* dies({ name: "x", limit: 1, shares: { Sheddable: 0.8, SheddablePlus: 0.6 } }, "shares.SheddablePlus")
        yield* dies({ name: "x", limit: 1, shares: { Urgent: 1 } as never }, "shares.Urgent")
        yield* dies({ name: "x", limit: adaptive({ algorithm: "tcp" as never }) }, "limit.algorithm")
        yield* dies({ name: "x", limit: adaptive({ min: 0 }) }, "limit.min")
        yield* dies({ name: "x", limit: adaptive({ min: 5, max: 4, initial: 4 }) }, "limit.max")
        yield* dies({ name: "x", limit: adaptive({ initial: 11 }) }, "limit.initial")
        yield* dies({ name: "x", limit: adaptive({ window: 0 }) }, "limit.window")
        yield* dies({ name: "x", limit: adaptive({ window: Number.NaN }) }, "limit.window")
      }))
  })

  describe("exports", () => {
    it.scoped("one TypeId: the one every bulkhead carries", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ name: uniqueName("exports"), limit: 1 })
        expect(bulkhead[Bulkhead.TypeId]).toBe(Bulkhead.TypeId)
        expect(Bulkhead.isBulkhead(bulkhead)).toBe(true)
        expect(Bulkhead.isBulkhead(() => undefined)).toBe(false)
        expect(bulkhead.name).toMatch(/^exports-/)
      }))
  })
})
