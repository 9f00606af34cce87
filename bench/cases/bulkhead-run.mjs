// Runs the bulkhead cases of bench/cases/bulkhead.mjs, each in its own `node --expose-gc` process, in several
// interleaved rounds, and prints a markdown table: ns per call (lowest per-process p50 across rounds) and the
// difference to the breaker's closed path measured in the same run.
//
//   npx tsc -b && node bench/cases/bulkhead-run.mjs          (BENCH_ROUNDS=6 for more rounds)
import { spawnSync } from "node:child_process"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4))

const cases = [
  { id: "bulkhead-baseline", label: "bare `Effect.sync`" },
  { id: "bulkhead-breaker", label: "breaker, closed — `breaker(op)` built per call (the reference)" },
  { id: "bulkhead-fixed", label: "**bulkhead, fixed limit** — `bulkhead(op)`", over: "bulkhead-breaker", target: 100 },
  {
    id: "bulkhead-adaptive",
    label: "**bulkhead, adaptive (gradient2)** — `bulkhead(op)`",
    over: "bulkhead-breaker",
    target: 200
  },
  {
    id: "bulkhead-fixed-breaker",
    label: "fixed bulkhead around the breaker — `bulkhead(breaker(op))`",
    over: "bulkhead-breaker"
  },
  {
    id: "bulkhead-adaptive-breaker",
    label: "adaptive bulkhead around the breaker — `bulkhead(breaker(op))`",
    over: "bulkhead-breaker"
  },
  { id: "bulkhead-conc-breaker", label: "1,000 concurrent: breaker" },
  { id: "bulkhead-conc-fixed", label: "1,000 concurrent: fixed bulkhead", over: "bulkhead-conc-breaker" },
  { id: "bulkhead-conc-adaptive", label: "1,000 concurrent: adaptive bulkhead", over: "bulkhead-conc-breaker" }
]

const spawnCase = (id) => {
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, "bulkhead.mjs"), id], {
    cwd: join(here, "..", ".."),
    encoding: "utf8",
    timeout: 120_000
  })
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("__RESULT__ "))
  if (!line) {
    return { error: `no result (exit ${r.status}): ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" | ")}` }
  }
  return JSON.parse(line.slice("__RESULT__ ".length))
}

const raw = {}
const errors = {}
for (let round = 0; round < ROUNDS; round++) {
  process.stderr.write(`round ${round + 1}/${ROUNDS} `)
  // Rotate the order each round, so that a slow phase of a shared machine does not always hit the same case.
  const order = cases.map((_, i) => cases[(i + round * 3) % cases.length])
  for (const c of order) {
    const res = spawnCase(c.id)
    if (res.error) errors[c.id] = res.error
    else (raw[c.id] ??= []).push(res.p50)
    process.stderr.write(res.error ? "x" : ".")
  }
  process.stderr.write("\n")
}

const best = (id) => (raw[id] ? Math.min(...raw[id]) : undefined)
const median = (id) => {
  if (!raw[id]) return undefined
  const s = [...raw[id]].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const f1 = (x) => (x === undefined ? "—" : x.toFixed(1))
const lines = [
  `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}, load average ${
    os.loadavg().map((x) => x.toFixed(2)).join(" ")
  }, ${ROUNDS} round(s), ${new Date().toISOString()}`,
  "",
  "| case | ns/call (best p50) | median p50 | over the reference, best (median) | target |",
  "|---|---:|---:|---:|---:|"
]
for (const c of cases) {
  const ns = best(c.id)
  if (ns === undefined) continue
  const over = c.over === undefined || best(c.over) === undefined
    ? "—"
    : `${f1(ns - best(c.over))} (${f1(median(c.id) - median(c.over))})`
  const verdict = c.target === undefined || c.over === undefined || best(c.over) === undefined
    ? "—"
    : `${ns - best(c.over) <= c.target ? "✅" : "❌"} ≤ +${c.target} ns`
  lines.push(`| ${c.label} | ${f1(ns)} | ${f1(median(c.id))} | ${over} | ${verdict} |`)
}
for (const [id, error] of Object.entries(errors)) lines.push("", `- \`${id}\`: ${error}`)
process.stdout.write(lines.join("\n") + "\n")
process.exitCode = Object.keys(errors).length ? 1 : 0
