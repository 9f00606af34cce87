import { CircuitBreaker, Degradation, DegradationLevel } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as DegradationInternal from "../src/internal/degradation.js"
import { uniqueName } from "./utils.js"

type Level = DegradationLevel.DegradationLevel

const tag = Effect.map(Degradation.current, (level) => level._tag)

/** A breaker (opened by one failure) registered with the Degradation in scope. */
const dependency = (
  whenDown: Level,
  options: {
    readonly health?: Effect.Effect<unknown, unknown>
    readonly reset?: Schedule.Schedule<unknown, unknown>
    readonly callTimeout?: Duration.DurationInput
  } = {}
) =>
  Effect.gen(function*() {
    const name = uniqueName("dep")
    const breaker = yield* CircuitBreaker.make({
      name,
      trip: CircuitBreaker.consecutiveFailures(1),
      reset: options.reset ?? Schedule.spaced("10 seconds"),
      callTimeout: options.callTimeout
    })
    const degradation = yield* Degradation
    yield* DegradationInternal.register(degradation, { name, whenDown, breaker, health: options.health })
    const fail = Effect.either(breaker(Effect.fail("down")))
    const succeed = Effect.either(breaker(Effect.void))
    return { name, breaker, fail, succeed }
  })

/** A health check that can be switched between up, failing, dying and hanging. */
const switchable = Effect.gen(function*() {
  const mode = yield* Ref.make<"ok" | "fail" | "die" | "hang">("ok")
  const health = Effect.flatMap(
    Ref.get(mode),
    (m) =>
      m === "fail"
        ? Effect.fail("unhealthy")
        : m === "die"
        ? Effect.die("bug")
        : m === "hang"
        ? Effect.never
        : Effect.void
  )
  return { mode, health }
})

/** Every applied transition, collected from the moment this returns. */
const recordTransitions = Effect.gen(function*() {
  const seen: Array<Degradation.Transition> = []
  const fiber = yield* Stream.runForEach(Degradation.transitions, (t) => Effect.sync(() => seen.push(t))).pipe(
    Effect.forkScoped
  )
  // it waits for the first transition: subscribed
  yield* Effect.yieldNow().pipe(
    Effect.zipRight(Fiber.status(fiber)),
    Effect.repeat({ until: (status) => status._tag === "Suspended" })
  )
  return seen
})

/** `count` checks started and ended, around `body`. */
const counted = <A, E>(body: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const started = yield* Ref.make(0)
    const ended = yield* Ref.make(0)
    const health = Effect.zipRight(
      Ref.update(started, (n) => n + 1),
      Effect.ensuring(body, Ref.update(ended, (n) => n + 1))
    )
    return { started, ended, health }
  })

const withDegradation = <A, E, R>(effect: Effect.Effect<A, E, R>, options?: Degradation.Options) =>
  Effect.provide(effect, Degradation.layer(options))

