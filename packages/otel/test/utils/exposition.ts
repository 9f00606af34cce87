/**
 * A small parser for the Prometheus text exposition format (0.0.4), enough to
 * check what a scrape exposes: families with their TYPE and their samples.
 */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string
  readonly samples: ReadonlyArray<Sample>
}

const unescape = (s: string) => s.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))

const parseLabels = (text: string): Record<string, string> => {
  const labels: Record<string, string> = {}
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g
  let match: RegExpExecArray | null
  let consumed = 0
  while ((match = re.exec(text)) !== null) {
    labels[match[1]!] = unescape(match[2]!)
    consumed += match[0].length
  }
  if (consumed !== text.length) throw new Error(`bad label set: {${text}}`)
  return labels
}

const parseValue = (s: string): number =>
  s === "+Inf" ? Infinity : s === "-Inf" ? -Infinity : s === "NaN" ? NaN : Number(s)

/** Parses an exposition; throws on a malformed line. */
export const parse = (text: string): Map<string, Family> => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "") continue
    if (line.startsWith("#")) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)$/.exec(line)
      if (m) types.set(m[1]!, m[2]!)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line)
    if (!m) throw new Error(`malformed sample line: ${line}`)
    const value = parseValue(m[3]!)
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value in: ${line}`)
    samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2]) : {}, value })
  }
  const families = new Map<string, Family>()
  for (const [name, type] of types) families.set(name, { name, type, samples: [] })
  for (const sample of samples) {
    const family = familyOf(sample.name, types)
    if (family === undefined) throw new Error(`sample without # TYPE: ${sample.name}`)
    ;(families.get(family)!.samples as Array<Sample>).push(sample)
  }
  return families
}

const familyOf = (sample: string, types: Map<string, string>): string | undefined => {
  if (types.has(sample)) return sample
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length)
      if (types.get(base) === "histogram") return base
    }
  }
  return undefined
}

/** Samples of a family whose labels include `match`. */
export const select = (
  families: Map<string, Family>,
  name: string,
  match: Readonly<Record<string, string>> = {}
): ReadonlyArray<Sample> =>
  (families.get(familyOf(name, new Map([...families].map(([k, f]) => [k, f.type]))) ?? name)?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))

/** The value of the one sample of `name` with labels `match`; throws when there is not exactly one. */
export const value = (
  families: Map<string, Family>,
  name: string,
  match: Readonly<Record<string, string>> = {}
): number => {
  const found = select(families, name, match)
  if (found.length !== 1) {
    throw new Error(`expected one sample ${name}${JSON.stringify(match)}, found ${found.length}`)
  }
  return found[0]!.value
}
