// HTTP benchmark: what DegradationMiddleware costs on a trivial route, against the same bare
// @effect/platform-node server. Each server runs in its own Node process on compiled JavaScript
// (packages/*/dist); autocannon drives them on 127.0.0.1 for a bounded time: per round, 10 s per server
// in 2 s slices taken in turns (bare, middleware, middleware, bare, …), so that drift in the machine's
// load hits both.
//
//   node bench/http.mjs                      (runs `npx tsc -b` first; BENCH_NO_BUILD=1 skips it)
//   BENCH_HTTP_ROUNDS=3 BENCH_HTTP_DURATION=10 BENCH_HTTP_SLICE=2 BENCH_HTTP_CONNECTIONS=20 node bench/http.mjs
//
// Prints a markdown table (requests/s and p99 latency per server, the throughput ratio) and writes
// bench/RESULTS-http.md. Target: the middleware costs at most 5 % of the bare server's throughput.
import { spawn, spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const dist = (pkg) => pathToFileURL(join(root, "packages", pkg, "dist", "index.js")).href

const ROUNDS = Math.max(1, Number(process.env.BENCH_HTTP_ROUNDS ?? 3))
const DURATION = Math.max(1, Number(process.env.BENCH_HTTP_DURATION ?? 10))
const WARMUP = Math.max(1, Number(process.env.BENCH_HTTP_WARMUP ?? 3))
const CONNECTIONS = Math.max(1, Number(process.env.BENCH_HTTP_CONNECTIONS ?? 20))
const SLICE = Math.max(1, Number(process.env.BENCH_HTTP_SLICE ?? 2))
const TARGET = 0.05

// ---------------------------------------------------------------------------------------------
// server mode: `node bench/http.mjs --server bare|middleware` prints {"port":…} once listening
// ---------------------------------------------------------------------------------------------
if (process.argv[2] === "--server") {
  const kind = process.argv[3]
  const { Degradation } = await import(dist("core"))
  const { DegradationMiddleware } = await import(dist("platform"))
  const { HttpRouter, HttpServer, HttpServerResponse } = await import("@effect/platform")
  const { NodeHttpServer, NodeRuntime } = await import("@effect/platform-node")
  const { Effect, Layer } = await import("effect")
  const { createServer } = await import("node:http")

  const app = HttpRouter.empty.pipe(HttpRouter.get("/", Effect.succeed(HttpServerResponse.text("ok"))))
  // The same process either way (Degradation and its recovery fiber included); only the middleware differs.
  const served = kind === "middleware" ? HttpServer.serve(app, DegradationMiddleware.make()) : HttpServer.serve(app)
  const announce = Layer.effectDiscard(
    Effect.flatMap(
      HttpServer.HttpServer,
      (server) => Effect.sync(() => process.stdout.write(JSON.stringify({ port: server.address.port }) + "\n"))
    )
  )
  const main = Layer.mergeAll(served, announce).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Degradation.layer())
  )
  NodeRuntime.runMain(Layer.launch(main), { disablePrettyLogger: true })
} else {
  await driver()
}

