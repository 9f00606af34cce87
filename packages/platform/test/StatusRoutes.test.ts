import { Degradation, DegradationLevel, InvalidOptionError } from "@effect-resilience/core"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import { rawRequest, serverPort } from "./rawHttp.js"
import { breakerOf, dependency, get, send, uniqueName } from "./utils.js"

const db = uniqueName("db")
const cache = uniqueName("cache")

const withServer = (routes = StatusRoutes.router) =>
  Effect.provide(
    HttpServer.serve(routes, DegradationMiddleware.make()).pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provideMerge(
        Layer.mergeAll(dependency(db, DegradationLevel.Minimal()), dependency(cache, DegradationLevel.Degraded()))
      ),
      Layer.provideMerge(Degradation.layer())
    )
  )

const force = (level: DegradationLevel.DegradationLevel, reason = "test") =>
  Effect.flatMap(Degradation, (degradation) => degradation.force(level, reason))

/** Opens `/status/events` in `scope` and hands every parsed `data:` JSON to a queue, comments as strings. */
const subscribeWithReader = (path: string, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const events = yield* Queue.unbounded<any>()
    const response = yield* client.execute(HttpClientRequest.get(path)).pipe(Scope.extend(scope))
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toMatch(/^text\/event-stream/)
    let buffer = ""
    const reader = yield* response.stream.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => {
        buffer += text
        const parts = buffer.split("\n\n")
        buffer = parts.pop()!
        return Effect.forEach(parts, (part) => {
          const data = part.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6))
          return data.length > 0 ? Queue.offer(events, JSON.parse(data.join("\n"))) : Queue.offer(events, part)
        })
      }),
      Effect.forkIn(scope)
    )
    return { events, reader }
  })

const subscribe = (path: string, scope: Scope.Scope) =>
  Effect.map(subscribeWithReader(path, scope), ({ events }) => events)

/** The next event that is not a comment. */
const nextEvent = (events: Queue.Queue<any>): Effect.Effect<any> =>
  Effect.flatMap(Queue.take(events), (event) => typeof event === "string" ? nextEvent(events) : Effect.succeed(event))

