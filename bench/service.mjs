// Load on the real pricing service (examples/pricing-service, compiled dist/) with its dependencies
// as real processes: a private redis-server, a private Postgres cluster (initdb + pg_ctl under a temp
// dir, as the `postgres` user when root) and the fake OpenAI-compatible API of the chaos tests.
// autocannon drives 127.0.0.1 only, for a bounded time per phase:
//
//   node bench/service.mjs            # BENCH_DURATION=10 seconds per run, 4 phases × 2 runs
//   BENCH_DURATION=15 node bench/service.mjs > bench/RESULTS-service.md
//
// Phases: everything up, Redis hung (SIGSTOP), the AI hanging, Postgres down. Each phase runs
// `GET /prices/:id` (ids 1–3) and a write mix (4 reads : 1 POST /products). It reports req/s,
// p50/p99 latency, status counts, the 5xx it did not expect (only the 503s of DESIGN §7 are
// expected: writes blocked from Minimal) and the service's RSS at the start and end of each phase.
// Not run in CI. Every process it starts is ended by PID.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const duration = Number(process.env.BENCH_DURATION ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20)

// Call timeouts the p99 is held to; resets and recovery short so that phases switch quickly.
const presets = {
  RESILIENCE_RECOVERY_INTERVAL: "1",
  RESILIENCE_HEALTH_CHECK_TIMEOUT: "0.5",
  RESILIENCE_REDIS_CALL_TIMEOUT: "0.3",
  RESILIENCE_REDIS_RESET_TIMEOUT: "2",
  RESILIENCE_DB_CALL_TIMEOUT: "1",
  RESILIENCE_DB_RESET_TIMEOUT: "2",
  RESILIENCE_OPENAI_CALL_TIMEOUT: "1",
  RESILIENCE_OPENAI_RESET_TIMEOUT: "2"
}

const children = new Set()
const cleanups = []
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const start = (command, args, env = {}, ready) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    child.on("exit", () => children.delete(child))
    let out = ""
    const onData = (chunk) => {
      out += chunk
      if (ready.test(out)) resolve(child)
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => reject(new Error(`${command} exited (${code}):\n${out}`)))
  })

const asRoot = process.getuid?.() === 0
const pgBin = path.join("/usr/lib/postgresql", fs.readdirSync("/usr/lib/postgresql").sort((a, b) => b - a)[0], "bin")
const pg = (binary, args) => {
  const line = [path.join(pgBin, binary), ...args].map((a) => `'${a}'`).join(" ")
  execFileSync(asRoot ? "su" : "/bin/sh", asRoot ? ["postgres", "-s", "/bin/sh", "-c", line] : ["-c", line], {
    stdio: "pipe",
    cwd: "/"
  })
}

const rss = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

