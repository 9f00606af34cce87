#!/usr/bin/env node
// Type-checks every ```ts block of the READMEs, so a sample cannot drift from the API.
//
// Each block becomes one module under build/readme/ and the lot is checked by one `tsc --noEmit`
// under tsconfig.base.json (strict, exactOptionalPropertyTypes, noUnusedLocals, NodeNext), importing
// the packages as a user does ("@effect-resilience/core", …: the workspace links, whose `exports`
// give dist/*.d.ts, rebuilt first). A fragment names the context it assumes in an HTML comment on
// the line before its fence (GitHub does not render it):
//
//   <!-- check: prelude=core -->
//
// scripts/readme-preludes/core.ts then exports what the fragment uses without defining it (the
// user's own services, errors, layers); the block imports exactly the exported names it mentions.
// Top-level names a sample defines must be used or exported: noUnusedLocals stays on.
//
// Usage: node scripts/check-readme.mjs [README.md …]   (default: the three READMEs below)
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const outDir = join(root, "build", "readme")
const preludeDir = join(root, "scripts", "readme-preludes")
const packages = ["core", "otel", "platform"] // what the samples import, as "@effect-resilience/<name>"
const readmes = process.argv.length > 2
  ? process.argv.slice(2).map((p) => resolve(p))
  : ["README.md", "packages/core/README.md", "packages/platform/README.md", "packages/otel/README.md"].map((p) =>
    join(root, p)
  )

const fail = (message) => {
  console.error(`check-readme: ${message}`)
  process.exit(1)
}

// --- extract -------------------------------------------------------------------------------------

/** Every ```ts / ```typescript block: its README, the line of its first code line, its code, its prelude. */
const extract = (file) => {
  const lines = readFileSync(file, "utf8").split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i])
    if (!open) continue
    const indent = open[1]
    let end = i + 1
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++
    if (end === lines.length) fail(`${relative(root, file)}:${i + 1}: unclosed code block`)
    let prev = i - 1
    while (prev >= 0 && lines[prev].trim() === "") prev--
    const directive = prev >= 0 ? /^\s*<!--\s*check:\s*(.*?)\s*-->\s*$/.exec(lines[prev]) : null
    let prelude
    if (directive) {
      const m = /^prelude=([\w-]+)$/.exec(directive[1])
      if (!m) fail(`${relative(root, file)}:${prev + 1}: unknown directive "${directive[1]}" (expected prelude=<name>)`)
      prelude = m[1]
    }
    blocks.push({
      file,
      firstLine: i + 2, // 1-based README line of the block's first code line
      code: lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l)),
      prelude
    })
    i = end
  }
  return blocks
}

// --- preludes ------------------------------------------------------------------------------------

const preludeCache = new Map()
/** The names a prelude exports, each marked as a type (imported with `type`) or a value. */
const preludeExports = (name) => {
  if (preludeCache.has(name)) return preludeCache.get(name)
  let text
  try {
    text = readFileSync(join(preludeDir, `${name}.ts`), "utf8")
  } catch {
    return undefined
  }
  const names = new Map()
  for (
    const m of text.matchAll(
      /^export\s+(?:declare\s+)?(?:abstract\s+)?(const|let|var|class|function|type|interface|enum)\s+([A-Za-z_$][\w$]*)/gm
    )
  ) {
    names.set(m[2], m[1] === "type" || m[1] === "interface")
  }
  for (const m of text.matchAll(/^export\s+(type\s+)?\{([^}]*)\}/gm)) {
    for (const part of m[2].split(",")) {
      const p = part.trim()
      if (!p) continue
      const isType = Boolean(m[1]) || p.startsWith("type ")
      const alias = p.replace(/^type\s+/, "").split(/\s+as\s+/).pop().trim()
      names.set(alias, isType)
    }
  }
  preludeCache.set(name, names)
  return names
}

const escape = (s) => s.replace(/[$]/g, "\\$")

/** The prelude names the block mentions (not as a property) and neither imports nor declares itself. */
const usedPreludeNames = (code, names) => {
  // Line comments name things too; a spread's dots are not a property access.
  const text = code.map((l) => l.replace(/\/\/.*$/, "").replaceAll("...", "   ")).join("\n")
  const own = new Set()
  for (const m of text.matchAll(/^\s*import\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const p of m[1].split(",")) own.add(p.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop().trim())
  }
  for (const m of text.matchAll(/^\s*import\s+(?:type\s+)?(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)\s+from/gm)) own.add(m[1])
  for (const m of text.matchAll(/\b(?:const|let|var|class|function|type|interface|enum)\s+([A-Za-z_$][\w$]*)/g)) {
    own.add(m[1])
  }
  const used = []
  for (const [name, isType] of names) {
    if (own.has(name)) continue
    if (new RegExp(`(?<![\\w$.])${escape(name)}(?![\\w$])`).test(text)) used.push(isType ? `type ${name}` : name)
  }
  return used
}

