import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { AdminRoutes, DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { rawRequest, serverPort } from "./rawHttp.js"
import { breakerOf, captureLogs, counterValue, dependency, get, post, send, sendJson, uniqueName } from "./utils.js"

const secret = "correct-horse-battery-staple"
const auth = { authorization: `Bearer ${secret}` }
const db = uniqueName("db")

const app = HttpRouter.empty.pipe(HttpRouter.concat(StatusRoutes.router), HttpRouter.concat(AdminRoutes.router))

const { layer: logLayer, logs } = captureLogs()

const withServer = (token: Layer.Layer<AdminRoutes.Token, unknown>) =>
  Effect.provide(
    HttpServer.serve(app, DegradationMiddleware.make()).pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provide(token),
      Layer.provideMerge(dependency(db, DegradationLevel.Minimal())),
      Layer.provideMerge(Degradation.layer()),
      Layer.provide(logLayer)
    )
  )

const withToken = withServer(AdminRoutes.layer({ token: Redacted.make(secret) }))

const actions = (action: string, outcome: string) => counterValue("admin_actions_total", { action, outcome })

const level = Effect.flatMap(Degradation, (degradation) => Effect.map(degradation.current, (l) => l._tag))

const raw = (body: Uint8Array | string, headers: Record<string, string> = auth) =>
  sendJson(
    HttpClientRequest.post("/admin/degradation/force", { headers }).pipe(
      typeof body === "string"
        ? HttpClientRequest.bodyText(body, headers["content-type"] ?? "application/json")
        : HttpClientRequest.bodyUint8Array(body, headers["content-type"] ?? "application/json")
    )
  )

