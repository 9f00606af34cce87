// Shared helpers for the benchmark case processes (plain ESM, run directly by node — no tsx).
// Every case process prints exactly one line `__RESULT__ <json>` on stdout, which bench/run.mjs parses.
import { measure } from "mitata"

/** Ops executed per timed sample: every case batches this many calls so per-op overhead is visible. */
export const N = 1000
/** Explicit warm-up of the sample body before mitata starts (mitata warms up as well): up to
 *  WARMUP iterations, at most WARMUP_MS of wall time. */
export const WARMUP = 300
export const WARMUP_MS = 300

export const emit = (result) => {
  process.stdout.write(`__RESULT__ ${JSON.stringify(result)}\n`)
}

export const fail = (caseId, message) => {
  emit({ case: caseId, error: message })
  process.exit(0)
}

/**
 * Time `body` (one sample = N ops, sync or async) with mitata's `run()` and emit ns/op.
 * `check` runs once after warm-up; it must return true or the case reports an error
 * (guards against measuring the wrong path, e.g. an "open" breaker that is actually closed).
 */
export const timeCase = async (caseId, body, { check, meta, cpuTimeMs = 500 } = {}) => {
  const warmStart = performance.now()
  for (let i = 0; i < WARMUP && performance.now() - warmStart < WARMUP_MS; i++) {
    const r = body()
    if (r instanceof Promise) await r
  }
  if (check) {
    const ok = await check()
    if (ok !== true) fail(caseId, `sanity check failed: ${String(ok)}`)
  }
  globalThis.gc?.()
  // mitata's measurement loop for this one case (the global run() would first spend ~2.5 s per
  // process calibrating no-op baselines we do not use). batch_threshold 0: one sample = one call of
  // `body` (= N ops) for every case — mitata would otherwise batch 4096 calls per sample for bodies
  // under 65 µs, for some cases and not others.
  const t0 = performance.now()
  const stats = await measure(body, { batch_threshold: 0, min_cpu_time: cpuTimeMs * 1e6 })
  const wall = performance.now() - t0
  emit({
    case: caseId,
    kind: "time",
    opsPerSample: N,
    avg: stats.avg / N,
    p50: stats.p50 / N,
    p75: stats.p75 / N,
    p99: stats.p99 / N,
    min: stats.min / N,
    samples: stats.samples.length,
    wallMs: Math.round(wall),
    ...(meta ? { meta } : {})
  })
}

const heapUsed = () => {
  for (let i = 0; i < 4; i++) globalThis.gc()
  return process.memoryUsage().heapUsed
}

/** Retained heap per instance: `count` live instances after gc(), (heapUsed delta) / count. */
export const memoryCase = async (caseId, create, { count = 10_000, warm = 200, meta } = {}) => {
  if (typeof globalThis.gc !== "function") fail(caseId, "run with --expose-gc")
  // warm-up: one-time allocations (lazy module state, JIT code, shared metric keys) are not per-instance
  const warmKeep = await create(warm, "warm")
  const before = heapUsed()
  const keep = await create(count, "live")
  const after = heapUsed()
  emit({
    case: caseId,
    kind: "memory",
    count,
    bytesPerInstance: (after - before) / count,
    heapBefore: before,
    heapAfter: after,
    keptAlive: keep.length + warmKeep.length,
    ...(meta ? { meta: await meta() } : {})
  })
}

/** The compiled breaker, or null (with a reason) when packages/core has not been built yet. */
export const loadCore = async () => {
  try {
    const core = await import("../../packages/core/dist/index.js")
    if (!core.CircuitBreaker || typeof core.CircuitBreaker.make !== "function") {
      return { core: null, reason: "packages/core/dist/index.js has no CircuitBreaker.make" }
    }
    return { core, reason: null }
  } catch (e) {
    return { core: null, reason: `cannot import packages/core/dist/index.js: ${e?.message ?? e}` }
  }
}
