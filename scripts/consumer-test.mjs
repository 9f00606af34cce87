#!/usr/bin/env node
// The packages as a user gets them: packed, linted, installed with npm into a fresh project outside the
// workspace, compiled under strict TypeScript and run.
//
// 1. build       `tsc -b`, so the tarballs carry the current dist/ (JavaScript, .d.ts, source maps)
// 2. pack        `pnpm pack` each package (pnpm replaces `workspace:*` / `workspace:^` with versions)
// 3. lint        `publint --strict` and `attw` on each tarball. attw runs with `--profile esm-only`:
//                the packages are ESM only ("type": "module", no "require" condition) because Effect's
//                own packages are consumed as ESM and a CJS build would be a second copy of every
//                module for no consumer we have; the CommonJS resolutions are therefore not checked.
//                attw skips wildcard subpaths (`./*`), so every public module is listed explicitly.
// 4. install     a project in os.tmpdir() on the tarballs and the Effect 3 versions of DESIGN §1,
//                installed with npm (not pnpm: npm's flat tree is where duplicate copies show)
// 5. compile     a program using core, otel, platform and simulation with strict, noUnusedLocals, NodeNext
// 6. run         it: a simulated outage ends as expected, a breaker trips, the level drops, the HTTP
//                status/middleware/metrics answer
// 7. one copy    `npm ls` shows exactly one effect (and one @effect/platform, one core)
//
// Usage: node scripts/consumer-test.mjs [--keep]   (--keep leaves the temp project for inspection)
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const keep = process.argv.includes("--keep")
const packages = ["core", "otel", "platform", "simulation"]
// DESIGN §1: Effect 3 (npm `latest` is Effect 4).
const thirdParty = {
  "effect": "3.22.4",
  "@effect/platform": "0.97.2",
  "@effect/platform-node": "0.108.2",
  "@effect/experimental": "0.61.1",
  "@effect/sql": "0.52.1",
  "typescript": "~5.9.3",
  "@types/node": "^20.19.0"
}

const started = Date.now()
const work = mkdtempSync(join(tmpdir(), "effect-resilience-consumer-"))
const tarballs = join(work, "tarballs")
const app = join(work, "app")
mkdirSync(tarballs)
mkdirSync(join(app, "src"), { recursive: true })

const fail = (message) => {
  console.error(`consumer-test: FAILED: ${message}`)
  cleanup()
  process.exit(1)
}
function cleanup() {
  if (keep) console.log(`consumer-test: kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}

const run = (cmd, args, cwd, { capture = false } = {}) => {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    // Colours off, and no update notices in the logs.
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false" }
  })
  if (r.error) fail(`${cmd} ${args.join(" ")}: ${r.error.message}`)
  return r
}
const must = (cmd, args, cwd, opts) => {
  const r = run(cmd, args, cwd, opts)
  if (r.status !== 0) {
    if (opts?.capture) process.stderr.write(`${r.stdout}${r.stderr}`)
    fail(`\`${cmd} ${args.join(" ")}\` exited with ${r.status} (in ${cwd})`)
  }
  return r
}
const step = (name, f) => {
  const t = Date.now()
  console.log(`\nconsumer-test: ${name}`)
  f()
  console.log(`consumer-test: ${name}: ok (${((Date.now() - t) / 1000).toFixed(1)} s)`)
}
const bin = (name) => join(root, "node_modules", ".bin", name)

process.on("SIGINT", () => fail("interrupted"))

step("build (tsc -b)", () => must(bin("tsc"), ["-b"], root))

step("pack", () => {
  for (const p of packages) {
    must("npx", ["-y", "pnpm@10", "pack", "--pack-destination", tarballs], join(root, "packages", p), { capture: true })
  }
  const files = readdirSync(tarballs)
  if (files.length !== packages.length) fail(`expected ${packages.length} tarballs, found ${files.join(", ")}`)
  console.log(files.map((f) => `  ${f}`).join("\n"))
})

const tarball = (p) => {
  const f = readdirSync(tarballs).find((f) => f.startsWith(`effect-resilience-${p}-`) && f.endsWith(".tgz"))
  if (!f) fail(`no tarball for ${p}`)
  return join(tarballs, f)
}