describe("Degradation: the level recovers only on evidence", () => {
  it.scoped("a half-open breaker without a health check counts as down until it closes: a dependency that never answers has no recoveries in 10 minutes", () =>
    withDegradation(
      Effect.gen(function*() {
        const seen = yield* recordTransitions
        const dep = yield* dependency(DegradationLevel.Degraded(), { callTimeout: "2 seconds" })
        // traffic every second; every call hangs until its timeout
        yield* Effect.forkScoped(
          Effect.repeat(Effect.fork(Effect.either(dep.breaker(Effect.never))), Schedule.spaced("1 second"))
        )
        for (let i = 0; i < 120; i++) yield* TestClock.adjust("5 seconds")
        expect(seen.filter((t) => t.kind === "recover")).toEqual([])
        expect(seen.map((t) => `${t.from._tag}→${t.to._tag}`)).toEqual(["Optimal→Degraded"])
        expect(yield* tag).toBe("Degraded")
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("a half-open breaker counts as up once a health check started after it half-opened passes", () =>
    withDegradation(
      Effect.gen(function*() {
        const dep = yield* dependency(DegradationLevel.Degraded(), { health: Effect.void })
        yield* dep.fail
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("10 seconds") // the breaker's timer half-opens it
        expect((yield* dep.breaker.state)._tag).toBe("HalfOpen")
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("20 seconds") // the tick at 30 s: its check started after the half-opening, and passed
        expect((yield* dep.breaker.state)._tag).toBe("HalfOpen")
        expect(yield* tag).toBe("Optimal")
      }),
      { recoveryInterval: "30 seconds" }
    ))

  it.scoped("a check that started before the breaker half-opened is no evidence of recovery", () =>
    withDegradation(
      Effect.gen(function*() {
        // each check takes 4 s; the tick at 30 s starts one while the breaker is still open
        const dep = yield* dependency(DegradationLevel.Degraded(), {
          health: Effect.sleep("4 seconds"),
          reset: Schedule.spaced("5 seconds")
        })
        yield* TestClock.adjust("27 seconds")
        yield* dep.fail // open until 32 s
        yield* TestClock.adjust("7 seconds") // 34 s: half-open since 32 s, the check of 30 s passed at 34 s
        expect((yield* dep.breaker.state)._tag).toBe("HalfOpen")
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        expect(status.dependencies[0]?.lastCheck?.healthy).toBe(true)
        expect(status.dependencies[0]?.up).toBe(false)
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("30 seconds") // the check of the tick at 60 s started after the half-opening: evidence
        expect(yield* tag).toBe("Optimal")
      }),
      { recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("a dependency whose check passes while its real calls fail flaps at most once per reset period", () =>
    withDegradation(
      Effect.gen(function*() {
        const seen = yield* recordTransitions
        const dep = yield* dependency(DegradationLevel.Degraded(), {
          health: Effect.void,
          reset: Schedule.spaced("60 seconds")
        })
        // a real call every 45 s, and every one fails
        yield* Effect.forkScoped(Effect.repeat(dep.fail, Schedule.spaced("45 seconds")))
        for (let i = 0; i < 60; i++) yield* TestClock.adjust("10 seconds")
        const recoveries = seen.filter((t) => t.kind === "recover").map((t) => t.at)
        expect(recoveries.length).toBeGreaterThan(0)
        expect(recoveries.length).toBeLessThanOrEqual(10)
        for (let i = 1; i < recoveries.length; i++) {
          expect(recoveries[i]! - recoveries[i - 1]!).toBeGreaterThanOrEqual(60_000)
        }
        // never a same-instant pair
        const instants = seen.map((t) => t.at)
        expect(new Set(instants).size).toBe(instants.length)
      }),
      { recoveryInterval: "10 seconds" }
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
        // … but the dependency counts as down while its breaker is open
        expect(yield* tag).toBe("Degraded")
        yield* TestClock.adjust("10 seconds") // half-open; the next check starts after it
        expect(yield* degradation.evaluate).toEqual(DegradationLevel.Optimal())
      }),
      { recoveryInterval: "1 hour" }
    ))
})

describe("Degradation: health checks", () => {
  it.scoped("health is known from the start: a dependency down at boot moves the level before the first tick", () =>
    withDegradation(
      Effect.gen(function*() {
        const degradation = yield* Degradation
        yield* dependency(DegradationLevel.Limited(), { health: Effect.fail("ECONNREFUSED") })
        // no clock: the check started at registration fails, and the level follows at once
        yield* degradation.changes.pipe(Stream.takeUntil((level) => level._tag === "Limited"), Stream.runDrain)
        expect((yield* degradation.status).dependencies[0]?.lastCheck).toMatchObject({ at: 0, healthy: false })
      }),
      { recoveryInterval: "1 hour" }
    ))

  it.scoped("the first check runs in the background: registration does not wait for it", () =>
    withDegradation(
      Effect.gen(function*() {
        const { started, health } = yield* counted(Effect.never)
        yield* dependency(DegradationLevel.Limited(), { health })
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        expect(status.dependencies[0]).toMatchObject({ up: true, lastCheck: undefined })
        yield* TestClock.adjust("5 seconds") // its timeout
        expect(yield* Ref.get(started)).toBe(1)
        expect(yield* tag).toBe("Limited")
      }),
      { recoveryInterval: "1 hour", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("failing, dying and hanging checks mark a dependency down; the recovery fiber survives", () =>
    withDegradation(
      Effect.gen(function*() {
        const { health, mode } = yield* switchable
        const dep = yield* dependency(DegradationLevel.Limited(), { health })
        for (const m of ["fail", "die", "hang"] as const) {
          yield* Ref.set(mode, m)
          yield* TestClock.adjust("30 seconds") // tick; a hanging check times out after 5 s
          yield* TestClock.adjust("5 seconds")
          expect(yield* tag).toBe("Limited")
          const status = yield* Effect.flatMap(Degradation, (d) => d.status)
          const entry = status.dependencies.find((d) => d.name === dep.name)!
          expect(entry.up).toBe(false)
          expect(entry.lastCheck).toMatchObject({
            healthy: false,
            error: m === "fail" ? "unhealthy" : m === "die" ? "bug" : "health check timed out after 5s"
          })
          yield* Ref.set(mode, "ok")
          yield* TestClock.adjust("25 seconds") // next tick at 60 s after the previous
          expect(yield* tag).toBe("Optimal")
        }
      }),
      { recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("a check that ignores interruption times out without holding up the others", () =>
    withDegradation(
      Effect.gen(function*() {
        const stuck = yield* dependency(DegradationLevel.Degraded(), {
          health: Effect.uninterruptible(Effect.sleep("40 seconds"))
        })
        const other = yield* dependency(DegradationLevel.Limited(), { health: Effect.fail("down") })
        yield* TestClock.adjust("30 seconds")
        yield* TestClock.adjust("5 seconds")
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        expect(status.dependencies.find((d) => d.name === stuck.name)?.lastCheck?.error).toBe(
          "health check timed out after 5s"
        )
        expect(status.dependencies.find((d) => d.name === other.name)?.up).toBe(false)
        expect(yield* tag).toBe("Limited")
        yield* TestClock.adjust("5 seconds") // the stuck check ends: nothing holds up the close
      }),
      { recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" }
    ))

  it.scoped("at most one check per dependency is outstanding: after 100 ticks, a check that ignores interruption runs once", () =>
    withDegradation(
      Effect.gen(function*() {
        // released at the end, so that the close need not wait
        const gate = yield* Deferred.make<void>()
        const stuck = yield* counted(Effect.uninterruptible(Deferred.await(gate)))
        const healthy = yield* counted(Effect.void)
        yield* dependency(DegradationLevel.Degraded(), { health: stuck.health })
        yield* dependency(DegradationLevel.Degraded(), { health: healthy.health })
        yield* TestClock.adjust("100 seconds")
        // the stuck one: only the check started at registration, still running; every tick skipped it
        expect(yield* Ref.get(stuck.started)).toBe(1)
        expect(yield* Ref.get(stuck.ended)).toBe(0)
        // the other one: checked at registration and on each of the 100 ticks
        expect(yield* Ref.get(healthy.started)).toBe(101)
        expect(yield* Ref.get(healthy.ended)).toBe(101)
        const status = yield* Effect.flatMap(Degradation, (d) => d.status)
        expect(status.dependencies[0]?.lastCheck?.error).toBe("health check timed out after 500ms")
        yield* Deferred.succeed(gate, undefined)
      }),
      { recoveryInterval: "1 second", healthCheckTimeout: "500 millis" }
    ))

  it.scoped("a check that answers at once needs no timeout timer: a recovery tick sets only the next tick's", () =>
    Effect.gen(function*() {
      let checks = 0
      const degradation = yield* Degradation.make({ recoveryInterval: "30 seconds", healthCheckTimeout: "5 seconds" })
      yield* DegradationInternal.register(degradation, {
        name: uniqueName("instant"),
        whenDown: DegradationLevel.Degraded(),
        health: Effect.sync(() => void checks++)
      })
      for (let tick = 1; tick <= 10; tick++) {
        yield* TestClock.adjust("30 seconds")
        const now = yield* Clock.currentTimeMillis
        // the next tick's sleep, and no timeout at now + 5 s
        expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([now + 30_000])
      }
      // checked at registration and at each tick, each answered and recorded
      expect(checks).toBe(11)
      const status = yield* degradation.status
      expect(status.dependencies[0]?.lastCheck).toMatchObject({ at: 300_000, healthy: true })
    }))

  it.effect("closing the scope ends the outstanding check, waiting for one that ignores interruption: nothing keeps running", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.track
      const closing = yield* Deferred.make<void>()
      // ignores interruption for 3 s (a driver finishing its round trip)
      const check = yield* counted(Effect.uninterruptible(Effect.sleep("3 seconds")))
      const program = Effect.scoped(Effect.gen(function*() {
        const degradation = yield* Degradation.make({ recoveryInterval: "1 hour", healthCheckTimeout: "5 seconds" })
        yield* DegradationInternal.register(degradation, {
          name: uniqueName("closing"),
          whenDown: DegradationLevel.Degraded(),
          health: check.health
        })
        yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
        yield* Ref.get(check.started).pipe(Effect.repeat({ until: (n) => n === 1 }))
      }))
      const fiber = yield* Effect.fork(Effect.supervised(program, supervisor))
      yield* Deferred.await(closing)
      // a second at a time until the close is over
      yield* TestClock.adjust("1 second").pipe(Effect.repeat({ until: () => fiber.unsafePoll() !== null }))
      yield* Fiber.join(fiber)
      // the close waited for the check to end, and nothing it started is still running
      expect(yield* Clock.currentTimeMillis).toBe(3_000)
      expect(yield* Ref.get(check.ended)).toBe(1)
      const running = (yield* supervisor.value).filter((f) => f.unsafePoll() === null)
      expect(running).toEqual([])
    }))

  it.effect("a check that never ends cannot hold up the close for longer than healthCheckTimeout", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const closing = yield* Deferred.make<void>()
      const name = uniqueName("never")
      const check = yield* counted(Effect.uninterruptible(Effect.never))
      const program = Effect.scoped(Effect.gen(function*() {
        const degradation = yield* Degradation.make({ recoveryInterval: "1 hour", healthCheckTimeout: "5 seconds" })
        yield* DegradationInternal.register(degradation, {
          name,
          whenDown: DegradationLevel.Degraded(),
          health: check.health
        })
        yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
        yield* Ref.get(check.started).pipe(Effect.repeat({ until: (n) => n === 1 }))
      }))
      const fiber = yield* Effect.fork(program.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
      yield* Deferred.await(closing)
      // a second at a time until the close is over: it took healthCheckTimeout
      yield* TestClock.adjust("1 second").pipe(Effect.repeat({ until: () => fiber.unsafePoll() !== null }))
      yield* Fiber.join(fiber)
      expect(yield* Clock.currentTimeMillis).toBeLessThanOrEqual(6_000)
      expect(lines).toContain(
        `Degradation: the health check of ${name} ignores interruption and is still running 5s after its dependency was released`
      )
    }))

  it.scoped("a wall clock that steps back does not freeze health-check results", () =>
    Effect.gen(function*() {
      const degradation = yield* Degradation.make({ recoveryInterval: "1 hour" })
      const up = yield* Ref.make(false)
      yield* DegradationInternal.register(degradation, {
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
})
