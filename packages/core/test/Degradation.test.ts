import {
  CircuitBreaker,
  Degradation,
  DegradationLevel,
  DegradationPolicy,
  InvalidOptionError,
  Metrics
} from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { pipe } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as DegradationInternal from "../src/internal/degradation.js"
import { describeError } from "../src/internal/describe.js"
import { uniqueName } from "./utils.js"

const tag = Effect.map(Degradation.current, (level) => level._tag)

/** A breaker registered with the Degradation in scope. */
const dependency = (
  whenDown: DegradationLevel.DegradationLevel,
  options: {
    readonly health?: Effect.Effect<unknown, unknown>
    readonly name?: string
    readonly reset?: Schedule.Schedule<unknown, unknown>
  } = {}
) =>
  Effect.gen(function*() {
    const name = options.name ?? uniqueName("dep")
    const breaker = yield* CircuitBreaker.make({
      name,
      trip: CircuitBreaker.consecutiveFailures(1),
      reset: options.reset ?? Schedule.spaced("10 seconds")
    })
    const degradation = yield* Degradation
    yield* DegradationInternal.register(degradation, { name, whenDown, breaker, health: options.health })
    const fail = Effect.either(breaker(Effect.fail("down")))
    const succeed = Effect.either(breaker(Effect.void))
    return { name, breaker, fail, succeed }
  })

/**
 * Collects log messages; `waitFor` is a latch on the line a fiber is about to
 * write (the report fiber logs a transition after updating its metrics).
 */
const captureLogs = Effect.gen(function*() {
  const logs = yield* Ref.make<Array<string>>([])
  const arrived = yield* Queue.unbounded<string>()
  const logger = Logger.make(({ message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    Effect.runSync(Ref.update(logs, (xs) => [...xs, text]))
    Queue.unsafeOffer(arrived, text)
  })
  const waitFor = (line: string) => Queue.take(arrived).pipe(Effect.repeat({ until: (text) => text === line }))
  return { logs, waitFor, layer: Logger.replace(Logger.defaultLogger, logger) }
})

/** Until `fiber` waits (for its first element, say): a stream it runs has subscribed. */
const suspended = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.yieldNow().pipe(
    Effect.zipRight(Fiber.status(fiber)),
    Effect.repeat({ until: (status) => status._tag === "Suspended" })
  )

const withDegradation = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: Degradation.Options
) => Effect.provide(effect, Degradation.layer(options))

describe("DegradationLevel", () => {
  it("ranks, orders and matches", () => {
    expect(DegradationLevel.all.map(DegradationLevel.rank)).toEqual([1, 2, 3, 4, 5])
    expect(DegradationLevel.isWorseThan(DegradationLevel.Limited(), DegradationLevel.Degraded())).toBe(true)
    expect(DegradationLevel.worst(DegradationLevel.Optimal(), DegradationLevel.Minimal())._tag).toBe("Minimal")
    expect(DegradationLevel.fromRank(5)?._tag).toBe("Emergency")
    expect(DegradationLevel.fromRank(6)).toBeUndefined()
    expect(DegradationLevel.fromString("limited")?._tag).toBe("Limited")
    const describe = DegradationLevel.$match({
      Optimal: () => "full",
      Degraded: () => "full",
      Limited: () => "cached",
      Minimal: () => "basic",
      Emergency: () => "status"
    })
    expect(DegradationLevel.all.map(describe)).toEqual(["full", "full", "cached", "basic", "status"])
  })
})