async function main() {
  process.stderr.write("npx tsc -b …\n")
  if (spawnSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" }).status !== 0) process.exit(1)
  const { default: autocannon } = await import("autocannon")

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-service-"))
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }))
  if (asRoot) execFileSync("chown", ["postgres:postgres", tmp])

  const pgPort = await freePort()
  const pgData = path.join(tmp, "pg")
  pg("initdb", ["-D", pgData, "-A", "trust", "-U", "postgres", "--no-sync"])
  const pgOptions = `-p ${pgPort} -k ${tmp} -c listen_addresses=127.0.0.1 -c fsync=off`
  const pgStart = () => pg("pg_ctl", ["-D", pgData, "-l", path.join(tmp, "pg.log"), "-o", pgOptions, "-w", "start"])
  const pgStop = () => pg("pg_ctl", ["-D", pgData, "-m", "fast", "-w", "stop"])
  pgStart()
  cleanups.push(() => {
    try {
      pgStop()
    } catch {
      // already stopped
    }
  })

  const redisPort = await freePort()
  const redis = await start(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {},
    /Ready to accept/
  )
  const aiPort = await freePort()
  await start(process.execPath, ["test/fixtures/chaos-ai-server.mjs", String(aiPort)], {}, /listening/)
  const ai = (mode) =>
    fetch(`http://127.0.0.1:${aiPort}/control`, { method: "POST", body: JSON.stringify({ mode }) }).then((r) =>
      r.text()
    )

  const port = await freePort()
  const service = await start(process.execPath, ["examples/pricing-service/dist/main.js"], {
    ...presets,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: path.join(tmp, "data"),
    DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    OPENAI_BASE_URL: `http://127.0.0.1:${aiPort}/v1`,
    OPENAI_API_KEY: "sk-bench"
  }, /Listening on/)
  const base = `http://127.0.0.1:${port}`
  const level = () => fetch(`${base}/status`).then((r) => r.json()).then((s) => s.level)
  const waitLevel = async (want, timeout = 20_000) => {
    const t0 = Date.now()
    while (Date.now() - t0 < timeout) {
      if ((await level()) === want) return
      await sleep(100)
    }
    throw new Error(`level did not reach ${want}`)
  }
  // Warm the cache: at Minimal the reads come from it.
  for (const id of [1, 2, 3]) await fetch(`${base}/prices/${id}`).then((r) => r.text())

  const reads = [1, 2, 3].map((id) => ({ method: "GET", path: `/prices/${id}` }))
  const mix = [
    ...reads,
    { method: "GET", path: "/prices/1" },
    {
      method: "POST",
      path: "/products",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "bench", price: 9.5 })
    }
  ]
  const run = (requests) =>
    new Promise((resolve, reject) =>
      autocannon({ url: base, connections, duration, requests }, (e, r) => (e ? reject(e) : resolve(r)))
    )

  const rows = []
  const phase = async (name, expectedLevel, setup) => {
    await setup()
    await waitLevel(expectedLevel)
    const rssStart = rss(service.pid)
    for (const [kind, requests] of [["GET /prices/:id", reads], ["mix 4 GET : 1 POST /products", mix]]) {
      const r = await run(requests)
      const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([c, v]) => [c, v.count]))
      // Only §7's 503s are expected, and only for writes from Minimal on.
      const fiveXX = Object.entries(codes).filter(([c]) => c >= "500").reduce((n, [, v]) => n + v, 0)
      const expected503 = expectedLevel === "Minimal" && kind.startsWith("mix") ? (codes["503"] ?? 0) : 0
      rows.push({
        phase: name,
        level: await level(),
        kind,
        rps: Math.round(r.requests.average),
        p50: r.latency.p50,
        p99: r.latency.p99,
        max: r.latency.max,
        codes: JSON.stringify(codes),
        unexpected5xx: fiveXX - expected503 + r.errors + r.timeouts
      })
    }
    rows.at(-1).rss = `${rssStart} → ${rss(service.pid)} MB`
    rows.at(-2).rss = ""
  }

  const rssAtStart = rss(service.pid)
  await phase("everything up", "Optimal", async () => {})
  await phase("Redis hung (SIGSTOP)", "Degraded", async () => process.kill(redis.pid, "SIGSTOP"))
  await phase("AI hanging", "Limited", async () => {
    process.kill(redis.pid, "SIGCONT")
    await waitLevel("Optimal")
    await ai("hang")
  })
  await phase("Postgres down", "Minimal", async () => {
    await ai("ok")
    await waitLevel("Optimal")
    pgStop()
  })
  const rssAtEnd = rss(service.pid)

  const cpu = os.cpus()[0]?.model ?? "unknown CPU"
  console.log(`# Pricing service under load\n`)
  console.log(
    `${cpu} × ${os.cpus().length} cores, ${
      Math.round(os.totalmem() / 2 ** 30)
    } GB, Node ${process.version}, ${os.platform()} ${os.release()}, ${new Date().toISOString()}\n`
  )
  console.log(
    `autocannon, ${connections} connections, ${duration} s per run, 127.0.0.1; Postgres, Redis and the fake AI API as local processes.`
  )
  console.log(`Presets: ${Object.entries(presets).map(([k, v]) => `${k}=${v}`).join(", ")}.\n`)
  console.log(
    "| phase | level | load | req/s | p50 ms | p99 ms | max ms | status counts | unexpected 5xx/errors | RSS |"
  )
  console.log("|---|---|---|---:|---:|---:|---:|---|---:|---|")
  for (const r of rows) {
    console.log(
      `| ${r.phase} | ${r.level} | ${r.kind} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.max} | ${r.codes} | ${r.unexpected5xx} | ${
        r.rss ?? ""
      } |`
    )
  }
  console.log(
    `\nService RSS: ${rssAtStart} MB at start, ${rssAtEnd} MB at the end (${
      Math.round((4 * 2 * duration) / 60 * 10) / 10
    } min of load).`
  )
}

const shutdown = () => {
  for (const child of children) {
    try {
      process.kill(child.pid, "SIGKILL")
    } catch {
      // gone
    }
  }
  for (const cleanup of cleanups.reverse()) cleanup()
}

try {
  await main()
} finally {
  shutdown()
}
