/// <reference lib="dom" />
import type { CircuitBreaker } from "@effect-resilience/core"
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { Faults } from "@effect-resilience/core"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync, mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { breakerOf, dependency, uniqueName } from "./utils.js"

const artifacts = join(dirname(fileURLToPath(import.meta.url)), "..", "build", "artifacts")

const db = uniqueName("db")
const cache = uniqueName("cache")
const search = uniqueName("search")

/** A raw service under `Faults`, registered with the registry the page reads. */
class Search extends Context.Tag("test/StatusPage/Search")<Search, {
  readonly query: (q: string) => Effect.Effect<string, CircuitBreaker.Unavailable>
}>() {}
const SearchLive = Faults.layer(Search, { name: search }).pipe(
  Layer.provide(Layer.succeed(Search, { query: (q) => Effect.succeed(`results for ${q}`) }))
)

const ServerLive = HttpServer.serve(StatusRoutes.router, DegradationMiddleware.make()).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(
    Layer.mergeAll(dependency(db, DegradationLevel.Minimal()), dependency(cache, DegradationLevel.Degraded()))
  ),
  Layer.provideMerge(SearchLive),
  Layer.provideMerge(Faults.layerRegistry),
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

describe("the status page in a real browser", () => {
  it.live("shows the level and the dependencies, and updates live when a breaker opens", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const address = server.address as HttpServer.TcpAddress
      const url = `http://127.0.0.1:${address.port}/status`
      const page = yield* Effect.flatMap(
        browser,
        (browser) => Effect.promise(() => browser.newPage({ viewport: { width: 1100, height: 800 } }))
      )
      const external: Array<string> = []
      page.on("request", (request) => {
        if (!request.url().startsWith(`http://127.0.0.1:${address.port}/`)) external.push(request.url())
      })
      const consoleErrors: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text())
      })

      const response = yield* Effect.promise(() => page.goto(url))
      expect(response?.headers()["content-type"]).toMatch(/^text\/html/)
      const text = (selector: string) => Effect.promise(() => page.locator(selector).innerText())
      expect(yield* text("#level-name")).toBe("Optimal")
      expect(yield* text("#forced")).toContain("Not forced")
      const row = (name: string) => `tr[data-dependency="${name}"]`
      expect(yield* text(`${row(db)} .breaker`)).toBe("Closed")
      expect(yield* text(`${row(cache)} .breaker`)).toBe("Closed")
      expect(yield* text(`${row(cache)} .health`)).toBe("Up")
      // The script connected to /status/events.
      yield* Effect.promise(() => page.locator("#live").filter({ hasText: "Live" }).waitFor({ timeout: 10_000 }))

      // A breaker opens: the page follows without a reload.
      const navigations: Array<string> = []
      page.on("framenavigated", (frame) => navigations.push(frame.url()))
      yield* Effect.flatMap(breakerOf(cache), (breaker) => breaker.forceOpen)
      yield* Effect.promise(() =>
        page.locator("#level-name").filter({ hasText: "Degraded" }).waitFor({ timeout: 10_000 })
      )
      yield* Effect.promise(() =>
        page.locator(`${row(cache)} .breaker`).filter({ hasText: "ForcedOpen" }).waitFor({ timeout: 10_000 })
      )
      expect(yield* text(`${row(cache)} .health`)).toBe("Down")
      expect(yield* text(`${row(db)} .breaker`)).toBe("Closed")
      expect(yield* text("#transitions")).toMatch(/Optimal\s*→\s*Degraded/)

      // A forced level shows who and why.
      yield* Effect.flatMap(Degradation, (degradation) =>
        degradation.force(DegradationLevel.Minimal(), "database migration"))
      yield* Effect.promise(() =>
        page.locator("#forced").filter({ hasText: "database migration" }).waitFor({ timeout: 10_000 })
      )
      expect(yield* text("#level-name")).toBe("Minimal")
      expect(navigations).toEqual([])

      mkdirSync(artifacts, { recursive: true })
      yield* Effect.promise(() =>
        page.screenshot({ path: join(artifacts, "status-page.png"), fullPage: true })
      )
      expect(external).toEqual([])
      expect(consoleErrors).toEqual([])
    }).pipe(
      // The browser closes (and its event stream with it) before the server, which waits for open connections.
      Effect.scoped,
      Effect.provide(ServerLive)
    ), 60_000)

  it.live(
    "shows injected faults in a clearly marked section, live, and drops it when they are cleared",
    () =>
      Effect.gen(function*() {
        const server = yield* HttpServer.HttpServer
        const address = server.address as HttpServer.TcpAddress
        const page = yield* Effect.flatMap(
          browser,
          (browser) => Effect.promise(() => browser.newPage({ viewport: { width: 1100, height: 800 } }))
        )
        const consoleErrors: Array<string> = []
        page.on("console", (message) => {
          if (message.type() === "error") consoleErrors.push(message.text())
        })
        yield* Effect.promise(() => page.goto(`http://127.0.0.1:${address.port}/status`))
        const text = (selector: string) => Effect.promise(() => page.locator(selector).innerText())
        const visible = (selector: string) => Effect.promise(() => page.locator(selector).isVisible())
        // Enabled, nothing injected: a quiet note, no alarm.
        expect(yield* text("#faults-none")).toContain("Fault injection is enabled")
        expect(yield* visible("#faults")).toBe(false)
        yield* Effect.promise(() => page.locator("#live").filter({ hasText: "Live" }).waitFor({ timeout: 10_000 }))

        const navigations: Array<string> = []
        page.on("framenavigated", (frame) => navigations.push(frame.url()))
        yield* Faults.inject(Search, Faults.down)
        yield* Effect.promise(() => page.locator("#faults").waitFor({ state: "visible", timeout: 10_000 }))
        expect(yield* text("#faults h2")).toMatch(/fault injection active/i)
        const row = (member: string) => `#faults tr[data-fault="${search}"][data-member="${member}"]`
        expect(yield* text(`${row("*")} .member`)).toBe("every member")
        expect(yield* text(`${row("*")} .fault`)).toBe("down")
        expect(yield* text(`${row("*")} .since`)).toMatch(/UTC \(\d+ s ago\)/)
        // Before the dependencies: the first thing under the level.
        const order = yield* Effect.promise(() =>
          page.evaluate(() =>
            Array.from(document.querySelectorAll("#status > section")).map((section) => section.id || section.className)
          )
        )
        expect(order.indexOf("faults")).toBe(1)

        yield* Faults.inject(Search, Faults.slow("2 seconds"), { member: "query" })
        yield* Effect.promise(() =>
          page.locator(`${row("query")} .fault`).filter({ hasText: "slow 2s" }).waitFor({ timeout: 10_000 })
        )
        mkdirSync(artifacts, { recursive: true })
        yield* Effect.promise(() =>
          page.screenshot({ path: join(artifacts, "status-page-faults.png"), fullPage: true })
        )

        yield* Faults.recover(Search, { member: "query" })
        yield* Effect.promise(() => page.locator(row("query")).waitFor({ state: "detached", timeout: 10_000 }))
        expect(yield* visible(row("*"))).toBe(true)
        yield* Faults.recover(Search)
        yield* Effect.promise(() => page.locator("#faults").waitFor({ state: "detached", timeout: 10_000 }))
        expect(yield* text("#faults-none")).toContain("no fault is injected")
        expect(navigations).toEqual([])
        expect(consoleErrors).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(ServerLive)),
    60_000
  )
})