describe("DegradationPolicy", () => {
  const down = FastCheck.uniqueArray(
    FastCheck.record({
      name: FastCheck.constantFrom("db", "redis", "s3", "openai", "search", "mail"),
      whenDown: FastCheck.constantFrom(...DegradationLevel.all)
    }),
    { selector: (d) => d.name, maxLength: 6 }
  )
  const policies: Record<string, DegradationPolicy.DegradationPolicy> = {
    default: DegradationPolicy.defaultPolicy,
    worstWhenDown: DegradationPolicy.worstWhenDown,
    composed: pipe(
      DegradationPolicy.worstWhenDown,
      DegradationPolicy.escalateAt(2, DegradationLevel.Limited()),
      DegradationPolicy.whenAllDown(["db", "redis"], DegradationLevel.Emergency()),
      DegradationPolicy.atMost(DegradationLevel.Minimal())
    )
  }

  it.prop("combinators: data-first and data-last agree", [down], ([all]) => {
    const base = DegradationPolicy.worstWhenDown
    const pairs: ReadonlyArray<readonly [DegradationPolicy.DegradationPolicy, DegradationPolicy.DegradationPolicy]> = [
      [DegradationPolicy.escalateAt(base, 2), DegradationPolicy.escalateAt(2)(base)],
      [
        DegradationPolicy.escalateAt(base, 2, DegradationLevel.Minimal()),
        DegradationPolicy.escalateAt(2, DegradationLevel.Minimal())(base)
      ],
      [
        DegradationPolicy.whenAllDown(base, ["db", "redis"], DegradationLevel.Minimal()),
        DegradationPolicy.whenAllDown(["db", "redis"], DegradationLevel.Minimal())(base)
      ],
      [
        DegradationPolicy.atLeast(base, DegradationLevel.Degraded()),
        DegradationPolicy.atLeast(DegradationLevel.Degraded())(base)
      ],
      [
        DegradationPolicy.atMost(base, DegradationLevel.Limited()),
        DegradationPolicy.atMost(DegradationLevel.Limited())(base)
      ]
    ]
    for (const [first, last] of pairs) expect(first(all)).toEqual(last(all))
    // and they do something: two down escalate to Emergency by default
    if (all.length >= 2) expect(DegradationPolicy.escalateAt(base, 2)(all)._tag).toBe("Emergency")
  })

  for (const [name, policy] of Object.entries(policies)) {
    it.prop(`${name}: more failures never give a better level`, [down, FastCheck.nat()], ([all, cut]) => {
      const fewer = all.slice(0, all.length === 0 ? 0 : cut % (all.length + 1))
      expect(DegradationLevel.rank(policy(fewer))).toBeLessThanOrEqual(DegradationLevel.rank(policy(all)))
    })
    it(`${name}: all up is Optimal`, () => {
      expect(policy([])._tag).toBe("Optimal")
    })
  }

  it("default: worst whenDown, Emergency at three down", () => {
    const d = (name: string, whenDown: DegradationLevel.DegradationLevel) => ({ name, whenDown })
    const policy = DegradationPolicy.defaultPolicy
    expect(policy([d("redis", DegradationLevel.Degraded())])._tag).toBe("Degraded")
    expect(policy([d("redis", DegradationLevel.Degraded()), d("openai", DegradationLevel.Limited())])._tag).toBe(
      "Limited"
    )
    expect(
      policy([
        d("redis", DegradationLevel.Degraded()),
        d("s3", DegradationLevel.Degraded()),
        d("x", DegradationLevel.Degraded())
      ])
        ._tag
    ).toBe("Emergency")
  })
})

