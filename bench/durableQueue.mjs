// DurableQueue throughput on the compiled packages: durable offers (each one written before it
// returns) and replay, by one sequential producer/consumer — and offers by 64 concurrent producers,
// which SQLite's store commits in groups. Each case runs in its own Node process.
//
//   npx tsc -b packages/platform && node bench/durableQueue.mjs
//   BENCH_FILTER=sqlite node bench/durableQueue.mjs     (regex on case ids)
//   BENCH_N=50000 node bench/durableQueue.mjs           (entries per case)
//
// Target (issue 10): a durable offer on SQLite (WAL) sustains at least 5,000 entries/s.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, "..", "packages", "platform", "dist", "index.js")
// ioredis as the platform package resolves it (only to clean up the bench's keys). Effect is imported
// as ESM, as the compiled package imports it: resolving it with `require` would load Effect's CommonJS
// build, a second instance next to the queue's (not what a user runs).
const platformRequire = createRequire(join(here, "..", "packages", "platform", "package.json"))
const load = (specifier) =>
  specifier.startsWith("effect/")
    ? import(specifier)
    : import(pathToFileURL(platformRequire.resolve(specifier)).href)
const N = Number(process.env.BENCH_N ?? 20_000)

const cases = [
  { id: "sqlite-offer", label: "SQLite (WAL, synchronous=normal) — offer, one producer", target: 5000 },
  {
    id: "sqlite-offer-concurrent",
    label: "SQLite (WAL, synchronous=normal) — offer, 64 concurrent producers (group commit)",
    target: 5000
  },
  {
    id: "sqlite-offer-capacity",
    label: "SQLite (WAL, synchronous=normal) — offer with `capacity` (a count per offer)"
  },
  { id: "sqlite-offer-full", label: "SQLite (WAL, synchronous=full: an fsync per offer) — offer" },
  { id: "sqlite-replay", label: "SQLite — replay" },
  { id: "redis-offer", label: "Redis (127.0.0.1) — offer" },
  { id: "redis-replay", label: "Redis (127.0.0.1) — replay" }
]

const child = async (id) => {
  // The store layers live at the subpaths that need their peers.
  const { DurableQueue } = await import(dist.replace(/index\.js$/, id.startsWith("sqlite") ? "sqlite.js" : "redis.js"))
  const Effect = await load("effect/Effect")
  const Layer = await load("effect/Layer")
  const Schema = await load("effect/Schema")
  const dir = mkdtempSync(join(os.tmpdir(), "dq-bench-"))
  const prefix = `dq-bench:${process.pid}:`
  const store = id.startsWith("sqlite")
    ? DurableQueue.layerSqlite({
      filename: join(dir, "queue.db"),
      synchronous: id === "sqlite-offer-full" ? "full" : "normal"
    })
    : DurableQueue.layerRedis({ host: "127.0.0.1", port: 6379, prefix })
  const Entry = Schema.Struct({ key: Schema.String, size: Schema.Number })
  const n = id === "sqlite-offer-full" ? Math.min(N, 3000) : N
  const program = Effect.gen(function*() {
    const queue = yield* DurableQueue.make({
      name: "bench",
      schema: Entry,
      ...(id === "sqlite-offer-capacity" ? { capacity: 1_000_000 } : {})
    })
    const producers = id.endsWith("-concurrent") ? 64 : 1
    const t0 = performance.now()
    yield* Effect.forEach(
      Array.from({ length: producers }, (_, p) => p),
      (p) =>
        Effect.gen(function*() {
          for (let i = p; i < n; i += producers) yield* queue.offer({ key: `uploads/${i}.bin`, size: i })
        }),
      { concurrency: "unbounded", discard: true }
    )
    const offerMs = performance.now() - t0
    if (!id.endsWith("replay")) return { entries: n, ms: offerMs }
    let seen = 0
    const t1 = performance.now()
    const replayed = yield* queue.replay(() => Effect.sync(() => seen++))
    const replayMs = performance.now() - t1
    if (replayed !== n || seen !== n) throw new Error(`replayed ${replayed}/${seen} of ${n}`)
    return { entries: n, ms: replayMs }
  })
  try {
    const result = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Layer.fresh(store))))
    process.stdout.write(JSON.stringify(result) + "\n")
  } finally {
    rmSync(dir, { recursive: true, force: true })
    if (!id.startsWith("sqlite")) {
      const { Redis } = await load("ioredis")
      const redis = new Redis({ host: "127.0.0.1", port: 6379 })
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      await redis.quit()
    }
  }
}

if (process.argv[2]) {
  await child(process.argv[2])
} else {
  if (!existsSync(dist)) {
    console.error("build first: npx tsc -b packages/platform")
    process.exit(1)
  }
  const filter = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : undefined
  const rows = []
  for (const c of cases) {
    if (filter && !filter.test(c.id)) continue
    const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), c.id], {
      cwd: join(here, "..", "packages", "platform"),
      encoding: "utf8"
    })
    if (out.status !== 0) {
      console.error(`${c.id} failed:\n${out.stderr}`)
      process.exitCode = 1
      continue
    }
    const { entries, ms } = JSON.parse(out.stdout.trim().split("\n").pop())
    const rate = Math.round(entries / (ms / 1000))
    rows.push({ ...c, entries, rate })
  }
  console.log(
    `DurableQueue throughput (Node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ""})\n`
  )
  console.log("| case | entries | entries/s | target |")
  console.log("|---|---:|---:|---|")
  for (const r of rows) {
    const target = r.target ? `≥ ${r.target.toLocaleString("en")} ${r.rate >= r.target ? "✅" : "❌"}` : ""
    console.log(`| ${r.label} | ${r.entries.toLocaleString("en")} | ${r.rate.toLocaleString("en")} | ${target} |`)
  }
}
