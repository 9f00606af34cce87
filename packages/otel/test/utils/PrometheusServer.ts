/**
 * A real Prometheus server for end-to-end tests: its own free port, temporary
 * storage and config (scrape and evaluation every second), killed with the
 * scope. Requires the `prometheus` binary (Debian package `prometheus`;
 * override with PROMETHEUS_BIN).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "./http.js"

export interface QueryResult {
  readonly status: "success" | "error"
  readonly error?: string
  readonly errorType?: string
  readonly data?: {
    readonly resultType: "vector" | "matrix" | "scalar" | "string"
    readonly result: unknown
  }
}

export interface VectorSample {
  readonly metric: Record<string, string>
  readonly value: [number, string]
}

export interface PrometheusServer {
  readonly url: string
  /** GET an API path (e.g. `/api/v1/rules`) and decode the JSON body. */
  readonly api: (path: string, params?: Record<string, string>) => Effect.Effect<any, Error>
  /** An instant query now. Never fails on a PromQL error: inspect `status`. */
  readonly query: (expr: string) => Effect.Effect<QueryResult, Error>
  /** A range query over the last `seconds`, one point a second. */
  readonly queryRange: (expr: string, seconds: number) => Effect.Effect<QueryResult, Error>
  /** Polls an instant query until `predicate` holds for its vector result. */
  readonly waitFor: (
    expr: string,
    predicate: (samples: ReadonlyArray<VectorSample>) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<VectorSample>, Error>
}

export const binary = process.env.PROMETHEUS_BIN ?? "prometheus"

const fetchJson = (url: string) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal })
      return await response.json() as any
    },
    catch: (cause) => new Error(`GET ${url}: ${cause instanceof Error ? cause.message : String(cause)}`)
  })

export interface Options {
  /** `host:port` targets of one job. */
  readonly targets: ReadonlyArray<string>
  readonly job: string
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: ReadonlyArray<string>
}

export const start = (options: Options) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "otel-prometheus-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const config = [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "  evaluation_interval: 1s",
      ...(options.ruleFiles?.length
        ? ["rule_files:", ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)]
        : []),
      "scrape_configs:",
      `  - job_name: ${JSON.stringify(options.job)}`,
      "    static_configs:",
      `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(", ")}]`,
      ""
    ].join("\n")
    Fs.writeFileSync(Path.join(dir, "prometheus.yml"), config)

    let stderr = ""
    const child = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const child = ChildProcess.spawn(binary, [
            `--config.file=${Path.join(dir, "prometheus.yml")}`,
            `--storage.tsdb.path=${Path.join(dir, "data")}`,
            `--web.listen-address=127.0.0.1:${port}`,
            "--log.level=warn"
          ], { stdio: ["ignore", "ignore", "pipe"] })
          child.stderr.setEncoding("utf8")
          child.stderr.on("data", (chunk: string) => stderr = (stderr + chunk).slice(-4000))
          return child
        },
        catch: (cause) => new Error(`cannot start ${binary}: ${String(cause)}`)
      }),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        }).pipe(
          Effect.timeoutOption(Duration.seconds(5)),
          Effect.zipRight(Effect.sync(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
          }))
        )
    )
    const spawnError = yield* Effect.async<Error | undefined>((resume) => {
      child.once(
        "error",
        (e) => resume(Effect.succeed(new Error(`cannot run ${binary} (apt-get install prometheus): ${e.message}`)))
      )
      child.once("spawn", () => resume(Effect.succeed(undefined)))
    })
    if (spawnError) return yield* Effect.fail(spawnError)

    const url = `http://127.0.0.1:${port}`
    // Ready once the TSDB is open and the rules are loaded.
    yield* Effect.suspend(() =>
      child.exitCode !== null
        ? Effect.die(new Error(`prometheus exited with ${child.exitCode}: ${stderr}`))
        : Effect.tryPromise(() => fetch(`${url}/-/ready`)).pipe(
          Effect.filterOrFail((r) => r.status === 200, () => new Error("not ready"))
        )
    ).pipe(
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), times: 150 }),
      Effect.mapError(() => new Error(`prometheus did not become ready: ${stderr}`))
    )

    const api = (path: string, params: Record<string, string> = {}) =>
      fetchJson(`${url}${path}?${new URLSearchParams(params).toString()}`)
    const query = (expr: string) => api("/api/v1/query", { query: expr }) as Effect.Effect<QueryResult, Error>
    const queryRange = (expr: string, seconds: number) => {
      const end = Date.now() / 1000
      return api("/api/v1/query_range", {
        query: expr,
        start: String(end - seconds),
        end: String(end),
        step: "1"
      }) as Effect.Effect<QueryResult, Error>
    }
    const waitFor = (
      expr: string,
      predicate: (samples: ReadonlyArray<VectorSample>) => boolean,
      timeout: Duration.DurationInput = Duration.seconds(15)
    ) => {
      let last = ""
      return query(expr).pipe(
        Effect.flatMap((r) => {
          last = JSON.stringify(r).slice(0, 1000)
          const samples = (r.data?.resultType === "vector" ? r.data.result : []) as ReadonlyArray<VectorSample>
          return r.status === "success" && predicate(samples)
            ? Effect.succeed(samples)
            : Effect.fail(new Error(`waiting for ${expr}`))
        }),
        Effect.retry(Schedule.spaced(Duration.millis(200))),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Error(`timed out waiting for ${expr}; last answer: ${last}; prometheus stderr: ${stderr}`)
        })
      )
    }
    return { url, api, query, queryRange, waitFor } satisfies PrometheusServer
  })
