import { Degradation, DegradationLevel, InvalidOptionError } from "@effect-resilience/core"
import { AdminRoutes, StatusRoutes } from "@effect-resilience/platform"
import { FleetOverride } from "@effect-resilience/platform/redis"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type Socket, Socket as NetSocket } from "node:net"
import { dependency, get, post, uniqueName } from "./utils.js"

const machineRedis = "redis://127.0.0.1:6379"
const prefixes: Array<{ url: string; prefix: string }> = []

/** A prefix of its own per test, deleted after the file. */
const freshPrefix = (url = machineRedis) => {
  const prefix = `test:fleet:${process.pid}:${Math.random().toString(36).slice(2)}`
  prefixes.push({ url, prefix })
  return prefix
}

afterAll(async () => {
  const redis = new Redis(machineRedis, { lazyConnect: true })
  await redis.connect()
  for (const { prefix, url } of prefixes) {
    if (url !== machineRedis) continue
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  await redis.quit()
})

/** One instance: its own Degradation and its own Redis connections, in `scope`. */
const instance = (scope: Scope.Scope, options: FleetOverride.Options) =>
  Effect.gen(function*() {
    const local = yield* Degradation.make().pipe(Scope.extend(scope))
    return yield* FleetOverride.make(local, { timeout: "500 millis", ...options }).pipe(Scope.extend(scope))
  })

/** Polls `f` until `predicate` holds (real time: these tests talk to a real Redis). */
const eventually = <A>(f: Effect.Effect<A>, predicate: (a: A) => boolean, what: string) =>
  f.pipe(
    Effect.filterOrFail(predicate, () => new Error(`not yet: ${what}`)),
    Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo("6 seconds"))),
    Effect.orDie
  )

const forcedOf = (degradation: Degradation.Service) =>
  Effect.map(
    degradation.status,
    (status) => status.forced === undefined ? null : `${status.forced.level._tag}: ${status.forced.reason}`
  )

const freePort = () =>
  Effect.async<number>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** A private redis-server (no persistence) on `port`, stopped by PID with the scope. */
const redisServer = (port: number) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, Error>((resume) => {
      const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout!.on("data", (chunk) => {
        output += chunk
        if (output.includes("Ready to accept connections")) resume(Effect.succeed(child))
      })
      child.on("exit", (code) => resume(Effect.fail(new Error(`redis-server exited (${code}): ${output}`))))
    }).pipe(Effect.orDie),
    (child) => stop(child)
  )

const stop = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    process.kill(child.pid!, "SIGKILL")
  })

/** A TCP proxy to 127.0.0.1:`target` whose connections the test can cut (and refuse) and restore. */
const tcpProxy = (target: number) =>
  Effect.gen(function*() {
    const sockets = new Set<Socket>()
    let open = true
    const server = createServer((client) => {
      if (!open) return client.destroy()
      const upstream = new NetSocket()
      upstream.connect(target, "127.0.0.1")
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const close = () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on("error", close).on("close", close)
      upstream.on("error", close).on("close", close)
    })
    const port = yield* Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
    })
    const cutAll = () => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    }
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        open = false
        cutAll()
        server.close(() => resume(Effect.void))
      })
    )
    return {
      port,
      cut: Effect.sync(() => {
        open = false
        cutAll()
      }),
      restore: Effect.sync(() => {
        open = true
      })
    }
  })