// ---------------------------------------------------------------------------------------------
// driver
// ---------------------------------------------------------------------------------------------
async function driver() {
  if (process.env.BENCH_NO_BUILD !== "1") {
    process.stderr.write("npx tsc -b …\n")
    const build = spawnSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" })
    if (build.status !== 0) {
      process.stderr.write("tsc -b failed: the servers would run stale dist/; fix the build or set BENCH_NO_BUILD=1\n")
      process.exit(1)
    }
  }
  const { default: autocannon } = await import("autocannon")
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  }
  const startServer = (kind) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--server", kind], {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout.on("data", (chunk) => {
        out += chunk
        const line = out.split("\n").find((l) => l.startsWith("{"))
        if (line) resolve({ child, port: JSON.parse(line).port })
      })
      child.on("exit", (code) => reject(new Error(`${kind} server exited (${code}) before listening`)))
    })

  const stopServer = (child) =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      process.kill(child.pid, "SIGTERM")
      setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, "SIGKILL"), 3000)
        .unref()
    })

  const load = (port, duration) =>
    new Promise((resolve, reject) => {
      autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration }, (error, result) =>
        error ? reject(error) : resolve(result))
    })

  const check = async (kind, port) => {
    const response = await fetch(`http://127.0.0.1:${port}/`)
    const header = response.headers.get("x-degradation-level")
    await response.text()
    if (response.status !== 200 || (kind === "middleware") !== (header === "Optimal")) {
      throw new Error(`${kind}: unexpected answer ${response.status}, x-degradation-level ${header}`)
    }
  }

  // The server's CPU time (user + system, in seconds) from /proc: less sensitive than throughput to
  // other processes on the machine, since it counts only what the server itself spends.
  const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100
  const cpuSeconds = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return (Number(fields[11]) + Number(fields[12])) / ticks
    } catch {
      return NaN
    }
  }

  const slice = async (kind, server, seconds) => {
    const before = cpuSeconds(server.child.pid)
    const result = await load(server.port, seconds)
    const cpu = cpuSeconds(server.child.pid) - before
    if (result.errors > 0 || result.non2xx > 0) {
      throw new Error(`${kind}: ${result.errors} errors, ${result.non2xx} non-2xx`)
    }
    return { requests: result.requests.total, seconds: result.duration, p99: result.latency.p99, cpu }
  }

  // Both servers stay up (each in its own process) and take turns in short slices: a change in the
  // machine's load lands on both within seconds, not on one whole 10 s run.
  const servers = {}
  for (const kind of ["bare", "middleware"]) servers[kind] = await startServer(kind)
  const loadStart = os.loadavg()
  const rounds = []
  try {
    for (const kind of ["bare", "middleware"]) {
      await check(kind, servers[kind].port)
      await load(servers[kind].port, WARMUP) // JIT warm-up, discarded
    }
    const slices = Math.max(1, Math.round(DURATION / SLICE))
    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${slices} × ${SLICE} s per server, interleaved …\n`)
      const acc = { bare: [], middleware: [] }
      for (let i = 0; i < slices; i++) {
        const order = (round + i) % 2 === 0 ? ["bare", "middleware"] : ["middleware", "bare"]
        for (const kind of order) acc[kind].push(await slice(kind, servers[kind], SLICE))
      }
      const summary = (xs) => ({
        rps: xs.reduce((n, x) => n + x.requests, 0) / xs.reduce((n, x) => n + x.seconds, 0),
        p99: median(xs.map((x) => x.p99)),
        cpuPerRequest: xs.reduce((n, x) => n + x.cpu, 0) / xs.reduce((n, x) => n + x.requests, 0)
      })
      rounds.push({ bare: summary(acc.bare), middleware: summary(acc.middleware) })
    }
  } finally {
    for (const { child } of Object.values(servers)) await stopServer(child)
  }
  const loadEnd = os.loadavg()

  const fmt = (n, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

  const lines = []
  lines.push(
    "| round | bare req/s | bare p99 ms | bare CPU µs/req | middleware req/s | middleware p99 ms | middleware CPU µs/req | throughput ratio | cost (throughput) | cost (CPU/req) |"
  )
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  const ratios = []
  const cpuCosts = []
  const us = (seconds) => fmt(seconds * 1e6, 1)
  for (const [i, r] of rounds.entries()) {
    const ratio = r.middleware.rps / r.bare.rps
    const cpuCost = r.middleware.cpuPerRequest / r.bare.cpuPerRequest - 1
    ratios.push(ratio)
    cpuCosts.push(cpuCost)
    lines.push(
      `| ${i + 1} | ${fmt(r.bare.rps)} | ${fmt(r.bare.p99, 1)} | ${us(r.bare.cpuPerRequest)} | ${
        fmt(r.middleware.rps)
      } | ${fmt(r.middleware.p99, 1)} | ${us(r.middleware.cpuPerRequest)} | ${fmt(ratio, 3)} | ${
        fmt((1 - ratio) * 100, 1)
      } % | ${fmt(cpuCost * 100, 1)} % |`
    )
  }
  const med = (kind, field) => median(rounds.map((r) => r[kind][field]))
  // Each round's pair ran interleaved under the same load: ratios are taken per round, then the median.
  const ratio = median(ratios)
  const cost = 1 - ratio
  const cpuCost = median(cpuCosts)
  lines.push(
    `| **median** | **${fmt(med("bare", "rps"))}** | ${fmt(med("bare", "p99"), 1)} | ${
      us(med("bare", "cpuPerRequest"))
    } | **${fmt(med("middleware", "rps"))}** | ${fmt(med("middleware", "p99"), 1)} | ${
      us(med("middleware", "cpuPerRequest"))
    } | **${fmt(ratio, 3)}** | **${fmt(cost * 100, 1)} %** ${cost <= TARGET ? "✅" : "❌"} ≤ 5 % | ${
      fmt(cpuCost * 100, 1)
    } % |`
  )

  const machine = `${
    os.cpus()[0]?.model ?? "cpu"
  } × ${os.cpus().length}, Node ${process.version}, ${os.platform()} ${os.release()}`
  const md = [
    "# HTTP: DegradationMiddleware vs the bare server",
    "",
    `${machine}, load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} at start, ${
      loadEnd.map((l) => l.toFixed(2)).join(" ")
    } at end, ${new Date().toISOString()}`,
    "",
    `\`node bench/http.mjs\`: \`GET /\` answering \`ok\` on @effect/platform-node, each server in its own process on ` +
    `compiled JS, autocannon (${CONNECTIONS} connections, ${WARMUP} s warm-up discarded) ` +
    `against 127.0.0.1: ${ROUNDS} rounds of ${DURATION} s per server, in ${SLICE} s slices taken in turns ` +
    "(req/s: requests / time over the round's slices; p99: median of the slices' p99; CPU µs/req: the server " +
    "process's user + system time from /proc over its requests — what the server itself spends, less sensitive " +
    "to other load than req/s). Ratios are per round (both servers interleaved), then the median. The middleware server is " +
    "`HttpServer.serve(app, DegradationMiddleware.make())` at `Optimal`; both run `Degradation.layer()`. " +
    "autocannon shares the machine with the servers: absolute numbers are the pair's, the ratio is what counts.",
    "",
    ...lines,
    ""
  ].join("\n")
  process.stdout.write(md + "\n")
  writeFileSync(join(here, "RESULTS-http.md"), md)
  process.stderr.write("wrote bench/RESULTS-http.md\n")
}
