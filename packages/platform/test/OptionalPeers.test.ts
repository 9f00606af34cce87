import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const dist = path.join(root, "packages/platform/dist/index.js")

// A resolve hook that makes the optional peers missing, as in a project that did not install them.
const hook = `
export async function resolve(specifier, context, next) {
  if (/^(ioredis|better-sqlite3|@effect\\/sql-sqlite-node)(\\/|$)/.test(specifier) || /PersistedQueue\\/Redis/.test(specifier)) {
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

describe("optional peers", () => {
  beforeAll(() => {
    execFileSync("npx", ["tsc", "-b", "packages/platform"], { cwd: root, stdio: "inherit" })
  }, 120_000)

  it("the hook really hides them", () => {
    const result = run(`await import("ioredis")`)
    expect(result.status).not.toBe(0)
    expect(result.stderr).toContain("Cannot find package 'ioredis'")
  })

  it("importing the package works without ioredis and SQLite; their layers name the missing package", () => {
    const result = run(`
      import { Effect, Layer } from "effect"
      const platform = await import(${JSON.stringify(dist)})
      console.log(Object.keys(platform).sort().join(","))
      const exit = await Effect.runPromiseExit(Layer.build(platform.DurableQueue.layerRedis({ port: 1 })).pipe(Effect.scoped))
      console.log(JSON.stringify(exit.cause?.error?.message ?? exit._tag))
    `)
    expect(result.stderr).toBe("")
    const [exports, message] = result.stdout.trim().split("\n")
    expect(exports).toContain("DegradationMiddleware")
    expect(exports).toContain("DurableQueue")
    expect(message).toContain("needs the package ioredis")
  })
})
