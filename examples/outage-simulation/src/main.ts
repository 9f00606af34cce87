/**
 * `pnpm demo`: runs the outage scenarios in virtual time, prints each
 * timeline, writes an SVG chart per scenario to `out/<scenario>.svg`, and
 * exits with code 1 when a scenario's checks fail.
 */
import { Simulation } from "@effect-resilience/simulation"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { scenarios } from "./scenarios.js"

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "out")
const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined

const program = Effect.gen(function*() {
  const started = performance.now()
  fs.mkdirSync(outDir, { recursive: true })
  const reports: Array<Simulation.Report> = []
  for (const scenario of scenarios) {
    const report = yield* Simulation.run(scenario)
    reports.push(report)
    const file = path.join(outDir, `${report.name}.svg`)
    fs.writeFileSync(file, Simulation.renderSvg(report))
    console.log(Simulation.renderTimeline(report, { color }))
    console.log(`chart: ${path.relative(process.cwd(), file)}\n`)
  }
  const wall = performance.now() - started
  const failed = reports.filter((r) => !r.ok)
  console.log("Summary")
  for (const r of reports) {
    const passed = r.checks.filter((c) => c.ok).length
    console.log(
      `  ${r.ok ? "✔" : "✘"} ${r.name.padEnd(30)} final ${r.finalLevel._tag.padEnd(9)} ` +
        `${passed}/${r.checks.length} checks  ${r.stats.calls} calls  ${r.stats.wallMillis.toFixed(0)} ms`
    )
  }
  console.log(`${reports.length} scenarios in ${(wall / 1000).toFixed(1)} s of wall time`)
  if (failed.length > 0) {
    console.error(
      `${failed.length} scenario(s) failed their checks: ${failed.map((r) => r.name).join(", ")}`
    )
    process.exitCode = 1
  }
})

Effect.runPromise(program).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