step("lint tarballs (publint --strict, attw --profile esm-only)", () => {
  for (const p of packages) {
    must(bin("publint"), ["run", tarball(p), "--strict"], root)
    // Every public module (one PascalCase file per module in src/) is an entry point.
    const modules = readdirSync(join(root, "packages", p, "src"))
      .filter((f) => /^[A-Z]\w*\.ts$/.test(f))
      .map((f) => `./${f.slice(0, -3)}`)
    must(bin("attw"), [
      tarball(p),
      "--profile",
      "esm-only",
      "--format",
      "table-flipped",
      "--no-color",
      "--entrypoints",
      ".",
      ...modules
    ], root)
  }
})

step("install with npm", () => {
  const dependencies = { ...thirdParty }
  for (const p of packages) dependencies[`@effect-resilience/${p}`] = `file:${tarball(p)}`
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "effect-resilience-consumer",
        private: true,
        type: "module",
        dependencies
      },
      null,
      2
    )
  )
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          verbatimModuleSyntax: true,
          // Our .d.ts are checked like the user's own code; third-party ones are not ours to fix.
          skipLibCheck: true,
          rootDir: "src",
          outDir: "dist"
        },
        include: ["src"]
      },
      null,
      2
    )
  )
  // --prefer-offline: pinned versions, so npm's cache answers without asking the registry each time.
  must("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], app)
})

step("compile (strict, noUnusedLocals, NodeNext)", () => {
  writeFileSync(join(app, "src", "main.ts"), programSource())
  must(join(app, "node_modules", ".bin", "tsc"), ["-p", "."], app)
})