describe("Degradation", () => {
  it.scoped("a breaker opening moves the level before the failing call returns to its caller", () =>
    withDegradation(Effect.gen(function*() {
      const redis = yield* dependency(DegradationLevel.Degraded())
      expect(yield* tag).toBe("Optimal")
      yield* redis.fail
      // no yield, no clock: the level moved within the same fiber turn
      expect(yield* tag).toBe("Degraded")
      const status = yield* Effect.flatMap(Degradation, (d) => d.status)
      expect(status.dependencies.find((d) => d.name === redis.name)?.up).toBe(false)
    })))

  it.scoped("a better level waits for the recovery tick", () =>
    withDegradation(
      Effect.gen(function*() {
        const redis = yield* dependency(DegradationLevel.Degraded())
        yield* redis.fail
        yield* TestClock.adjust("10 seconds")
        yield* redis.succeed // half-open probe succeeds: breaker closed
        expect((yield* redis.breaker.state)._tag).toBe("Closed")
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("20 seconds") // the tick at 30 s
        expect(yield* tag).toBe("Optimal")
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("nextRecoveryAt is when the next tick runs: the earliest a better level can apply", () =>
    withDegradation(
      Effect.gen(function*() {
        const start = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        expect(yield* Degradation.nextRecoveryAt).toBe(start + 30_000)
        yield* TestClock.adjust("31 seconds")
        expect(yield* Degradation.nextRecoveryAt).toBe(start + 60_000)
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("changes: the current level first, then every change, no repeats", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const a = yield* dependency(DegradationLevel.Degraded())
      const b = yield* dependency(DegradationLevel.Limited())
      const subscribed = yield* Deferred.make<void>()
      const fiber = yield* degradation.changes.pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.take(4),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(subscribed) // the current level was emitted: later changes are seen
      yield* degradation.set(DegradationLevel.Optimal()) // a repeat: not emitted
      yield* a.fail
      yield* b.fail
      yield* degradation.set(DegradationLevel.Limited()) // a repeat
      yield* degradation.set(DegradationLevel.Emergency())
      const levels = Chunk.toArray(yield* Fiber.join(fiber)).map((l) => l._tag)
      expect(levels).toEqual(["Optimal", "Degraded", "Limited", "Emergency"])
    })))

  it.scoped("handlers read the level through the Tag's accessors as well as through the service", () =>
    withDegradation(Effect.gen(function*() {
      const redis = yield* dependency(DegradationLevel.Degraded())
      expect((yield* Degradation.current)._tag).toBe("Optimal")
      yield* redis.fail
      expect((yield* Degradation.current)._tag).toBe("Degraded")
      expect((yield* (yield* Degradation).current)._tag).toBe("Degraded")
      expect((yield* Degradation.status).level._tag).toBe("Degraded")
      expect([...(yield* Degradation.breakers).keys()]).toEqual([redis.name])
      yield* Degradation.force(DegradationLevel.Minimal(), "maintenance")
      expect((yield* Degradation.current)._tag).toBe("Minimal")
      yield* Degradation.release
      yield* Degradation.set(DegradationLevel.Limited())
      expect((yield* Degradation.history).map((t) => t.kind)).toEqual(["set", "release", "force", "degrade"])
      expect((yield* Degradation.evaluate)._tag).toBe("Degraded")
      const first = yield* Degradation.changes.pipe(Stream.take(1), Stream.runCollect)
      expect(Chunk.toArray(first).map((l) => l._tag)).toEqual(["Degraded"])
    })))

  it.scoped("register is not part of the handler-facing service", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      // @ts-expect-error: dependencies register through Dependency.layer, not through the service
      void degradation.register
      expect(Object.keys(degradation)).not.toContain("register")
      expect("register" in degradation).toBe(false)
    })))

  it.scoped("transitions: each applied change is published once, in order, to the stream and the history", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const a = yield* dependency(DegradationLevel.Degraded())
      const b = yield* dependency(DegradationLevel.Minimal())
      const fiber = yield* degradation.transitions.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* suspended(fiber) // it waits for the first transition: subscribed
      yield* a.fail
      yield* b.fail
      yield* degradation.force(DegradationLevel.Emergency(), "drill")
      const seen = Chunk.toArray(yield* Fiber.join(fiber))
      expect(seen.map((t) => `${t.kind}:${t.from._tag}→${t.to._tag}`)).toEqual([
        "degrade:Optimal→Degraded",
        "degrade:Degraded→Minimal",
        "force:Minimal→Emergency"
      ])
      expect(seen[0]?.reason).toBe(`${a.name} down`)
      expect(yield* degradation.history).toEqual([...seen].reverse())
    })))

  it.scoped("set applies at once; the next recovery tick may improve it again", () =>
    withDegradation(
      Effect.gen(function*() {
        const degradation = yield* Degradation
        yield* dependency(DegradationLevel.Degraded())
        yield* degradation.set(DegradationLevel.Minimal())
        expect(yield* tag).toBe("Minimal")
        yield* TestClock.adjust("30 seconds")
        expect(yield* tag).toBe("Optimal")
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("force is sticky until release; release applies the computed level at once", () =>
    withDegradation(
      Effect.gen(function*() {
        const degradation = yield* Degradation
        const dep = yield* dependency(DegradationLevel.Limited(), { reset: Schedule.spaced("1 hour") })
        yield* degradation.force(DegradationLevel.Minimal(), "maintenance")
        expect(yield* tag).toBe("Minimal")
        yield* dep.fail // computed Limited: recorded, not applied
        yield* degradation.set(DegradationLevel.Emergency()) // recorded, not applied
        yield* TestClock.adjust("1 minute")
        expect(yield* tag).toBe("Minimal")
        const status = yield* degradation.status
        expect(status.forced?.reason).toBe("maintenance")
        expect(status.computed._tag).toBe("Limited")
        yield* degradation.release
        expect(yield* tag).toBe("Limited")
        expect((yield* degradation.status).forced).toBeUndefined()
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("three dependencies down at once is an Emergency", () =>
    withDegradation(Effect.gen(function*() {
      const deps = yield* Effect.all([
        dependency(DegradationLevel.Degraded()),
        dependency(DegradationLevel.Degraded()),
        dependency(DegradationLevel.Degraded())
      ])
      yield* deps[0].fail
      yield* deps[1].fail
      expect(yield* tag).toBe("Degraded")
      yield* deps[2].fail
      expect(yield* tag).toBe("Emergency")
    })))

  it.scoped("a throwing policy is replaced by the default policy for that evaluation, and logged", () =>
    Effect.gen(function*() {
      const policy: DegradationPolicy.DegradationPolicy = (down) => {
        if (down.some((d) => d.whenDown._tag === "Minimal")) throw new Error("policy bug")
        return DegradationPolicy.defaultPolicy(down)
      }
      const { layer, logs } = yield* captureLogs
      yield* withDegradation(
        Effect.gen(function*() {
          const cache = yield* dependency(DegradationLevel.Degraded())
          const db = yield* dependency(DegradationLevel.Minimal())
          yield* cache.fail
          expect(yield* tag).toBe("Degraded")
          // the policy throws on this set: the default policy still sees the db outage
          yield* db.fail
          expect(yield* tag).toBe("Minimal")
          expect((yield* Effect.flatMap(Degradation, (d) => d.status)).computed._tag).toBe("Minimal")
        }),
        { policy }
      ).pipe(Effect.provide(layer))
      expect(yield* Ref.get(logs)).toContain(
        "Degradation: the policy threw: policy bug; the default policy gives Minimal this time"
      )
    }))

  it.scoped("a policy that answers something other than a level is replaced by the default policy", () =>
    withDegradation(
      Effect.gen(function*() {
        const db = yield* dependency(DegradationLevel.Minimal())
        yield* db.fail
        expect(yield* tag).toBe("Minimal")
      }),
      { policy: (() => "Degraded") as never }
    ))

  it.scoped("the recovery fiber is restarted when a tick dies", () =>
    Effect.gen(function*() {
      let policyThrows = false
      let loggerThrew = false
      const policy: DegradationPolicy.DegradationPolicy = (down) => {
        if (policyThrows) throw new Error("policy bug")
        return DegradationPolicy.defaultPolicy(down)
      }
      const lines: Array<string> = []
      // A logger with a bug of its own kills the tick that logs the policy's failure, once.
      const logger = Logger.make(({ message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        lines.push(text)
        if (text.includes("the policy threw") && !loggerThrew) {
          loggerThrew = true
          throw new Error("logger bug")
        }
      })
      yield* withDegradation(
        Effect.gen(function*() {
          const degradation = yield* Degradation
          yield* dependency(DegradationLevel.Degraded())
          yield* degradation.set(DegradationLevel.Limited())
          policyThrows = true
          yield* TestClock.adjust("30 seconds") // the tick dies
          expect(loggerThrew).toBe(true)
          expect(yield* tag).toBe("Limited")
          policyThrows = false
          yield* TestClock.adjust("30 seconds") // restarted: the next tick works
          expect(yield* tag).toBe("Optimal")
        }),
        { recoveryInterval: "30 seconds", policy }
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(lines.some((l) => l.includes("recovery fiber died"))).toBe(true)
    }))

  it.scoped("every transition is logged in one format both ways: Degradation: … and Recovery: …", () =>
    Effect.gen(function*() {
      const { layer, logs, waitFor } = yield* captureLogs
      yield* withDegradation(
        Effect.gen(function*() {
          const redis = yield* dependency(DegradationLevel.Degraded(), { name: uniqueName("redis") })
          yield* redis.fail
          yield* waitFor(`Degradation: Optimal → Degraded (${redis.name} down)`)
          yield* TestClock.adjust("10 seconds")
          yield* redis.succeed
          yield* TestClock.adjust("20 seconds")
          yield* waitFor(`Recovery: Degraded → Optimal (${redis.name} up)`)
          yield* Effect.flatMap(Degradation, (d) => d.force(DegradationLevel.Minimal(), "maintenance"))
          yield* waitFor("Degradation: Optimal → Minimal (forced: maintenance)")
          yield* Effect.flatMap(Degradation, (d) => d.release)
          yield* waitFor("Recovery: Minimal → Optimal (released: maintenance)")
        }),
        { recoveryInterval: "30 seconds" }
      ).pipe(Effect.provide(layer))
      const transitions = (yield* Ref.get(logs)).filter((l) => /^(Degradation|Recovery): \w+ → \w+ \(/.test(l))
      expect(transitions).toHaveLength(4)
    }))

  it.scoped("metrics: degradation_level, degradation_transitions_total and dependency_up", () =>
    Effect.gen(function*() {
      const { layer, waitFor } = yield* captureLogs
      yield* withDegradation(Effect.gen(function*() {
        const transitions = Metrics.degradationTransitions.pipe(
          Metric.tagged("from", "Optimal"),
          Metric.tagged("to", "Minimal")
        )
        const before = (yield* Metric.value(transitions)).count
        const db = yield* dependency(DegradationLevel.Minimal())
        const up = Metrics.dependencyUp.pipe(Metric.tagged("dependency", db.name))
        expect((yield* Metric.value(up)).value).toBe(1)
        yield* db.fail
        expect((yield* Metric.value(up)).value).toBe(0)
        // the report fiber updates the metrics, then logs the transition
        yield* waitFor(`Degradation: Optimal → Minimal (${db.name} down)`)
        expect((yield* Metric.value(Metrics.degradationLevel)).value).toBe(4)
        expect((yield* Metric.value(transitions)).count).toBe(before + 1)
      })).pipe(Effect.provide(layer))
    }))

  it.scoped("a layer subscribes before it is returned: a breaker that is already open counts", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("early"),
        trip: CircuitBreaker.consecutiveFailures(1)
      })
      yield* Effect.either(breaker(Effect.fail("x")))
      const level = yield* Effect.gen(function*() {
        const degradation = yield* Degradation
        yield* DegradationInternal.register(degradation, {
          name: breaker.name,
          whenDown: DegradationLevel.Limited(),
          breaker
        })
        return yield* degradation.current
      }).pipe(Effect.provide(Degradation.layer()))
      expect(level._tag).toBe("Limited")
    }))
})

describe("Degradation: errors say what happened", () => {
  class RedisError extends Data.TaggedError("RedisError")<{ readonly code: string }> {}
  class QuotaError extends Data.TaggedError("QuotaError")<{ readonly message: string }> {}

  it("a tagged error without a message is described by its tag and fields", () => {
    expect(describeError(new RedisError({ code: "ECONNREFUSED" }))).toBe(`RedisError { code: "ECONNREFUSED" }`)
    expect(describeError({ _tag: "Timeout" })).toBe("Timeout")
  })

  it("a failure with a message is described by its message", () => {
    expect(describeError(new QuotaError({ message: "quota exceeded" }))).toBe("quota exceeded")
    expect(describeError(new Error("boom"))).toBe("boom")
    expect(describeError("unhealthy")).toBe("unhealthy")
  })

  it("a cause is described by its failures and defects, never as JSON", () => {
    expect(describeError(Cause.die(new Error("ECONNREFUSED")))).toBe("ECONNREFUSED")
    expect(describeError(Cause.fail(new RedisError({ code: "ETIMEDOUT" })))).toBe(`RedisError { code: "ETIMEDOUT" }`)
    expect(describeError(Cause.sequential(Cause.fail("a"), Cause.die("b")))).toBe("a; b")
    expect(describeError(Cause.interrupt(FiberId.none))).toBe("interrupted")
    expect(describeError(Cause.die(new Error("x")))).not.toContain("_id")
  })

  it("a rejection wrapped in an UnknownException is described by the rejection", () =>
    Effect.runPromise(Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.tryPromise(() => Promise.reject(new Error("ECONNRESET"))))
      assert(Exit.isFailure(exit))
      expect(describeError(exit.cause)).toBe("ECONNRESET")
    })))

  it("a cyclic or unprintable value never throws", () => {
    const cyclic: Record<string, unknown> = { _tag: "Cyclic" }
    cyclic.self = cyclic
    expect(describeError(cyclic)).toContain("Cyclic")
    expect(describeError(Object.create(null))).toBe("{}")
  })

  it.scoped("status() and the logs report a failed check by what happened", () =>
    Effect.gen(function*() {
      const { layer, logs } = yield* captureLogs
      yield* withDegradation(
        Effect.gen(function*() {
          const degradation = yield* Degradation
          const mode = yield* Ref.make<"tagged" | "promise">("tagged")
          const dep = yield* dependency(DegradationLevel.Degraded(), {
            name: uniqueName("redis"),
            health: Effect.flatMap(Ref.get(mode), (m) =>
              m === "tagged"
                ? Effect.fail(new RedisError({ code: "ECONNREFUSED" }))
                : Effect.promise(() => Promise.reject(new Error("ECONNREFUSED"))))
          })
          const error = Effect.map(degradation.status, (s) =>
            s.dependencies.find((d) => d.name === dep.name)?.lastCheck?.error)
          yield* degradation.evaluate
          expect(yield* error).toBe(`RedisError { code: "ECONNREFUSED" }`)
          yield* Ref.set(mode, "promise")
          yield* degradation.evaluate
          expect(yield* error).toBe("ECONNREFUSED")
          expect(yield* Ref.get(logs)).toContain(
            `Health check of ${dep.name} failed: RedisError { code: "ECONNREFUSED" }`
          )
        }),
        { recoveryInterval: "1 hour" }
      ).pipe(Effect.provide(layer))
    }))
})

describe("Degradation: bad input", () => {
  /** The defect of a failed exit: an InvalidOptionError (not a typed failure). */
  const invalidOption = <A, E>(exit: Exit.Exit<A, E>) => {
    assert(Exit.isFailure(exit))
    const defect = Cause.dieOption(exit.cause)
    assert(Option.isSome(defect) && defect.value instanceof InvalidOptionError)
    expect(Cause.failureOption(exit.cause)._tag).toBe("None")
    return defect.value
  }

  const makeWith = (options: Degradation.Options) => Effect.exit(Effect.scoped(Degradation.make(options)))

  it.effect("Degradation.make rejects bad options, naming them", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Degradation.Options, string]> = [
        [{ recoveryInterval: "-1 seconds" as never }, "recoveryInterval"],
        [{ recoveryInterval: Number.NaN }, "recoveryInterval"],
        [{ recoveryInterval: "0.5 millis" }, "recoveryInterval"],
        [{ recoveryInterval: 2 ** 31 }, "recoveryInterval"],
        [{ recoveryInterval: "abc" as never }, "recoveryInterval"],
        [{ healthCheckTimeout: 0 }, "healthCheckTimeout"],
        [{ healthCheckTimeout: "40 days" }, "healthCheckTimeout"],
        [{ policy: "worst" as never }, "policy"]
      ]
      for (const [options, option] of cases) {
        const error = invalidOption(yield* makeWith(options))
        expect(error.module).toBe("Degradation.make")
        expect(error.option).toBe(option)
        expect(error.message).toContain(option)
      }
    }))

  it.effect("the layer dies with the same error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(Degradation.layer({ recoveryInterval: "-1 seconds" as never })))
      )
      expect(invalidOption(exit).option).toBe("recoveryInterval")
    }))

  it.scoped("a registration is validated, naming whenDown, health or name", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const register = (registration: Record<string, unknown>) =>
        Effect.exit(Effect.scoped(DegradationInternal.register(degradation, registration as never)))
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ name: uniqueName("a"), whenDown: undefined }, "whenDown"],
        [{ name: uniqueName("a"), whenDown: "Degraded" }, "whenDown"],
        [{ name: uniqueName("a"), whenDown: { _tag: "Foo" } }, "whenDown"],
        [{ name: uniqueName("a"), whenDown: DegradationLevel.Limited(), health: () => Effect.void }, "health"],
        [{ name: "", whenDown: DegradationLevel.Limited() }, "name"],
        [{ name: 42, whenDown: DegradationLevel.Limited() }, "name"],
        [{ name: uniqueName("a"), whenDown: DegradationLevel.Limited(), breaker: {} }, "breaker"]
      ]
      for (const [registration, option] of cases) {
        const error = invalidOption(yield* register(registration))
        expect(error.option).toBe(option)
        expect(error.module).toBe("Degradation.register")
      }
      // the module the user called names the error
      const error = invalidOption(yield* register({ module: "Dependency.layer", name: "x", whenDown: "Degraded" }))
      expect(error.message).toContain(`Dependency.layer: option "whenDown"`)
      // and no bad registration got in
      expect((yield* degradation.status).dependencies).toEqual([])
    })))

  it.scoped("a bad registration cannot disable degradation for the others", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      yield* Effect.exit(Effect.scoped(
        DegradationInternal.register(degradation, { name: uniqueName("bad"), whenDown: undefined as never })
      ))
      const db = yield* dependency(DegradationLevel.Minimal())
      yield* db.fail
      expect(yield* tag).toBe("Minimal")
    })))

  it.scoped("registering the same name twice is a defect naming it", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const name = uniqueName("twice")
      yield* DegradationInternal.register(degradation, { name, whenDown: DegradationLevel.Degraded() })
      const exit = yield* Effect.exit(
        DegradationInternal.register(degradation, { name, whenDown: DegradationLevel.Degraded() })
      )
      const error = invalidOption(exit)
      expect(error.option).toBe("name")
      expect(error.message).toContain(name)
    })))
})
