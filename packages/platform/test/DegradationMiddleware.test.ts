import { Degradation, DegradationLevel, InvalidOptionError } from "@effect-resilience/core"
import { AdminRoutes, DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { rawRequest, serverPort } from "./rawHttp.js"
import { breakerOf, counterValue, dependency, get, post, uniqueName } from "./utils.js"

const handlerRan = { count: 0 }

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/prices/:id", Effect.sync(() => HttpServerResponse.unsafeJson({ price: 10 }))),
  HttpRouter.post(
    "/products",
    Effect.sync(() => {
      handlerRan.count++
      return HttpServerResponse.unsafeJson({ created: true }, { status: 201 })
    })
  ),
  HttpRouter.get("/boom", Effect.die("boom")),
  HttpRouter.concat(StatusRoutes.router)
)

const shed = (reason: "writes_blocked" | "status_only") => counterValue("http_requests_shed_total", { reason })

/** A server on port 0 with a fresh Degradation; `server` decides how the middleware is mounted. */
const withServer = <E>(
  server: Layer.Layer<never, E, HttpServer.HttpServer | Degradation | HttpRouter.HttpRouter.DefaultServices>
) =>
  Effect.provide(
    server.pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provideMerge(Degradation.layer())
    )
  )

const force = (level: DegradationLevel.DegradationLevel) =>
  Effect.flatMap(Degradation, (degradation) => degradation.force(level, "test"))

/** The contract of the middleware, whatever way it is mounted. */
const contract = Effect.gen(function*() {
  const ok = yield* get("/prices/1")
  expect(ok.status).toBe(200)
  expect(ok.headers["x-degradation-level"]).toBe("Optimal")

  yield* force(DegradationLevel.Minimal())
  const before = yield* shed("writes_blocked")
  const ran = handlerRan.count
  const read = yield* get("/prices/1")
  expect(read.status).toBe(200)
  expect(read.headers["x-degradation-level"]).toBe("Minimal")
  const write = yield* post("/products", { name: "x" })
  expect(write.status).toBe(503)
  expect(write.headers["x-degradation-level"]).toBe("Minimal")
  expect(write.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/)
  expect(write.json).toMatchObject({ level: "Minimal" })
  expect(write.headers["x-content-type-options"]).toBe("nosniff")
  for (const field of ["error", "message", "action"]) expect(typeof write.json[field]).toBe("string")
  expect(handlerRan.count).toBe(ran)
  expect((yield* shed("writes_blocked")) - before).toBe(1)

  yield* force(DegradationLevel.Emergency())
  const beforeStatusOnly = yield* shed("status_only")
  const refused = yield* get("/prices/1")
  expect(refused.status).toBe(503)
  expect(refused.json).toMatchObject({ status: "system_degraded", level: "Emergency" })
  expect(refused.headers["x-content-type-options"]).toBe("nosniff")
  expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1)
  expect((yield* shed("status_only")) - beforeStatusOnly).toBe(1)
  const health = yield* get("/health")
  expect(health.status).toBe(200)
  expect(health.headers["x-degradation-level"]).toBe("Emergency")
})

