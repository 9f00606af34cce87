import { Fallback, InvalidOptionError, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

/** The `write_behind_*` series of the queue `name`. */
const queueMetrics = (name: string) =>
  Effect.all({
    depth: Effect.map(Metric.value(Metrics.writeBehindQueueDepth.pipe(Metric.tagged("dependency", name))), (s) =>
      s.value),
    enqueued: Effect.map(Metric.value(Metrics.writeBehindEnqueued.pipe(Metric.tagged("dependency", name))), (s) =>
      s.count),
    replayed: Effect.map(Metric.value(Metrics.writeBehindReplayed.pipe(Metric.tagged("dependency", name))), (s) =>
      s.count),
    rejected: Effect.map(Metric.value(Metrics.writeBehindRejected.pipe(Metric.tagged("dependency", name))), (s) =>
      s.count),
    deadLettered: Effect.map(
      Metric.value(Metrics.writeBehindDeadLettered.pipe(Metric.tagged("dependency", name))),
      (s) =>
        s.count
    )
  })

/** The names of the series in the registry that carry `dependency=name`. */
const seriesOf = (name: string) =>
  Effect.map(
    Metric.snapshot,
    (pairs) =>
      pairs.filter((pair) => pair.metricKey.tags.some((tag) => tag.key === "dependency" && tag.value === name))
        .map((pair) => pair.metricKey.name).sort()
  )

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly cause: string
}

