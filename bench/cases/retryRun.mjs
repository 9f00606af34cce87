// Runs the retry cases of bench/cases/retry.mjs as bench/run.mjs runs its own: each case in its own
// `node --expose-gc` process on compiled JavaScript (packages/core/dist: `npx tsc -b` first), in
// several interleaved rounds; per case the lowest per-process p50 across rounds. Every overhead is
// over a baseline measured in the same run. Prints a markdown table.
//
//   node bench/cases/retryRun.mjs                 BENCH_ROUNDS=6 node bench/cases/retryRun.mjs
import { spawnSync } from "node:child_process"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4))
const TARGET_NS = 60

const cases = [
  { id: "retry-op", label: "bare `Effect.sync`" },
  { id: "retry-op-success", label: "`Retry.retry(op)`, first try succeeds", baseline: "retry-op" },
  { id: "retry-breaker", label: "`breaker(op)`: the breaker path alone", baseline: "retry-op" },
  {
    id: "retry-floor-catch",
    label: "floor of any stage: `catchAllCause(breaker(op))` (sees no success: cannot count one)",
    baseline: "retry-breaker"
  },
  {
    id: "retry-floor-match",
    label: "floor of a stage that counts successes: `matchCauseEffect(breaker(op))`, identity handlers",
    baseline: "retry-breaker"
  },
  {
    id: "retry-success",
    label: "**`Retry.retry(breaker(op))`, first try succeeds** (budget, named metrics)",
    baseline: "retry-breaker",
    target: TARGET_NS
  },
  { id: "retry-breaker-wrap", label: "`breaker(op)` built per call", baseline: "retry-op" },
  {
    id: "retry-success-wrap",
    label: "**`Retry.retry(breaker(op))` built per call**, first try succeeds (a dependency's member call)",
    baseline: "retry-breaker-wrap",
    target: TARGET_NS
  },
  {
    id: "retry-retried",
    label: "`Retry.retry(breaker(op))`, first attempt fails, the retry succeeds (no delay; budget)",
    baseline: "retry-breaker"
  },
  {
    id: "retry-retried-nobudget",
    label: "the same without a budget",
    baseline: "retry-breaker"
  },
  {
    id: "retry-effect-retried",
    label: "`Effect.retry(breaker(op), Schedule.recurs(3))`, the same call, for comparison",
    baseline: "retry-breaker"
  },
  {
    id: "retry-pipeline",
    label: "retry ∘ breaker ∘ `callTimeout: 5 s`, built per call, first try succeeds",
    baseline: "retry-op"
  }
]

const spawnCase = (id) => {
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, "retry.mjs"), id], {
    cwd: join(here, "..", ".."),
    encoding: "utf8",
    timeout: 120_000
  })
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("__RESULT__ "))
  if (!line) {
    return { error: `no result (exit ${r.status}): ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}` }
  }
  return JSON.parse(line.slice("__RESULT__ ".length))
}

const raw = {}
const errors = {}
const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(" ")
for (let round = 0; round < ROUNDS; round++) {
  process.stderr.write(`round ${round + 1}/${ROUNDS} `)
  const order = cases.map((_, i) => cases[(i + round * 3) % cases.length])
  for (const c of order) {
    const res = spawnCase(c.id)
    if (res.error) errors[c.id] = res.error
    else (raw[c.id] ??= []).push(res.p50)
    process.stderr.write(res.error ? "x" : ".")
  }
  process.stderr.write("\n")
}

const best = Object.fromEntries(Object.entries(raw).map(([id, xs]) => [id, Math.min(...xs)]))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const med = Object.fromEntries(Object.entries(raw).map(([id, xs]) => [id, median(xs)]))
const f1 = (x) => (x === undefined ? "—" : x.toFixed(1))

const lines = [
  "# Retry benchmarks",
  "",
  `${
    os.cpus()[0]?.model ?? "cpu"
  } × ${os.cpus().length}, Node ${process.version}, load average ${loadStart} at start, ${
    os.loadavg().map((x) => x.toFixed(2)).join(" ")
  } at end; ${ROUNDS} rounds, one process per case and round, 1,000 calls per sample (mitata).`,
  "",
  "| case | ns/call | over its baseline (best p50) | over its baseline (median p50) |",
  "|---|---:|---:|---:|"
]
for (const c of cases) {
  if (best[c.id] === undefined) continue
  const over = c.baseline && best[c.baseline] !== undefined ? best[c.id] - best[c.baseline] : undefined
  const overMedian = c.baseline && med[c.baseline] !== undefined ? med[c.id] - med[c.baseline] : undefined
  const verdict = c.target === undefined || over === undefined
    ? ""
    : over <= c.target
    ? ` ✅ ≤ ${c.target}`
    : ` ❌ > ${c.target}`
  lines.push(`| ${c.label} | ${f1(best[c.id])} | ${f1(over)}${verdict} | ${f1(overMedian)} |`)
}
for (const [id, error] of Object.entries(errors)) lines.push("", `- \`${id}\`: ${error}`)
process.stdout.write(lines.join("\n") + "\n")
process.exitCode = Object.keys(errors).length ? 1 : 0