describe("FleetOverride", () => {
  it.scopedLive("a force through one instance applies to the other; a release through the other to both", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const prefix = freshPrefix()
      const a = yield* instance(scope, { redis: machineRedis, prefix, instance: "a" })
      const b = yield* instance(scope, { redis: machineRedis, prefix, instance: "b" })

      yield* a.force(DegradationLevel.Minimal(), "db migration")
      expect(yield* forcedOf(a)).toBe("Minimal: db migration")
      expect(yield* eventually(forcedOf(b), (f) => f !== null, "b forced")).toBe("Minimal: db migration")
      expect((yield* b.current)._tag).toBe("Minimal")

      yield* b.release
      expect(yield* eventually(forcedOf(a), (f) => f === null, "a released")).toBeNull()
      expect((yield* a.current)._tag).toBe("Optimal")

      // Automatic (and `set`) levels stay per instance.
      yield* a.set(DegradationLevel.Limited())
      yield* Effect.sleep("200 millis")
      expect((yield* a.current)._tag).toBe("Limited")
      expect((yield* b.current)._tag).toBe("Optimal")

      const fleet = yield* FleetOverride.status(b)
      expect(fleet).toMatchObject({ connected: true, pending: false, instance: "b" })
      expect(fleet!.lastSync).toBeGreaterThan(Date.now() - 10_000)
      expect(yield* FleetOverride.status(yield* Degradation.make().pipe(Scope.extend(scope)))).toBeUndefined()
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))

  it.scopedLive("a new instance starts with the override in force; a later force wins over an earlier one", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const prefix = freshPrefix()
      const a = yield* instance(scope, { redis: machineRedis, prefix })
      yield* a.force(DegradationLevel.Limited(), "first")
      yield* a.force(DegradationLevel.Emergency(), "incident 42")

      const late = yield* instance(scope, { redis: machineRedis, prefix })
      // No waiting: the layer read the override before it was built.
      expect(yield* forcedOf(late)).toBe("Emergency: incident 42")
      expect((yield* late.current)._tag).toBe("Emergency")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))

  it.scopedLive("over HTTP: an admin force on one server shows on another's /status, with the fleet field", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const db = uniqueName("db")
      const scope = yield* Effect.scope
      const other = yield* instance(scope, { redis: machineRedis, prefix, instance: "other" })

      const app = HttpRouter.empty.pipe(HttpRouter.concat(StatusRoutes.router), HttpRouter.concat(AdminRoutes.router))
      const server = HttpServer.serve(app).pipe(
        Layer.provideMerge(NodeHttpServer.layerTest),
        Layer.provide(AdminRoutes.layer({ token: Redacted.make("s3cret") })),
        // A dependency registered through the decorated service still reaches the level.
        Layer.provideMerge(dependency(db, DegradationLevel.Degraded())),
        Layer.provideMerge(FleetOverride.layer({ redis: machineRedis, prefix, instance: "http" })),
        Layer.provide(Degradation.layer())
      )
      yield* Effect.gen(function*() {
        const client = yield* Effect.context<HttpClient.HttpClient>()
        const forced = yield* post("/admin/degradation/force", { level: "Minimal", reason: "maintenance" }, {
          authorization: "Bearer s3cret"
        })
        expect(forced.status).toBe(200)
        expect(forced.json.forced).toMatchObject({ level: "Minimal", reason: "maintenance" })
        expect(forced.json.fleet).toMatchObject({ connected: true, pending: false, instance: "http" })
        expect(yield* eventually(forcedOf(other), (f) => f !== null, "other forced")).toBe("Minimal: maintenance")

        const breaker = (yield* (yield* Degradation).breakers).get(db)
        expect(breaker).toBeDefined()
        yield* breaker!.forceOpen
        const status = yield* eventually(
          get("/status").pipe(Effect.orDie, Effect.provide(client)),
          (r) => r.json.dependencies.some((d: any) => d.name === db && d.breaker === "ForcedOpen"),
          "the breaker in /status"
        )
        expect(status.json.fleet.connected).toBe(true)
        expect(status.json.fleet.lastSync).toBeTypeOf("number")

        yield* other.release
        const released = yield* eventually(
          get("/status").pipe(Effect.orDie, Effect.provide(client)),
          (r) => r.json.forced === null,
          "released"
        )
        // The breaker's level (Degraded) is this instance's own.
        expect(released.json.level).toBe("Degraded")
        expect((yield* other.current)._tag).toBe("Optimal")
      }).pipe(Effect.provide(server), Effect.scoped)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))

  it.scopedLive(
    "losing Redis: each instance keeps its last known override, says so, and converges when Redis is back",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        const url = `redis://127.0.0.1:${port}`
        const prefix = freshPrefix(url)
        const scope = yield* Effect.scope
        let server = yield* redisServer(port).pipe(Scope.extend(scope))
        const options = { redis: url, prefix, timeout: "300 millis", syncInterval: "200 millis" } as const
        const a = yield* instance(scope, { ...options, instance: "a" })
        const b = yield* instance(scope, { ...options, instance: "b" })

        yield* a.force(DegradationLevel.Minimal(), "migration")
        yield* eventually(forcedOf(b), (f) => f !== null, "b forced")

        yield* stop(server)
        const lost = yield* eventually(FleetOverride.status(b), (s) => s?.connected === false, "b sees Redis gone")
        expect(lost!.lastSync).toBeTypeOf("number")
        expect(yield* forcedOf(a)).toBe("Minimal: migration")
        expect(yield* forcedOf(b)).toBe("Minimal: migration")

        // A change while Redis is away applies here at once (not when Redis is back), and only here.
        const started = Date.now()
        yield* b.force(DegradationLevel.Emergency(), "outage")
        expect(Date.now() - started).toBeLessThan(250)
        expect(yield* forcedOf(b)).toBe("Emergency: outage")
        expect((yield* FleetOverride.status(b))!.pending).toBe(true)
        expect(yield* forcedOf(a)).toBe("Minimal: migration")

        // Redis comes back empty (no persistence): the fleet agrees again, on an override someone held, and
        // Redis holds it again.
        server = yield* redisServer(port).pipe(Scope.extend(scope))
        yield* eventually(
          Effect.all([FleetOverride.status(a), FleetOverride.status(b), forcedOf(a), forcedOf(b)]),
          ([sa, sb, fa, fb]) => sa!.connected && sb!.connected && !sb!.pending && fa !== null && fa === fb,
          "converged"
        )
        const agreed = yield* forcedOf(a)
        expect(["Minimal: migration", "Emergency: outage"]).toContain(agreed)
        const check = new Redis(url)
        const stored = JSON.parse((yield* Effect.promise(() => check.get(`${prefix}:override`)))!)
        yield* Effect.promise(() => check.quit())
        expect(`${stored.forced.level}: ${stored.forced.reason}`).toBe(agreed)

        // And the channel works again.
        yield* a.release
        yield* eventually(forcedOf(b), (f) => f === null, "b released after the restart")
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)),
    30_000
  )

  it.scopedLive(
    "a change made while cut off is shared when Redis is back, unless the fleet changed the override meanwhile",
    () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const scope = yield* Effect.scope
        // b reaches Redis through a proxy the test can cut; a directly.
        const proxy = yield* tcpProxy(6379).pipe(Scope.extend(scope))
        const options = { prefix, timeout: "300 millis", syncInterval: "10 seconds" } as const
        const a = yield* instance(scope, { ...options, redis: machineRedis, instance: "a" })
        const b = yield* instance(scope, { ...options, redis: `redis://127.0.0.1:${proxy.port}`, instance: "b" })
        yield* a.force(DegradationLevel.Limited(), "warm-up")
        yield* eventually(forcedOf(b), (f) => f !== null, "b forced")

        // Nobody else changes anything: b's release, made while cut off, reaches a on reconnect.
        yield* proxy.cut
        yield* eventually(FleetOverride.status(b), (s) => s?.connected === false, "b cut off")
        yield* b.release
        expect(yield* forcedOf(b)).toBeNull()
        expect((yield* FleetOverride.status(b))!.pending).toBe(true)
        yield* Effect.sleep("300 millis")
        expect(yield* forcedOf(a)).toBe("Limited: warm-up")
        yield* proxy.restore
        yield* eventually(forcedOf(a), (f) => f === null, "a follows b's release")
        yield* eventually(FleetOverride.status(b), (s) => s!.connected && !s!.pending, "b synced")

        // The fleet changed the override while b was cut off: b follows the fleet, its own change is dropped.
        yield* proxy.cut
        yield* eventually(FleetOverride.status(b), (s) => s?.connected === false, "b cut off again")
        yield* b.force(DegradationLevel.Degraded(), "local only")
        yield* a.force(DegradationLevel.Emergency(), "fleet-wide")
        expect(yield* forcedOf(b)).toBe("Degraded: local only")
        yield* proxy.restore
        yield* eventually(forcedOf(b), (f) => f === "Emergency: fleet-wide", "b follows the fleet")
        expect(yield* forcedOf(a)).toBe("Emergency: fleet-wide")
        expect((yield* FleetOverride.status(b))!.pending).toBe(false)
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)),
    30_000
  )

  it.scopedLive("bad options are an InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const local = yield* Degradation.make().pipe(Scope.extend(scope))
      for (
        const [options, option] of [
          [{ timeout: -1 }, "timeout"],
          [{ syncInterval: "forever" }, "syncInterval"],
          [{ prefix: "" }, "prefix"],
          [{ redis: 42 }, "redis"]
        ] as const
      ) {
        const exit = yield* FleetOverride.make(local, options as any).pipe(Scope.extend(scope), Effect.exit)
        expect(Exit.isFailure(exit)).toBe(true)
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(defect).toBeInstanceOf(InvalidOptionError)
        expect((defect as InvalidOptionError).option).toBe(option)
      }
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))
})
