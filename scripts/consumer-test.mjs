#!/usr/bin/env node
// The packages as a user gets them: packed, linted, installed with npm into fresh projects outside the
// workspace, compiled under strict TypeScript and run.
//
// 1. build       `tsc -b` of the packages, so the tarballs carry the current dist/ (JavaScript, .d.ts, source maps)
// 2. pack        `pnpm pack` each package (pnpm replaces `workspace:*` / `workspace:^` with versions)
// 3. lint        `publint --strict` and `attw` on each tarball. attw runs with `--profile esm-only`:
//                the packages are ESM only ("type": "module", no "require" condition) because Effect's
//                own packages are consumed as ESM and a CJS build would be a second copy of every
//                module for no consumer we have; the CommonJS resolutions are therefore not checked.
//                attw skips wildcard subpaths (`./*`), so every public module is listed explicitly.
// Then twice, in a project of its own each:
//   - "required peers": the tarballs and the Effect 3 versions the packages need, and none of the
//     optional peers (ioredis, @effect/sql, the SQLite driver): the program imports the main entry of
//     every package;
//   - "all peers": the same plus every optional peer: the program also imports the subpaths whose
//     layers need them (`@effect-resilience/platform/redis`, `/sql`, `/sqlite`) and uses them.
// 4. install     with npm (not pnpm: npm's flat tree is where duplicate copies show); the optional
//                peers must be absent from the first project, present in the second
// 5. compile     strict, exactOptionalPropertyTypes, noUnusedLocals, NodeNext, and `skipLibCheck: false`:
//                every .d.ts the program reaches is checked, so a declaration of ours that names a
//                package the project did not install fails here
// 6. run         it: a simulated outage ends as expected, a breaker trips, the level drops, the HTTP
//                status/middleware/metrics answer; with all peers, a queue on SQLite (both layers)
//                replays what it was offered, and the Redis layers load and name an unreachable server
// 7. one copy    `npm ls` shows exactly one effect (and one @effect/platform, one core)
//
// Usage: node scripts/consumer-test.mjs [--keep]   (--keep leaves the temp projects for inspection)
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const keep = process.argv.includes("--keep")
const packages = ["core", "otel", "platform", "simulation"]
// Effect 3 (npm `latest` is Effect 4), and what the packages require.
const thirdParty = {
  "effect": "3.22.4",
  "@effect/platform": "0.97.2",
  "@effect/experimental": "0.61.1",
  "typescript": "~5.9.3",
  "@types/node": "^20.19.0"
}
// The platform package's optional peers. ioredis 5: @effect/experimental 0.61 declares `ioredis ^5`
// as its own optional peer, and npm refuses a 6 beside it (ours accepts 5 and 6).
const optionalPeers = {
  "@effect/sql": "0.52.1",
  "@effect/sql-sqlite-node": "0.53.0",
  "ioredis": "^5.9.2"
}
// Installed by an optional peer, so absent with them.
const broughtByOptionalPeers = ["better-sqlite3"]

/** better-sqlite3's native addon in `app`: the workspace's build when the versions match, else built by npm. */
const nativeBetterSqlite3 = (app) => {
  const installed = join(app, "node_modules", "better-sqlite3")
  if (!existsSync(join(installed, "package.json"))) return
  const version = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version
  const built = join(
    root,
    "node_modules",
    ".pnpm",
    `better-sqlite3@${version}`,
    "node_modules",
    "better-sqlite3",
    "build"
  )
  if (existsSync(join(built, "Release", "better_sqlite3.node"))) {
    cpSync(built, join(installed, "build"), { recursive: true })
    console.log(`  better-sqlite3 ${version}: the workspace's native build`)
  } else {
    must("npm", ["rebuild", "better-sqlite3", "--loglevel=error"], app)
  }
}
// What a service adds beside them: its server (whose peers include @effect/sql), in the second project only.
const serviceExtras = { "@effect/platform-node": "0.108.2" }

const started = Date.now()
const work = mkdtempSync(join(tmpdir(), "effect-resilience-consumer-"))
const tarballs = join(work, "tarballs")
mkdirSync(tarballs)

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

step("build (tsc -b on the packages)", () => must(bin("tsc"), ["-b", ...packages.map((p) => `packages/${p}`)], root))

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
    // Every public module (one PascalCase file per module in src/, or in a subpath's folder) and every
    // subpath the package exports by name is an entry point.
    const src = join(root, "packages", p, "src")
    const modules = readdirSync(src, { recursive: true })
      .map((f) => String(f).split("\\").join("/"))
      .filter((f) => /^(\w+\/)?[A-Z]\w*\.ts$/.test(f) && !f.startsWith("internal/"))
      .map((f) => `./${f.slice(0, -3)}`)
    const exported = Object.keys(JSON.parse(readFileSync(join(root, "packages", p, "package.json"), "utf8")).exports)
      .filter((key) => key !== "." && !key.includes("*"))
    must(bin("attw"), [
      tarball(p),
      "--profile",
      "esm-only",
      "--format",
      "table-flipped",
      "--no-color",
      "--entrypoints",
      ".",
      ...modules,
      ...exported
    ], root)
  }
})

