import type { CircuitBreaker as CB } from "@effect-resilience/core"
import { DegradationLevel as Level, Faults } from "@effect-resilience/core"
import type * as Simulation from "../Simulation.js"

type StateTag = CB.State["_tag"]

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** @internal */
export const formatTime = (millis: number): string => {
  const total = Math.round(millis)
  const ms = total % 1000
  const s = Math.floor(total / 1000)
  const hms = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
  return ms === 0 ? hms : `${hms}.${pad(ms, 3)}`
}

/**
 * A span, compact: `250ms`, `45s`, `1m30s`, `2h5m`.
 *
 * @internal
 */
export const formatSpan = (millis: number): string => {
  const total = Math.round(millis)
  if (total < 1000) return `${total}ms`
  const ms = total % 1000
  const s = Math.floor(total / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor(s / 60) % 60
  const sec = s % 60
  const parts: Array<string> = []
  if (h > 0) parts.push(`${h}h`)
  if (m > 0) parts.push(`${m}m`)
  if (sec > 0 || ms > 0) {
    parts.push(ms > 0 && h === 0 && m === 0 ? `${(sec + ms / 1000).toFixed(3).replace(/0+$/, "")}s` : `${sec}s`)
  }
  return parts.join("")
}

/** A fault as `Faults.describe` says it (`slow 2s`, `flaky 20%`), or `recovered`. @internal */
export const describeFault = (fault: Simulation.FaultAction): string =>
  fault._tag === "Recovered" ? "recovered" : Faults.describe(fault)

// -----------------------------------------------------------------------------
// text
// -----------------------------------------------------------------------------

const ansi = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  orange: "\x1b[38;5;208m",
  magenta: "\x1b[35m",
  cyan: "\x1b[36m"
} as const

type Paint = (code: keyof typeof ansi, text: string) => string

const levelColor: Record<Level.Tag, keyof typeof ansi> = {
  Optimal: "green",
  Degraded: "yellow",
  Limited: "orange",
  Minimal: "red",
  Emergency: "magenta"
}

const stateColor: Record<StateTag, keyof typeof ansi> = {
  Closed: "green",
  Open: "red",
  HalfOpen: "yellow",
  ForcedOpen: "red",
  Disabled: "dim"
}

interface Line {
  readonly at: number
  /** Faults, then breakers, then levels, at the same instant. */
  readonly order: number
  readonly text: string
}

/** Breaker lines of one dependency, with runs of failed probes folded. */
const breakerLines = (
  dependency: string,
  transitions: ReadonlyArray<Simulation.BreakerTransition>,
  paint: Paint,
  fold: boolean
): Array<Line> => {
  const lines: Array<Line> = []
  const state = (tag: StateTag) => paint(stateColor[tag], tag)
  let chain: { at: number; states: Array<StateTag> } | undefined
  const flushChain = () => {
    if (chain === undefined) return
    lines.push({ at: chain.at, order: 1, text: `breaker  ${dependency}  ${chain.states.map(state).join(" → ")}` })
    chain = undefined
  }
  let i = 0
  while (i < transitions.length) {
    const t = transitions[i]!
    // A failed probe: Open → HalfOpen immediately followed by HalfOpen → Open.
    if (fold) {
      let probes = 0
      let j = i
      let last = t.at
      while (
        j + 1 < transitions.length && transitions[j]!.from === "Open" && transitions[j]!.to === "HalfOpen" &&
        transitions[j + 1]!.to === "Open"
      ) {
        probes++
        last = transitions[j + 1]!.at
        j += 2
      }
      if (probes >= 2) {
        flushChain()
        lines.push({
          at: t.at,
          order: 1,
          text: `breaker  ${dependency}  ${probes} failed probes, each reopening it ${
            paint("dim", `(until ${formatTime(last)})`)
          }`
        })
        i = j
        continue
      }
    }
    if (chain !== undefined && chain.at === t.at && chain.states[chain.states.length - 1] === t.from) {
      chain.states.push(t.to)
    } else {
      flushChain()
      chain = { at: t.at, states: [t.from, t.to] }
    }
    i++
  }
  flushChain()
  return lines
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAlign: (column: number) => boolean): Array<string> => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) =>
    r.map((cell, c) => rightAlign(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)).join("  ").trimEnd()
  )
}

