/**
 * `/admin/faults` over real HTTP: inject and clear faults on a running
 * service's dependencies behind the admin token, watch the breaker and the
 * level react, and see it in `/status` and its event stream.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Degradation, Dependency, Presets } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import { AdminRoutes, DegradationMiddleware, FaultRoutes, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { rawRequest, serverPort } from "./rawHttp.js"
import { captureLogs, counterValue, get, post, send, sendJson, uniqueName } from "./utils.js"

const secret = "drill-token-0123456789"
const auth = { authorization: `Bearer ${secret}` }

interface CacheService {
  readonly get: (key: string) => Effect.Effect<string, CircuitBreaker.Unavailable>
  readonly set: (key: string, value: string) => Effect.Effect<void, CircuitBreaker.Unavailable>
}
class Cache extends Context.Tag("test/FaultRoutes/Cache")<Cache, CacheService>() {}

interface DbService {
  readonly query: Effect.Effect<number, CircuitBreaker.Unavailable>
}
class Db extends Context.Tag("test/FaultRoutes/Db")<Db, DbService>() {}

const rawCache: CacheService = { get: (key) => Effect.succeed(`value of ${key}`), set: () => Effect.void }
const rawDb: DbService = { query: Effect.succeed(1) }

const app = HttpRouter.empty.pipe(
  HttpRouter.concat(StatusRoutes.router),
  HttpRouter.concat(AdminRoutes.router),
  HttpRouter.concat(FaultRoutes.router)
)

const { layer: logLayer, logs } = captureLogs()

/** Fresh names per server: the metric registry is global. */
const names = () => ({ cache: uniqueName("redis"), db: uniqueName("db") })

/**
 * The production stack: `Dependency.layer` over `Faults` over the raw cache
 * (a fallback for `get`), and a second faultable dependency; `faults` decides
 * how the raw services are wrapped (and so whether a registry sees them).
 */
const appLayer = (
  n: { readonly cache: string; readonly db: string },
  wrap: "layer" | "none" = "layer"
) => {
  const cacheFaults = wrap === "layer" ? Faults.layer(Cache, { name: n.cache }) : Layer.empty
  const dbFaults = wrap === "layer" ? Faults.layer(Db, { name: n.db }) : Layer.empty
  const cache = Dependency.layer(Cache, {
    ...Presets.redis,
    name: n.cache,
    fallback: { get: (_error, key) => Effect.succeed(`fallback for ${key}`) }
  }).pipe(Layer.provide(cacheFaults), Layer.provide(Layer.succeed(Cache, rawCache)))
  const db = dbFaults.pipe(Layer.provideMerge(Layer.succeed(Db, rawDb)))
  return Layer.mergeAll(cache, db)
}

const withServer = (options: {
  readonly token?: Layer.Layer<AdminRoutes.Token, unknown>
  readonly registry?: boolean
  readonly wrap?: "layer" | "none"
  readonly names?: { readonly cache: string; readonly db: string }
} = {}) =>
  Effect.provide(
    HttpServer.serve(app, DegradationMiddleware.make()).pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provide(options.token ?? AdminRoutes.layer({ token: Redacted.make(secret) })),
      Layer.provideMerge(appLayer(options.names ?? names(), options.wrap)),
      // Typed as present: the test without a registry never asks for it.
      Layer.provideMerge(
        (options.registry === false ? Layer.empty : Faults.layerRegistry) as Layer.Layer<Faults.Registry>
      ),
      Layer.provideMerge(Degradation.layer()),
      Layer.provide(logLayer)
    )
  )

const request = (method: "POST" | "DELETE", path: string, body?: string, headers: Record<string, string> = auth) =>
  sendJson(
    (method === "POST" ? HttpClientRequest.post(path, { headers }) : HttpClientRequest.del(path, { headers })).pipe(
      body === undefined ? (r) => r : HttpClientRequest.bodyText(body, "application/json")
    )
  )

