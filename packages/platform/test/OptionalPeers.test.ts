/**
 * The main entry installs and loads without the optional peers (ioredis, @effect/sql, the SQLite
 * driver): its JavaScript never imports them and its declarations never name their types. The layers
 * that need them live at `/redis`, `/sql` and `/sqlite`, each the main entry's module plus its layer.
 */
import * as Platform from "@effect-resilience/platform"
import * as Redis from "@effect-resilience/platform/redis"
import * as Sql from "@effect-resilience/platform/sql"
import * as Sqlite from "@effect-resilience/platform/sqlite"
import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const dist = path.join(root, "packages/platform/dist")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "packages/platform/package.json"), "utf8")) as {
  readonly peerDependenciesMeta: Record<string, { readonly optional?: boolean }>
}

/** The optional peers, and what they bring or what brings them. */
const optionalPeers = [
  ...Object.entries(manifest.peerDependenciesMeta).filter(([, meta]) => meta.optional).map(([name]) => name),
  "better-sqlite3",
  "@effect/sql-pg",
  "@effect/experimental/PersistedQueue/Redis"
]
const isOptionalPeer = (specifier: string) =>
  optionalPeers.some((peer) => specifier === peer || specifier.startsWith(`${peer}/`))

// A resolve hook that makes the optional peers missing, as in a project that did not install them.
const hook = `
export async function resolve(specifier, context, next) {
  if (/^(ioredis|better-sqlite3|@effect\\/sql(-[a-z-]+)?)(\\/|$)/.test(specifier) || /PersistedQueue\\/Redis/.test(specifier)) {
    throw Object.assign(new Error("Cannot find package '" + specifier + "'"), { code: "ERR_MODULE_NOT_FOUND" })
  }
  return next(specifier, context)
}`
const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(hook)}");`

const run = (program: string) =>
  spawnSync(process.execPath, [
    "--import",
    `data:text/javascript,${encodeURIComponent(register)}`,
    "--input-type=module",
    "-e",
    program
  ], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000
  })

/** The modules a `.d.ts` imports, transitively through the package's own files (comments skipped). */
const declaredImports = (entry: string): ReadonlySet<string> => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const code = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "")
    for (const match of code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm)) {
      const specifier = match[1]!
      if (specifier.startsWith(".")) visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".d.ts")))
      else external.add(specifier)
    }
  }
  visit(path.join(dist, entry))
  return external
}

const newKeys = (subpath: object, main: object) => Object.keys(subpath).filter((key) => !(key in main)).sort()

describe("optional peers", () => {
  beforeAll(() => {
    execFileSync("npx", ["tsc", "-b", "packages/platform"], { cwd: root, stdio: "inherit" })
  }, 120_000)

  it("the hook really hides them", () => {
    for (const peer of ["ioredis", "@effect/sql/SqlClient", "@effect/sql-sqlite-node", "better-sqlite3"]) {
      const result = run(`await import(${JSON.stringify(peer)})`)
      expect(result.status, peer).not.toBe(0)
      expect(result.stderr).toContain(`Cannot find package '${peer}'`)
    }
  })

  it("the main entry loads without them, and holds no layer that needs them", () => {
    const result = run(`
      const platform = await import(${JSON.stringify(path.join(dist, "index.js"))})
      console.log(Object.keys(platform).sort().join(","))
      console.log(Object.keys(platform.DurableQueue).sort().join(","))
      console.log(Object.keys(platform.FleetOverride).sort().join(","))
    `)
    expect(result.stderr).toBe("")
    const [modules, durableQueue, fleetOverride] = result.stdout.trim().split("\n")
    expect(modules).toBe("AdminRoutes,DegradationMiddleware,DurableQueue,FaultRoutes,FleetOverride,StatusRoutes")
    expect(durableQueue).toBe("DurableQueueError,Store,make")
    expect(fleetOverride).toBe("Status,status")
  })

  it("each subpath needs its peer, and the import names it", () => {
    for (
      const [subpath, missing] of [
        ["redis.js", /Cannot find package '(ioredis|@effect\/experimental\/PersistedQueue\/Redis)/],
        ["sql.js", /Cannot find package '@effect\/sql\//],
        ["sqlite.js", /Cannot find package '(@effect\/sql-sqlite-node|@effect\/sql\/)/]
      ] as const
    ) {
      const result = run(`await import(${JSON.stringify(path.join(dist, subpath))})`)
      expect(result.status, subpath).not.toBe(0)
      expect(result.stderr).toMatch(missing)
    }
  })

  it("no declaration of the main entry names an optional peer; the subpaths' do", () => {
    const main = [...declaredImports("index.d.ts")]
    expect(main).toContain("@effect/experimental/PersistedQueue")
    expect(main.filter(isOptionalPeer)).toEqual([])
    expect(declaredImports("redis.d.ts")).toContain("ioredis")
    expect(declaredImports("sql.d.ts")).toContain("@effect/sql/SqlClient")
  })

  it("a subpath's module is the main entry's, the same values, plus its layers", () => {
    const subpaths = [Redis.DurableQueue, Sql.DurableQueue, Sqlite.DurableQueue]
    for (const queue of subpaths) {
      expect(queue.make).toBe(Platform.DurableQueue.make)
      expect(queue.Store).toBe(Platform.DurableQueue.Store)
      expect(queue.DurableQueueError).toBe(Platform.DurableQueue.DurableQueueError)
    }
    expect(subpaths.map((queue) => newKeys(queue, Platform.DurableQueue))).toEqual([
      ["layerRedis"],
      ["layerSql"],
      ["layerSqlite"]
    ])
    expect(Redis.FleetOverride.status).toBe(Platform.FleetOverride.status)
    expect(newKeys(Redis.FleetOverride, Platform.FleetOverride)).toEqual(["layer", "layerConfig", "make"])
  })
})