/** Faults, breaker transitions and level changes, in order, one line each. */
const timelineEvents = (
  report: Simulation.Report,
  paint: Paint,
  options: Simulation.TimelineOptions | undefined
): Array<string> => {
  const level = (tag: Level.Tag) => paint(levelColor[tag], tag)
  const lines: Array<Line> = [{ at: 0, order: -1, text: `level    ${level(report.initialLevel._tag)}` }]
  for (const f of report.faults) {
    const paintFault = f.fault._tag === "Recovered"
      ? "green"
      : f.fault._tag === "Down" || f.fault._tag === "Hang"
      ? "red"
      : "yellow"
    const target = f.member === undefined ? f.dependency : `${f.dependency}.${f.member}`
    lines.push({ at: f.at, order: 0, text: `fault    ${target} ${paint(paintFault, describeFault(f.fault))}` })
  }
  for (const d of Object.values(report.perDependency)) {
    const breaker = breakerLines(
      d.name,
      report.breakerTransitions.filter((t) => t.dependency === d.name),
      paint,
      options?.allBreakerTransitions !== true
    )
    for (const line of breaker) lines.push(line)
  }
  for (const t of report.levelTransitions) {
    const arrow = `${level(t.from._tag)} → ${level(t.to._tag)}`
    lines.push({
      at: t.at,
      order: 2,
      text: `level    ${paint("bold", arrow)}  (${t.reason})${paint("dim", ` [${t.kind}]`)}`
    })
  }
  lines.sort((a, b) => a.at - b.at || a.order - b.order)
  return lines.map((line) => `  ${paint("cyan", formatTime(line.at))}  ${line.text}`)
}

/** Time at each level, with a bar, then the final and the worst level. */
const timeAtLevelLines = (report: Simulation.Report, paint: Paint): Array<string> => {
  const level = (tag: Level.Tag) => paint(levelColor[tag], tag)
  const out = [paint("bold", "Time at level")]
  const barWidth = 30
  for (const l of Level.all) {
    const millis = report.timeAtLevel[l._tag]
    if (millis === 0) continue
    const share = report.duration > 0 ? millis / report.duration : 0
    const bar = "█".repeat(Math.max(1, Math.round(share * barWidth)))
    out.push(
      `  ${level(l._tag)}${" ".repeat(10 - l._tag.length)}${formatSpan(millis).padStart(8)}  ${
        `${(share * 100).toFixed(1)}%`.padStart(6)
      }  ${paint(levelColor[l._tag], bar)}`
    )
  }
  out.push(`  final ${level(report.finalLevel._tag)}, worst ${level(report.worstLevel._tag)}`)
  return out
}

/** Per dependency, what its breaker saw. */
const breakerTable = (report: Simulation.Report, paint: Paint): Array<string> => {
  const header = ["dependency", "ok", "failed", "timeout", "rejected", "ignored", "fallback", "open"]
  const rows = Object.values(report.perDependency).map((d) => [
    d.name,
    String(d.successes),
    String(d.failures),
    String(d.timeouts),
    String(d.rejections),
    String(d.ignored),
    String(d.fallbacks),
    ((open) => open === 0 ? "-" : formatSpan(open))((d.timeInState.Open ?? 0) + (d.timeInState.ForcedOpen ?? 0))
  ])
  return [paint("bold", "Breakers (every caller)"), ...table([header, ...rows], (c) => c >= 1).map((l) => `  ${l}`)]
}

/** Calls through a retry stage: a dependency without retries has none. */
const retriedCalls = (r: Simulation.RetryReport): number =>
  r.firstTry + r.afterRetry + r.gaveUp + r.budgetExhausted + r.stoppedOpen