/** Runs `effect` with a logger that keeps every line. */
const capturingLogs = <A, E, R>(effect: (lines: ReadonlyArray<Line>) => Effect.Effect<A, E, R>) => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ annotations, cause, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({
      level: logLevel.label,
      message: text,
      annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
    })
  })
  return effect(lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

class Poison extends Data.TaggedError("Poison")<{ readonly code: number }> {}

describe("Fallback", () => {
  it.effect("constructors answer from the error and the arguments", () =>
    Effect.gen(function*() {
      expect(yield* Fallback.succeed(42)("boom")).toBe(42)
      expect(yield* Fallback.sync((error: unknown, a: number, b: number) => `${error}:${a + b}`)("e", 1, 2)).toBe("e:3")
      expect(yield* Fallback.make((_error: unknown, n: number) => Effect.succeed(n * 2))("e", 21)).toBe(42)
      const error = yield* Effect.flip(
        Fallback.unavailable({ dependency: "db", message: "read-only", action: "later" })("x")
      )
      assert(error instanceof Fallback.UnavailableError)
      expect([error.dependency, error.message, error.action, error.cause]).toEqual(["db", "read-only", "later", "x"])
    }))

  it.effect("measured counts the fallback and records its duration on the Clock", () =>
    Effect.gen(function*() {
      const name = uniqueName("measured")
      const slow = Effect.as(Effect.sleep("250 millis"), "ok")
      // data-first and piped
      const fiber = yield* Effect.fork(Effect.zip(Fallback.measured(slow, name), slow.pipe(Fallback.measured(name))))
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.join(fiber)).toEqual(["ok", "ok"])
      const calls = yield* Metric.value(Metrics.breakerFallbackCalls.pipe(Metric.tagged("breaker", name)))
      expect(calls.count).toBe(2)
      const duration = yield* Metric.value(Metrics.fallbackDuration.pipe(Metric.tagged("breaker", name)))
      expect(duration.count).toBe(2)
      expect(duration.sum).toBeCloseTo(0.5)
    }))

  describe("memoryQueue", () => {
    it.effect("replays in order and keeps every entry a failed replay did not deliver", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<number>({ name: uniqueName("wb") })
        for (const n of [1, 2, 3, 4]) yield* queue.offer(n)
        const delivered = yield* Ref.make<Array<number>>([])
        const deliver = (n: number) => n === 3 ? Effect.fail("still down") : Ref.update(delivered, (xs) => [...xs, n])
        expect(yield* Effect.flip(queue.replay(deliver))).toBe("still down")
        expect(yield* Ref.get(delivered)).toEqual([1, 2])
        expect(yield* queue.size).toBe(2)
        expect(yield* queue.replay((n) => Ref.update(delivered, (xs) => [...xs, n]))).toBe(2)
        expect(yield* Ref.get(delivered)).toEqual([1, 2, 3, 4])
        expect(yield* queue.size).toBe(0)
      }))

    it.effect("an undefined entry is an entry: it and everything behind it are replayed", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string | undefined>({ name: uniqueName("wb") })
        yield* queue.offer(undefined)
        yield* queue.offer("b")
        const seen: Array<string | undefined> = []
        expect(yield* queue.replay((entry) => Effect.sync(() => seen.push(entry)))).toBe(2)
        expect(seen).toEqual([undefined, "b"])
        expect(yield* queue.size).toBe(0)
      }))

    it.effect("a full queue refuses with a typed error instead of dropping", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<number>({ name: uniqueName("wb"), capacity: 2 })
        yield* queue.offer(1)
        yield* queue.offer(2)
        const error = yield* Effect.flip(queue.offer(3))
        assert(error instanceof Fallback.WriteBehindError)
        expect(error.message).toContain("capacity 2")
        expect(yield* queue.size).toBe(2)
      }))

    it.effect("a poison entry is dead-lettered after maxAttempts and the entries behind it proceed", () =>
      capturingLogs((lines) =>
        Effect.gen(function*() {
          const name = uniqueName("wb")
          const queue = yield* Fallback.memoryQueue<number>({ name, maxAttempts: 3 })
          for (const n of [1, 2, 3]) yield* queue.offer(n)
          const delivered: Array<number> = []
          const deliveries: Array<Fallback.WriteBehindQueue.Delivery> = []
          const deliver = (n: number, delivery: Fallback.WriteBehindQueue.Delivery) =>
            Effect.suspend(() => {
              if (n !== 2) return Effect.sync(() => delivered.push(n))
              deliveries.push(delivery)
              return Effect.fail(new Poison({ code: 7 }))
            })
          // attempts 1 and 2 stop the replay, keeping 2 and 3 in order
          expect(yield* Effect.flip(queue.replay(deliver))).toBeInstanceOf(Poison)
          expect(yield* Effect.flip(queue.replay(deliver))).toBeInstanceOf(Poison)
          expect(delivered).toEqual([1])
          expect(yield* queue.size).toBe(2)
          expect(yield* queue.deadLetters).toEqual([])
          // the third failure dead-letters it, and 3 is delivered in the same replay
          expect(yield* queue.replay(deliver)).toBe(1)
          expect(delivered).toEqual([1, 3])
          expect(yield* queue.size).toBe(0)
          // the same id on every delivery, attempts counting this one
          expect(deliveries.map((d) => d.attempts)).toEqual([1, 2, 3])
          expect(new Set(deliveries.map((d) => d.id)).size).toBe(1)
          const [letter, ...rest] = yield* queue.deadLetters
          expect(rest).toEqual([])
          expect(letter).toMatchObject({ id: deliveries[0]!.id, entry: 2, attempts: 3 })
          // described by tag and fields (the error has no message), never "[object Object]"
          expect(letter!.error).toMatch(/Poison.*code.*7/)
          // logged at error level with its id and cause
          const logged = lines.filter((line) => line.level === "ERROR")
          expect(logged).toHaveLength(1)
          expect(logged[0]!.message).toContain(letter!.id)
          expect(logged[0]!.annotations).toMatchObject({ dependency: name, id: letter!.id, attempts: 3 })
          expect(logged[0]!.cause).toContain("Poison")
        })
      ))

    it.effect("maxAttempts defaults to 10; a defect counts as a failed delivery", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb") })
        yield* queue.offer("bug")
        const die = () => Effect.die(new Error("handler bug"))
        for (let i = 1; i < 10; i++) {
          const exit = yield* Effect.exit(queue.replay(die))
          assert(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        }
        expect(yield* queue.size).toBe(1)
        expect(yield* queue.replay(die)).toBe(0)
        expect(yield* queue.size).toBe(0)
        expect((yield* queue.deadLetters).map((l) => [l.entry, l.attempts, l.error])).toEqual([
          ["bug", 10, "defect: handler bug"]
        ])
      }))

    it.effect("an interrupted delivery is not an attempt", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb"), maxAttempts: 1 })
        yield* queue.offer("a")
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          queue.replay(() => Effect.zipRight(Deferred.succeed(started, void 0), Effect.never))
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* queue.deadLetters).toEqual([])
        const seen: Array<number> = []
        expect(yield* queue.replay((_entry, delivery) => Effect.sync(() => seen.push(delivery.attempts)))).toBe(1)
        expect(seen).toEqual([1])
      }))

    it.effect("redrive moves a dead letter back to the tail with attempts reset; an unknown id is refused", () =>
      Effect.gen(function*() {
        const name = uniqueName("wb")
        const queue = yield* Fallback.memoryQueue<string>({ name, maxAttempts: 1 })
        yield* queue.offer("poison")
        yield* queue.offer("b")
        const delivered: Array<string> = []
        const healthy = (entry: string) => Effect.sync(() => delivered.push(entry))
        expect(yield* queue.replay((entry) => entry === "poison" ? Effect.fail("nope") : healthy(entry))).toBe(1)
        const [letter] = yield* queue.deadLetters
        expect(letter?.error).toBe("nope")
        yield* queue.offer("c")
        yield* queue.redrive(letter!.id)
        expect(yield* queue.deadLetters).toEqual([])
        expect(yield* queue.size).toBe(2)
        const seen: Array<[string, Fallback.WriteBehindQueue.Delivery]> = []
        expect(yield* queue.replay((entry, delivery) => Effect.sync(() => seen.push([entry, delivery])))).toBe(2)
        // at the tail, same id, first attempt again
        expect(seen).toEqual([["c", { id: seen[0]![1].id, attempts: 1 }], ["poison", { id: letter!.id, attempts: 1 }]])
        const error = yield* Effect.flip(queue.redrive(letter!.id))
        assert(error instanceof Fallback.WriteBehindError)
        expect(error.message).toContain(letter!.id)
        expect((yield* queueMetrics(name)).depth).toBe(0)
      }))

    it.effect("write_behind_* series exist from creation and count what happens; nothing is dropped silently", () =>
      Effect.gen(function*() {
        const name = uniqueName("wb")
        const queue = yield* Fallback.memoryQueue<number>({ name, capacity: 3, maxAttempts: 1 })
        expect(yield* seriesOf(name)).toEqual([
          "write_behind_dead_lettered_total",
          "write_behind_enqueued_total",
          "write_behind_queue_depth",
          "write_behind_rejected_total",
          "write_behind_replayed_total"
        ])
        expect(yield* queueMetrics(name)).toEqual({ depth: 0, enqueued: 0, replayed: 0, rejected: 0, deadLettered: 0 })
        for (const n of [1, 2, 3]) yield* queue.offer(n)
        expect(yield* Effect.flip(queue.offer(4))).toBeInstanceOf(Fallback.WriteBehindError)
        expect(yield* queueMetrics(name)).toEqual({ depth: 3, enqueued: 3, replayed: 0, rejected: 1, deadLettered: 0 })
        yield* queue.replay((n) => n === 2 ? Effect.fail("poison") : Effect.void)
        expect(yield* queueMetrics(name)).toEqual({ depth: 0, enqueued: 3, replayed: 2, rejected: 1, deadLettered: 1 })
        // every accepted entry is delivered or kept as a dead letter
        const m = yield* queueMetrics(name)
        expect(m.replayed + m.deadLettered + m.depth).toBe(m.enqueued)
        expect((yield* queue.deadLetters).map((l) => l.entry)).toEqual([2])
      }))

    it.effect("undefined entries are entries: dead-lettered, listed and redriven like any other", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<undefined | string>({ name: uniqueName("wb"), maxAttempts: 1 })
        yield* queue.offer(undefined)
        yield* queue.offer("b")
        const seen: Array<string | undefined> = []
        expect(
          yield* queue.replay((entry) => entry === undefined ? Effect.fail("bad") : Effect.sync(() => seen.push(entry)))
        )
          .toBe(1)
        const letters = yield* queue.deadLetters
        expect(letters.map((l) => [l.entry, l.attempts])).toEqual([[undefined, 1]])
        yield* queue.redrive(letters[0]!.id)
        expect(yield* queue.replay((entry) => Effect.sync(() => seen.push(entry)))).toBe(1)
        expect(seen).toEqual(["b", undefined])
      }))

    it.effect("bad options are rejected, naming the option", () =>
      Effect.gen(function*() {
        const bad: ReadonlyArray<[unknown, string]> = [
          [{ name: "q", maxAttempts: 0 }, "maxAttempts"],
          [{ name: "q", maxAttempts: -1 }, "maxAttempts"],
          [{ name: "q", maxAttempts: 1.5 }, "maxAttempts"],
          [{ name: "q", maxAttempts: "3" }, "maxAttempts"],
          [{ name: "q", capacity: 0 }, "capacity"],
          [{ name: "q", capacity: Number.NaN }, "capacity"],
          [{ name: "" }, "name"],
          [{}, "name"],
          [undefined, "options"]
        ]
        for (const [options, option] of bad) {
          const exit = yield* Effect.exit(Fallback.memoryQueue(options as any))
          assert(Exit.isFailure(exit))
          const defect = Cause.squash(exit.cause)
          assert(defect instanceof InvalidOptionError, String(defect))
          expect([defect.module, defect.option]).toEqual(["Fallback.memoryQueue", option])
        }
      }))

    it.effect("writeBehind queues the entry and answers the given value", () =>
      Effect.gen(function*() {
        const queue = yield* Fallback.memoryQueue<string>({ name: uniqueName("wb") })
        const fallback = Fallback.writeBehind(queue, (key: string, body: string) => `${key}=${body}`, "accepted")
        expect(yield* fallback("s3 down", "k", "v")).toBe("accepted")
        const seen: Array<string> = []
        yield* queue.replay((entry) => Effect.sync(() => seen.push(entry)))
        expect(seen).toEqual(["k=v"])
      }))
  })
})
