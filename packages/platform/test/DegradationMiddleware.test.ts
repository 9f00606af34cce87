import { Degradation, DegradationLevel, InvalidOptionError } from "@effect-resilience/core"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
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
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
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
  for (const field of ["error", "message", "action"]) expect(typeof write.json[field]).toBe("string")
  expect(handlerRan.count).toBe(ran)
  expect((yield* shed("writes_blocked")) - before).toBe(1)

  yield* force(DegradationLevel.Emergency())
  const beforeStatusOnly = yield* shed("status_only")
  const refused = yield* get("/prices/1")
  expect(refused.status).toBe(503)
  expect(refused.json).toMatchObject({ status: "system_degraded", level: "Emergency" })
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

  it("the default exempt routes", () => {
    const request = (url: string) => ({ url }) as HttpServerRequest.HttpServerRequest
    for (const url of ["/health", "/ready", "/status", "/status/events", "/status?x=1", "/metrics", "/admin/x"]) {
      expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(true)
    }
    for (const url of ["/healthz", "/statusx", "/administrator", "/prices/1", "/"]) {
      expect(DegradationMiddleware.defaultExempt(request(url)), url).toBe(false)
    }
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