describe("AdminRoutes", () => {
  it.scoped("force and release the level: 200 with the same JSON as /status", () =>
    Effect.gen(function*() {
      const before = yield* actions("force", "ok")
      const forced = yield* post("/admin/degradation/force", { level: "Minimal", reason: "migration" }, auth)
      expect(forced.status).toBe(200)
      expect(forced.json).toMatchObject({ level: "Minimal", forced: { level: "Minimal", reason: "migration" } })
      expect(forced.headers["x-degradation-level"]).toBe("Minimal")
      expect(Object.keys(forced.json).sort()).toEqual(Object.keys((yield* get("/status")).json).sort())
      expect(yield* level).toBe("Minimal")
      expect((yield* actions("force", "ok")) - before).toBe(1)

      const released = yield* post("/admin/degradation/release", undefined, auth)
      expect(released.status).toBe(200)
      expect(released.json).toMatchObject({ level: "Optimal", forced: null })
      expect(released.json.transitions[0]).toMatchObject({ kind: "release", from: "Minimal", to: "Optimal" })
    }).pipe(withToken))

  it.scoped("breakers by dependency name: force-open, disable, reset; an unknown one is 404", () =>
    Effect.gen(function*() {
      const opened = yield* post(`/admin/breakers/${db}/force-open`, undefined, auth)
      expect(opened.status).toBe(200)
      expect(opened.json.dependencies.find((d: any) => d.name === db)).toMatchObject({
        breaker: "ForcedOpen",
        up: false
      })
      expect(opened.json.level).toBe("Minimal")
      expect((yield* (yield* breakerOf(db)).state)._tag).toBe("ForcedOpen")

      const disabled = yield* post(`/admin/breakers/${db}/disable`, undefined, auth)
      expect(disabled.json.dependencies.find((d: any) => d.name === db).breaker).toBe("Disabled")
      const reset = yield* post(`/admin/breakers/${db}/reset`, undefined, auth)
      expect(reset.json.dependencies.find((d: any) => d.name === db).breaker).toBe("Closed")

      const before = yield* actions("reset", "invalid")
      const unknown = yield* post("/admin/breakers/nope/reset", undefined, auth)
      expect(unknown.status).toBe(404)
      expect(unknown.json.message).toContain("nope")
      expect((yield* actions("reset", "invalid")) - before).toBe(1)
    }).pipe(withToken))

  it.scoped("a missing or wrong bearer is 401 with www-authenticate: Bearer, and changes nothing", () =>
    Effect.gen(function*() {
      const before = yield* actions("force", "denied")
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer wrong" },
        { authorization: `Bearer ${secret}x` },
        { authorization: `Basic ${Buffer.from(`admin:${secret}`).toString("base64")}` },
        { authorization: secret },
        { authorization: "Bearer" },
        // A non-UTF-8 header value (Latin-1 bytes on the wire).
        { authorization: "Bearer caf\u00e9" }
      ]
      for (const headers of attempts) {
        const denied = yield* post("/admin/degradation/force", { level: "Emergency" }, headers)
        expect(denied.status, JSON.stringify(headers)).toBe(401)
        expect(denied.headers["www-authenticate"]).toBe("Bearer")
      }
      expect((yield* post(`/admin/breakers/${db}/force-open`, undefined, { authorization: "Bearer no" })).status).toBe(
        401
      )
      expect(yield* level).toBe("Optimal")
      expect((yield* actions("force", "denied")) - before).toBe(attempts.length)
      // Case-insensitive scheme.
      expect(
        (yield* post("/admin/degradation/force", { level: "Limited" }, { authorization: `bearer ${secret}` })).status
      )
        .toBe(200)
    }).pipe(withToken))

  it.scoped("bad bodies are a 4xx naming the problem, never a 500, never a changed level", () =>
    Effect.gen(function*() {
      const before = yield* actions("force", "invalid")
      const cases: Array<[Uint8Array | string, number, string]> = [
        ["{ not json", 400, "body"],
        ["", 400, "body"],
        ["[]", 400, "body"],
        ["\"Minimal\"", 400, "body"],
        [JSON.stringify({ reason: "x" }), 400, "level"],
        [JSON.stringify({ level: 4 }), 400, "level"],
        [JSON.stringify({ level: "Apocalypse" }), 400, "level"],
        [JSON.stringify({ level: "Minimal", reason: 42 }), 400, "reason"],
        [JSON.stringify({ level: "Minimal", reason: "" }), 400, "reason"],
        [
          new Uint8Array([0x7b, 0x22, 0x6c, 0x65, 0x76, 0x65, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
          400,
          "body"
        ],
        [JSON.stringify({ level: "Minimal", reason: "x".repeat(70 * 1024) }), 413, "body"]
      ]
      for (const [body, status, field] of cases) {
        const answer = yield* raw(body)
        const label = typeof body === "string" ? body.slice(0, 40) : "bytes"
        expect(answer.status, label).toBe(status)
        expect(answer.json.field, label).toBe(field)
        expect(typeof answer.json.message, label).toBe("string")
        expect(yield* level, label).toBe("Optimal")
      }
      const unknown = yield* raw(JSON.stringify({ level: "Apocalypse" }))
      expect(unknown.json.message).toContain("Apocalypse")
      expect(unknown.json.message).toContain("Emergency")
      expect((yield* actions("force", "invalid")) - before).toBe(cases.length + 1)
    }).pipe(withToken))

  it.scoped("without a token every /admin route is 404", () =>
    Effect.gen(function*() {
      for (
        const path of ["/admin/degradation/force", "/admin/degradation/release", `/admin/breakers/${db}/force-open`]
      ) {
        const answer = yield* post(path, { level: "Emergency" }, auth)
        expect(answer.status, path).toBe(404)
      }
      expect(yield* level).toBe("Optimal")
      expect((yield* (yield* breakerOf(db)).state)._tag).toBe("Closed")
    }).pipe(withServer(AdminRoutes.layer({ token: undefined }))))

  it.scoped("admin off: the 404 names nothing, not the token variable nor how to turn admin on", () =>
    Effect.gen(function*() {
      const paths = [
        "/admin/degradation/force",
        "/admin/degradation/release",
        `/admin/breakers/${db}/force-open`,
        `/admin/breakers/${db}/disable`,
        `/admin/breakers/${db}/reset`
      ]
      for (const path of paths) {
        for (const headers of [auth, {}]) {
          const answer = yield* send(
            HttpClientRequest.post(path, { headers }).pipe(HttpClientRequest.bodyText("{}", "application/json"))
          )
          expect(answer.status, path).toBe(404)
          expect(answer.text, path).not.toMatch(/RESILIENCE|token|admin/i)
          expect(JSON.parse(answer.text)).toEqual({ error: "not_found", message: "Not found" })
          expect(answer.headers["x-content-type-options"]).toBe("nosniff")
          expect(answer.headers["www-authenticate"]).toBeUndefined()
        }
      }
    }).pipe(withServer(AdminRoutes.layer({ token: undefined }))))

  it.scoped("every JSON answer carries x-content-type-options: nosniff", () =>
    Effect.gen(function*() {
      const answers = [
        yield* post("/admin/degradation/force", { level: "Limited" }, auth),
        yield* post("/admin/degradation/release", undefined, auth),
        yield* post("/admin/degradation/force", { level: "Limited" }),
        yield* post("/admin/degradation/force", { level: "nope" }, auth),
        yield* post("/admin/breakers/nope/reset", undefined, auth),
        yield* raw(JSON.stringify({ level: "Minimal", reason: "x".repeat(70 * 1024) })),
        yield* raw("level=Minimal", { ...auth, "content-type": "application/x-www-form-urlencoded" })
      ]
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 401, 400, 404, 413, 415])
      for (const answer of answers) {
        expect(answer.headers["content-type"]).toMatch(/^application\/json/)
        expect(answer.headers["x-content-type-options"]).toBe("nosniff")
      }
    }).pipe(withToken))

  it.scoped("a POST body that is not JSON is 415 naming content-type, and changes nothing", () =>
    Effect.gen(function*() {
      const before = yield* actions("force", "invalid")
      const body = JSON.stringify({ level: "Minimal" })
      for (
        const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
      ) {
        const answer = yield* raw(body, { ...auth, "content-type": contentType })
        expect(answer.status, contentType).toBe(415)
        expect(answer.json, contentType).toMatchObject({ error: "unsupported_media_type", field: "content-type" })
        expect(answer.json.message, contentType).toContain(contentType.split(";")[0])
      }
      // Without a content-type, on a route that reads no body.
      const release = yield* sendJson(
        HttpClientRequest.post("/admin/degradation/release", { headers: auth }).pipe(
          HttpClientRequest.bodyUint8Array(new TextEncoder().encode("{}"), "")
        )
      )
      expect(release.status).toBe(415)
      expect(yield* level).toBe("Optimal")
      expect((yield* actions("force", "invalid")) - before).toBe(3)
      // JSON with parameters, and a +json type, are JSON.
      expect((yield* raw(body, { ...auth, "content-type": "application/json; charset=utf-8" })).status).toBe(200)
      expect((yield* raw(body, { ...auth, "content-type": "application/merge-patch+json" })).status).toBe(200)
      // No body at all needs no content-type.
      expect((yield* post("/admin/degradation/release", undefined, auth)).status).toBe(200)
    }).pipe(withToken))

  it.live("a body over 64 KiB is 413 at once, before it is read: declared or chunked, 100 KB or 10 MB", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      const before = yield* actions("force", "invalid")
      const json = { ...auth, "content-type": "application/json" }
      const cases: Array<[string, Record<string, string>, number]> = [
        ["declared 100 KB", { "content-length": String(100 * 1024) }, 100 * 1024],
        ["declared 10 MB", { "content-length": String(10 * 1024 * 1024) }, 10 * 1024 * 1024],
        ["chunked 100 KB", { "transfer-encoding": "chunked" }, 100 * 1024],
        ["chunked 10 MB", { "transfer-encoding": "chunked" }, 10 * 1024 * 1024]
      ]
      for (const [label, headers, total] of cases) {
        // 16 KiB every 10 ms: all of 10 MB would take 6.4 s to send.
        const answer = yield* rawRequest(port, {
          method: "POST",
          path: "/admin/degradation/force",
          headers: { ...json, ...headers },
          stream: { total, chunk: 16 * 1024, every: 10 }
        })
        expect(answer.status, label).toBe(413)
        expect(answer.json, label).toMatchObject({ error: "payload_too_large", field: "body", limit: 64 * 1024 })
        expect(typeof answer.json.message, label).toBe("string")
        expect(answer.headers["connection"], label).toBe("close")
        expect(answer.headers["x-content-type-options"], label).toBe("nosniff")
        expect(answer.elapsed, label).toBeLessThan(5000)
        // Answered long before the body was sent: the server never waited for (or kept) the rest.
        if (total > 1024 * 1024) expect(answer.sentBeforeResponse, label).toBeLessThan(2 * 1024 * 1024)
      }
      // A fetch client sending 10 MB at once gets the 413 too.
      const big = yield* raw("x".repeat(10 * 1024 * 1024))
      expect(big.status).toBe(413)
      expect(big.json.field).toBe("body")
      expect(yield* level).toBe("Optimal")
      expect((yield* actions("force", "invalid")) - before).toBe(cases.length + 1)
      // The server still answers, and a body under the limit, chunked, is read.
      const chunked = yield* rawRequest(port, {
        method: "POST",
        path: "/admin/degradation/force",
        headers: { ...json, "transfer-encoding": "chunked" },
        // 60 KiB: JSON padded with whitespace.
        body: JSON.stringify({ level: "Limited", reason: "chunked" }) + " ".repeat(60 * 1024)
      })
      expect(chunked.status).toBe(200)
      expect(chunked.json.forced.level).toBe("Limited")
    }).pipe(withToken, Effect.scoped))

  it.scoped("every action is logged with action, outcome and remote address", () =>
    Effect.gen(function*() {
      logs.length = 0
      yield* post("/admin/degradation/force", { level: "Degraded", reason: "x" }, auth)
      yield* post("/admin/degradation/force", { level: "Degraded" }, { authorization: "Bearer no" })
      const admin = logs.filter((log) => log.message.startsWith("Admin:"))
      expect(admin.map((log) => [log.annotations["action"], log.annotations["outcome"]])).toEqual([
        ["force", "ok"],
        ["force", "denied"]
      ])
      for (const log of admin) expect(String(log.annotations["remote"])).toMatch(/127\.0\.0\.1|::1|::ffff/)
      // The token never reaches a log line.
      expect(JSON.stringify(logs)).not.toContain(secret)
    }).pipe(withToken))

  it.scoped("layerConfig reads RESILIENCE_ADMIN_TOKEN", () =>
    Effect.gen(function*() {
      expect((yield* post("/admin/degradation/force", { level: "Limited" }, auth)).status).toBe(200)
    }).pipe(
      withServer(AdminRoutes.layerConfig),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RESILIENCE_ADMIN_TOKEN", secret]])))
    ))

  it.scoped("layerConfig without RESILIENCE_ADMIN_TOKEN: admin routes off", () =>
    Effect.gen(function*() {
      expect((yield* post("/admin/degradation/force", { level: "Limited" }, auth)).status).toBe(404)
    }).pipe(withServer(AdminRoutes.layerConfig), Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))

  it.effect("layerConfig with a blank RESILIENCE_ADMIN_TOKEN fails with a ConfigError saying it is blank", () =>
    Effect.gen(function*() {
      for (const blank of ["", " ", "  \t\n "]) {
        const exit = yield* Effect.exit(
          Layer.build(AdminRoutes.layerConfig).pipe(
            Effect.scoped,
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RESILIENCE_ADMIN_TOKEN", blank]])))
          )
        )
        assert(Exit.isFailure(exit), JSON.stringify(blank))
        const error = Cause.failureOption(exit.cause)
        assert(Option.isSome(error), JSON.stringify(blank))
        assert(ConfigError.isConfigError(error.value))
        // Its own error: invalid data at the variable, not the "missing" of an unset one.
        expect(error.value._op, JSON.stringify(blank)).toBe("InvalidData")
        assert(error.value._op === "InvalidData")
        expect(error.value.path).toEqual(["RESILIENCE_ADMIN_TOKEN"])
        expect(error.value.message).toMatch(/RESILIENCE_ADMIN_TOKEN is set but blank/)
        expect(Cause.pretty(exit.cause)).toContain("RESILIENCE_ADMIN_TOKEN")
        expect(Cause.pretty(exit.cause)).toContain("blank")
      }
    }))

  it.effect("every admin_actions_total series exists once the token layer is built", () =>
    Effect.gen(function*() {
      yield* Layer.build(AdminRoutes.layer({ token: undefined })).pipe(Effect.scoped)
      const series = Metric.unsafeSnapshot().filter((pair) => pair.metricKey.name === "admin_actions_total").map((
        pair
      ) => pair.metricKey.tags.map((tag) => `${tag.key}=${tag.value}`).sort().join(","))
      for (const action of ["force", "release", "force-open", "disable", "reset"]) {
        for (const outcome of ["ok", "denied", "invalid"]) {
          expect(series).toContain(`action=${action},outcome=${outcome}`)
        }
      }
    }))
})
