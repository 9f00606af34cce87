/**
 * The Grafana dashboards shipped with this package (`dashboards/*.json`:
 * Circuit Breakers, Degradation, Fallback Usage) and the tools to run their
 * queries elsewhere — e.g. against a Prometheus in an end-to-end test.
 *
 * Import the JSON files in Grafana 10+ (Dashboards → New → Import) or
 * provision them; each asks for a Prometheus data source through its
 * `datasource` variable.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"

/**
 * Absolute path of the directory holding the dashboard JSON files (the same
 * from `src/` and from `dist/`).
 *
 * @since 0.1.0
 * @category files
 */
export const directory: string = fileURLToPath(new URL("../dashboards/", import.meta.url))

/**
 * The dashboard files, relative to `directory`.
 *
 * @since 0.1.0
 * @category files
 */
export const files: ReadonlyArray<string> = ["circuit-breakers.json", "degradation.json", "fallback-usage.json"]

/**
 * A Grafana panel query.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly refId: string
  readonly expr?: string | undefined
  readonly legendFormat?: string | undefined
  readonly instant?: boolean | undefined
  readonly range?: boolean | undefined
  readonly datasource?: { readonly type?: string; readonly uid?: string } | undefined
}

/**
 * A Grafana panel (rows carry their collapsed panels in `panels`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Panel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly datasource?: { readonly type?: string; readonly uid?: string } | undefined
  readonly targets?: ReadonlyArray<Target> | undefined
  readonly panels?: ReadonlyArray<Panel> | undefined
}

/**
 * A template variable.
 *
 * @since 0.1.0
 * @category models
 */
export interface Variable {
  readonly name: string
  readonly type: string
  readonly query?: string | { readonly query?: string } | undefined
  readonly allValue?: string | undefined
}

/**
 * The part of a Grafana dashboard model these tools read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dashboard {
  readonly uid: string
  readonly title: string
  readonly panels: ReadonlyArray<Panel>
  readonly templating: { readonly list: ReadonlyArray<Variable> }
}

/**
 * One PromQL query of one panel.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly dashboard: string
  readonly panel: string
  readonly refId: string
  /** As written in the dashboard, with its template variables. */
  readonly expr: string
  /** Whether Grafana runs it as an instant query (stat and bar gauge panels). */
  readonly instant: boolean
}

/**
 * A dashboard file is not valid JSON.
 *
 * @since 0.1.0
 * @category errors
 */
export class DashboardParseError extends Data.TaggedError("DashboardParseError")<{
  readonly path: string
  readonly cause: unknown
}> {
  /**
   * Names the file and what the JSON parser said.
   *
   * @since 0.1.0
   */
  override get message(): string {
    return `Dashboard ${this.path} is not valid JSON: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/**
 * Reads and parses every shipped dashboard.
 *
 * @example
 * ```ts
 * import { Dashboards } from "@effect-resilience/otel"
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const dashboards = yield* Dashboards.load
 *   console.log(dashboards.map((dashboard) => dashboard.title))
 *   // Output: [ 'effect-resilience / Circuit Breakers', 'effect-resilience / Degradation', 'effect-resilience / Fallback Usage' ]
 *   // Every panel query with its Grafana variables filled in, ready for a Prometheus' query API.
 *   const queries = dashboards.flatMap((dashboard) => Dashboards.queries(dashboard))
 *   console.log(Dashboards.interpolate(queries[0]!.expr, Dashboards.testVariables))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(NodeFileSystem.layer)))
 * ```
 *
 * @since 0.1.0
 * @category files
 */
export const load: Effect.Effect<ReadonlyArray<Dashboard>, PlatformError | DashboardParseError, FileSystem.FileSystem> =
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.forEach(files, (file) => {
      const path = `${directory}${file}`
      return fs.readFileString(path).pipe(
        Effect.flatMap((text) =>
          Effect.try({
            try: () => JSON.parse(text) as Dashboard,
            catch: (cause) => new DashboardParseError({ path, cause })
          })
        )
      )
    })
  })

const flatten = (panels: ReadonlyArray<Panel>): ReadonlyArray<Panel> =>
  panels.flatMap((panel) => [panel, ...flatten(panel.panels ?? [])])

/**
 * Every PromQL query of every panel of a dashboard, nested row panels included.
 *
 * @since 0.1.0
 * @category queries
 */
export const queries = (dashboard: Dashboard): ReadonlyArray<Query> =>
  flatten(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) =>
      target.expr === undefined || target.expr.trim() === "" ? [] : [{
        dashboard: dashboard.title,
        panel: panel.title,
        refId: target.refId,
        expr: target.expr,
        instant: target.instant === true && target.range !== true
      }]
    )
  )

/**
 * Values of Grafana's built-in variables for a Prometheus scraped every
 * second over the last minute, and `.*` ("All") for the dashboards' own
 * variables.
 *
 * @since 0.1.0
 * @category queries
 */
export const testVariables: Readonly<Record<string, string>> = {
  __rate_interval: "10s",
  __interval: "1s",
  __interval_ms: "1000",
  __range: "1m",
  __range_s: "60",
  __range_ms: "60000",
  job: ".*",
  breaker: ".*",
  dependency: ".*"
}

/**
 * Replaces Grafana template variables — `$name`, `${name}`, `${name:format}`
 * and `[[name]]` — with the given values; unknown variables are left as they
 * are, so that the query fails visibly.
 *
 * @since 0.1.0
 * @category queries
 */
export const interpolate = (expr: string, variables: Readonly<Record<string, string>>): string =>
  expr.replace(
    /\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g,
    (match, braced: string | undefined, bracketed: string | undefined, bare: string | undefined) => {
      const name = braced ?? bracketed ?? bare!
      return Object.prototype.hasOwnProperty.call(variables, name) ? variables[name]! : match
    }
  )