describe("DegradationMiddleware", () => {
  it.scoped("HttpServer.serve(app, middleware): header, writes blocked, status only, exempt routes", () =>
    contract.pipe(withServer(HttpServer.serve(app, DegradationMiddleware.make()))))

  it.scoped("HttpServer.serve(app, middleware): the header is also on errors and unknown routes", () =>
    Effect.gen(function*() {
      const missing = yield* get("/nope")
      expect(missing.status).toBe(404)
      expect(missing.headers["x-degradation-level"]).toBe("Optimal")
      const defect = yield* get("/boom")
      expect(defect.status).toBe(500)
      expect(defect.headers["x-degradation-level"]).toBe("Optimal")
    }).pipe(withServer(HttpServer.serve(app, DegradationMiddleware.make()))))

  it.scoped("HttpRouter.use", () =>
    contract.pipe(withServer(HttpServer.serve(app.pipe(HttpRouter.use(DegradationMiddleware.make()))))))

  it.scoped("HttpApiBuilder.serve(middleware)", () => {
    class Shop extends HttpApiGroup.make("shop").add(
      HttpApiEndpoint.get("price", "/prices/:id").setPath(Schema.Struct({ id: Schema.String })).addSuccess(
        Schema.Struct({ price: Schema.Number })
      )
    ).add(
      HttpApiEndpoint.post("create", "/products").setPayload(Schema.Struct({ name: Schema.String })).addSuccess(
        Schema.Struct({ created: Schema.Boolean }),
        { status: 201 }
      )
    ).add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Struct({ status: Schema.String }))) {}
    class Api extends HttpApi.make("api").add(Shop) {}
    const ShopLive = HttpApiBuilder.group(
      Api,
      "shop",
      (handlers) =>
        handlers.handle("price", () => Effect.succeed({ price: 10 })).handle("create", () =>
          Effect.sync(() => {
            handlerRan.count++
            return { created: true }
          })).handle("health", () => Effect.succeed({ status: "ok" }))
    )
    const server = HttpApiBuilder.serve(DegradationMiddleware.make()).pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(ShopLive)))
    )
    return contract.pipe(withServer(server))
  })

  const layerRoutes = HttpLayerRouter.use((router) =>
    Effect.all([
      router.add("GET", "/prices/:id", Effect.succeed(HttpServerResponse.unsafeJson({ price: 10 }))),
      router.add(
        "POST",
        "/products",
        Effect.sync(() => {
          handlerRan.count++
          return HttpServerResponse.unsafeJson({ created: true }, { status: 201 })
        })
      ),
      router.add("GET", "/health", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" })))
    ])
  )

  it.scoped("HttpLayerRouter.serve(routes, { middleware })", () =>
    contract.pipe(
      withServer(HttpLayerRouter.serve(layerRoutes, { middleware: DegradationMiddleware.make(), disableLogger: true }))
    ))

  it.scoped("HttpLayerRouter: DegradationMiddleware.layer as a global middleware", () =>
    contract.pipe(
      withServer(
        HttpLayerRouter.serve(Layer.mergeAll(layerRoutes, DegradationMiddleware.layer()), { disableLogger: true })
      )
    ))

  it.scoped("retry-after: the earliest retryAfter of the down breakers, in whole seconds", () =>
    Effect.gen(function*() {
      const db = yield* breakerOf(name)
      // One failure opens it for 45 s (TestClock: no time passes).
      yield* Effect.ignore(db(Effect.fail("down")))
      expect((yield* db.state)._tag).toBe("Open")
      const write = yield* post("/products", {})
      expect(write.status).toBe(503)
      expect(write.headers["retry-after"]).toBe("45")
      expect(write.json.level).toBe("Minimal")
    }).pipe(
      withServer(
        HttpServer.serve(app, DegradationMiddleware.make()).pipe(
          Layer.provideMerge(dependency(name, DegradationLevel.Minimal(), "44500 millis"))
        )
      )
    ))
  const name = uniqueName("db")

  it.scoped("retry-after: the configured fallback when no breaker says better (a forced level)", () =>
    Effect.gen(function*() {
      yield* force(DegradationLevel.Minimal())
      const write = yield* post("/products", {})
      expect(write.headers["retry-after"]).toBe("7")
    }).pipe(withServer(HttpServer.serve(app, DegradationMiddleware.make({ retryAfter: "6500 millis" })))))

  it.scoped("options: isWrite, exempt, blockWritesFrom, statusOnlyFrom", () =>
    Effect.gen(function*() {
      yield* force(DegradationLevel.Limited())
      // GET /prices counts as a write here, POST /products is exempt.
      const read = yield* get("/prices/1")
      expect(read.status).toBe(503)
      expect(read.json.level).toBe("Limited")
      expect(typeof read.json.action).toBe("string")
      expect((yield* post("/products", {})).status).toBe(201)
      yield* force(DegradationLevel.Minimal())
      const statusOnly = yield* get("/health")
      // /health is no longer exempt under a custom `exempt`.
      expect(statusOnly.status).toBe(503)
      expect(statusOnly.json.status).toBe("system_degraded")
      expect((yield* post("/products", {})).status).toBe(201)
    }).pipe(withServer(HttpServer.serve(
      app,
      DegradationMiddleware.make({
        isWrite: (request) => request.url.startsWith("/prices"),
        exempt: (request) => request.method === "POST",
        blockWritesFrom: DegradationLevel.Limited(),
        statusOnlyFrom: DegradationLevel.Minimal()
      })
    ))))

  // The level a response carries is the level when it is sent, whatever the mounting.
  const forcing = HttpRouter.empty.pipe(
    HttpRouter.post(
      "/ops/force",
      Effect.as(force(DegradationLevel.Limited()), HttpServerResponse.text("forced"))
    )
  )
  it.scoped("HttpServer.serve(app, middleware): a level changed by the handler is the one sent", () =>
    Effect.gen(function*() {
      const response = yield* post("/ops/force", {})
      expect(response.status).toBe(200)
      expect(response.headers["x-degradation-level"]).toBe("Limited")
    }).pipe(withServer(HttpServer.serve(forcing, DegradationMiddleware.make()))))

  it.scoped("HttpRouter.use: a level changed by the handler is the one sent", () =>
    Effect.gen(function*() {
      const response = yield* post("/ops/force", {})
      expect(response.status).toBe(200)
      expect(response.headers["x-degradation-level"]).toBe("Limited")
    }).pipe(withServer(HttpServer.serve(forcing.pipe(HttpRouter.use(DegradationMiddleware.make()))))))

  it.scoped("pre-response handlers installed before and after the middleware's all run", () => {
    const setHeader = (name: string): HttpApp.PreResponseHandler => (_request, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, name, "yes"))
    const routes = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/prices/:id",
        Effect.as(HttpApp.appendPreResponseHandler(setHeader("x-inner")), HttpServerResponse.text("10"))
      )
    )
    const outer = <E, R>(app: HttpApp.Default<E, R>) =>
      Effect.zipRight(HttpApp.appendPreResponseHandler(setHeader("x-outer")), app)
    return Effect.gen(function*() {
      const response = yield* get("/prices/1")
      expect(response.status).toBe(200)
      expect(response.headers["x-outer"]).toBe("yes")
      expect(response.headers["x-inner"]).toBe("yes")
      expect(response.headers["x-degradation-level"]).toBe("Optimal")
    }).pipe(withServer(HttpServer.serve(routes, (app) => outer(DegradationMiddleware.make()(app)))))
  })

  it.scoped("a decorated Degradation that replaces `current` is read through it", () =>
    Effect.gen(function*() {
      const read = yield* get("/prices/1")
      expect(read.status).toBe(200)
      expect(read.headers["x-degradation-level"]).toBe("Minimal")
      const write = yield* post("/products", {})
      expect(write.status).toBe(503)
      expect(write.json.level).toBe("Minimal")
      expect(write.headers["x-degradation-level"]).toBe("Minimal")
      // The level underneath is untouched.
      expect((yield* Degradation.current)._tag).toBe("Optimal")
    }).pipe(
      Effect.provide(
        HttpServer.serve(app, DegradationMiddleware.make()).pipe(
          Layer.provideMerge(NodeHttpServer.layerTest),
          Layer.provide(
            Layer.effect(
              Degradation,
              Effect.map(Degradation, (degradation): Degradation.Service =>
                Object.create(degradation, { current: { value: Effect.succeed(DegradationLevel.Minimal()) } }))
            )
          ),
          Layer.provideMerge(Degradation.layer())
        )
      )
    ))

  it.scoped("a service's unsafeCurrent is read synchronously: no `current` Effect runs per request", () => {
    let currentRuns = 0
    return Effect.gen(function*() {
      for (let i = 0; i < 3; i++) {
        const read = yield* get("/prices/1")
        expect(read.headers["x-degradation-level"]).toBe("Minimal")
      }
      const write = yield* post("/products", {})
      expect(write.status).toBe(503)
      expect(write.json.level).toBe("Minimal")
      expect(currentRuns).toBe(0)
    }).pipe(
      Effect.provide(
        HttpServer.serve(app, DegradationMiddleware.make()).pipe(
          Layer.provideMerge(NodeHttpServer.layerTest),
          Layer.provide(
            Layer.effect(
              Degradation,
              Effect.map(Degradation, (degradation): Degradation.Service =>
                Object.create(degradation, {
                  current: {
                    value: Effect.sync(() => {
                      currentRuns++
                      return DegradationLevel.Minimal()
                    })
                  },
                  unsafeCurrent: { value: () => DegradationLevel.Minimal() }
                }))
            )
          ),
          Layer.provideMerge(Degradation.layer())
        )
      )
    )
  })

  it("the default exempt routes", () => {
    const request = (url: string) => ({ url }) as HttpServerRequest.HttpServerRequest
    for (const url of ["/health", "/ready", "/status", "/status/events", "/status?x=1", "/metrics", "/admin/x"]) {
      expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(true)
    }
    for (const url of ["/healthz", "/statusx", "/administrator", "/prices/1", "/"]) {
      expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(false)
    }
  })

  it("the default exempt routes, spelled as the router still matches them", () => {
    const request = (url: string) => ({ url }) as HttpServerRequest.HttpServerRequest
    const exempt = [
      "/HEALTH",
      "//health",
      "/health/",
      "///health//",
      "/Health?probe=1",
      "/health;jsessionid=1",
      "/%68ealth",
      "/%48EALTH",
      "/Status/events",
      "/STATUS//EVENTS/",
      "/ADMIN/degradation/release",
      "//admin//breakers/x/reset",
      "/Metrics/",
      "http://example.com/HEALTH",
      "https://example.com//admin/x"
    ]
    for (const url of exempt) expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(true)
    // `%2F` is no slash to the router (it stays encoded), and a malformed escape matches no route.
    for (const url of ["/status%2Fevents", "/HEALTHZ", "/health%zz", "/adm%69nistrator", "/prices/HEALTH"]) {
      expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(false)
    }
  })

  it("routePath: canonical paths come back as they are, others as the router sees them", () => {
    const url = "/prices/123"
    expect(DegradationMiddleware.routePath(url)).toBe(url)
    expect(DegradationMiddleware.routePath("/")).toBe("/")
    expect(DegradationMiddleware.routePath("/prices/1?x=A")).toBe("/prices/1")
    expect(DegradationMiddleware.routePath("//Status/Events/?since=1")).toBe("/status/events")
    expect(DegradationMiddleware.routePath("/a%25b")).toBe("/a%25b")
    expect(DegradationMiddleware.routePath("/caf%C3%A9")).toBe("/café")
    expect(DegradationMiddleware.routePath("/a%2Fb/")).toBe("/a%2fb")
  })

  // The router the paths must agree with: find-my-way-ts as @effect/platform's routers make it.
  const routes = ["/health", "/ready", "/status", "/status/events", "/admin/degradation/release", "/caf\u00e9", "/x"]
  const router = HttpLayerRouter.FindMyWay.make<string>()
  for (const route of routes) router.on("GET", route as HttpRouter.PathInput, route)
  const routed = (url: string): string | undefined => router.find("GET", url)?.handler

  it("routePath agrees with the router on these URLs", () => {
    const urls = [
      "/HEALTH",
      "//health",
      "/health/",
      "/health//",
      "/health?x=//y",
      "/health#top",
      "/health;v=1",
      "/%68EALTH",
      "/%2568ealth",
      "/status%2Fevents",
      "/Status//Events",
      "/CAF%C3%89",
      "/caf\u00c9",
      "/health%",
      "/health%zz",
      "http://example.com/Health/",
      "/x%3F",
      "/x?",
      "/X;"
    ]
    for (const url of urls) {
      const path = DegradationMiddleware.routePath(url)
      expect(routed(url), url).toBe(routes.includes(path) ? path : undefined)
    }
  })

  // URLs made of the pieces that the router treats specially: case, slashes, escapes, separators.
  const pieces = FastCheck.constantFrom(
    "/",
    "//",
    "h",
    "H",
    "ealth",
    "EALTH",
    "status",
    "Status",
    "events",
    "x",
    "X",
    "caf",
    "\u00e9",
    "\u00c9",
    "%C3%A9",
    "%68",
    "%48",
    "%78",
    "%2F",
    "%2f",
    "%25",
    "%3F",
    "%3B",
    "%zz",
    "%",
    "?",
    ";",
    "#",
    "a=1"
  )
  it.prop(
    "routePath(url) names the route the router finds for url, and only it",
    { tail: FastCheck.array(pieces, { maxLength: 8 }), absolute: FastCheck.boolean() },
    ({ absolute, tail }) => {
      const url = `${absolute ? "http://example.com" : ""}/${tail.join("")}`
      const path = DegradationMiddleware.routePath(url)
      expect(routed(url), url).toBe(routes.includes(path) ? path : undefined)
    },
    { fastCheck: { numRuns: 2000 } }
  )

  const exemptApp = HttpRouter.empty.pipe(
    HttpRouter.concat(app),
    HttpRouter.concat(AdminRoutes.router)
  )
  it.scoped("at Emergency, exempt routes answer however their path is spelled; the rest is shed", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      yield* force(DegradationLevel.Emergency())
      for (const path of ["/HEALTH", "//health", "/health/", "/Ready", "/Status", "/STATUS/?format=json"]) {
        const answer = yield* rawRequest(port, { path })
        expect(answer.json, path).toBeDefined()
        // Reached its route (`/ready` itself answers 503 at Emergency, as not ready).
        expect(answer.json.status, path).not.toBe("system_degraded")
      }
      expect((yield* rawRequest(port, { path: "/HEALTH" })).json).toEqual({ status: "ok" })
      const events = yield* rawRequest(port, { path: "/Status/events", headersOnly: true })
      expect(events.status).toBe(200)
      expect(events.headers["content-type"]).toMatch(/^text\/event-stream/)
      const auth = { authorization: "Bearer exempt-test-token" }
      const released = yield* rawRequest(port, { method: "POST", path: "/ADMIN/degradation/release", headers: auth })
      expect(released.status).toBe(200)
      expect(released.json.level).toBe("Optimal")
      yield* force(DegradationLevel.Emergency())
      // The route matched: the breaker is unknown, not the request shed.
      const reset = yield* rawRequest(port, { method: "POST", path: "//admin//breakers/x/reset", headers: auth })
      expect(reset.status).toBe(404)
      expect(reset.json.error).toBe("unknown_breaker")
      for (const path of ["/prices/1", "/PRICES/1", "//prices/1/", "/healthz", "/status%2Fevents"]) {
        const shed = yield* rawRequest(port, { path })
        expect(shed.status, path).toBe(503)
        expect(shed.json.status, path).toBe("system_degraded")
      }
    }).pipe(withServer(
      HttpServer.serve(exemptApp, DegradationMiddleware.make()).pipe(
        Layer.provide(AdminRoutes.layer({ token: Redacted.make("exempt-test-token") }))
      )
    )))

  it.scoped("custom exempt and isWrite get the path as the router matches it", () => {
    const seen: Array<[string, string, string]> = []
    return Effect.gen(function*() {
      const port = yield* serverPort
      yield* force(DegradationLevel.Minimal())
      const read = yield* rawRequest(port, { path: "//Prices/7/?q=1" })
      expect(read.status).toBe(200)
      const write = yield* rawRequest(port, { method: "POST", path: "/PRODUCTS/", headers: { "content-length": "0" } })
      expect(write.status).toBe(503)
      expect(seen).toEqual([
        ["exempt", "//Prices/7/?q=1", "/prices/7"],
        ["isWrite", "//Prices/7/?q=1", "/prices/7"],
        ["exempt", "/PRODUCTS/", "/products"],
        ["isWrite", "/PRODUCTS/", "/products"]
      ])
    }).pipe(withServer(HttpServer.serve(
      app,
      DegradationMiddleware.make({
        exempt: (request, path) => {
          seen.push(["exempt", request.url, path])
          return false
        },
        isWrite: (request, path) => {
          seen.push(["isWrite", request.url, path])
          return path === "/products"
        }
      })
    )))
  })

  it("bad options are an InvalidOptionError naming the option", () => {
    const error = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e
      }
      assert.fail("expected a throw")
    }
    const blocked = error(() => DegradationMiddleware.make({ blockWritesFrom: "Minimal" as never }))
    assert.instanceOf(blocked, InvalidOptionError)
    expect((blocked as InvalidOptionError).option).toBe("blockWritesFrom")
    const retry = error(() => DegradationMiddleware.make({ retryAfter: -1 }))
    expect((retry as InvalidOptionError).option).toBe("retryAfter")
    const isWrite = error(() => DegradationMiddleware.make({ isWrite: true as never }))
    expect((isWrite as InvalidOptionError).option).toBe("isWrite")
  })

  it.effect("every shed series exists once a middleware is made", () =>
    Effect.gen(function*() {
      DegradationMiddleware.make()
      const snapshot = yield* Effect.sync(() => Metric.unsafeSnapshot())
      const reasons = snapshot.filter((pair) => pair.metricKey.name === "http_requests_shed_total").flatMap((pair) =>
        pair.metricKey.tags.map((tag) => tag.value)
      )
      expect(new Set(reasons)).toEqual(new Set(["writes_blocked", "status_only"]))
    }))
})
