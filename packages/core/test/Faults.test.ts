import { CircuitBreaker, Degradation, Dependency, Faults, InvalidOptionError, Presets } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

let counter = 0
/** Effect's metric registry is global: every test names its dependency uniquely. */
const uniqueName = (prefix: string) => `${prefix}-${++counter}-${process.pid}`

interface CacheService {
  readonly ping: Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly get: (key: string) => Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly set: (key: string, value: string) => Effect.Effect<void, CircuitBreaker.Unavailable>
  readonly scan: Stream.Stream<string, CircuitBreaker.Unavailable>
  readonly region: Option.Option<string>
}

class Cache extends Context.Tag("test/Faults/Cache")<Cache, CacheService>() {}

class RawCache implements CacheService {
  readonly calls: Array<string> = []
  readonly region = Option.some("eu")
  readonly ping = Effect.sync(() => {
    this.calls.push("ping")
    return "pong"
  })
  get(key: string) {
    return Effect.sync(() => {
      this.calls.push(`get ${key}`)
      return `value of ${key}`
    })
  }
  set(key: string, _value: string) {
    return Effect.sync(() => {
      this.calls.push(`set ${key}`)
    })
  }
  get scan() {
    return Stream.make("a", "b")
  }
}

/** The raw service, `Faults`-wrapped, with the raw instance to check what really ran. */
const faulty = (name?: string) => {
  const raw = new RawCache()
  return {
    raw,
    layer: Faults.layer(Cache, name === undefined ? undefined : { name }).pipe(
      Layer.provide(Layer.succeed(Cache, raw))
    )
  }
}

const injections = (dependency: string, fault: string) =>
  Metric.value(Faults.injections.pipe(
    Metric.tagged("dependency", dependency),
    Metric.tagged("fault", fault)
  )).pipe(Effect.map((s) => s.count))

const defectOf = (exit: Exit.Exit<unknown, unknown>) => {
  assert(Exit.isFailure(exit), "expected a failure")
  return Cause.squash(exit.cause)
}

