import { CircuitBreaker, Degradation, DegradationLevel, DegradationPolicy, Metrics } from "@effect-resilience/core"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { uniqueName } from "./utils.js"

const tag = Effect.map(Degradation, (d) => d.unsafeCurrent()._tag)

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
    yield* degradation.register({ name, whenDown, breaker, health: options.health })
    const fail = Effect.either(breaker(Effect.fail("down")))
    const succeed = Effect.either(breaker(Effect.void))
    return { name, breaker, fail, succeed }
  })

/** Collects log messages. */
const captureLogs = Effect.gen(function*() {
  const logs = yield* Ref.make<Array<string>>([])
  const logger = Logger.make(({ message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    Effect.runSync(Ref.update(logs, (xs) => [...xs, text]))
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
})

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
      [DegradationPolicy.escalateAt(base, 2, DegradationLevel.Minimal()), DegradationPolicy.escalateAt(2, DegradationLevel.Minimal())(base)],
      [DegradationPolicy.whenAllDown(base, ["db", "redis"], DegradationLevel.Minimal()), DegradationPolicy.whenAllDown(["db", "redis"], DegradationLevel.Minimal())(base)],
      [DegradationPolicy.atLeast(base, DegradationLevel.Degraded()), DegradationPolicy.atLeast(DegradationLevel.Degraded())(base)],
      [DegradationPolicy.atMost(base, DegradationLevel.Limited()), DegradationPolicy.atMost(DegradationLevel.Limited())(base)]
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
      policy([d("redis", DegradationLevel.Degraded()), d("s3", DegradationLevel.Degraded()), d("x", DegradationLevel.Degraded())])
        ._tag
    ).toBe("Emergency")
  })
})