const inject = (dependency: string, body: unknown, headers: Record<string, string> = auth) =>
  request("POST", `/admin/faults/${dependency}`, JSON.stringify(body), headers)

const actions = (action: string, outcome: string) => counterValue("admin_actions_total", { action, outcome })
const injections = (dependency: string, fault: string) => counterValue("fault_injections_total", { dependency, fault })

const levelOf = Effect.flatMap(Degradation, (d) => Effect.map(d.current, (l) => l._tag))

describe("FaultRoutes", () => {
  it.scoped("a drill: down on the cache opens its breaker, the fallback answers, /status shows the fault; DELETE recovers", () => {
    const n = names()
    return Effect.gen(function*() {
      const listed = yield* get("/admin/faults", auth)
      expect(listed.status).toBe(200)
      expect(listed.json).toEqual({
        dependencies: [n.db, n.cache].sort().map((name) => ({
          name,
          members: name === n.cache ? ["get", "set"] : ["query"],
          faults: []
        })),
        faults: []
      })
      // Fault injection is on: /status has the field, empty.
      expect((yield* get("/status")).json.faults).toEqual([])

      const before = { ok: yield* actions("fault-inject", "ok"), down: yield* injections(n.cache, "down") }
      yield* TestClock.adjust("7 seconds")
      const injected = yield* inject(n.cache, { fault: "down" })
      expect(injected.status).toBe(200)
      // Answered like every admin action: the JSON of /status, with the faults in force.
      expect(Object.keys(injected.json)).toEqual(
        expect.arrayContaining(["level", "dependencies", "transitions", "faults"])
      )
      expect(injected.json.faults).toEqual([
        { dependency: n.cache, member: null, fault: "down", description: "down", since: 7000 }
      ])
      expect((yield* actions("fault-inject", "ok")) - before.ok).toBe(1)
      expect((yield* injections(n.cache, "down")) - before.down).toBe(1)

      // The service keeps answering: the fallback, until the breaker opens and the level drops.
      const cache = yield* Cache
      for (let i = 0; i < 5; i++) expect(yield* cache.get("k")).toBe("fallback for k")
      const status = (yield* get("/status")).json
      expect(status.level).toBe("Degraded")
      expect(status.dependencies.find((d: any) => d.name === n.cache)).toMatchObject({ up: false, breaker: "Open" })
      expect(status.faults).toHaveLength(1)

      const cleared = yield* request("DELETE", `/admin/faults/${n.cache}`)
      expect(cleared.status).toBe(200)
      expect(cleared.json.faults).toEqual([])
      // The breaker's probe reaches the recovered service; the level follows on the recovery tick.
      yield* TestClock.adjust("20 seconds") // Presets.redis: reset after 20 s
      expect(yield* cache.get("k")).toBe("value of k")
      yield* TestClock.adjust("30 seconds")
      expect(yield* levelOf).toBe("Optimal")
    }).pipe(withServer({ names: n }))
  })

  it.scoped("slow (a duration string or milliseconds) and flaky on members; DELETE ?member= clears one, DELETE /admin/faults all", () => {
    const n = names()
    return Effect.gen(function*() {
      // Under the cache's 1 s call timeout, so that the call passes late rather than times out.
      expect((yield* inject(n.cache, { fault: "slow", duration: "800 millis", member: "get" })).status).toBe(200)
      expect((yield* inject(n.cache, { fault: "slow", duration: 1500, member: "set" })).status).toBe(200)
      expect((yield* inject(n.db, { fault: "flaky", probability: 0.25 })).status).toBe(200)
      expect((yield* inject(n.db, { fault: "hang", member: "query" })).status).toBe(200)
      const listed = (yield* get("/admin/faults", auth)).json
      const byName = Object.fromEntries(listed.dependencies.map((d: any) => [d.name, d.faults]))
      expect(byName[n.cache]).toEqual([
        { dependency: n.cache, member: "get", fault: "slow", description: "slow 800ms", since: 0, duration: 800 },
        { dependency: n.cache, member: "set", fault: "slow", description: "slow 1s 500ms", since: 0, duration: 1500 }
      ])
      expect(byName[n.db]).toEqual([
        { dependency: n.db, member: null, fault: "flaky", description: "flaky 25%", since: 0, probability: 0.25 },
        { dependency: n.db, member: "query", fault: "hang", description: "hang", since: 0 }
      ])
      expect(listed.faults).toHaveLength(4)

      // The fault really is in force: a get waits 800 ms on the clock.
      const cache = yield* Cache
      const call = yield* Effect.fork(cache.get("k"))
      yield* TestClock.adjust("500 millis")
      expect(call.unsafePoll()).toBe(null)
      yield* TestClock.adjust("300 millis")
      expect(yield* Fiber.join(call)).toBe("value of k")

      const one = yield* request("DELETE", `/admin/faults/${n.cache}?member=get`)
      expect(one.status).toBe(200)
      // By dependency name ("db-…" before "redis-…"), the whole service's fault first, then by member.
      expect(one.json.faults.map((f: any) => `${f.dependency}.${f.member}`)).toEqual([
        `${n.db}.null`,
        `${n.db}.query`,
        `${n.cache}.set`
      ])
      const all = yield* request("DELETE", "/admin/faults")
      expect(all.status).toBe(200)
      expect(all.json.faults).toEqual([])
      expect(yield* (yield* Faults.Registry).injected).toEqual([])
    }).pipe(withServer({ names: n }))
  })

  it.scoped("bad input is a 4xx naming the field, never a 500, and injects nothing", () => {
    const n = names()
    return Effect.gen(function*() {
      const before = { invalid: yield* actions("fault-inject", "invalid"), down: yield* injections(n.cache, "down") }
      const cases: Array<[string, number, string]> = [
        ["{ not json", 400, "body"],
        ["", 400, "body"],
        ["[]", 400, "body"],
        ["\"down\"", 400, "body"],
        [JSON.stringify({}), 400, "fault"],
        [JSON.stringify({ fault: "explode" }), 400, "fault"],
        [JSON.stringify({ fault: 3 }), 400, "fault"],
        [JSON.stringify({ fault: "slow" }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: "-1 seconds" }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: "forever" }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: -5 }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: 0 }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: "30 days" }), 400, "duration"],
        [JSON.stringify({ fault: "slow", duration: [1, 0] }), 400, "duration"],
        [JSON.stringify({ fault: "down", duration: "2 seconds" }), 400, "duration"],
        [JSON.stringify({ fault: "flaky" }), 400, "probability"],
        [JSON.stringify({ fault: "flaky", probability: 1.5 }), 400, "probability"],
        [JSON.stringify({ fault: "flaky", probability: -0.1 }), 400, "probability"],
        [JSON.stringify({ fault: "flaky", probability: "0.5" }), 400, "probability"],
        [JSON.stringify({ fault: "hang", probability: 0.5 }), 400, "probability"],
        [JSON.stringify({ fault: "down", member: "nope" }), 400, "member"],
        [JSON.stringify({ fault: "down", member: 5 }), 400, "member"],
        [JSON.stringify({ fault: "flaky", propability: 0.5 }), 400, "propability"],
        [JSON.stringify({ fault: "down", member: "x".repeat(70 * 1024) }), 413, "body"]
      ]
      for (const [body, status, field] of cases) {
        const answer = yield* request("POST", `/admin/faults/${n.cache}`, body)
        const label = body.slice(0, 50)
        expect(answer.status, label).toBe(status)
        expect(answer.json.field, label).toBe(field)
        expect(typeof answer.json.message, label).toBe("string")
      }
      const unknownFault = yield* inject(n.cache, { fault: "explode" })
      expect(unknownFault.json.message).toContain("explode")
      expect(unknownFault.json.message).toContain("down, hang, slow, flaky")
      const unknownMember = yield* inject(n.cache, { fault: "down", member: "nope" })
      expect(unknownMember.json.members).toEqual(["get", "set"])
      expect((yield* actions("fault-inject", "invalid")) - before.invalid).toBe(cases.length + 2)

      const unknown = yield* inject("nope", { fault: "down" })
      expect(unknown.status).toBe(404)
      expect(unknown.json).toMatchObject({ error: "unknown_dependency", dependency: "nope" })
      expect(unknown.json.dependencies).toEqual([n.db, n.cache].sort())
      expect((yield* request("DELETE", "/admin/faults/nope")).status).toBe(404)
      const badMember = yield* request("DELETE", `/admin/faults/${n.cache}?member=nope`)
      expect(badMember.status).toBe(400)
      expect(badMember.json.field).toBe("member")

      expect(yield* (yield* Faults.Registry).injected).toEqual([])
      expect((yield* injections(n.cache, "down")) - before.down).toBe(0)
      expect(yield* (yield* Cache).get("k")).toBe("value of k")
    }).pipe(withServer({ names: n }))
  })

  it.scoped("a missing or wrong bearer is 401 with www-authenticate: Bearer and injects nothing", () => {
    const n = names()
    return Effect.gen(function*() {
      const before = yield* actions("fault-inject", "denied")
      for (
        const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${secret}x` }, {
          authorization: secret
        }]
      ) {
        const denied = yield* inject(n.cache, { fault: "down" }, headers)
        expect(denied.status, JSON.stringify(headers)).toBe(401)
        expect(denied.headers["www-authenticate"]).toBe("Bearer")
      }
      expect((yield* get("/admin/faults", { authorization: "Bearer no" })).status).toBe(401)
      expect((yield* request("DELETE", `/admin/faults/${n.cache}`, undefined, {})).status).toBe(401)
      expect((yield* request("DELETE", "/admin/faults", undefined, {})).status).toBe(401)
      expect((yield* actions("fault-inject", "denied")) - before).toBe(4)
      expect(yield* (yield* Faults.Registry).injected).toEqual([])
    }).pipe(withServer({ names: n }))
  })

  it.scoped("without an admin token every fault route is 404", () => {
    const n = names()
    return Effect.gen(function*() {
      expect((yield* get("/admin/faults", auth)).status).toBe(404)
      expect((yield* inject(n.cache, { fault: "down" })).status).toBe(404)
      expect((yield* request("DELETE", `/admin/faults/${n.cache}`)).status).toBe(404)
      expect(yield* (yield* Faults.Registry).injected).toEqual([])
    }).pipe(withServer({ names: n, token: AdminRoutes.layer({ token: undefined }) }))
  })

  it.scoped("without an admin token the 404 names nothing: no variable, no token, no fault injection", () => {
    const n = names()
    return Effect.gen(function*() {
      const answers = [
        yield* get("/admin/faults", auth),
        yield* get("/admin/faults"),
        yield* inject(n.cache, { fault: "down" }),
        yield* inject(n.cache, { fault: "down" }, {}),
        yield* request("DELETE", `/admin/faults/${n.cache}`),
        yield* request("DELETE", "/admin/faults", undefined, {})
      ]
      for (const answer of answers) {
        expect(answer.status).toBe(404)
        expect(answer.text).not.toMatch(/RESILIENCE|token|fault|admin/i)
        expect(answer.json).toEqual({ error: "not_found", message: "Not found" })
        expect(answer.headers["x-content-type-options"]).toBe("nosniff")
      }
    }).pipe(withServer({ names: n, token: AdminRoutes.layer({ token: undefined }) }))
  })

  it.scoped("a POST body that is not JSON is 415, and injects nothing", () => {
    const n = names()
    return Effect.gen(function*() {
      const answer = yield* sendJson(
        HttpClientRequest.post(`/admin/faults/${n.cache}`, { headers: auth }).pipe(
          HttpClientRequest.bodyText(JSON.stringify({ fault: "down" }), "text/plain")
        )
      )
      expect(answer.status).toBe(415)
      expect(answer.json).toMatchObject({ error: "unsupported_media_type", field: "content-type" })
      expect(answer.headers["x-content-type-options"]).toBe("nosniff")
      expect(yield* (yield* Faults.Registry).injected).toEqual([])
    }).pipe(withServer({ names: n }))
  })

  it.live("a body over 64 KiB is 413 before it is read, also when chunked, and injects nothing", () => {
    const n = names()
    return Effect.gen(function*() {
      const port = yield* serverPort
      for (const framing of [{ "content-length": String(10 * 1024 * 1024) }, { "transfer-encoding": "chunked" }]) {
        const answer = yield* rawRequest(port, {
          method: "POST",
          path: `/admin/faults/${n.cache}`,
          headers: { ...auth, "content-type": "application/json", ...framing },
          stream: { total: 10 * 1024 * 1024, chunk: 16 * 1024, every: 10 }
        })
        expect(answer.status).toBe(413)
        expect(answer.json).toMatchObject({ error: "payload_too_large", field: "body", limit: 64 * 1024 })
        // 10 MB would take 6.4 s to send: answered after a small part of it.
        expect(answer.sentBeforeResponse).toBeLessThan(2 * 1024 * 1024)
        expect(answer.elapsed).toBeLessThan(5000)
      }
      expect(yield* (yield* Faults.Registry).injected).toEqual([])
    }).pipe(withServer({ names: n }), Effect.scoped)
  })

  it.scoped("fault injection off (no registry): 404, and /status has no faults field", () => {
    const n = names()
    return Effect.gen(function*() {
      const off = yield* inject(n.cache, { fault: "down" })
      expect(off.status).toBe(404)
      expect(off.json.message).toContain("RESILIENCE_FAULTS")
      expect((yield* get("/admin/faults", auth)).status).toBe(404)
      expect("faults" in (yield* get("/status")).json).toBe(false)
    }).pipe(withServer({ names: n, registry: false }))
  })

  it.scoped("fault injection off (RESILIENCE_FAULTS=off: a registry with nothing registered): 404", () => {
    const n = names()
    const layer = Layer.mergeAll(
      Faults.layerConfig(Cache, { name: n.cache }).pipe(Layer.provide(Layer.succeed(Cache, rawCache))),
      Faults.layerConfig(Db, { name: n.db }).pipe(Layer.provide(Layer.succeed(Db, rawDb)))
    )
    return Effect.gen(function*() {
      expect((yield* inject(n.cache, { fault: "down" })).status).toBe(404)
      expect((yield* get("/admin/faults", auth)).status).toBe(404)
      expect("faults" in (yield* get("/status")).json).toBe(false)
      // Off means the raw service itself.
      expect(yield* Cache).toBe(rawCache)
    }).pipe(
      Effect.provide(
        HttpServer.serve(app).pipe(
          Layer.provideMerge(NodeHttpServer.layerTest),
          Layer.provide(AdminRoutes.layer({ token: Redacted.make(secret) })),
          Layer.provideMerge(layer),
          Layer.provideMerge(Faults.layerRegistry),
          Layer.provideMerge(Degradation.layer())
        )
      ),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RESILIENCE_FAULTS", "off"]])))
    )
  })

  it.scoped("every action is logged with action, outcome and remote address; the token never is", () => {
    const n = names()
    return Effect.gen(function*() {
      logs.length = 0
      yield* inject(n.cache, { fault: "flaky", probability: 0.5, member: "get" })
      yield* inject(n.cache, { fault: "flaky", probability: 2 })
      yield* inject(n.cache, { fault: "down" }, { authorization: "Bearer no" })
      yield* request("DELETE", `/admin/faults/${n.cache}`)
      yield* get("/admin/faults", auth)
      const admin = logs.filter((log) => log.message.startsWith("Admin:"))
      expect(admin.map((log) => [log.annotations["action"], log.annotations["outcome"]])).toEqual([
        ["fault-inject", "ok"],
        ["fault-inject", "invalid"],
        ["fault-inject", "denied"],
        ["fault-recover", "ok"],
        ["faults-list", "ok"]
      ])
      expect(admin[0]!.message).toContain(`${n.cache}: flaky 50% on get`)
      for (const log of admin) expect(String(log.annotations["remote"])).toMatch(/127\.0\.0\.1|::1|::ffff/)
      // The Faults layer logs the injection itself too.
      expect(
        logs.some((log) =>
          log.message.includes("injected flaky 50% on get") && log.annotations["dependency"] === n.cache
        )
      )
        .toBe(true)
      expect(JSON.stringify(logs)).not.toContain(secret)
    }).pipe(withServer({ names: n }))
  })

  it.scopedLive("/status/events announces every fault change", () => {
    const n = names()
    return Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.execute(HttpClientRequest.get("/status/events"))
      const received: Array<any> = []
      const first = yield* Deferred.make<void>()
      const both = yield* Deferred.make<void>()
      yield* response.stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.filter((line) => line.startsWith("data: ")),
        Stream.runForEach((line) =>
          Effect.gen(function*() {
            received.push(JSON.parse(line.slice("data: ".length)))
            yield* Deferred.succeed(first, undefined)
            if (received.filter((e) => e.type === "faults").length >= 2) yield* Deferred.succeed(both, undefined)
          })
        ),
        Effect.forkScoped
      )
      yield* Deferred.await(first)
      expect(received[0]).toMatchObject({ type: "level", level: "Optimal", faults: [] })
      yield* inject(n.db, { fault: "slow", duration: "3 seconds", member: "query" })
      yield* request("DELETE", `/admin/faults/${n.db}`)
      yield* Deferred.await(both).pipe(Effect.timeout("10 seconds"))
      const events = received.filter((e) => e.type === "faults")
      expect(events[0]).toMatchObject({
        type: "faults",
        change: "inject",
        dependency: n.db,
        member: "query",
        fault: "slow",
        faults: [{ dependency: n.db, member: "query", fault: "slow", duration: 3000 }]
      })
      expect(events[1]).toMatchObject({ type: "faults", change: "recover", dependency: n.db, member: null, faults: [] })
    }).pipe(withServer({ names: n }))
  })
})

describe("FaultRoutes answers", () => {
  it.scoped("are JSON and not cached", () =>
    Effect.gen(function*() {
      const answer = yield* send(HttpClientRequest.get("/admin/faults", { headers: auth }))
      expect(answer.status).toBe(200)
      expect(answer.headers["content-type"]).toMatch(/^application\/json/)
      expect(answer.headers["cache-control"]).toBe("no-store")
      expect(answer.headers["x-content-type-options"]).toBe("nosniff")
      const errors = [
        yield* get("/admin/faults"),
        yield* post("/admin/faults/nothing", { fault: "down" }, auth),
        yield* request("DELETE", "/admin/faults")
      ]
      expect(errors.map((e) => e.status)).toEqual([401, 404, 200])
      for (const error of errors) expect(error.headers["x-content-type-options"]).toBe("nosniff")
      expect((yield* post("/admin/faults/nothing", { fault: "down" }, auth)).status).toBe(404)
      expect(
        Metric.unsafeSnapshot().some((pair) =>
          pair.metricKey.name === "admin_actions_total" &&
          pair.metricKey.tags.some((t) => t.key === "action" && t.value === "fault-inject")
        )
      ).toBe(true)
    }).pipe(withServer()))
})
