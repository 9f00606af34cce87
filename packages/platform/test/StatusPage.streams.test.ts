/// <reference lib="dom" />
/**
 * The status page in a real browser when its event stream is refused (every
 * `maxStreams` slot taken): it still shows the current status, and goes live
 * once a slot is free again. Its CSP (script and stylesheet by hash) is
 * enforced by the browser throughout: a violation would be a console error.
 */
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import * as http from "node:http"
import { chromium } from "playwright-core"
import { serverPort } from "./rawHttp.js"

const ServerLive = HttpServer.serve(StatusRoutes.make({ maxStreams: 1 }), DegradationMiddleware.make()).pipe(
  Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(Degradation.layer())
)

const executablePath = "/usr/bin/chromium"

const browser = Effect.acquireRelease(
  Effect.suspend(() =>
    existsSync(executablePath)
      ? Effect.void
      : Effect.dieMessage(
        `${executablePath} is missing: run \`node scripts/ensure-tools.mjs\` (installs Debian chromium)`
      )
  ).pipe(Effect.zipRight(Effect.promise(() =>
    chromium.launch({
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    })
  ))),
  (browser) => Effect.promise(() => browser.close())
)

/** Holds the one stream slot with a plain client until the scope closes. */
const holdStream = (port: number) =>
  Effect.acquireRelease(
    Effect.async<http.ClientRequest, Error>((resume) => {
      const request = http.get({ host: "127.0.0.1", port, path: "/status/events", agent: false }, (response) => {
        if (response.statusCode !== 200) resume(Effect.fail(new Error(`stream refused: ${response.statusCode}`)))
        else response.once("data", () => resume(Effect.succeed(request)))
      })
      request.on("error", (error) => resume(Effect.fail(error)))
    }),
    (request) => Effect.sync(() => request.destroy())
  )

describe("the status page when its event stream is refused", () => {
  it.live("shows the status, and goes live by itself once a stream slot frees", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      const held = yield* Scope.make()
      yield* holdStream(port).pipe(Scope.extend(held))
      // The slot is taken: a stream request is refused.
      const refused = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/status/events`).then(async (r) => {
          await r.body?.cancel()
          return r.status
        })
      )
      expect(refused).toBe(503)

      const page = yield* Effect.flatMap(browser, (browser) => Effect.promise(() => browser.newPage()))
      const consoleErrors: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error" && !message.text().includes("503")) consoleErrors.push(message.text())
      })
      yield* Effect.promise(() => page.goto(`http://127.0.0.1:${port}/status`))
      const text = (selector: string) => Effect.promise(() => page.locator(selector).innerText())
      expect(yield* text("#level-name")).toBe("Optimal")
      yield* Effect.promise(() =>
        page.locator("#live").filter({ hasText: "Reconnecting" }).waitFor({ timeout: 10_000 })
      )

      // The slot frees; the page reconnects by itself and follows the level again.
      yield* Scope.close(held, Exit.void)
      yield* Effect.promise(() => page.locator("#live").filter({ hasText: "Live" }).waitFor({ timeout: 15_000 }))
      yield* Effect.flatMap(Degradation, (degradation) => degradation.force(DegradationLevel.Limited(), "drill"))
      yield* Effect.promise(() =>
        page.locator("#level-name").filter({ hasText: "Limited" }).waitFor({ timeout: 10_000 })
      )
      // Only the refused stream itself is reported by the browser; no CSP violation, no script error.
      expect(consoleErrors).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(ServerLive)), 60_000)
})