/** Per dependency that retried, its calls by retry outcome and the retries it made. */
const retryTable = (report: Simulation.Report, paint: Paint): Array<string> => {
  const retried = Object.values(report.perDependency).filter((d) =>
    retriedCalls(d.retries) > 0 || d.retries.attempts > 0
  )
  if (retried.length === 0) return []
  const header = [
    "dependency",
    "calls",
    "first try",
    "after retry",
    "gave up",
    "budget exhausted",
    "stopped open",
    "retries"
  ]
  const rows = retried.map(({ name, retries: r }) => [
    name,
    String(retriedCalls(r)),
    String(r.firstTry),
    String(r.afterRetry),
    String(r.gaveUp),
    String(r.budgetExhausted),
    String(r.stoppedOpen),
    String(r.attempts)
  ])
  return [
    paint("bold", "Retries (calls of the retried members, by outcome)"),
    ...table([header, ...rows], (c) => c >= 1).map((l) => `  ${l}`),
    paint("dim", "  retries: attempts after the first, each one breaker call (counted in the breakers' table)")
  ]
}

/** Per traffic, what its callers got: counts, timeouts, latency and error types. */
const trafficTable = (report: Simulation.Report, paint: Paint): Array<string> => {
  const header = [
    "traffic",
    "calls",
    "answered",
    "errors",
    "timed out",
    "in flight",
    "p50",
    "p99",
    "max",
    "error types"
  ]
  const latency = (millis: number | undefined) => millis === undefined ? "-" : formatSpan(millis)
  const rows = Object.values(report.traffic).map((t) => [
    t.name,
    String(t.calls),
    String(t.answered),
    String(t.errors),
    String(t.timedOut),
    String(t.inFlight),
    latency(t.latency?.p50),
    latency(t.latency?.p99),
    latency(t.latency?.max),
    Object.entries(t.errorsByTag).map(([tag, n]) => `${tag} ${n}`).join(", ")
  ])
  return [
    paint("bold", "Traffic (what callers got)"),
    ...table([header, ...rows], (c) => c >= 1 && c <= 8).map((l) => `  ${l}`),
    paint("dim", "  latency: virtual time from a run's start to its answer or its error, over the runs that ended")
  ]
}

/** @internal */
export const renderTimeline = (report: Simulation.Report, options?: Simulation.TimelineOptions): string => {
  const color = options?.color === true
  const paint: Paint = color ? (code, text) => `${ansi[code]}${text}${ansi.reset}` : (_, text) => text
  const out: Array<string> = [
    paint("bold", `━━ ${report.name} ━━`) + paint(
      "dim",
      `  ${formatSpan(report.duration)} simulated, traffic every ${formatSpan(report.step)}, ` +
        `recovery every ${formatSpan(report.recoveryInterval)}, ${
          Object.keys(report.perDependency).length
        } dependencies`
    )
  ]
  if (report.description !== undefined) out.push(report.description)
  const sections = [
    timelineEvents(report, paint, options),
    timeAtLevelLines(report, paint),
    breakerTable(report, paint)
  ]
  const retries = retryTable(report, paint)
  if (retries.length > 0) sections.push(retries)
  if (Object.keys(report.traffic).length > 0) sections.push(trafficTable(report, paint))
  out.push("")
  for (const section of sections) {
    for (const line of section) out.push(line)
    out.push("")
  }
  if (report.checks.length > 0) {
    out.push(paint("bold", "Checks"))
    for (const c of report.checks) {
      out.push(`  ${c.ok ? paint("green", "✔") : paint("red", "✘")} ${c.description}  ${paint("dim", `— ${c.detail}`)}`)
    }
    out.push("")
  }
  out.push(paint(
    "dim",
    `${report.stats.steps} steps, ${report.stats.calls} calls, ${report.stats.wallMillis.toFixed(0)} ms wall`
  ))
  return out.join("\n")
}

// -----------------------------------------------------------------------------
// SVG
// -----------------------------------------------------------------------------

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const levelFill: Record<Level.Tag, string> = {
  Optimal: "#2e9d4f",
  Degraded: "#d4a017",
  Limited: "#e8731a",
  Minimal: "#d13438",
  Emergency: "#8e1e8e"
}