/** One consumer project: installed, checked for which optional peers it has, compiled, run, deduplicated. */
const project = ({ name, withOptionalPeers, programs }) => {
  const app = join(work, name)
  mkdirSync(join(app, "src"), { recursive: true })
  const peerNames = [...Object.keys(optionalPeers), ...broughtByOptionalPeers]

  step(`${name}: install with npm`, () => {
    const dependencies = { ...thirdParty, ...(withOptionalPeers ? { ...optionalPeers, ...serviceExtras } : {}) }
    for (const p of packages) dependencies[`@effect-resilience/${p}`] = `file:${tarball(p)}`
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify(
        { name: `effect-resilience-consumer-${name}`, private: true, type: "module", dependencies },
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
            // @effect/platform's declarations name DOM types (Storage, Transferable, MessagePort).
            lib: ["ES2022", "DOM"],
            module: "NodeNext",
            moduleResolution: "NodeNext",
            types: ["node"],
            strict: true,
            exactOptionalPropertyTypes: true,
            noUnusedLocals: true,
            noUnusedParameters: true,
            verbatimModuleSyntax: true,
            // Every declaration the program reaches is checked, ours and those they lead to: one that
            // names a package this project did not install fails the compile.
            skipLibCheck: false,
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
    // Install scripts are skipped: the one that matters, better-sqlite3's native build (~4 minutes from
    // source here), takes the workspace's binary of the same version, or is rebuilt when none matches.
    must("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "--loglevel=error"], app)
    if (withOptionalPeers) nativeBetterSqlite3(app)
    const present = peerNames.filter((peer) => existsSync(join(app, "node_modules", peer, "package.json")))
    console.log(`  optional peers installed: ${present.length === 0 ? "none" : present.join(", ")}`)
    if (withOptionalPeers && present.length !== peerNames.length) {
      fail(`missing optional peers: ${peerNames.filter((peer) => !present.includes(peer)).join(", ")}`)
    }
    if (!withOptionalPeers && present.length > 0) fail(`optional peers installed anyway: ${present.join(", ")}`)
  })

  step(`${name}: compile (strict, exactOptionalPropertyTypes, skipLibCheck: false, NodeNext)`, () => {
    for (const [file, source] of Object.entries(programs)) writeFileSync(join(app, "src", file), source)
    must(join(app, "node_modules", ".bin", "tsc"), ["-p", "."], app)
  })

  step(`${name}: run`, () => {
    for (const file of Object.keys(programs)) {
      const r = must("node", [join("dist", file.replace(/\.ts$/, ".js"))], app, { capture: true })
      process.stdout.write(r.stdout.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n"))
      if (!r.stdout.includes(`${file}: ok`)) fail(`${file} did not print its final line`)
    }
  })

  step(`${name}: one copy of effect (npm ls)`, () => {
    for (const dep of ["effect", "@effect/platform", "@effect-resilience/core"]) {
      const r = run("npm", ["ls", dep, "--all", "--parseable"], app, { capture: true })
      if (r.status !== 0) {
        process.stderr.write(`${r.stdout}${r.stderr}`)
        fail(`npm ls ${dep} exited with ${r.status} (invalid or missing in the tree)`)
      }
      const copies = [
        ...new Set(r.stdout.split("\n").map((l) => l.trim()).filter((l) => l.endsWith(`node_modules/${dep}`)))
      ]
      console.log(`  ${dep}: ${copies.length} cop${copies.length === 1 ? "y" : "ies"}`)
      if (copies.length !== 1) fail(`${dep} is installed ${copies.length} times:\n${copies.join("\n")}`)
    }
    must("npm", ["ls", "effect", "--all"], app)
  })
}

project({ name: "required-peers", withOptionalPeers: false, programs: { "main.ts": programSource() } })
project({
  name: "all-peers",
  withOptionalPeers: true,
  programs: { "main.ts": programSource(), "peers.ts": peersProgramSource() }
})

cleanup()
console.log(`\nconsumer-test: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`)

// The consumer's program: only the main entry points, as a user imports them.
// It checks what it prints, and exits 1 (an uncaught failure) when something is off.
function programSource() {
  return `\
import { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback, Presets } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import { DegradationMiddleware, StatusRoutes } from "@effect-resilience/platform"
import { Faults, Simulation } from "@effect-resilience/simulation"
import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Context, Data, Effect, Layer } from "effect"

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

  // The app as the fetch handler a Node, Bun or Deno server calls: no server package needed (a Node
  // server would bring @effect/platform-node, whose peers include @effect/sql).
  const handler = HttpApp.toWebHandlerRuntime(yield* Effect.runtime<Degradation | Prometheus.Exporter>())(
    app,
    DegradationMiddleware.make()
  )
  const get = (path: string, init?: RequestInit) =>
    Effect.promise(() => handler(new Request(\`http://consumer.test\${path}\`, init)))

  const status = yield* get("/status")
  const body = (yield* Effect.promise(() => status.json())) as { readonly level: string }
  console.log(\`GET /status: \${status.status} level=\${body.level} \${DegradationMiddleware.levelHeader}=\${status.headers.get(DegradationMiddleware.levelHeader)}\`)
  yield* assert(status.status === 200 && body.level === "Minimal", "/status reports Minimal")

  const write = yield* get("/products", { method: "POST", body: "{}" })
  console.log(\`POST /products: \${write.status} retry-after=\${write.headers.get("retry-after")}\`)
  yield* assert(write.status === 503, "writes are blocked at Minimal")

  const metrics = yield* Effect.flatMap(get("/metrics"), (r) => Effect.promise(() => r.text()))
  const breakerState = metrics.split("\\n").find((l) => l.startsWith("circuit_breaker_state{") && l.includes('breaker="db"'))
  console.log(\`GET /metrics: \${breakerState}\`)
  yield* assert(breakerState !== undefined && breakerState.endsWith(" 1"), "the db breaker is open in /metrics")
  console.log("main.ts: ok")
})

const MainLive = Layer.mergeAll(DbLive, Prometheus.layerHttpApp()).pipe(
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

// With the optional peers: the subpaths, as a user imports them. A queue on SQLite through both SQL
// layers offers and replays; the Redis layers load ioredis and report a server that does not answer.
function peersProgramSource() {
  return `\
import { Degradation } from "@effect-resilience/core"
import { DurableQueue as RedisQueue, FleetOverride } from "@effect-resilience/platform/redis"
import { DurableQueue as SqlQueue } from "@effect-resilience/platform/sql"
import { DurableQueue } from "@effect-resilience/platform/sqlite"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const assert = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.dieMessage(\`assertion failed: \${message}\`)

const Upload = Schema.Struct({ key: Schema.String })
const dir = mkdtempSync(join(tmpdir(), "consumer-queue-"))

const roundTrip = (label: string, store: Layer.Layer<DurableQueue.Store, unknown>) =>
  Effect.gen(function*() {
    const queue = yield* DurableQueue.make({ name: \`consumer-\${label}\`, schema: Upload, maxAttempts: 3 })
    yield* queue.offer({ key: "a" })
    yield* queue.offer({ key: "b" })
    const seen: Array<string> = []
    const replayed = yield* queue.replay((entry, delivery) => Effect.sync(() => seen.push(\`\${entry.key}@\${delivery.attempts}\`)))
    console.log(\`\${label}: replayed \${seen.join(", ")}\`)
    yield* assert(replayed === 2 && seen.join(",") === "a@1,b@1", \`the \${label} queue replays what it was offered\`)
  }).pipe(Effect.scoped, Effect.provide(store))

const sqlite = roundTrip("sqlite", DurableQueue.layerSqlite({ filename: join(dir, "queue.db") }))
const sql = roundTrip(
  "sql",
  SqlQueue.layerSql({ tableName: "consumer_queue" }).pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "sql.db") })))
)

// Nothing listens on port 1: the layer fails, naming the address.
const redisQueue = Effect.gen(function*() {
  const error = yield* Layer.build(
    RedisQueue.layerRedis({ host: "127.0.0.1", port: 1, connectTimeout: 500, retryStrategy: () => null })
  ).pipe(Effect.scoped, Effect.flip)
  console.log(\`redis queue: \${error._tag} (\${error.store}): \${error.message}\`)
  yield* assert(error.store === "redis" && error.message.includes("127.0.0.1:1"), "layerRedis names the address")
})

// Redis unreachable at start does not fail the layer: the instance starts on its own and says so.
const fleet = Effect.gen(function*() {
  const status = yield* Effect.flatMap(Degradation, FleetOverride.status).pipe(
    Effect.provide(
      FleetOverride.layer({ redis: "redis://127.0.0.1:1", timeout: "300 millis", instance: "consumer" }).pipe(
        Layer.provide(Degradation.layer())
      )
    )
  )
  console.log(\`fleet override: \${JSON.stringify(status)}\`)
  yield* assert(status?.connected === false && status.instance === "consumer", "FleetOverride reports Redis unreachable")
})

Effect.runPromise(Effect.all([sqlite, sql, redisQueue, fleet], { discard: true })).then(
  () => {
    rmSync(dir, { recursive: true, force: true })
    console.log("peers.ts: ok")
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
`
}
