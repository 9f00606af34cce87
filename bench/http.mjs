// HTTP benchmark: what DegradationMiddleware costs on a trivial route, against the same bare
// @effect/platform-node server. Each server runs in its own Node process on compiled JavaScript
// (packages/*/dist); autocannon drives them on 127.0.0.1 in short slices, each slice its own
// autocannon run. Slices come in pairs (one per server, back to back, the order alternating
// bare→middleware, middleware→bare, …): a change in the machine's load lands on both halves of a
// pair. The cost is the median of the per-pair throughput ratios, with its spread.
//
//   node bench/http.mjs                      (runs `npx tsc -b` first; BENCH_NO_BUILD=1 skips it)
//   BENCH_HTTP_PAIRS=60 BENCH_HTTP_SLICE=2 BENCH_HTTP_CONNECTIONS=20 BENCH_HTTP_PIN=auto node bench/http.mjs
//
// BENCH_HTTP_PIN: `auto` (default) pins, when `taskset` exists and there are at least 2 CPUs, both
// servers to the last CPU and this driver (autocannon) to CPU 0 — the same for both servers, so
// that they never share a core with the load generator and the scheduler does not move them
// around; `0` leaves placement to the scheduler.
//
// Prints a markdown report (requests/s and p99 latency per server, the throughput ratio) and writes
// bench/RESULTS-http.md. Target: the middleware costs at most 5 % of the bare server's throughput.
import { spawn, spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const dist = (pkg) => pathToFileURL(join(root, "packages", pkg, "dist", "index.js")).href

const PAIRS = Math.max(1, Number(process.env.BENCH_HTTP_PAIRS ?? 60))
const SLICE = Math.max(1, Number(process.env.BENCH_HTTP_SLICE ?? 2))
const WARMUP = Math.max(1, Number(process.env.BENCH_HTTP_WARMUP ?? 3))
const CONNECTIONS = Math.max(1, Number(process.env.BENCH_HTTP_CONNECTIONS ?? 20))
const PIN = process.env.BENCH_HTTP_PIN ?? "auto"
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
} else if (process.argv[2] === "--alloc") {
  await allocation()
} else {
  await driver()
}