describe("Degradation", () => {
  it.scoped("a breaker opening applies a worse level at once", () =>
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

  it.scoped("changes: the current level first, then every change, no repeats", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const a = yield* dependency(DegradationLevel.Degraded())
      const b = yield* dependency(DegradationLevel.Limited())
      const fiber = yield* degradation.changes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("1 second") // let the stream subscribe
      yield* degradation.set(DegradationLevel.Optimal()) // a repeat: not emitted
      yield* a.fail
      yield* b.fail
      yield* degradation.set(DegradationLevel.Limited()) // a repeat
      yield* degradation.set(DegradationLevel.Emergency())
      const levels = Chunk.toArray(yield* Fiber.join(fiber)).map((l) => l._tag)
      expect(levels).toEqual(["Optimal", "Degraded", "Limited", "Emergency"])
    })))

  it.scoped("health checks: failing, dying and hanging checks mark a dependency down; the fiber survives", () =>
    withDegradation(
      Effect.gen(function*() {
        const mode = yield* Ref.make<"ok" | "fail" | "die" | "hang">("ok")
        const health = Effect.flatMap(Ref.get(mode), (m) =>
          m === "fail" ? Effect.fail("unhealthy") : m === "die" ? Effect.die("bug") : m === "hang" ? Effect.never : Effect.void)
        const dep = yield* dependency(DegradationLevel.Limited(), { health })
        for (const m of ["fail", "die", "hang"] as const) {
          yield* Ref.set(mode, m)
          yield* TestClock.adjust("30 seconds") // tick; a hanging check times out after 5 s
          yield* TestClock.adjust("5 seconds")
          expect(yield* tag).toBe("Limited")
          const status = yield* Effect.flatMap(Degradation, (d) => d.status)
          const entry = status.dependencies.find((d) => d.name === dep.name)!
          expect(entry.up).toBe(false)
          expect(entry.lastCheck?.healthy).toBe(false)
          yield* Ref.set(mode, "ok")
          yield* TestClock.adjust("25 seconds") // next tick at 60 s after the previous
          expect(yield* tag).toBe("Optimal")
        }
      }),
      { recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("a health check that ignores interruption times out without holding up the others", () =>
    withDegradation(
      Effect.gen(function*() {
        const stuck = yield* dependency(DegradationLevel.Degraded(), { health: Effect.uninterruptible(Effect.never) })
        const other = yield* dependency(DegradationLevel.Limited(), { health: Effect.fail("down") })
        yield* TestClock.adjust("30 seconds")
        yield* TestClock.adjust("5 seconds")
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        expect(status.dependencies.find((d) => d.name === stuck.name)?.lastCheck?.error).toContain("timed out")
        expect(status.dependencies.find((d) => d.name === other.name)?.up).toBe(false)
        expect(yield* tag).toBe("Limited")
      }),
      { recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("health checks see a dependency come back while its breaker is still open", () =>
    withDegradation(
      Effect.gen(function*() {
        const up = yield* Ref.make(false)
        const dep = yield* dependency(DegradationLevel.Degraded(), {
          health: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down"))
        })
        yield* dep.fail
        const degradation = yield* Degradation
        yield* degradation.evaluate
        let status = yield* degradation.status
        expect(status.dependencies[0]?.lastCheck?.healthy).toBe(false)
        yield* Ref.set(up, true)
        yield* degradation.evaluate
        status = yield* degradation.status
        // the check, bypassing the open breaker, sees it healthy …
        expect(status.dependencies[0]?.lastCheck?.healthy).toBe(true)
        expect(status.dependencies[0]?.breaker?._tag).toBe("Open")
        // … but the dependency counts as down until its breaker is no longer open
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("10 seconds")
        expect(yield* degradation.evaluate).toEqual(DegradationLevel.Optimal())
      }),
      { recoveryInterval: "1 hour" }
    ))

  it.scoped("an older health-check result never replaces a newer one", () =>
    Effect.gen(function*() {
      const degradation = yield* Degradation.make({ recoveryInterval: "2 seconds", healthCheckTimeout: "5 seconds" })
      let checks = 0
      // the first check hangs until its timeout (t = 5 s); the later ones succeed at once
      yield* degradation.register({
        name: uniqueName("stale"),
        whenDown: DegradationLevel.Limited(),
        health: Effect.suspend(() => ++checks === 1 ? Effect.never : Effect.void)
      })
      const evaluating = yield* Effect.fork(degradation.evaluate) // t = 0
      yield* TestClock.adjust("4 seconds") // recovery ticks at 2 s and 4 s: healthy
      expect((yield* degradation.status).dependencies[0]?.lastCheck).toMatchObject({ at: 4_000, healthy: true })
      yield* TestClock.adjust("1 second") // the check started at 0 times out
      yield* Fiber.join(evaluating)
      const status = yield* degradation.status
      expect(status.dependencies[0]?.lastCheck).toMatchObject({ at: 4_000, healthy: true })
      expect(status.level._tag).toBe("Optimal")
    }))

  it.scoped("a wall clock that steps back does not freeze health-check results", () =>
    Effect.gen(function*() {
      const degradation = yield* Degradation.make({ recoveryInterval: "1 hour" })
      const up = yield* Ref.make(false)
      yield* degradation.register({
        name: uniqueName("clock"),
        whenDown: DegradationLevel.Limited(),
        health: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down"))
      })
      yield* TestClock.setTime(3_600_000)
      expect((yield* degradation.evaluate)._tag).toBe("Limited")
      // the clock steps back an hour (NTP), and the dependency is back
      yield* TestClock.setTime(0)
      yield* Ref.set(up, true)
      expect((yield* degradation.evaluate)._tag).toBe("Optimal")
      expect((yield* degradation.status).dependencies[0]?.lastCheck).toMatchObject({ at: 0, healthy: true })
    }))

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

  it.scoped("the recovery fiber is restarted when it dies", () =>
    Effect.gen(function*() {
      let calls = 0
      const policy: DegradationPolicy.DegradationPolicy = (down) => {
        calls++
        if (calls === 2) throw new Error("policy bug")
        return DegradationPolicy.defaultPolicy(down)
      }
      const { layer, logs } = yield* captureLogs
      yield* withDegradation(
        Effect.gen(function*() {
          const degradation = yield* Degradation
          const dep = yield* dependency(DegradationLevel.Degraded()) // calls = 1 (registration)
          yield* degradation.set(DegradationLevel.Limited())
          yield* TestClock.adjust("30 seconds") // tick: calls = 2 → dies
          expect(yield* tag).toBe("Limited")
          yield* TestClock.adjust("30 seconds") // restarted: the next tick works
          expect(yield* tag).toBe("Optimal")
          void dep
        }),
        { recoveryInterval: "30 seconds", policy }
      ).pipe(Effect.provide(layer))
      expect((yield* Ref.get(logs)).some((l) => l.includes("recovery fiber died"))).toBe(true)
    }))

  it.scoped("every transition is logged with its cause", () =>
    Effect.gen(function*() {
      const { layer, logs } = yield* captureLogs
      yield* withDegradation(
        Effect.gen(function*() {
          const redis = yield* dependency(DegradationLevel.Degraded(), { name: uniqueName("redis") })
          yield* redis.fail
          yield* TestClock.adjust("10 seconds")
          yield* redis.succeed
          yield* TestClock.adjust("20 seconds")
          yield* TestClock.adjust("1 second") // let the log fiber write
          const lines = yield* Ref.get(logs)
          expect(lines).toContain(`Degradation: Optimal → Degraded (${redis.name} down)`)
          expect(lines).toContain(`Recovery: Degraded → Optimal (${redis.name} up)`)
        }),
        { recoveryInterval: "30 seconds" }
      ).pipe(Effect.provide(layer))
    }))

  it.scoped("metrics: degradation_level, degradation_transitions_total and dependency_up", () =>
    withDegradation(Effect.gen(function*() {
      const transitions = Metrics.degradationTransitions.pipe(
        Metric.tagged("from", "Optimal"),
        Metric.tagged("to", "Minimal")
      )
      const before = (yield* Metric.value(transitions)).count
      const db = yield* dependency(DegradationLevel.Minimal())
      const up = Metrics.dependencyUp.pipe(Metric.tagged("dependency", db.name))
      expect((yield* Metric.value(up)).value).toBe(1)
      yield* db.fail
      expect((yield* Metric.value(Metrics.degradationLevel)).value).toBe(4)
      expect((yield* Metric.value(transitions)).count).toBe(before + 1)
      expect((yield* Metric.value(up)).value).toBe(0)
    })))

  it.scoped("a layer subscribes before it is returned: a breaker that is already open counts", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: uniqueName("early"), trip: CircuitBreaker.consecutiveFailures(1) })
      yield* Effect.either(breaker(Effect.fail("x")))
      const level = yield* Effect.gen(function*() {
        const degradation = yield* Degradation
        yield* degradation.register({ name: breaker.name, whenDown: DegradationLevel.Limited(), breaker })
        return yield* degradation.current
      }).pipe(Effect.provide(Degradation.layer()))
      expect(level._tag).toBe("Limited")
    }))

  /** The defect of a failed exit: an InvalidOptionError (not a typed failure). */
  const invalidOption = <A, E>(exit: Exit.Exit<A, E>) => {
    assert(Exit.isFailure(exit))
    const defect = Cause.dieOption(exit.cause)
    assert(Option.isSome(defect) && defect.value instanceof CircuitBreaker.InvalidOptionError)
    expect(Cause.failureOption(exit.cause)._tag).toBe("None")
    return defect.value
  }

  it.effect("bad options are a defect naming the option", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(Degradation.layer({ recoveryInterval: "-1 seconds" as never }))))
      const error = invalidOption(exit)
      expect(error.option).toBe("recoveryInterval")
      expect(error.message).toContain("recoveryInterval")
    }))

  it.scoped("registering the same name twice is a defect naming it", () =>
    withDegradation(Effect.gen(function*() {
      const degradation = yield* Degradation
      const name = uniqueName("twice")
      yield* degradation.register({ name, whenDown: DegradationLevel.Degraded() })
      const exit = yield* Effect.exit(degradation.register({ name, whenDown: DegradationLevel.Degraded() }))
      expect(invalidOption(exit).message).toContain(name)
    })))
})