describe("Faults", () => {
  describe("layer", () => {
    it.effect("passes every member through to the raw service while no fault is in force", () => {
      const { layer, raw } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        expect(cache).not.toBe(raw)
        expect(yield* cache.ping).toBe("pong")
        expect(yield* cache.get("k")).toBe("value of k")
        yield* cache.set("k", "v")
        expect(Chunk.toArray(yield* Stream.runCollect(cache.scan))).toEqual(["a", "b"])
        // An Option member is data, not an Effect to fault.
        expect(cache.region).toEqual(Option.some("eu"))
        expect(raw.calls).toEqual(["ping", "get k", "set k"])
        const control = yield* Faults.control(Cache)
        expect(control.dependency).toBe("test/Faults/Cache")
        expect([...control.members].sort()).toEqual(["get", "ping", "scan", "set"])
        expect(yield* Faults.active(Cache)).toEqual({ service: undefined, members: {} })
      }).pipe(Effect.provide(layer))
    })

    it.effect("down fails every Effect, method and Stream with a typed FaultInjectedError; recover restores them", () => {
      const name = uniqueName("cache-down")
      const { layer, raw } = faulty(name)
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.down)
        const errors = [
          yield* Effect.flip(cache.ping),
          yield* Effect.flip(cache.get("k")),
          yield* Effect.flip(cache.set("k", "v")),
          yield* Effect.flip(Stream.runCollect(cache.scan))
        ]
        expect(errors.map((e) => e instanceof Faults.FaultInjectedError)).toEqual([true, true, true, true])
        expect(errors.map((e) => (e as unknown as Faults.FaultInjectedError).member)).toEqual([
          "ping",
          "get",
          "set",
          "scan"
        ])
        expect(errors[1]).toMatchObject({ _tag: "FaultInjectedError", dependency: name, member: "get", fault: "down" })
        // The raw service never ran.
        expect(raw.calls).toEqual([])
        yield* Faults.recover(Cache)
        expect(yield* cache.get("k")).toBe("value of k")
        expect(raw.calls).toEqual(["get k"])
      }).pipe(Effect.provide(layer))
    })

    it.effect("reads the fault when the call runs, not when the Effect was built", () => {
      const { layer } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        const call = cache.get("k")
        yield* Faults.inject(Cache, Faults.down)
        expect(yield* Effect.flip(call)).toBeInstanceOf(Faults.FaultInjectedError)
        yield* Faults.recover(Cache)
        expect(yield* call).toBe("value of k")
      }).pipe(Effect.provide(layer))
    })

    it.effect("a fault on one member leaves the others alone; its own fault wins over the service's", () => {
      const { layer } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.down, { member: "get" })
        expect(yield* Effect.flip(cache.get("k"))).toMatchObject({ member: "get", fault: "down" })
        expect(yield* cache.ping).toBe("pong")
        yield* Faults.inject(Cache, Faults.hang)
        yield* Faults.inject(Cache, Faults.down, { member: "ping" })
        expect(yield* Effect.flip(cache.ping)).toMatchObject({ member: "ping", fault: "down" })
        expect((yield* Faults.active(Cache)).service).toEqual(Faults.hang)
        // Recovering one member clears its own fault only: the service's hang applies again.
        yield* Faults.recover(Cache, { member: "ping" })
        const pending = yield* Effect.fork(cache.ping)
        yield* TestClock.adjust("1 hour")
        expect(yield* Fiber.poll(pending)).toEqual(Option.none())
        yield* Fiber.interrupt(pending)
        yield* Faults.recover(Cache)
        expect(yield* cache.ping).toBe("pong")
      }).pipe(Effect.provide(layer))
    })

    it.effect("hang never completes and stays interruptible", () => {
      const { layer, raw } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.hang, { member: "get" })
        const fiber = yield* Effect.fork(cache.get("k"))
        yield* TestClock.adjust("1 day")
        expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(raw.calls).toEqual([])
      }).pipe(Effect.provide(layer))
    })

    it.effect("slow(d) sleeps d on the TestClock, then runs the call", () => {
      const { layer, raw } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.slow("2 seconds"))
        const fiber = yield* Effect.fork(cache.get("k"))
        yield* TestClock.adjust("1999 millis")
        expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
        expect(raw.calls).toEqual([])
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(fiber)).toBe("value of k")
        // A stream starts late too.
        const stream = yield* Effect.fork(Stream.runCollect(cache.scan))
        yield* TestClock.adjust("2 seconds")
        expect(Chunk.toArray(yield* Fiber.join(stream))).toEqual(["a", "b"])
      }).pipe(Effect.provide(layer))
    })

    it.effect("slow(d): calls made at one instant share one clock timer and all complete after d", () => {
      const { layer, raw } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.slow("1 second"))
        const fibers = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) => Effect.fork(cache.get(`k${i}`))
        )
        // Let every forked call reach its wait (a real macrotask, no virtual time).
        yield* TestClock.adjust(0)
        expect(Chunk.toArray(yield* TestClock.sleeps())).toEqual([1000])
        yield* TestClock.adjust("999 millis")
        expect((yield* Effect.forEach(fibers, Fiber.poll)).every(Option.isNone)).toBe(true)
        expect(raw.calls).toEqual([])
        yield* TestClock.adjust("1 millis")
        expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(
          Array.from({ length: 40 }, (_, i) => `value of k${i}`)
        )
        expect(Chunk.toArray(yield* TestClock.sleeps())).toEqual([])
      }).pipe(Effect.provide(layer))
    })

    it.effect("slow(d): an interrupted waiter, even the first, does not disturb the others", () => {
      const { layer } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.slow("2 seconds"))
        const first = yield* Effect.fork(cache.get("first"))
        yield* TestClock.adjust(0)
        const others = yield* Effect.forEach(["a", "b", "c"], (k) => Effect.fork(cache.get(k)))
        yield* TestClock.adjust(0)
        expect((yield* TestClock.sleeps()).length).toBe(1)
        expect(Exit.isInterrupted(yield* Fiber.interrupt(first))).toBe(true)
        expect(Exit.isInterrupted(yield* Fiber.interrupt(others[1]!))).toBe(true)
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(others[0]!)).toBe("value of a")
        expect(yield* Fiber.join(others[2]!)).toBe("value of c")
      }).pipe(Effect.provide(layer))
    })

    it.effect("slow(d): another instant or another delay gets its own timer; a fired timer is forgotten", () => {
      const { layer } = faulty()
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.slow("1 second"), { member: "get" })
        yield* Faults.inject(Cache, Faults.slow("3 seconds"), { member: "set" })
        const gets = yield* Effect.forEach(["a", "b"], (k) => Effect.fork(cache.get(k)))
        const set = yield* Effect.fork(cache.set("k", "v"))
        yield* TestClock.adjust("500 millis")
        const late = yield* Effect.fork(cache.get("late"))
        yield* TestClock.adjust(0)
        expect(Chunk.toArray(yield* TestClock.sleeps()).sort((x, y) => x - y)).toEqual([1000, 1500, 3000])
        yield* TestClock.adjust("500 millis")
        expect(yield* Effect.forEach(gets, Fiber.join)).toEqual(["value of a", "value of b"])
        expect(yield* Fiber.poll(late)).toEqual(Option.none())
        yield* TestClock.adjust("500 millis")
        expect(yield* Fiber.join(late)).toBe("value of late")
        // Fired timers are gone: a call now waits a full second on a new one.
        const again = yield* Effect.fork(cache.get("again"))
        yield* TestClock.adjust(0)
        expect(Chunk.toArray(yield* TestClock.sleeps()).sort((x, y) => x - y)).toEqual([2500, 3000])
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(again)).toBe("value of again")
        yield* TestClock.adjust("500 millis")
        expect(Exit.isSuccess(yield* Fiber.await(set))).toBe(true)
      }).pipe(Effect.provide(layer))
    })

    it.effect("flaky(p) fails a deterministic share of calls under a seeded Random", () => {
      const { layer } = faulty()
      const run = Effect.gen(function*() {
        const cache = yield* Cache
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          (i) => Effect.either(cache.get(`k${i}`))
        )
        return outcomes.map((o) => o._tag === "Left")
      }).pipe((self) => Effect.suspend(() => Effect.withRandom(self, Random.make("faults-seed"))))
      return Effect.gen(function*() {
        yield* Faults.inject(Cache, Faults.flaky(0.5))
        const first = yield* run
        const second = yield* run
        expect(second).toEqual(first)
        const failed = first.filter(Boolean).length
        expect(failed).toBeGreaterThan(160)
        expect(failed).toBeLessThan(240)
        yield* Faults.inject(Cache, Faults.flaky(0))
        expect((yield* run).filter(Boolean).length).toBe(0)
        yield* Faults.inject(Cache, Faults.flaky(1))
        expect((yield* run).filter(Boolean).length).toBe(400)
        const error = yield* Effect.flip((yield* Cache).get("k"))
        expect(error).toMatchObject({ _tag: "FaultInjectedError", fault: "flaky", member: "get" })
      }).pipe(Effect.provide(layer))
    })
  })

  describe("metrics and logs", () => {
    it.effect("counts each injection in fault_injections_total{dependency,fault}, every series from the start", () => {
      const name = uniqueName("cache-metrics")
      const { layer } = faulty(name)
      return Effect.gen(function*() {
        const kinds = ["down", "hang", "slow", "flaky"]
        const before = yield* Effect.forEach(kinds, (k) => injections(name, k))
        expect(before).toEqual([0, 0, 0, 0])
        // Series exist before any injection: the registry lists them.
        const listed = Metric.unsafeSnapshot().filter((pair) =>
          pair.metricKey.name === "fault_injections_total" &&
          pair.metricKey.tags.some((t) => t.key === "dependency" && t.value === name)
        )
        expect(listed).toHaveLength(4)
        yield* Faults.inject(Cache, Faults.down)
        yield* Faults.inject(Cache, Faults.down, { member: "get" })
        yield* Faults.inject(Cache, Faults.flaky(0.1))
        const cache = yield* Cache
        // Calls under a fault are not injections.
        yield* Effect.either(cache.get("k")).pipe(Effect.repeatN(3))
        expect(yield* Effect.forEach(kinds, (k) => injections(name, k))).toEqual([2, 0, 0, 1])
      }).pipe(Effect.provide(layer))
    })

    it.effect("logs each injection and recovery at info level with dependency, member and fault", () => {
      const name = uniqueName("cache-logs")
      const { layer } = faulty(name)
      const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        const record: Record<string, unknown> = {}
        for (const [k, v] of annotations) record[k] = v
        logs.push({ level: logLevel.label, message, annotations: record })
      })
      return Effect.gen(function*() {
        yield* Faults.inject(Cache, Faults.slow("2 seconds"), { member: "get" })
        yield* Faults.recover(Cache, { member: "get" })
        yield* Faults.inject(Cache, Faults.down)
        yield* Faults.recover(Cache)
        expect(logs.map((l) => [l.level, l.annotations])).toEqual([
          ["INFO", { dependency: name, member: "get", fault: "slow" }],
          ["INFO", { dependency: name, member: "get", fault: "recover" }],
          ["INFO", { dependency: name, member: "*", fault: "down" }],
          ["INFO", { dependency: name, member: "*", fault: "recover" }]
        ])
        expect(String(logs[0].message)).toContain("slow 2s")
      }).pipe(Effect.provide(layer), Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
    })
  })

  describe("bad input", () => {
    const optionOf = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        assert(error instanceof InvalidOptionError, `expected an InvalidOptionError, got ${error}`)
        return error.option
      }
      throw new Error("expected a throw")
    }

    it("flaky needs a probability in [0, 1]; slow a non-negative finite duration", () => {
      expect(optionOf(() => Faults.flaky(1.5))).toBe("flaky.probability")
      expect(optionOf(() => Faults.flaky(-0.1))).toBe("flaky.probability")
      expect(optionOf(() => Faults.flaky(Number.NaN))).toBe("flaky.probability")
      expect(optionOf(() => Faults.slow(-1))).toBe("slow.duration")
      expect(optionOf(() => Faults.slow(Number.NaN))).toBe("slow.duration")
      expect(optionOf(() => Faults.slow("-5 seconds"))).toBe("slow.duration")
      expect(optionOf(() => Faults.slow("forever" as Duration.DurationInput))).toBe("slow.duration")
      expect(optionOf(() => Faults.slow(Number.POSITIVE_INFINITY))).toBe("slow.duration")
      expect(Faults.slow(0)).toMatchObject({ _tag: "Slow" })
    })

    it.effect("inject refuses an unknown member or a hand-built bad fault before anything changes", () => {
      const name = uniqueName("cache-bad")
      const { layer } = faulty(name)
      return Effect.gen(function*() {
        const unknownMember = defectOf(yield* Effect.exit(Faults.inject(Cache, Faults.down, { member: "nope" as any })))
        assert(unknownMember instanceof InvalidOptionError)
        expect(unknownMember).toMatchObject({ module: "Faults.inject", option: "member", actual: "nope" })
        // Data members are not targets either.
        const data = defectOf(yield* Effect.exit(Faults.inject(Cache, Faults.down, { member: "region" })))
        expect(data).toMatchObject({ option: "member" })
        const recoverUnknown = defectOf(yield* Effect.exit(Faults.recover(Cache, { member: "nope" as any })))
        expect(recoverUnknown).toMatchObject({ module: "Faults.recover", option: "member" })
        const handBuilt = defectOf(
          yield* Effect.exit(Faults.inject(Cache, { _tag: "Flaky", probability: 2 } as Faults.Fault))
        )
        expect(handBuilt).toMatchObject({ option: "flaky.probability" })
        expect(yield* Faults.active(Cache)).toEqual({ service: undefined, members: {} })
        expect(yield* injections(name, "down")).toBe(0)
        expect(yield* (yield* Cache).get("k")).toBe("value of k")
      }).pipe(Effect.provide(layer))
    })

    it.effect("layer refuses an empty name when it is built", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Effect.provide(
            Cache,
            Faults.layer(Cache, { name: " " }).pipe(Layer.provide(Layer.succeed(Cache, new RawCache())))
          )
        )
        expect(defectOf(exit)).toMatchObject({ _tag: "InvalidOptionError", module: "Faults.layer", option: "name" })
      }))
  })

  describe("under Dependency.layer", () => {
    /** Production's stack: Dependency over Faults over the raw service, and the level. */
    const stack = (name: string) => {
      const raw = new RawCache()
      const layer = Dependency.layer(Cache, {
        ...Presets.redis,
        name,
        fallback: { get: (_error, key) => Effect.succeed(`fallback for ${key}`) }
      }).pipe(
        Layer.provideMerge(Faults.layer(Cache, { name })),
        Layer.provide(Layer.succeed(Cache, raw)),
        Layer.provideMerge(Degradation.layer({ recoveryInterval: "30 seconds" }))
      )
      return { raw, layer }
    }

    const observe = (name: string) =>
      Effect.gen(function*() {
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        const dependency = status.dependencies.find((d) => d.name === name)
        assert(dependency !== undefined)
        return { breaker: dependency.breaker?._tag, level: status.level._tag }
      })

    it.effect("down opens the breaker, the fallback answers and the level drops; recover closes it on the probe", () => {
      const name = uniqueName("redis")
      const { layer, raw } = stack(name)
      return Effect.gen(function*() {
        const cache = yield* Cache
        expect(yield* cache.get("k")).toBe("value of k")
        yield* Faults.inject(Cache, Faults.down)
        // Redis's preset trips after 5 consecutive failures; each call falls back meanwhile.
        for (let i = 0; i < 5; i++) expect(yield* cache.get("k")).toBe("fallback for k")
        expect(yield* observe(name)).toEqual({ breaker: "Open", level: "Degraded" })
        // A member without a fallback sees the breaker's rejection, as in production.
        const rejected = yield* Effect.flip(cache.set("k", "v"))
        expect(rejected).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
        expect(raw.calls).toEqual(["get k"])

        yield* Faults.recover(Cache)
        yield* TestClock.adjust("20 seconds")
        expect((yield* observe(name)).breaker).toBe("HalfOpen")
        // The probe reaches the recovered raw service and closes the breaker.
        expect(yield* cache.get("k")).toBe("value of k")
        expect((yield* observe(name)).breaker).toBe("Closed")
        // The better level waits for the recovery tick.
        expect((yield* observe(name)).level).toBe("Degraded")
        yield* TestClock.adjust("30 seconds")
        expect(yield* observe(name)).toEqual({ breaker: "Closed", level: "Optimal" })
      }).pipe(Effect.provide(layer))
    })

    it.effect("hang runs into the dependency's callTimeout: CallTimeoutError, or the fallback", () => {
      const name = uniqueName("redis-hang")
      const { layer } = stack(name)
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.hang)
        const set = yield* Effect.fork(Effect.flip(cache.set("k", "v")))
        const get = yield* Effect.fork(cache.get("k"))
        yield* TestClock.adjust(Presets.redis.callTimeout)
        const error = yield* Fiber.join(set)
        assert(error instanceof CircuitBreaker.CallTimeoutError)
        expect(error.breaker).toBe(name)
        expect(yield* Fiber.join(get)).toBe("fallback for k")
      }).pipe(Effect.provide(layer))
    })

    it.effect("slow under the callTimeout passes late; slow over it times out", () => {
      const name = uniqueName("redis-slow")
      const { layer } = stack(name)
      return Effect.gen(function*() {
        const cache = yield* Cache
        yield* Faults.inject(Cache, Faults.slow("500 millis"), { member: "set" })
        const fast = yield* Effect.fork(cache.set("k", "v"))
        yield* TestClock.adjust("500 millis")
        expect(Exit.isSuccess(yield* Fiber.await(fast))).toBe(true)
        yield* Faults.inject(Cache, Faults.slow("2 seconds"), { member: "set" })
        const slow = yield* Effect.fork(Effect.flip(cache.set("k", "v")))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(slow)).toBeInstanceOf(CircuitBreaker.CallTimeoutError)
      }).pipe(Effect.provide(layer))
    })

    it.effect("flaky(0.5) under a seeded Random: a deterministic share of fallbacks", () => {
      const run = Effect.gen(function*() {
        const name = uniqueName("redis-flaky")
        const { layer } = stack(name)
        return yield* Effect.gen(function*() {
          const cache = yield* Cache
          yield* Faults.inject(Cache, Faults.flaky(0.5), { member: "get" })
          return yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => cache.get(`k${i}`))
        }).pipe(Effect.provide(layer), Effect.withRandom(Random.make(42)))
      })
      return Effect.gen(function*() {
        const first = yield* run
        expect(yield* run).toEqual(first)
        const fallbacks = first.filter((v) => v.startsWith("fallback")).length
        expect(fallbacks).toBeGreaterThan(0)
        expect(fallbacks).toBeLessThan(40)
      })
    })
  })
})
