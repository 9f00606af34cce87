// Scrape benchmark: `Prometheus.layer`'s own server (node:http, packages/otel/src/internal/server.ts)
// against the same endpoint built on @effect/platform-node's HttpServer — a candidate that keeps the
// behaviours of the node:http one (GET and HEAD on the endpoint only, 404/405 otherwise, 503 while
// shutting down, the exposition content type) and answers with the same status, headers and body.
// Each server runs in its own Node process on compiled JavaScript (packages/*/dist); autocannon
// drives them on 127.0.0.1 in pairs of short slices (one per server, back to back, the order
// alternating), as bench/http.mjs does.
//
// Two bodies:
//   scrape — what a scrape really does: 3 circuit breakers (with call durations) collected and
//            serialized by the OpenTelemetry Prometheus exporter on every request (~200 series);
//   static — that exposition text rendered once and served as is: the HTTP layer alone.
//
//   node bench/scrape.mjs                    (runs `npx tsc -b` first; BENCH_NO_BUILD=1 skips it)
//   BENCH_SCRAPE_PAIRS=6 BENCH_SCRAPE_SLICE=3 BENCH_SCRAPE_CONNECTIONS=10 BENCH_SCRAPE_PIN=auto node bench/scrape.mjs
//
// Prints a markdown report: requests/s and p99 per server and body, the throughput ratio, and the
// raw answers of both servers side by side (Date aside) for GET, HEAD, POST and an unknown path.
import { spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const distFile = (pkg, file) => pathToFileURL(join(root, "packages", pkg, "dist", file)).href

const PAIRS = Math.max(1, Number(process.env.BENCH_SCRAPE_PAIRS ?? 6))
const SLICE = Math.max(1, Number(process.env.BENCH_SCRAPE_SLICE ?? 3))
const WARMUP = Math.max(1, Number(process.env.BENCH_SCRAPE_WARMUP ?? 2))
const CONNECTIONS = Math.max(1, Number(process.env.BENCH_SCRAPE_CONNECTIONS ?? 10))
const PIN = process.env.BENCH_SCRAPE_PIN ?? "auto"
const BREAKERS = 3
const TARGET = 0.05

// ---------------------------------------------------------------------------------------------
// server mode: `node bench/scrape.mjs --server node|platform scrape|static` prints {"port":…}
// ---------------------------------------------------------------------------------------------
if (process.argv[2] === "--server") {
  await server(process.argv[3], process.argv[4])
} else {
  await driver()
}

async function server(kind, body) {
  const { CircuitBreaker } = await import(distFile("core", "index.js"))
  const { Prometheus } = await import(distFile("otel", "index.js"))
  const internalServer = await import(distFile("otel", "internal/server.js"))
  const { HttpMiddleware, HttpServerRequest, HttpServerResponse } = await import("@effect/platform")
  const { NodeHttpServer, NodeRuntime } = await import("@effect/platform-node")
  const { Cause, Context, Duration, Effect, Exit, Layer, Option, Runtime } = await import("effect")
  const Http = await import("node:http")

  const endpoint = "/metrics"
  const shutdownTimeout = Duration.seconds(3)

  // The same registry either way: 3 breakers that have seen calls (durations recorded), the way a
  // service's dependencies do.
  const registry = Effect.gen(function*() {
    for (let i = 0; i < BREAKERS; i++) {
      const breaker = yield* CircuitBreaker.make({ name: `dependency-${i}`, recordDurations: true })
      for (let n = 0; n < 20; n++) yield* breaker(Effect.succeed(n))
    }
  })

  // The candidate on @effect/platform-node: it owns its node:http server (to unref it, log late
  // errors and close it within shutdownTimeout, which NodeHttpServer.make's release does not bound).
  // Raw string bodies, as node:http writes them: no copy into a Uint8Array, the same framing.
  const servePlatform = (scrape) =>
    Effect.gen(function*() {
      const runFork = Runtime.runFork(yield* Effect.runtime())
      let closing = false
      const nodeServer = Http.createServer()
      nodeServer.unref()
      yield* Effect.addFinalizer(() =>
        Effect.async((resume) => {
          closing = true
          nodeServer.close(() => resume(Effect.void))
          nodeServer.closeIdleConnections()
        }).pipe(
          Effect.interruptible,
          Effect.timeoutOption(shutdownTimeout),
          Effect.flatMap(Option.match({
            onSome: () => Effect.void,
            onNone: () => Effect.sync(() => nodeServer.closeAllConnections())
          }))
        )
      )
      const httpServer = yield* NodeHttpServer.make(() => nodeServer, { port: 0, host: "127.0.0.1" })
      nodeServer.on("error", (error) => runFork(Effect.logWarning("Prometheus exporter server error", error)))
      const plain = "text/plain; charset=utf-8"
      const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        let pathname
        try {
          pathname = new URL(request.url, "http://localhost").pathname
        } catch {
          return Effect.succeed(HttpServerResponse.raw("Bad Request\n", { status: 400, contentType: plain }))
        }
        if (pathname !== endpoint) {
          return Effect.succeed(HttpServerResponse.raw("Not Found\n", { status: 404, contentType: plain }))
        }
        if (request.method !== "GET" && request.method !== "HEAD") {
          return Effect.succeed(
            HttpServerResponse.raw("Method Not Allowed\n", {
              status: 405,
              contentType: plain,
              headers: { allow: "GET, HEAD" }
            })
          )
        }
        if (closing) {
          return Effect.succeed(HttpServerResponse.raw("# metrics exporter is shutting down\n", {
            status: 503,
            contentType: plain,
            headers: { connection: "close", "retry-after": "1" }
          }))
        }
        return scrape.pipe(
          Effect.map((text) => HttpServerResponse.raw(text, { contentType: Prometheus.contentType })),
          Effect.catchAll((error) =>
            Effect.succeed(HttpServerResponse.raw(`# ${error.message}\n`, { status: 503, contentType: plain }))
          )
        )
      })
      // No span per scrape: the node:http server does not trace either.
      yield* httpServer.serve(app).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
      return httpServer.address.port
    })

  const main = Effect.gen(function*() {
    yield* registry
    const exporter = Context.get(yield* Layer.build(Prometheus.layerHttpApp()), Prometheus.Exporter)
    const text = yield* exporter.scrape
    const scrape = body === "static" ? Effect.succeed(text) : exporter.scrape
    const port = kind === "node"
      ? (yield* internalServer.serve({
        port: 0,
        host: "127.0.0.1",
        endpoint,
        contentType: Prometheus.contentType,
        shutdownTimeout,
        scrape,
        onListenError: (error) => error
      })).port
      : yield* servePlatform(scrape)
    const series = text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length
    process.stdout.write(JSON.stringify({ port, series, bytes: Buffer.byteLength(text) }) + "\n")
    // The servers are unref'ed (as in the library): keep the process alive until SIGTERM.
    const keepAlive = setInterval(() => {}, 1 << 30)
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(keepAlive)))
    yield* Effect.never
  })
  const logFailure = (exit) =>
    Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? Effect.logError(exit.cause) : Effect.void
  NodeRuntime.runMain(Effect.scoped(main).pipe(Effect.onExit(logFailure)), { disablePrettyLogger: true })
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

  const startServer = (kind, body) =>
    new Promise((resolve, reject) => {
      const args = [fileURLToPath(import.meta.url), "--server", kind, body]
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
        if (line) resolve({ child, ...JSON.parse(line) })
      })
      child.on("exit", (code) => reject(new Error(`${kind}/${body} server exited (${code}) before listening`)))
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
      autocannon(
        { url: `http://127.0.0.1:${port}/metrics`, connections: CONNECTIONS, duration },
        (error, result) => error ? reject(error) : resolve(result)
      )
    })

  // The raw answer (status line, headers but Date, body) to one request on a fresh connection.
  const raw = (port, method, path) =>
    new Promise((resolve, reject) => {
      const socket = Net.connect(port, "127.0.0.1")
      let data = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk) => {
        data += chunk
        const end = data.indexOf("\r\n\r\n")
        if (end < 0) return
        const head = data.slice(0, end)
        const lines = head.split("\r\n").filter((l) => !/^date:/i.test(l)).map((l) => l.toLowerCase())
        const rest = data.slice(end + 4)
        if (method === "HEAD") {
          socket.destroy()
          return resolve({ head: lines, body: "" })
        }
        if (/\r\ntransfer-encoding: chunked/i.test(head)) {
          if (!rest.endsWith("0\r\n\r\n")) return
          socket.destroy()
          let body = ""
          for (let at = 0;;) {
            const eol = rest.indexOf("\r\n", at)
            const size = parseInt(rest.slice(at, eol), 16)
            if (size === 0) break
            body += rest.slice(eol + 2, eol + 2 + size)
            at = eol + 2 + size + 2
          }
          return resolve({ head: lines, body })
        }
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (rest.length >= length) {
          socket.destroy()
          resolve({ head: lines, body: rest.slice(0, length) })
        }
      })
      socket.on("error", reject)
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`)
    })

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

  const slice = async (name, server, seconds) => {
    const before = cpuSeconds(server.child.pid)
    const result = await load(server.port, seconds)
    const cpu = cpuSeconds(server.child.pid) - before
    if (result.errors > 0 || result.non2xx > 0) {
      throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx`)
    }
    return {
      requests: result.requests.total,
      seconds: result.duration,
      rps: result.requests.total / result.duration,
      p99: result.latency.p99,
      cpu
    }
  }

  const fmt = (n, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const kinds = ["node", "platform"]
  const loadStart = os.loadavg()
  const startedAt = new Date()
  const sections = []
  const same = []
  let exposition = ""
  for (const body of ["scrape", "static"]) {
    const servers = {}
    for (const kind of kinds) servers[kind] = await startServer(kind, body)
    exposition = `${servers.node.series} series, ${fmt(servers.node.bytes / 1024, 1)} KiB`
    const pairs = []
    try {
      if (body === "scrape") {
        for (const [method, path] of [["GET", "/metrics"], ["HEAD", "/metrics"], ["POST", "/metrics"], ["GET", "/x"]]) {
          const [a, b] = await Promise.all(kinds.map((kind) => raw(servers[kind].port, method, path)))
          // Header order aside; the bodies are the same text (the static servers: one rendering each,
          // of the same registry) — compared line by line without values, which each scrape moves.
          const framing = /^(content-length|transfer-encoding):/
          const headers = (r) => r.head.filter((l) => !framing.test(l)).sort().join(" / ")
          const unvalued = (r) => r.body.split("\n").map((l) => l.replace(/ [^ ]+$/, "")).join("\n")
          same.push({
            request: `${method} ${path}`,
            status: a.head[0],
            headers: headers(a) === headers(b) ? "same" : `node:http ${headers(a)}; platform ${headers(b)}`,
            body: unvalued(a) === unvalued(b) ? `same (${a.body.length} bytes)` : "different",
            framing: `${a.head.filter((l) => framing.test(l)).join(", ") || "none"} / ${
              b.head.filter((l) => framing.test(l)).join(", ") || "none"
            }`,
            statuses: a.head[0] === b.head[0]
          })
        }
      }
      for (const kind of kinds) await load(servers[kind].port, WARMUP)
      for (let i = 0; i < PAIRS; i++) {
        process.stderr.write(`${body}: pair ${i + 1} of ${PAIRS} (${SLICE} s slices) …\n`)
        const order = i % 2 === 0 ? kinds : [...kinds].reverse()
        const pair = {}
        for (const kind of order) pair[kind] = await slice(`${kind}/${body}`, servers[kind], SLICE)
        pairs.push(pair)
      }
    } finally {
      for (const { child } of Object.values(servers)) await stopServer(child)
    }
    const ratios = pairs.map((p) => p.platform.rps / p.node.rps)
    const cpuRatios = pairs.map((p) => (p.platform.cpu / p.platform.requests) / (p.node.cpu / p.node.requests))
    const summary = (kind) => {
      const xs = pairs.map((p) => p[kind])
      return {
        rps: median(xs.map((x) => x.rps)),
        q1: quantile(xs.map((x) => x.rps), 0.25),
        q3: quantile(xs.map((x) => x.rps), 0.75),
        p99: median(xs.map((x) => x.p99)),
        cpu: median(xs.map((x) => x.cpu / x.requests))
      }
    }
    sections.push({ body, node: summary("node"), platform: summary("platform"), ratios, cpuRatios })
  }
  const loadEnd = os.loadavg()

  const lines = [
    "| body | server | req/s (median of slices) | req/s IQR | p99 ms (median) | CPU µs/req |",
    "|---|---|---:|---:|---:|---:|"
  ]
  for (const s of sections) {
    for (const kind of kinds) {
      const x = s[kind]
      lines.push(
        `| ${s.body} | ${kind === "node" ? "node:http (current)" : "@effect/platform-node"} | **${fmt(x.rps)}** | ${
          fmt(x.q1)
        }–${fmt(x.q3)} | ${fmt(x.p99, 1)} | ${fmt(x.cpu * 1e6, 1)} |`
      )
    }
  }
  lines.push(
    "",
    "| body | platform / node:http throughput, median of pairs | pairs, sorted | within 5 % | server CPU per request, platform / node:http (median of pairs) |",
    "|---|---:|---|---|---:|"
  )
  for (const s of sections) {
    const ratio = median(s.ratios)
    lines.push(
      `| ${s.body} | **${fmt(ratio, 3)}** | ${sorted(s.ratios).map((r) => fmt(r, 3)).join(" ")} | ${
        1 - ratio <= TARGET ? "yes" : "no"
      } | ${fmt(median(s.cpuRatios), 2)} |`
    )
  }
  lines.push(
    "",
    "| request | status (node:http) | same status | other headers (Date aside) | body | framing: node:http / platform |",
    "|---|---|---|---|---|---|"
  )
  for (const s of same) {
    lines.push(
      `| ${s.request} | ${s.status} | ${s.statuses ? "yes" : "no"} | ${s.headers} | ${s.body} | ${s.framing} |`
    )
  }

  const machine = `${os.cpus()[0]?.model ?? "cpu"} × ${cpus}, Node ${process.version}, ${os.platform()} ${os.release()}`
  const md = [
    "# Scrape endpoint: node:http vs @effect/platform-node",
    "",
    `${machine}, load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} at start, ${
      loadEnd.map((l) => l.toFixed(2)).join(" ")
    } at end, ${startedAt.toISOString()}`,
    "",
    `\`node bench/scrape.mjs\`: \`GET /metrics\`, exposition of ${exposition} (${BREAKERS} breakers). autocannon ` +
    `(${CONNECTIONS} connections) against 127.0.0.1, ${WARMUP} s of warm-up per server, then ${PAIRS} pairs of ` +
    `${SLICE} s slices, alternating which server goes first. ` +
    (pinned ? `Servers pinned to CPU ${serverCpu}, autocannon to CPU 0.` : "No CPU pinning."),
    "",
    ...lines,
    ""
  ].join("\n")
  process.stdout.write(md + "\n")
}