// --- generate ------------------------------------------------------------------------------------

const blocks = readmes.flatMap(extract)
if (blocks.length === 0) fail("no ```ts blocks found")

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })

const HEADER = 2 // generated lines before the block's first line
const sources = new Map() // generated file name -> block
blocks.forEach((block, n) => {
  const base = relative(root, block.file).replace(/[/\\]/g, "_").replace(/\.md$/i, "")
  const name = `${base}_${String(n + 1).padStart(2, "0")}_L${block.firstLine - 1}.ts`
  let importLine = ""
  if (block.prelude) {
    const names = preludeExports(block.prelude)
    if (!names) {
      fail(
        `${relative(root, block.file)}:${block.firstLine - 2}: no prelude scripts/readme-preludes/${block.prelude}.ts`
      )
    }
    const used = usedPreludeNames(block.code, names)
    const spec = relative(outDir, join(preludeDir, `${block.prelude}.js`)).replace(/\\/g, "/")
    if (used.length > 0) importLine = `import { ${used.join(", ")} } from "${spec}"`
  }
  const header = [
    `// ${relative(root, block.file)}:${block.firstLine} (generated by scripts/check-readme.mjs)`,
    importLine
  ]
  if (header.length !== HEADER) throw new Error("header length")
  writeFileSync(join(outDir, name), [...header, ...block.code, ""].join("\n"))
  sources.set(name, block)
})

const base = relative(outDir, join(root, "tsconfig.base.json")).replace(/\\/g, "/")
writeFileSync(
  join(outDir, "tsconfig.json"),
  JSON.stringify(
    {
      extends: base,
      compilerOptions: {
        noEmit: true,
        composite: false,
        incremental: false,
        declaration: false,
        declarationMap: false,
        sourceMap: false
      },
      include: ["*.ts", `${relative(outDir, preludeDir).replace(/\\/g, "/")}/*.ts`] // every prelude, used or not
    },
    null,
    2
  ) + "\n"
)

// --- check ---------------------------------------------------------------------------------------

const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc")
// The packages' `exports` give their types from dist/*.d.ts: build them first so a sample is checked
// against the current sources (incremental, instant when dist is up to date).
const build = spawnSync(process.execPath, [tsc, "-b", ...packages.map((p) => join(root, "packages", p))], {
  cwd: root,
  stdio: "inherit"
})
if (build.status !== 0) fail(`tsc -b of packages/{${packages.join(",")}} failed: fix the build first`)
const run = spawnSync(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", join(outDir, "tsconfig.json")], {
  cwd: root,
  encoding: "utf8"
})
if (run.error) fail(`could not run tsc: ${run.error.message}`)
const output = `${run.stdout}${run.stderr}`

// Rewrite `build/readme/<file>.ts(line,col)` into the README position it came from.
let errors = 0
const report = []
for (const line of output.split("\n")) {
  if (line.trim() === "") continue
  const m = /^(.*?)\((\d+),(\d+)\): (error|warning) (TS\d+: .*)$/.exec(line)
  if (!m) {
    report.push(line)
    continue
  }
  if (m[4] === "error") errors++
  const file = resolve(root, m[1])
  const block = sources.get(relative(outDir, file))
  const genLine = Number(m[2])
  if (block && genLine > HEADER) {
    const readmeLine = block.firstLine + genLine - HEADER - 1
    report.push(`${relative(root, block.file)}:${readmeLine}:${m[3]}: ${m[5]}`)
    report.push(`    ${block.code[genLine - HEADER - 1].trim()}`)
  } else if (block) {
    report.push(`${relative(root, block.file)}:${block.firstLine - 1}: (prelude import of this block) ${m[5]}`)
  } else {
    report.push(`${relative(root, file)}:${m[2]}:${m[3]}: ${m[5]}`)
  }
}

const where = [...new Set(blocks.map((b) => relative(root, b.file)))].join(", ")
if (run.status !== 0 || errors > 0) {
  console.error(report.join("\n"))
  console.error(
    `check-readme: ${errors || "tsc"} error(s) in ${blocks.length} blocks of ${where} (generated files in ${
      relative(root, outDir)
    }/)`
  )
  process.exit(1)
}
console.log(`check-readme: ${blocks.length} blocks of ${where} type-check`)