describe("StatusRoutes", () => {
  it.scoped("/health answers 200 { status: ok } at every level", () =>
    Effect.gen(function*() {
      for (const level of DegradationLevel.all) {
        yield* force(level)
        const health = yield* get("/health")
        expect(health.status).toBe(200)
        expect(health.json).toEqual({ status: "ok" })
      }
    }).pipe(withServer()))

  it.scoped("/ready answers 200 below Emergency and 503 at Emergency, with the level", () =>
    Effect.gen(function*() {
      for (const level of DegradationLevel.all) {
        yield* force(level)
        const ready = yield* get("/ready")
        expect(ready.status, level._tag).toBe(level._tag === "Emergency" ? 503 : 200)
        expect(ready.json.level).toBe(level._tag)
      }
    }).pipe(withServer()))

  it.scoped("/status: level, rank, since, computed, forced, dependencies and transitions newest first", () =>
    Effect.gen(function*() {
      const initial = yield* get("/status")
      expect(initial.status).toBe(200)
      expect(initial.headers["content-type"]).toMatch(/^application\/json/)
      expect(initial.json).toMatchObject({ level: "Optimal", rank: 1, computed: "Optimal", forced: null })
      expect(typeof initial.json.since).toBe("number")
      const names = initial.json.dependencies.map((d: any) => d.name)
      expect(names).toEqual(expect.arrayContaining([db, cache]))
      expect(initial.json.dependencies.find((d: any) => d.name === db)).toEqual({
        name: db,
        up: true,
        whenDown: "Minimal",
        breaker: "Closed",
        lastCheck: null
      })

      yield* Effect.flatMap(breakerOf(cache), (breaker) => breaker.forceOpen)
      yield* force(DegradationLevel.Limited(), "maintenance")
      const after = yield* get("/status")
      expect(after.json).toMatchObject({
        level: "Limited",
        rank: 3,
        computed: "Degraded",
        forced: { level: "Limited", reason: "maintenance" }
      })
      expect(typeof after.json.forced.since).toBe("number")
      expect(after.json.dependencies.find((d: any) => d.name === cache)).toMatchObject({
        up: false,
        breaker: "ForcedOpen"
      })
      const [newest, older] = after.json.transitions
      expect(newest).toMatchObject({ from: "Degraded", to: "Limited", kind: "force" })
      expect(older).toMatchObject({ from: "Optimal", to: "Degraded", kind: "degrade" })
      for (const transition of after.json.transitions) {
        expect(Object.keys(transition).sort()).toEqual(["at", "from", "kind", "reason", "to"])
      }
    }).pipe(withServer()))

  it.scoped("/status keeps at least the last 20 transitions", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 15; i++) {
        yield* force(DegradationLevel.Limited(), `on ${i}`)
        yield* Effect.flatMap(Degradation, (degradation) => degradation.release)
      }
      const status = yield* get("/status")
      expect(status.json.transitions.length).toBeGreaterThanOrEqual(20)
      expect(status.json.transitions[0]).toMatchObject({ kind: "release", from: "Limited", to: "Optimal" })
    }).pipe(withServer()))

  it.scoped("/status with Accept: text/html is a self-contained page with the level in it", () =>
    Effect.gen(function*() {
      yield* force(DegradationLevel.Minimal(), "database <migration>")
      const page = yield* send(HttpClientRequest.get("/status", { headers: { accept: "text/html,*/*;q=0.8" } }))
      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toMatch(/^text\/html/)
      expect(page.headers["content-security-policy"]).toContain("default-src 'none'")
      expect(page.text).toContain("<!doctype html>")
      expect(page.text).toMatch(/id="level-name">Minimal</)
      expect(page.text).toContain(db)
      // Escaped, never injected.
      expect(page.text).toContain("database &lt;migration&gt;")
      expect(page.text).not.toContain("<migration>")
      // Nothing loads from elsewhere.
      expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\//)
      expect(page.text).toContain("new EventSource(\"/status/events\")")
      // `*/*` alone, or JSON preferred, gets JSON.
      const json = yield* get("/status", { accept: "application/json, text/html;q=0.5" })
      expect(json.json.level).toBe("Minimal")
    }).pipe(withServer()))

  it.scoped("/status/events: the current level first, then each change of level or breaker state", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const events = yield* subscribe("/status/events", scope)
      const first = yield* nextEvent(events)
      expect(first).toMatchObject({ type: "level", level: "Optimal", rank: 1 })
      expect(first.dependencies.length).toBe(2)

      yield* Effect.flatMap(breakerOf(cache), (breaker) => breaker.forceOpen)
      const received = [yield* nextEvent(events), yield* nextEvent(events)]
      expect(received).toEqual(expect.arrayContaining([
        expect.objectContaining({ type: "breaker", breaker: cache, from: "Closed", to: "ForcedOpen" }),
        expect.objectContaining({ type: "level", level: "Degraded" })
      ]))

      yield* force(DegradationLevel.Emergency())
      // Exempt: events still flow at Emergency.
      expect(yield* nextEvent(events)).toMatchObject({
        type: "level",
        level: "Emergency",
        forced: { level: "Emergency" }
      })
      yield* Scope.close(scope, Exit.void)
    }).pipe(withServer()))

  it.live("/status/events ends when the client goes away: no fiber left behind", () => {
    const supervisor = Supervisor.unsafeTrack()
    const live = Effect.map(supervisor.value, (fibers) => fibers.length)
    return Effect.gen(function*() {
      // Let the server settle: only its own fibers are left.
      yield* get("/health")
      const baseline = yield* live
      for (let i = 0; i < 3; i++) {
        const scope = yield* Scope.make()
        const events = yield* subscribe("/status/events", scope)
        expect((yield* nextEvent(events)).type).toBe("level")
        expect(yield* live).toBeGreaterThan(baseline)
        yield* Scope.close(scope, Exit.void)
      }
      let left = yield* live
      for (let i = 0; i < 200 && left > baseline; i++) {
        yield* Effect.sleep("10 millis")
        left = yield* live
      }
      expect(left).toBe(baseline)
    }).pipe(withServer(), Effect.supervised(supervisor), Effect.scoped)
  })

  it.scoped("StatusRoutes.make: custom paths and keep-alives", () =>
    Effect.gen(function*() {
      expect((yield* get("/live")).json).toEqual({ status: "ok" })
      expect((yield* get("/internal/ready")).json.level).toBe("Optimal")
      expect((yield* get("/internal/status")).json.level).toBe("Optimal")
      expect((yield* get("/status")).status).toBe(404)
      const page = yield* send(HttpClientRequest.get("/internal/status", { headers: { accept: "text/html" } }))
      expect(page.text).toContain("new EventSource(\"/internal/status/events\")")
      expect(page.text).toContain("<h1>Pricing</h1>")
      const scope = yield* Scope.make()
      const { events, reader } = yield* subscribeWithReader("/internal/status/events", scope)
      expect((yield* nextEvent(events)).level).toBe("Optimal")
      yield* TestClock.adjust("5 seconds")
      expect(yield* Queue.take(events)).toBe(": keep-alive")
      // The stream ends by itself after maxStreamDuration: a shutdown is never held open for long.
      yield* TestClock.adjust("20 seconds")
      yield* Fiber.join(reader)
      yield* Scope.close(scope, Exit.void)
    }).pipe(
      withServer(
        StatusRoutes.make({
          health: "/live",
          ready: "/internal/ready",
          status: "/internal/status",
          title: "Pricing",
          keepAlive: "5 seconds",
          maxStreamDuration: "20 seconds"
        })
      )
    ))

  it("StatusRoutes.make: bad options are an InvalidOptionError naming the option", () => {
    expect(() => StatusRoutes.make({ status: "status" })).toThrow(/status/)
    expect(() => StatusRoutes.make({ keepAlive: Number.NaN })).toThrow(/keepAlive/)
    for (const maxStreams of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10" as never]) {
      try {
        StatusRoutes.make({ maxStreams })
        expect.unreachable(`maxStreams: ${String(maxStreams)}`)
      } catch (error) {
        expect(error, String(maxStreams)).toBeInstanceOf(InvalidOptionError)
        expect((error as InvalidOptionError).option).toBe("maxStreams")
        expect((error as InvalidOptionError).module).toBe("StatusRoutes.make")
      }
    }
    expect(() => StatusRoutes.make({ maxStreams: 1 })).not.toThrow()
  })

  it.scoped("every JSON answer carries x-content-type-options: nosniff", () =>
    Effect.gen(function*() {
      for (const path of ["/health", "/ready", "/status", "/status?format=json"]) {
        const answer = yield* get(path)
        expect(answer.headers["content-type"], path).toMatch(/^application\/json/)
        expect(answer.headers["x-content-type-options"], path).toBe("nosniff")
      }
      yield* force(DegradationLevel.Emergency())
      const notReady = yield* get("/ready")
      expect(notReady.status).toBe(503)
      expect(notReady.headers["x-content-type-options"]).toBe("nosniff")
    }).pipe(withServer()))

  const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

  /** The page's CSP, split into directives: `{ "script-src": ["'sha256-…'"], … }`. */
  const directives = (csp: string): Record<string, Array<string>> =>
    Object.fromEntries(
      csp.split(";").map((part) => part.trim().split(/\s+/)).filter((words) => words[0] !== "").map((
        [name, ...sources]
      ) => [name!, sources])
    )

  it.scoped("the page's CSP allows its one inline script and its stylesheet by hash, never 'unsafe-inline'", () =>
    Effect.gen(function*() {
      for (const path of ["/status", "/ops/status"]) {
        const page = yield* send(HttpClientRequest.get(path, { headers: { accept: "text/html" } }))
        expect(page.status, path).toBe(200)
        const csp = page.headers["content-security-policy"]!
        expect(csp, path).not.toContain("unsafe-inline")
        expect(csp, path).not.toContain("unsafe-eval")
        const policy = directives(csp)
        // The one executable script (the initial status is a JSON data block, never run).
        const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)]
        const executable = scripts.filter(([, attributes]) => !/type="application\/json"/.test(attributes!))
        expect(executable, path).toHaveLength(1)
        expect(policy["script-src"], path).toEqual([sha256(executable[0]![2]!)])
        const styles = [...page.text.matchAll(/<style>([\s\S]*?)<\/style>/g)]
        expect(styles, path).toHaveLength(1)
        expect(policy["style-src"], path).toEqual([sha256(styles[0]![1]!)])
        // The CSP would block inline style attributes and event handlers: the page has none.
        expect(page.text, path).not.toMatch(/\sstyle=|\son[a-z]+=/)
        expect(executable[0]![2], path).toContain(`new EventSource("${path}/events")`)
      }
    }).pipe(withServer(
      HttpRouter.concat(
        StatusRoutes.router,
        StatusRoutes.make({ health: "/ops/health", ready: "/ops/ready", status: "/ops/status" })
      )
    )))

  /** Opens the event stream in its own scope: its status, and the scope that holds it open. */
  const openStream = (path: string) =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const scope = yield* Scope.make()
      const response = yield* client.execute(HttpClientRequest.get(path)).pipe(Scope.extend(scope))
      if (response.status !== 200) {
        const json = yield* response.json
        yield* Scope.close(scope, Exit.void)
        return { status: response.status, headers: response.headers, json, scope }
      }
      // Read on while the scope is open; the first bytes tell that the stream is running.
      const first = yield* Deferred.make<void>()
      yield* response.stream.pipe(Stream.runForEach(() => Deferred.succeed(first, undefined)), Effect.forkIn(scope))
      yield* Deferred.await(first)
      return { status: response.status, headers: response.headers, json: undefined as any, scope }
    })

  /** Retries `open` until a stream is admitted (a closed one frees its slot when the server sees the close). */
  const openWhenFree = (path: string) =>
    Effect.gen(function*() {
      for (let i = 0; i < 300; i++) {
        const stream = yield* openStream(path)
        if (stream.status === 200) return stream
        yield* Effect.sleep("10 millis")
      }
      return yield* Effect.dieMessage("no stream was admitted again")
    })

  it.live("maxStreams: one stream more is 503 with retry-after; closed streams free their slots", () =>
    Effect.gen(function*() {
      const path = "/status/events"
      const a = yield* openStream(path)
      const b = yield* openStream(path)
      expect([a.status, b.status]).toEqual([200, 200])

      const refused = yield* openStream(path)
      expect(refused.status).toBe(503)
      expect(refused.headers["content-type"]).toMatch(/^application\/json/)
      expect(refused.headers["x-content-type-options"]).toBe("nosniff")
      expect(refused.headers["cache-control"]).toBe("no-store")
      // Until the oldest open stream ends by itself (maxStreamDuration).
      const retryAfter = Number(refused.headers["retry-after"])
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      expect(retryAfter).toBeLessThanOrEqual(20)
      expect(refused.json).toMatchObject({ error: "too_many_streams", limit: 2, retryAfter })
      expect(typeof refused.json.message).toBe("string")
      // A plain node:http client is refused alike.
      const port = yield* serverPort
      expect((yield* rawRequest(port, { path, headersOnly: true })).status).toBe(503)

      // The client of `a` goes away: its slot is free again, and only its slot.
      yield* Scope.close(a.scope, Exit.void)
      const c = yield* openWhenFree(path)
      expect((yield* openStream(path)).status).toBe(503)

      // Both others go away: two new streams are admitted, the next one is not.
      yield* Scope.close(b.scope, Exit.void)
      yield* Scope.close(c.scope, Exit.void)
      const d = yield* openWhenFree(path)
      const e = yield* openWhenFree(path)
      expect((yield* openStream(path)).status).toBe(503)
      yield* Scope.close(d.scope, Exit.void)
      yield* Scope.close(e.scope, Exit.void)
      // A client that drops the connection right after the headers frees its slot too.
      for (let i = 0; i < 5; i++) {
        let admitted = false
        for (let j = 0; j < 300 && !admitted; j++) {
          admitted = (yield* rawRequest(port, { path, headersOnly: true })).status === 200
          if (!admitted) yield* Effect.sleep("10 millis")
        }
        expect(admitted, `raw stream ${i}`).toBe(true)
      }
    }).pipe(withServer(StatusRoutes.make({ maxStreams: 2, maxStreamDuration: "20 seconds" })), Effect.scoped))

  it.scoped("maxStreams: a stream that ends by itself (maxStreamDuration) frees its slot", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { reader } = yield* subscribeWithReader("/status/events", scope)
      expect((yield* openStream("/status/events")).status).toBe(503)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(reader)
      yield* Scope.close(scope, Exit.void)
      const again = yield* openStream("/status/events")
      expect(again.status).toBe(200)
      yield* Scope.close(again.scope, Exit.void)
    }).pipe(withServer(StatusRoutes.make({ maxStreams: 1, maxStreamDuration: "5 seconds" }))))
})
