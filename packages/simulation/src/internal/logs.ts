/**
 * The program's logs as a report keeps them: at their virtual time, with
 * the cause of a log line in full (`Cause.pretty`), and without the
 * machine's absolute paths — the working directory becomes `.`, any other
 * absolute path in a stack frame its last part — so that a report saved on
 * one machine reads the same on another.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Logger from "effect/Logger"
import type * as Simulation from "../Simulation.js"

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** An absolute path in a stack frame (`at f (/…/x.js:1:2)`, `at file:///…/x.js:1:2`, `at C:\…\x.js:1:2`). */
const framePath = /(?<=\(|\bat )(?:file:\/\/)?(?:\/|[A-Za-z]:[\\/])[^\s()]*?(?=:\d+)/g

/** What is left of a path outside the working directory: from its last `node_modules`, or its file name. */
const shorten = (path: string): string => {
  const parts = path.split(/[\\/]/)
  const modules = parts.lastIndexOf("node_modules")
  return modules >= 0 ? parts.slice(modules).join("/") : parts[parts.length - 1]!
}

/**
 * `text` without absolute paths: `cwd` (as a path or a `file://` URL) as `.`,
 * then every absolute path left in a stack frame shortened.
 *
 * @internal
 */
export const withoutAbsolutePaths = (cwd: string | undefined): (text: string) => string => {
  const root = cwd?.replace(/[\\/]+$/, "")
  // The directory as a path, and as the path of its `file://` URL (`/C:/…` on Windows).
  const forms = root === undefined || root === "" ? [] : [...new Set([root, root.replace(/\\/g, "/")])]
  const rootPattern = forms.length === 0 ? undefined : new RegExp(
    forms.map((form) => `(?:file://${form.startsWith("/") ? "" : "/"})?${escapeRegExp(form)}(?![\\w.-])`).join("|"),
    "g"
  )
  return (text) => {
    if (!text.includes("/") && !text.includes("\\")) return text
    const relative = rootPattern === undefined ? text : text.replace(rootPattern, ".")
    return relative.replace(framePath, shorten)
  }
}

const currentDirectory = (): string | undefined => {
  try {
    return (globalThis as { readonly process?: { readonly cwd?: () => string } }).process?.cwd?.()
  } catch {
    return undefined
  }
}

const formatMessage = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => typeof m === "string" ? m : String(m)).join(" ") : String(message)

/**
 * A logger that keeps every line, at `now()`, in `lines`.
 *
 * @internal
 */
export const collector = (now: () => number): {
  readonly lines: Array<Simulation.LogLine>
  readonly logger: Logger.Logger<unknown, void>
} => {
  const lines: Array<Simulation.LogLine> = []
  const clean = withoutAbsolutePaths(currentDirectory())
  const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
    const text = formatMessage(message)
    lines.push({
      at: now(),
      level: logLevel.label,
      message: clean(Cause.isEmpty(cause) ? text : `${text}\n${Cause.pretty(cause)}`)
    })
  })
  return { lines, logger }
}