step("run", () => {
  const r = must("node", ["dist/main.js"], app, { capture: true })
  process.stdout.write(r.stdout.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n"))
  if (!r.stdout.includes("consumer program: ok")) fail("the program did not print its final line")
})

step("one copy of effect (npm ls)", () => {
  for (const name of ["effect", "@effect/platform", "@effect-resilience/core"]) {
    const r = run("npm", ["ls", name, "--all", "--parseable"], app, { capture: true })
    if (r.status !== 0) {
      process.stderr.write(`${r.stdout}${r.stderr}`)
      fail(`npm ls ${name} exited with ${r.status} (invalid or missing in the tree)`)
    }
    const copies = [
      ...new Set(r.stdout.split("\n").map((l) => l.trim()).filter((l) => l.endsWith(`node_modules/${name}`)))
    ]
    console.log(`  ${name}: ${copies.length} cop${copies.length === 1 ? "y" : "ies"}`)
    if (copies.length !== 1) fail(`${name} is installed ${copies.length} times:\n${copies.join("\n")}`)
  }
  must("npm", ["ls", "effect", "--all"], app)
})

cleanup()
console.log(`\nconsumer-test: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`)

// The consumer's program: only the public entry points, as a user imports them.
// It checks what it prints, and exits 1 (an uncaught failure) when something is off.
function programSource() {
  return `\
import { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback, Presets } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import { Faults, Simulation } from "@effect-resilience/simulation"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Data, Effect, Layer } from "effect"
import { createServer } from "node:http"

class DbError extends Data.TaggedError("DbError")<{ readonly message: string }> {}

class Db extends Context.Tag("consumer/Db")<Db, {
  readonly price: (id: number) => Effect.Effect<number, DbError>
  readonly save: (id: number) => Effect.Effect<void, DbError | CircuitBreaker.Unavailable>
}>() {}

// A database that is down.
const DbDown = Layer.succeed(Db, {
  price: () => Effect.fail(new DbError({ message: "ECONNREFUSED" })),
  save: () => Effect.fail(new DbError({ message: "ECONNREFUSED" }))
})

const DbLive = Dependency.layer(Db, {
  ...Presets.db, // 3 consecutive failures open it; Minimal when down
  fallback: { price: Fallback.succeed(42) }
}).pipe(Layer.provide(DbDown))

const assert = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.dieMessage(\`assertion failed: \${message}\`)

const bareBreaker = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "consumer-bare", trip: CircuitBreaker.consecutiveFailures(2) })
  for (let i = 0; i < 2; i++) yield* Effect.exit(breaker(Effect.fail("boom")))
  const state = yield* breaker.state
  yield* Effect.log(\`bare breaker: \${state._tag}\`)
  yield* assert(state._tag === "Open", "the bare breaker opens after 2 failures")
  const rejected = yield* Effect.flip(breaker(Effect.succeed(1)))
  yield* assert(rejected._tag === "CircuitOpenError", "an open breaker rejects")
}).pipe(Effect.scoped)

// A redis outage in virtual time, on an app's own cache layer: the level drops to Degraded and comes back.
class Cache extends Context.Tag("consumer/Cache")<Cache, {
  readonly get: (key: string) => Effect.Effect<string, DbError>
}>() {}

const CacheSim = Dependency.layer(Cache, { ...Presets.redis, fallback: { get: Fallback.succeed("from the db") } }).pipe(
  Layer.provideMerge(Faults.layer(Cache, { name: "redis" })),
  Layer.provide(Layer.succeed(Cache, { get: (key) => Effect.succeed(key) })),
  Layer.provideMerge(Degradation.layer())
)

const simulated = Effect.gen(function*() {
  const report = yield* Simulation.run({
    name: "consumer-redis-down",
    duration: "3 minutes",
    layer: CacheSim,
    faults: [
      { at: "30 seconds", dependency: "redis", fault: Faults.down },
      { at: "1 minute", dependency: "redis", fault: Simulation.recovered }
    ],
    traffic: [Simulation.calls(Cache, "get", { perSecond: 5, args: (i) => [\`k\${i}\`] })],
    expect: [
      Simulation.expectReaches(DegradationLevel.Degraded(), { after: "30 seconds", within: "5 seconds" }),
      Simulation.expectFinalLevel(DegradationLevel.Optimal())
    ]
  })
  console.log(\`simulation: \${report.checks.map((c) => \`\${c.ok ? "ok" : "FAILED"} \${c.description}\`).join("; ")}\`)
  yield* assert(report.ok, "the simulated redis outage ends as expected")
})

const app = HttpRouter.empty.pipe(
  HttpRouter.post("/products", HttpServerResponse.text("created", { status: 201 })),
  HttpRouter.get("/metrics", Prometheus.httpApp),
  HttpRouter.concat(StatusRoutes.router)
)

const program = Effect.gen(function*() {
  yield* bareBreaker

  const db = yield* Db
  for (let id = 1; id <= 3; id++) {
    const price = yield* db.price(id)
    yield* assert(price === 42, "the fallback answers")
  }
  const level = yield* Degradation.current
  console.log(\`level after the db failed 3 times: \${level._tag}\`)
  yield* assert(DegradationLevel.$is("Minimal")(level), "the db preset moves the level to Minimal")

  const address = yield* HttpServer.addressWith((a) =>
    Effect.succeed(a._tag === "TcpAddress" ? \`http://127.0.0.1:\${a.port}\` : "")
  )
  const get = (path: string, init?: RequestInit) => Effect.promise(() => fetch(address + path, init))

  const status = yield* get("/status")
  const body = (yield* Effect.promise(() => status.json())) as { readonly level: string }
  console.log(\`GET /status: \${status.status} level=\${body.level} \${DegradationMiddleware.levelHeader}=\${status.headers.get(DegradationMiddleware.levelHeader)}\`)
  yield* assert(status.status === 200 && body.level === "Minimal", "/status reports Minimal")

  const write = yield* get("/products", { method: "POST", body: "{}" })
  console.log(\`POST /products: \${write.status} retry-after=\${write.headers.get("retry-after")}\`)
  yield* assert(write.status === 503, "writes are blocked at Minimal")

  const metrics = yield* Effect.promise(() => fetch(address + "/metrics").then((r) => r.text()))
  const breakerState = metrics.split("\\n").find((l) => l.startsWith("circuit_breaker_state{") && l.includes('breaker="db"'))
  console.log(\`GET /metrics: \${breakerState}\`)
  yield* assert(breakerState !== undefined && breakerState.endsWith(" 1"), "the db breaker is open in /metrics")
  console.log("consumer program: ok")
})

const ServerLive = HttpServer.serve(app, DegradationMiddleware.make()).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provide(Prometheus.layerHttpApp())
)

const MainLive = Layer.mergeAll(DbLive, ServerLive).pipe(
  Layer.provideMerge(Degradation.layer())
)

// The simulation first: its Degradation sets the global degradation_level gauge, which the app's then owns.
Effect.runPromise(simulated).then(() => Effect.runPromise(program.pipe(Effect.provide(MainLive)))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
`
}