const stateFill: Record<StateTag, string> = {
  Closed: "#cfead7",
  Open: "#d13438",
  // Blue, not a fault's yellow: a probe is the breaker testing, not a fault.
  HalfOpen: "#3b82c4",
  ForcedOpen: "#7a1010",
  Disabled: "#bbbbbb"
}

const faultFill: Record<Simulation.FaultAction["_tag"], string> = {
  Down: "#d13438",
  Hang: "#4a4a4a",
  Slow: "#e8731a",
  Flaky: "#f2c744",
  Recovered: "none"
}

/** The band over the level chart while any fault is active (drawn and in the legend alike). */
const faultBand = { fill: "#d13438", opacity: "0.07" } as const

const tickSteps = [
  1_000,
  5_000,
  10_000,
  15_000,
  30_000,
  60_000,
  120_000,
  300_000,
  600_000,
  900_000,
  1_800_000,
  3_600_000
]

const formatTick = (millis: number): string => {
  const s = Math.round(millis / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor(s / 60) % 60
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

/** Splits `text` into lines of at most `width` characters, at spaces. */
const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/** Where things go: the plot's horizontal extent, and time to x. */
interface Frame {
  readonly width: number
  readonly left: number
  readonly right: number
  readonly plotWidth: number
  /** Milliseconds the x axis spans (at least 1). */
  readonly duration: number
  readonly x: (t: number) => number
}

/** One decimal at most: the coordinates of the chart. */
const fmt = (n: number): string => (Math.round(n * 10) / 10).toString()

const frameOf = (report: Simulation.Report): Frame => {
  const width = 1100
  const left = 130
  const right = 30
  const plotWidth = width - left - right
  const duration = Math.max(1, report.duration)
  const x = (t: number) => left + (Math.min(Math.max(t, 0), duration) / duration) * plotWidth
  return { width, left, right, plotWidth, duration, x }
}

/** The title, the checks' verdict and the description; the y of the last line. */
const svgTitle = (report: Simulation.Report, f: Frame, el: Array<string>): number => {
  let y = 30
  el.push(`<text x="${f.left}" y="${y}" class="title">${escape(report.name)}</text>`)
  const statusText = report.checks.length === 0
    ? ""
    : report.ok
    ? `all ${report.checks.length} checks passed`
    : `${report.checks.filter((c) => !c.ok).length} of ${report.checks.length} checks FAILED`
  if (statusText !== "") {
    el.push(
      `<text x="${f.width - f.right}" y="${y}" text-anchor="end" class="${report.ok ? "ok" : "fail"}">${
        escape(statusText)
      }</text>`
    )
  }
  if (report.description !== undefined) {
    for (const line of wrap(report.description, 135)) {
      y += 18
      el.push(`<text x="${f.left}" y="${y}" class="sub">${escape(line)}</text>`)
    }
  }
  return y
}

/** The vertical layout: the level chart (one row per level, Optimal on top), the lanes, the axis. */
interface Rows {
  readonly rowHeight: number
  readonly chartTop: number
  readonly chartHeight: number
  readonly rowY: (tag: Level.Tag) => number
  readonly laneTop: number
  readonly laneRow: number
  readonly laneHeight: number
  readonly axisY: number
}

const rowsOf = (titleBottom: number, dependencies: number): Rows => {
  const rowHeight = 24
  const chartTop = titleBottom + 36
  const chartHeight = rowHeight * Level.all.length
  const rowY = (tag: Level.Tag) => chartTop + (Level.rank(Level.fromString(tag)!) - 1) * rowHeight + rowHeight / 2
  // Lanes: per dependency a fault row and a breaker row.
  const laneTop = chartTop + chartHeight + 34
  const laneRow = 14
  const laneGap = 12
  const laneHeight = laneRow * 2 + 4 + laneGap
  const axisY = laneTop + dependencies * laneHeight
  return { rowHeight, chartTop, chartHeight, rowY, laneTop, laneRow, laneHeight, axisY }
}

/** The level chart's rows, the grid and the time axis. */
const svgAxes = (f: Frame, r: Rows, el: Array<string>): void => {
  el.push(`<text x="${f.left}" y="${r.chartTop - 6}" class="section">Degradation level</text>`)
  for (const l of Level.all) {
    const top = r.chartTop + (Level.rank(l) - 1) * r.rowHeight
    el.push(
      `<rect x="${f.left}" y="${top}" width="${f.plotWidth}" height="${r.rowHeight}" fill="${
        levelFill[l._tag]
      }" fill-opacity="0.08"/>`
    )
    el.push(
      `<text x="${f.left - 10}" y="${top + r.rowHeight / 2 + 4}" text-anchor="end" class="label" fill="${
        levelFill[l._tag]
      }">${l._tag}</text>`
    )
  }
  const tick = tickSteps.find((s) => f.duration / s <= 12) ?? 3_600_000
  for (let t = 0; t <= f.duration + 1e-6; t += tick) {
    const tx = fmt(f.x(t))
    el.push(`<line x1="${tx}" y1="${r.chartTop}" x2="${tx}" y2="${r.axisY}" class="grid"/>`)
    el.push(`<text x="${tx}" y="${r.axisY + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`)
  }
  el.push(`<line x1="${f.left}" y1="${r.axisY}" x2="${f.left + f.plotWidth}" y2="${r.axisY}" class="axis"/>`)
  el.push(
    `<text x="${f.left + f.plotWidth / 2}" y="${
      r.axisY + 34
    }" text-anchor="middle" class="label">time (h:mm:ss of virtual time)</text>`
  )
}

/** The faults of one dependency as windows: from each fault to the next change (or the end). */
const faultWindows = (
  report: Simulation.Report,
  dependency: string,
  end: number
): Array<{ readonly from: number; readonly to: number; readonly fault: Simulation.AppliedFault }> => {
  const faults = report.faults.filter((f) => f.dependency === dependency)
  return faults.flatMap((f, i) =>
    f.fault._tag === "Recovered" ? [] : [{ from: f.at, to: faults[i + 1]?.at ?? end, fault: f }]
  )
}

/** While any fault is active: one light band across the level chart. */
const svgFaultBand = (
  report: Simulation.Report,
  dependencies: ReadonlyArray<Simulation.DependencyReport>,
  f: Frame,
  r: Rows,
  el: Array<string>
): void => {
  const active = dependencies.flatMap((d) => faultWindows(report, d.name, f.duration))
    .map(({ from, to }) => ({ from, to }))
  active.sort((a, b) => a.from - b.from)
  const merged: Array<{ from: number; to: number }> = []
  for (const w of active) {
    const last = merged[merged.length - 1]
    if (last !== undefined && w.from <= last.to) last.to = Math.max(last.to, w.to)
    else merged.push({ ...w })
  }
  for (const w of merged) {
    el.push(
      `<rect x="${fmt(f.x(w.from))}" y="${r.chartTop}" width="${
        fmt(Math.max(1, f.x(w.to) - f.x(w.from)))
      }" height="${r.chartHeight}" fill="${faultBand.fill}" fill-opacity="${faultBand.opacity}"/>`
    )
  }
}

/** The level as a step line, coloured by level, with a numbered marker at each transition. */
const svgLevelLine = (report: Simulation.Report, f: Frame, r: Rows, el: Array<string>): void => {
  const segments: Array<{ from: number; to: number; level: Level.Tag }> = []
  let current: Level.Tag = report.initialLevel._tag
  let since = 0
  for (const t of report.levelTransitions) {
    segments.push({ from: since, to: t.at, level: current })
    current = t.to._tag
    since = t.at
  }
  segments.push({ from: since, to: f.duration, level: current })
  const { rowY } = r
  const { x } = f
  let previous: (typeof segments)[number] | undefined
  for (const s of segments) {
    if (previous !== undefined && previous.level !== s.level) {
      el.push(
        `<line x1="${fmt(x(s.from))}" y1="${fmt(rowY(previous.level))}" x2="${fmt(x(s.from))}" y2="${
          fmt(rowY(s.level))
        }" class="riser"/>`
      )
    }
    if (s.to > s.from || previous === undefined) {
      el.push(
        `<line x1="${fmt(x(s.from))}" y1="${fmt(rowY(s.level))}" x2="${fmt(Math.max(x(s.to), x(s.from) + 1))}" y2="${
          fmt(rowY(s.level))
        }" stroke="${levelFill[s.level]}" class="level"/>`
      )
    }
    previous = s
  }
  // Numbered markers at each transition (explained in the list below).
  report.levelTransitions.forEach((t, i) => {
    const cx = x(t.at)
    const cy = rowY(t.to._tag)
    el.push(
      `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="8" fill="#fff" stroke="${levelFill[t.to._tag]}" stroke-width="2"/>`
    )
    el.push(`<text x="${fmt(cx)}" y="${fmt(cy + 4)}" text-anchor="middle" class="marker">${i + 1}</text>`)
  })
}

/** One dependency's lane: its name, its faults (upper row) and its breaker's states (lower row). */
const svgLane = (
  report: Simulation.Report,
  d: Simulation.DependencyReport,
  top: number,
  f: Frame,
  r: Rows,
  el: Array<string>
): void => {
  const { laneRow } = r
  const { x } = f
  el.push(`<text x="${f.left - 10}" y="${top + laneRow + 3}" text-anchor="end" class="label">${escape(d.name)}</text>`)
  el.push(
    `<text x="${f.left - 10}" y="${
      top + laneRow * 2 + 1
    }" text-anchor="end" class="tiny">${d.whenDown._tag} when down</text>`
  )
  el.push(`<rect x="${f.left}" y="${top}" width="${f.plotWidth}" height="${laneRow}" class="lane"/>`)
  for (const { fault, from, to } of faultWindows(report, d.name, f.duration)) {
    const w = Math.max(1, x(to) - x(from))
    el.push(
      `<rect x="${fmt(x(from))}" y="${top}" width="${fmt(w)}" height="${laneRow}" fill="${
        faultFill[fault.fault._tag]
      }"/>`
    )
    const label = describeFault(fault.fault)
    if (w > label.length * 6.5 + 8) {
      el.push(
        `<text x="${fmt(x(from) + 4)}" y="${top + laneRow - 3}" class="inlane"${
          fault.fault._tag === "Flaky" ? ` style="fill:#333"` : ""
        }>${escape(label)}</text>`
      )
    }
  }
  const rowTop = top + laneRow + 4
  const transitions = report.breakerTransitions.filter((t) => t.dependency === d.name)
  let state: StateTag = transitions[0]?.from ?? "Closed"
  let since = 0
  const band = (to: number) => {
    const w = x(to) - x(since)
    if (w <= 0 && state !== "HalfOpen") return
    el.push(
      `<rect x="${fmt(x(since))}" y="${rowTop}" width="${
        fmt(Math.max(w, state === "HalfOpen" ? 1.5 : 0))
      }" height="${laneRow}" fill="${stateFill[state]}"/>`
    )
  }
  for (const t of transitions) {
    band(t.at)
    state = t.to
    since = t.at
  }
  band(f.duration)
}

/** The legend, below the axis; the y of its line. */
const svgLegend = (f: Frame, r: Rows, el: Array<string>): number => {
  const ly = r.axisY + 58
  let lx = f.left
  const legend = (fill: string, label: string, opacity?: string) => {
    el.push(
      `<rect x="${lx}" y="${ly - 10}" width="14" height="12" fill="${fill}"${
        opacity === undefined ? "" : ` fill-opacity="${opacity}" stroke="#ccc" stroke-width="0.5"`
      }/>`
    )
    el.push(`<text x="${lx + 19}" y="${ly}" class="tiny">${escape(label)}</text>`)
    lx += 26 + label.length * 6.2
  }
  legend(faultFill.Down, "fault: down")
  legend(faultFill.Hang, "fault: hang")
  legend(faultFill.Slow, "fault: slow")
  legend(faultFill.Flaky, "fault: flaky")
  lx += 20
  legend(stateFill.Closed, "breaker closed")
  legend(stateFill.Open, "breaker open")
  legend(stateFill.HalfOpen, "half-open (probe)")
  legend(stateFill.ForcedOpen, "forced open")
  lx += 20
  legend(faultBand.fill, "any fault active", faultBand.opacity)
  return ly
}

/** The numbered level transitions and the checks, from `y` down; the y of the last line. */
const svgLists = (report: Simulation.Report, f: Frame, y: number, el: Array<string>): number => {
  let ly = y + 28
  el.push(`<text x="${f.left}" y="${ly}" class="section">Level transitions</text>`)
  if (report.levelTransitions.length === 0) {
    ly += 18
    el.push(`<text x="${f.left}" y="${ly}" class="item">none: Optimal throughout</text>`)
  }
  report.levelTransitions.forEach((t, i) => {
    ly += 18
    el.push(
      `<text x="${f.left}" y="${ly}" class="item"><tspan class="num">${i + 1}</tspan>  ${formatTime(t.at)}  ` +
        `<tspan fill="${levelFill[t.from._tag]}">${t.from._tag}</tspan> → ` +
        `<tspan fill="${levelFill[t.to._tag]}" font-weight="bold">${t.to._tag}</tspan>  ${
          escape(`(${t.reason})`)
        }</text>`
    )
  })
  if (report.checks.length > 0) {
    ly += 28
    el.push(`<text x="${f.left}" y="${ly}" class="section">Checks</text>`)
    for (const c of report.checks) {
      ly += 18
      el.push(
        `<text x="${f.left}" y="${ly}" class="item"><tspan class="${c.ok ? "ok" : "fail"}">${
          c.ok ? "✔" : "✘"
        }</tspan> ${escape(c.description)} <tspan class="detail">— ${escape(c.detail)}</tspan></text>`
      )
    }
  }
  return ly
}

const svgStyle = [
  "text{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#222}",
  ".title{font-size:20px;font-weight:bold}",
  ".sub{font-size:13px;fill:#555}",
  ".section{font-size:13px;font-weight:bold;fill:#333}",
  ".label{font-size:12px}",
  ".tiny{font-size:10px;fill:#666}",
  ".tick{font-size:11px;fill:#555}",
  ".item{font-size:12px}",
  ".num{font-weight:bold}",
  ".detail{fill:#777}",
  ".marker{font-size:10px;font-weight:bold}",
  ".inlane{font-size:10px;fill:#fff;font-weight:bold}",
  ".ok{fill:#2e9d4f;font-weight:bold;font-size:13px}",
  ".fail{fill:#d13438;font-weight:bold;font-size:13px}",
  ".grid{stroke:#e4e4e4;stroke-width:1}",
  ".axis{stroke:#888;stroke-width:1}",
  ".lane{fill:#f4f4f4}",
  ".level{stroke-width:5;stroke-linecap:butt}",
  ".riser{stroke:#999;stroke-width:1.5;stroke-dasharray:3 2}"
].join("")

/** @internal */
export const renderSvg = (report: Simulation.Report): string => {
  const f = frameOf(report)
  const dependencies = Object.values(report.perDependency)
  const el: Array<string> = []
  const r = rowsOf(svgTitle(report, f, el), dependencies.length)
  svgAxes(f, r, el)
  svgFaultBand(report, dependencies, f, r, el)
  svgLevelLine(report, f, r, el)
  el.push(
    `<text x="${f.left}" y="${r.laneTop - 8}" class="section">Faults (upper row) and breaker state (lower row)</text>`
  )
  dependencies.forEach((d, i) => svgLane(report, d, r.laneTop + i * r.laneHeight, f, r, el))
  const height = svgLists(report, f, svgLegend(f, r, el), el) + 24
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${fmt(height)}" viewBox="0 0 ${f.width} ${
      fmt(height)
    }" role="img">`,
    `<title>${escape(`${report.name}: degradation level over time`)}</title>`,
    `<style>${svgStyle}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...el,
    `</svg>`,
    ""
  ].join("\n")
}