// ---------------------------------------------------------------------------------------------
// allocation mode: `node bench/http.mjs --alloc` prints bytes allocated per request, in process
// ---------------------------------------------------------------------------------------------
// The Effect side of a request only (no sockets, no Node HTTP parser; the response is not written):
// the same app through `HttpApp.toHandled`, as @effect/platform-node's server runs it, with a request
// built by `HttpServerRequest.fromWeb`. Allocation is what the middleware mostly costs (garbage
// collection), and unlike throughput it does not depend on what else the machine is doing.
async function allocation() {
  const { Session } = await import("node:inspector/promises")
  const { Degradation } = await import(dist("core"))
  const { DegradationMiddleware } = await import(dist("platform"))
  const { HttpApp, HttpRouter, HttpServerRequest, HttpServerResponse } = await import("@effect/platform")
  const { Effect, ManagedRuntime, Runtime } = await import("effect")
  const app = HttpRouter.empty.pipe(HttpRouter.get("/", Effect.succeed(HttpServerResponse.text("ok"))))
  const managed = ManagedRuntime.make(Degradation.layer())
  const runFork = Runtime.runFork(await managed.runtime())
  const setHeader = (_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, "x-degradation-level", "Optimal"))
  const cases = {
    "bare": undefined,
    "any middleware (`(app) => app`)": (app) => app,
    "a constant header through `HttpApp.appendPreResponseHandler`": (app) =>
      Effect.zipRight(HttpApp.appendPreResponseHandler(setHeader), app),
    "DegradationMiddleware.make()": DegradationMiddleware.make()
  }
  const handled = Symbol.for("@effect/platform/HttpApp/handled")
  const requests = Array.from(
    { length: 64 },
    () => HttpServerRequest.fromWeb(new globalThis.Request("http://127.0.0.1/"))
  )
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  const out = {}
  for (const [name, middleware] of Object.entries(cases)) {
    const effect = HttpApp.toHandled(app, () => Effect.void, middleware)
    const one = (i) =>
      new Promise((resolve) => {
        const request = requests[i % requests.length]
        delete request[handled]
        runFork(Effect.provideService(effect, HttpServerRequest.HttpServerRequest, request)).addObserver(resolve)
      })
    // 20 requests in flight, like the 20 connections of the HTTP runs.
    const run = async (n) => {
      let next = 0
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < n) await one(next++)
      }))
    }
    await run(10_000) // warm-up
    const n = 30_000
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 128,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    await run(n)
    const { profile } = await session.post("HeapProfiler.stopSampling")
    let bytes = 0
    const walk = (node) => {
      bytes += node.selfSize
      node.children.forEach(walk)
    }
    walk(profile.head)
    out[name] = bytes / n
  }
  await managed.dispose()
  process.stdout.write(JSON.stringify(out) + "\n")
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

  const cpus = os.cpus().length
  const pinned = PIN !== "0" && cpus >= 2 && spawnSync("taskset", ["-V"]).status === 0
  const serverCpu = String(cpus - 1)
  if (pinned) spawnSync("taskset", ["-a", "-cp", "0", String(process.pid)], { stdio: "ignore" })

  const sorted = (xs) => [...xs].sort((a, b) => a - b)
  const quantile = (xs, q) => {
    const s = sorted(xs)
    const at = (s.length - 1) * q
    const lo = Math.floor(at)
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo)
  }
  const median = (xs) => quantile(xs, 0.5)
  // A 95 % interval for the median of the pair ratios: percentile bootstrap, seeded (reproducible).
  const bootstrapMedian = (xs, resamples = 4000) => {
    let seed = 0x2545f491
    const random = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) / 4294967296
    }
    const medians = []
    for (let r = 0; r < resamples; r++) {
      const sample = xs.map(() => xs[Math.floor(random() * xs.length)])
      medians.push(median(sample))
    }
    return [quantile(medians, 0.025), quantile(medians, 0.975)]
  }

  const startServer = (kind) =>
    new Promise((resolve, reject) => {
      const args = [fileURLToPath(import.meta.url), "--server", kind]
      const child = pinned
        ? spawn("taskset", ["-c", serverCpu, process.execPath, ...args], {
          cwd: root,
          stdio: ["ignore", "pipe", "inherit"]
        })
        : spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
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

  // The server's CPU time (user + system, in seconds) from /proc: what the server itself spends.
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
    return {
      requests: result.requests.total,
      seconds: result.duration,
      rps: result.requests.total / result.duration,
      p99: result.latency.p99,
      cpu,
      busy: cpu / result.duration
    }
  }

  const servers = {}
  for (const kind of ["bare", "middleware"]) servers[kind] = await startServer(kind)
  const loadStart = os.loadavg()
  const startedAt = new Date()
  const pairs = []
  try {
    for (const kind of ["bare", "middleware"]) {
      await check(kind, servers[kind].port)
      await load(servers[kind].port, WARMUP) // JIT warm-up, discarded
    }
    for (let i = 0; i < PAIRS; i++) {
      if (i % 10 === 0) {
        process.stderr.write(`pairs ${i + 1}–${Math.min(i + 10, PAIRS)} of ${PAIRS} (${SLICE} s slices) …\n`)
      }
      const order = i % 2 === 0 ? ["bare", "middleware"] : ["middleware", "bare"]
      const pair = {}
      for (const kind of order) pair[kind] = await slice(kind, servers[kind], SLICE)
      pairs.push(pair)
    }
  } finally {
    for (const { child } of Object.values(servers)) await stopServer(child)
  }
  const loadEnd = os.loadavg()

  process.stderr.write("allocation per request, in process …\n")
  const allocationRun = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--alloc"], {
    cwd: root,
    encoding: "utf8"
  })
  if (allocationRun.status !== 0) throw new Error(`--alloc failed: ${allocationRun.stderr}`)
  const allocated = JSON.parse(allocationRun.stdout.trim().split("\n").pop())

  const fmt = (n, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const pct = (x) => `${fmt(x * 100, 1)} %`
  const us = (seconds) => fmt(seconds * 1e6, 1)

  const ratios = pairs.map((p) => p.middleware.rps / p.bare.rps)
  const cpuRatios = pairs.map((p) => (p.middleware.cpu / p.middleware.requests) / (p.bare.cpu / p.bare.requests))
  const ratio = median(ratios)
  const cost = 1 - ratio
  const [ciLow, ciHigh] = bootstrapMedian(ratios)
  const cpuCost = median(cpuRatios) - 1
  const [cpuLow, cpuHigh] = bootstrapMedian(cpuRatios)
  const summary = (kind) => {
    const xs = pairs.map((p) => p[kind])
    return {
      rps: median(xs.map((x) => x.rps)),
      rpsQ1: quantile(xs.map((x) => x.rps), 0.25),
      rpsQ3: quantile(xs.map((x) => x.rps), 0.75),
      overall: xs.reduce((n, x) => n + x.requests, 0) / xs.reduce((n, x) => n + x.seconds, 0),
      p99: median(xs.map((x) => x.p99)),
      p99Q3: quantile(xs.map((x) => x.p99), 0.75),
      cpuPerRequest: median(xs.map((x) => x.cpu / x.requests)),
      busy: median(xs.map((x) => x.busy))
    }
  }
  const bare = summary("bare")
  const middleware = summary("middleware")

  const lines = []
  lines.push(
    "| server | req/s (median of slices) | req/s IQR | req/s overall | p99 ms (median) | p99 ms (Q3) | CPU µs/req (median) | server CPU busy |"
  )
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const [name, s] of [["bare", bare], ["middleware", middleware]]) {
    lines.push(
      `| ${name} | **${fmt(s.rps)}** | ${fmt(s.rpsQ1)}–${fmt(s.rpsQ3)} | ${fmt(s.overall)} | ${fmt(s.p99, 1)} | ${
        fmt(s.p99Q3, 1)
      } | ${us(s.cpuPerRequest)} | ${fmt(s.busy * 100, 0)} % |`
    )
  }
  lines.push("")
  lines.push("| paired statistic (middleware / bare, per pair) | median | IQR | 95 % CI of the median |")
  lines.push("|---|---:|---:|---:|")
  lines.push(
    `| throughput ratio | **${fmt(ratio, 3)}** | ${fmt(quantile(ratios, 0.25), 3)}–${
      fmt(quantile(ratios, 0.75), 3)
    } | ${fmt(ciLow, 3)}–${fmt(ciHigh, 3)} |`
  )
  lines.push(
    `| **cost (throughput)** | **${pct(cost)}** ${cost <= TARGET ? "✅" : "❌"} ≤ 5 % | ${
      pct(1 - quantile(ratios, 0.75))
    }–${pct(1 - quantile(ratios, 0.25))} | ${pct(1 - ciHigh)}–${pct(1 - ciLow)} |`
  )
  lines.push(
    `| cost (server CPU per request) | ${pct(cpuCost)} | ${pct(quantile(cpuRatios, 0.25) - 1)}–${
      pct(quantile(cpuRatios, 0.75) - 1)
    } | ${pct(cpuLow - 1)}–${pct(cpuHigh - 1)} |`
  )
  const within = ratios.filter((r) => 1 - r <= TARGET).length
  lines.push("")
  lines.push(
    `${within} of ${PAIRS} pairs within 5 %. Pair ratios, sorted: ${sorted(ratios).map((r) => fmt(r, 3)).join(" ")}`
  )

  const allocationLines = [
    "| in process: a request through `HttpApp.toHandled` | bytes allocated per request | more than bare |",
    "|---|---:|---:|"
  ]
  const allocatedBare = allocated["bare"]
  for (const [name, bytes] of Object.entries(allocated)) {
    allocationLines.push(`| ${name} | ${fmt(bytes)} | ${name === "bare" ? "" : fmt(bytes - allocatedBare)} |`)
  }

  const machine = `${os.cpus()[0]?.model ?? "cpu"} × ${cpus}, Node ${process.version}, ${os.platform()} ${os.release()}`
  const md = [
    "# HTTP: DegradationMiddleware vs the bare server",
    "",
    `${machine}, load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} at start, ${
      loadEnd.map((l) => l.toFixed(2)).join(" ")
    } at end, ${startedAt.toISOString()}`,
    "",
    `\`node bench/http.mjs\`: \`GET /\` answering \`ok\` on @effect/platform-node, each server in its own process on ` +
    "compiled JS (both run `Degradation.layer()`; the middleware server is " +
    "`HttpServer.serve(app, DegradationMiddleware.make())` at `Optimal`, the bare one `HttpServer.serve(app)`). " +
    `autocannon (${CONNECTIONS} connections) against 127.0.0.1, ${WARMUP} s of warm-up per server discarded, then ` +
    `${PAIRS} pairs of ${SLICE} s slices, each slice its own autocannon run, the two slices of a pair back to back ` +
    "and their order alternating (bare first, then middleware first, …). " +
    (pinned
      ? `Both servers pinned to CPU ${serverCpu} and autocannon to CPU 0 (\`taskset\`; \`BENCH_HTTP_PIN=0\` turns it off).`
      : "No CPU pinning."),
    "",
    "Noise: the machine has 2 cores shared with other work (load average above), so single slices swing by " +
    "±10 % and more. Each pair runs under the same load within seconds; the cost is the **median of the " +
    "per-pair ratios** (robust to the pairs a burst of other load hit), given with its IQR and a bootstrap " +
    "95 % interval; every pair ratio is listed. req/s and p99 are medians over the slices (p99 from " +
    "autocannon's histogram, whole milliseconds); CPU µs/req is the server process's user + system time from " +
    "/proc over its requests; \"busy\" is that time over the slice's wall time (about 100 % when the server is " +
    "the bottleneck, as it should be).",
    "",
    ...lines,
    "",
    "Allocation (`node bench/http.mjs --alloc`, V8's sampling heap profiler, collected objects included): the " +
    "Effect side of the same request in one process — no sockets, no HTTP parser, the response not written — " +
    "after 10,000 requests of warm-up, 30,000 measured, 20 in flight. Garbage collection is most of what the " +
    "middleware costs, and this count does not depend on the machine's load. Installing any pre-response " +
    "handler adds a fiber ref to the request fiber (a copy of its fiber-ref map, and a larger map for every " +
    "later copy in the request); that, and the header itself, is the floor for a header under " +
    "`HttpServer.serve(app, middleware)`, where the response is written before the middleware sees it.",
    "",
    ...allocationLines,
    ""
  ].join("\n")
  process.stdout.write(md + "\n")
  writeFileSync(join(here, "RESULTS-http.md"), md)
  process.stderr.write("wrote bench/RESULTS-http.md\n")
}
