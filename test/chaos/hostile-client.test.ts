/**
 * A client cannot take the service down. The compiled pricing service on
 * real backends — Postgres (a database of its own on the machine's server,
 * to which a unique and a check constraint are added, so that some refusals
 * come from Postgres itself), a private redis-server, s3rver and the fake
 * OpenAI API — with every breaker set to open after two counted failures,
 * takes a steady interleaved stream of bad requests (ids out of range, NUL
 * and lone-surrogate names, dot keys, oversized, `text/plain` and malformed
 * bodies, unknown fields, wrong methods and paths, prices out of range) and
 * good ones, 8 in flight, for 12 s: every bad request gets its 4xx, every
 * good one succeeds, no breaker leaves Closed, the level stays Optimal, every
 * good product is stored once, every good upload is in s3rver once with its
 * content and nothing is queued, and the service's memory stays bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import {
  type AiServer,
  build,
  metric,
  patientTimeouts,
  type PostgresDatabase,
  type RedisServer,
  residentMegabytes,
  running,
  type S3Server,
  type Service,
  sharedPostgresDatabase,
  sleep,
  startAi,
  startRedis,
  startS3,
  startService,
  stopAll
} from "../fixtures/chaos.js"

const breakers = ["db", "openai", "redis", "s3"] as const
const trafficMillis = 12_000
const inFlight = 8
const maxRequests = 5_000

let database: PostgresDatabase
let redis: RedisServer
let s3: S3Server
let ai: AiServer
let service: Service
/** The well-behaved clients' connections, kept alive between requests. */
const pool = new http.Agent({ keepAlive: true, maxSockets: inFlight })

beforeAll(async () => {
  build()
  database = sharedPostgresDatabase("hostile_client")
  ;[redis, s3, ai] = await Promise.all([startRedis(), startS3(), startAi()])
  service = await startService({
    // Long call timeouts: a loaded machine must not time a backend out; only refusals are under test.
    ...patientTimeouts,
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER",
    OPENAI_BASE_URL: ai.baseUrl,
    OPENAI_API_KEY: "sk-chaos",
    // Two counted failures open any breaker: were refusals counted, the first few would.
    RESILIENCE_DB_FAIL_MAX: "2",
    RESILIENCE_REDIS_FAIL_MAX: "2",
    RESILIENCE_S3_FAIL_MAX: "2",
    RESILIENCE_OPENAI_FAIL_MAX: "2"
  })
  await service.waitForLevel("Optimal", 5000)
  // Rules the service does not check itself, added once its migrations have made the table.
  database.sql("ALTER TABLE products ADD CONSTRAINT products_name_key UNIQUE (name)")
  database.sql("ALTER TABLE products ADD CONSTRAINT products_price_cap CHECK (price < 5000)")
}, 120_000)

afterAll(async () => {
  pool.destroy()
  await stopAll()
  expect(running()).toEqual([])
})

// ---------------------------------------------------------------- requests

interface Answer {
  readonly status: number
  readonly level: string | undefined
  readonly body: any
}

/** A body: bytes sent whole (`content-length` declared), or `bytes` streamed in chunks until the answer. */
type Body = string | Buffer | { readonly declared?: number; readonly bytes: number }

/**
 * One request on `agent`. Once the answer is in, an error on the request is
 * the server closing on a body it refused to read, not a failure.
 */
const send = (
  agent: http.Agent,
  method: string,
  path: string,
  body?: Body,
  headers: Record<string, string> = { "content-type": "application/json" }
) =>
  new Promise<Answer>((resolve, reject) => {
    const stream = typeof body === "object" && !Buffer.isBuffer(body) ? body : undefined
    const whole = stream === undefined ? body as string | Buffer | undefined : undefined
    const length = stream !== undefined ? stream.declared : whole === undefined ? undefined : Buffer.byteLength(whole)
    let answered = false
    const req = http.request({
      host: "127.0.0.1",
      port: service.port,
      method,
      path,
      agent,
      headers: { ...headers, ...(length === undefined ? {} : { "content-length": String(length) }) },
      timeout: 15_000
    }, (res) => {
      answered = true
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", reject)
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let parsed: unknown = text
        try {
          parsed = JSON.parse(text)
        } catch {
          // not JSON: kept as text, which no expectation matches
        }
        const level = res.headers["x-degradation-level"]
        resolve({ status: res.statusCode!, level: typeof level === "string" ? level : undefined, body: parsed })
        // A streamed body the server refused: stop sending it.
        if (stream !== undefined) req.destroy()
      })
    })
    req.on("timeout", () => req.destroy(new Error("no answer within 15 s")))
    req.on("error", (error) => {
      if (!answered) reject(error)
    })
    if (stream === undefined) return void req.end(whole)
    const chunk = Buffer.alloc(64 * 1024, "a")
    let sent = 0
    const pump = () => {
      while (!answered && !req.destroyed && sent < stream.bytes) {
        sent += chunk.length
        if (!req.write(chunk)) return void req.once("drain", pump)
      }
      if (!answered && !req.destroyed) req.end()
    }
    // The start of a JSON document, so that only its size is wrong.
    req.write("{\"content\":\"")
    pump()
  })

/**
 * The hostile client sends each request on a connection of its own, kept
 * alive: the service closes the connection of a request it refused before
 * reading its body (so a pooled connection would be cut under the next
 * request), and lingers while a client still sending is drained — but only
 * on a keep-alive connection; with `Connection: close` the socket is closed
 * at once and a large body's `413` can be lost to a reset.
 */
const hostile = (method: string, path: string, body?: Body, headers?: Record<string, string>) => {
  const own = new http.Agent({ keepAlive: true, maxSockets: 1 })
  return send(own, method, path, body, headers).finally(() => own.destroy())
}

const good = (method: string, path: string, body?: unknown) =>
  send(pool, method, path, body === undefined ? undefined : JSON.stringify(body))

const json = (value: unknown) => JSON.stringify(value)

// ---------------------------------------------------------------- the stream

/** A request and what it must be answered: a status and a part of the body. */
interface Case {
  readonly label: string
  readonly status: number
  readonly run: (n: number) => Promise<Answer>
  /** What the answer's body must contain (see `matches`), for request `n`. */
  readonly body: (n: number) => unknown
  /** Called with the answer once it matched. */
  readonly record?: (n: number, answer: Answer) => void
}

const bad = (
  label: string,
  status: number,
  error: string,
  field: string | undefined,
  run: (n: number) => Promise<Answer>
): Case => ({
  label,
  status,
  run,
  body: () => ({ error, ...(field === undefined ? {} : { field }) })
})

const invalidId = (id: string) =>
  bad(`GET /prices/${id}`, 400, "invalid_request", "id", () => hostile("GET", `/prices/${id}`))

const invalidProduct = (label: string, raw: string, field: string) =>
  bad(`POST /products ${label}`, 400, "invalid_request", field, () => hostile("POST", "/products", raw))

const invalidKey = (key: string) =>
  bad(
    `POST /uploads key ${JSON.stringify(key)}`,
    400,
    "invalid_request",
    "key",
    (n) => hostile("POST", "/uploads", json({ key, content: `escape ${n}` }))
  )

const mib = 1024 * 1024

const badCases: ReadonlyArray<Case> = [
  ...["2147483648", "99999999999", "1e3", "-1", "00001", "0x10", "+1", "0"].map(invalidId),
  bad("GET /prices/2147483647 (no such product)", 404, "not_found", "id", () => hostile("GET", "/prices/2147483647")),
  invalidProduct("NUL in the name", json({ name: "La\u0000mp", price: 1 }), "name"),
  // JSON.stringify writes a lone surrogate as the escape `\ud800`, which the service reads back as one.
  invalidProduct("lone surrogate in the name", json({ name: "La\ud800mp", price: 1 }), "name"),
  invalidProduct("blank name", json({ name: "   ", price: 1 }), "name"),
  invalidProduct("price 1.7976931348623157e308", "{\"name\":\"Yacht\",\"price\":1.7976931348623157e308}", "price"),
  invalidProduct("price 1e400", "{\"name\":\"Yacht\",\"price\":1e400}", "price"),
  invalidProduct("price \"NaN\"", json({ name: "Yacht", price: "NaN" }), "price"),
  invalidProduct("price \"Infinity\"", json({ name: "Yacht", price: "Infinity" }), "price"),
  invalidProduct("price -1", json({ name: "Yacht", price: -1 }), "price"),
  invalidProduct("price NaN (not JSON)", "{\"name\":\"Yacht\",\"price\":NaN}", "body"),
  invalidProduct("malformed JSON", "{\"name\":", "body"),
  invalidProduct("an array", "[]", "body"),
  invalidProduct("unknown field", json({ name: "Yacht", price: 1, admin: true }), "admin"),
  bad(
    "POST /products not UTF-8",
    400,
    "invalid_request",
    "body",
    () => hostile("POST", "/products", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
  ),
  // Refused by Postgres itself (the constraints above): a rejection, not an outage.
  bad(
    "POST /products duplicate name (Postgres unique)",
    409,
    "conflict",
    "name",
    () => hostile("POST", "/products", json({ name: "Widget", price: 1 }))
  ),
  bad(
    "POST /products price 6000 (Postgres check)",
    422,
    "unprocessable",
    undefined,
    (n) => hostile("POST", "/products", json({ name: `Capped ${n}`, price: 6000 }))
  ),
  bad(
    "POST /products text/plain",
    415,
    "unsupported_media_type",
    "content-type",
    () => hostile("POST", "/products", json({ name: "Forged", price: 1 }), { "content-type": "text/plain" })
  ),
  bad(
    "POST /products no content-type",
    415,
    "unsupported_media_type",
    "content-type",
    () => hostile("POST", "/products", json({ name: "Forged", price: 1 }), {})
  ),
  bad(
    "POST /products 70 KiB",
    413,
    "payload_too_large",
    "body",
    () => hostile("POST", "/products", json({ name: "x".repeat(70 * 1024), price: 1 }))
  ),
  bad(
    "POST /products 1 MiB streamed",
    413,
    "payload_too_large",
    "body",
    () => hostile("POST", "/products", { bytes: mib })
  ),
  ...[".", "..", "a/../b", "../../etc/x", "/etc/x", "a//b", "a\\b", "", "a/"].map(invalidKey),
  bad(
    "POST /uploads NUL in the content",
    400,
    "invalid_request",
    "content",
    () => hostile("POST", "/uploads", json({ key: "nul/x.txt", content: "a\u0000b" }))
  ),
  bad(
    "POST /uploads contentType \"text\"",
    400,
    "invalid_request",
    "contentType",
    () => hostile("POST", "/uploads", json({ key: "type/x.txt", content: "x", contentType: "text" }))
  ),
  bad(
    "POST /uploads unknown field",
    400,
    "invalid_request",
    "content_type",
    () => hostile("POST", "/uploads", json({ key: "type/x.txt", content: "x", content_type: "text/plain" }))
  ),
  bad(
    "POST /uploads text/plain",
    415,
    "unsupported_media_type",
    "content-type",
    () => hostile("POST", "/uploads", json({ key: "plain/x.txt", content: "x" }), { "content-type": "text/plain" })
  ),
  bad(
    "POST /uploads content past 4 MiB",
    400,
    "invalid_request",
    "content",
    () => hostile("POST", "/uploads", json({ key: "big/x.txt", content: "x".repeat(4 * mib + 1) }))
  ),
  bad(
    "POST /uploads 100 MiB declared",
    413,
    "payload_too_large",
    "body",
    () => hostile("POST", "/uploads", { declared: 100 * mib, bytes: 100 * mib })
  ),
  bad(
    "POST /uploads 6 MiB streamed",
    413,
    "payload_too_large",
    "body",
    () => hostile("POST", "/uploads", { bytes: 6 * mib })
  ),
  bad(
    "POST /prices/enhance price -1",
    400,
    "invalid_request",
    "items[0].price",
    () => hostile("POST", "/prices/enhance", json({ items: [{ name: "Lamp", price: -1 }] }))
  ),
  bad(
    "POST /prices/enhance price \"NaN\"",
    400,
    "invalid_request",
    "items[0].price",
    () => hostile("POST", "/prices/enhance", json({ items: [{ name: "Lamp", price: "NaN" }] }))
  ),
  bad(
    "POST /ocr/enhance NUL in the text",
    400,
    "invalid_request",
    "text",
    () => hostile("POST", "/ocr/enhance", json({ text: "a\u0000b" }))
  ),
  bad("DELETE /products", 405, "method_not_allowed", undefined, () => hostile("DELETE", "/products")),
  bad("GET /uploads", 405, "method_not_allowed", undefined, () => hostile("GET", "/uploads")),
  bad("PUT /prices/1", 405, "method_not_allowed", undefined, () => hostile("PUT", "/prices/1", "{}")),
  bad("GET /prices/enhance", 405, "method_not_allowed", undefined, () => hostile("GET", "/prices/enhance")),
  bad("GET /nope", 404, "not_found", undefined, () => hostile("GET", "/nope")),
  bad("POST /prices", 404, "not_found", undefined, () => hostile("POST", "/prices", "{}")),
  bad("GET /prices/1/extra", 404, "not_found", undefined, () => hostile("GET", "/prices/1/extra")),
  bad("GET /admin/degradation (admin off)", 404, "not_found", undefined, () => hostile("GET", "/admin/degradation"))
]

/** What was created, to look for in Postgres and s3rver afterwards. */
const created = new Map<string, number>()
const uploaded = new Map<string, { readonly content: string; readonly contentType: string }>()

/** The seeded products, priced by the fake model (× 1.1). */
const seeded = [
  { id: 1, base_price: 100, price: 110 },
  { id: 2, base_price: 250, price: 275 },
  { id: 3, base_price: 42.5, price: 46.75 }
]

/** Every tenth good upload is 1 MiB: large, within the limits. */
const uploadContent = (n: number) => n % 10 === 0 ? `large ${n} `.padEnd(mib, "z") : `upload ${n} `.repeat(200)

const goodCases: ReadonlyArray<Case> = [
  ...seeded.map(({ id, ...price }): Case => ({
    label: `GET /prices/${id}`,
    status: 200,
    run: () => good("GET", `/prices/${id}`),
    body: () => ({ id, ...price, enhanced: true, level: "Optimal" })
  })),
  {
    label: "POST /products",
    status: 201,
    run: (n) => good("POST", "/products", { name: `Good ${n}`, price: n % 4000 + 0.25 }),
    body: (n) => ({ name: `Good ${n}`, price: n % 4000 + 0.25 }),
    record: (n, answer) => created.set(`Good ${n}`, answer.body.price)
  },
  {
    label: "POST /uploads",
    status: 201,
    run: (n) =>
      good("POST", "/uploads", { key: `good/${n}.txt`, content: uploadContent(n), contentType: "text/plain" }),
    body: (n) => ({ status: "stored", key: `good/${n}.txt` }),
    record: (n) => uploaded.set(`good/${n}.txt`, { content: uploadContent(n), contentType: "text/plain" })
  },
  {
    label: "POST /uploads (default key)",
    status: 201,
    run: (n) => good("POST", "/uploads", { content: `unnamed ${n}` }),
    body: () => ({ status: "stored", key: /^uploads\/[0-9a-f-]{36}$/ }),
    record: (n, answer) =>
      uploaded.set(answer.body.key, { content: `unnamed ${n}`, contentType: "application/octet-stream" })
  },
  {
    label: "POST /prices/enhance",
    status: 200,
    run: () => good("POST", "/prices/enhance", { items: [{ name: "Lamp", price: 20 }] }),
    body: () => ({ prices: [22], enhanced: true })
  },
  {
    label: "POST /ocr/enhance",
    status: 200,
    run: () => good("POST", "/ocr/enhance", { text: "  total   42 " }),
    body: () => ({ text: "total 42", ocr_enhanced: true })
  }
]

/** Three bad requests, then a good one, round after round. */
const schedule: ReadonlyArray<Case> = badCases.flatMap((c, i) =>
  i % 3 === 2 ? [c, goodCases[Math.floor(i / 3) % goodCases.length]!] : [c]
)

// ---------------------------------------------------------------- watching the service

/** Whether `actual` has everything `expected` has (a `RegExp` matches a string), as `toMatchObject` says. */
const matches = (actual: unknown, expected: unknown): boolean =>
  expected instanceof RegExp
    ? typeof actual === "string" && expected.test(actual)
    : Array.isArray(expected)
    ? Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e))
    : typeof expected === "object" && expected !== null
    ? typeof actual === "object" && actual !== null &&
      Object.entries(expected).every(([key, value]) => matches((actual as Record<string, unknown>)[key], value))
    : Object.is(actual, expected)

const excerpt = (body: unknown) => (typeof body === "string" ? body : JSON.stringify(body)).slice(0, 300)

interface Miss {
  readonly request: string
  readonly expected: number
  readonly status: number | string
  readonly body?: string
}

/** What the stream was answered. */
interface Answered {
  /** Requests per case label. */
  readonly answered: Map<string, number>
  /** Every `x-degradation-level` seen. */
  readonly levels: Set<string>
  /** Every request not answered as its case says. */
  readonly misses: Array<Miss>
}

/** The schedule, `inFlight` requests at a time, for `trafficMillis` (or `maxRequests`). */
const stream = async (): Promise<Answered> => {
  const out: Answered = { answered: new Map(), levels: new Set(), misses: [] }
  let next = 0
  const deadline = performance.now() + trafficMillis
  const worker = async () => {
    while (performance.now() < deadline && next < maxRequests) {
      const n = next++
      const c = schedule[n % schedule.length]!
      const request = `#${n} ${c.label}`
      out.answered.set(c.label, (out.answered.get(c.label) ?? 0) + 1)
      const answer = await c.run(n).catch((error: unknown) => String(error instanceof Error ? error.message : error))
      if (typeof answer === "string") {
        out.misses.push({ request, expected: c.status, status: `error: ${answer}` })
      } else if (answer.status !== c.status || !matches(answer.body, c.body(n))) {
        out.levels.add(String(answer.level))
        out.misses.push({ request, expected: c.status, status: answer.status, body: excerpt(answer.body) })
      } else {
        out.levels.add(String(answer.level))
        c.record?.(n, answer)
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return out
}

/** `/status` every 200 ms: its level and every dependency that is not up with its breaker Closed. */
const watchStatus = (until: () => boolean) => {
  const levels: Array<string> = []
  const unhealthy: Array<
    { readonly atMs: number; readonly name: string; readonly breaker: string; readonly up: boolean }
  > = []
  const started = performance.now()
  const done = (async () => {
    while (!until()) {
      const status = await service.status()
      levels.push(status.level)
      for (const d of status.dependencies) {
        if (d.breaker !== "Closed" || d.up !== true) {
          unhealthy.push({ atMs: Math.round(performance.now() - started), name: d.name, breaker: d.breaker, up: d.up })
        }
      }
      await sleep(200)
    }
  })()
  return { levels, unhealthy, done }
}

/** The service's resident memory every 100 ms: the largest seen. */
const watchMemory = (until: () => boolean) => {
  const state = { peak: 0, samples: 0 }
  const done = (async () => {
    while (!until()) {
      state.peak = Math.max(state.peak, residentMegabytes(service.proc.pid))
      state.samples++
      await sleep(100)
    }
  })()
  return { state, done }
}

const sum = (text: string, name: string) =>
  text.split("\n").filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `)).reduce(
    (total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)),
    0
  )

const calls = (text: string, breaker: string, outcome: string) =>
  metric(text, "circuit_breaker_calls_total", { breaker, outcome }) ?? 0

describe("chaos: a hostile client", () => {
  it.live(
    "12 s of bad requests among good ones: all 4xx, good ones served, breakers Closed, Optimal, uploads stored once",
    () =>
      Effect.promise(async () => {
        // Warm up: the first reads fill the cache, so the baseline memory is the service's working size.
        for (const c of goodCases.slice(0, 3)) expect((await c.run(0)).status).toBe(200)
        const before = await service.metrics()
        const baselineMegabytes = residentMegabytes(service.proc.pid)

        let stopped = false
        const status = watchStatus(() => stopped)
        const memory = watchMemory(() => stopped)
        const { answered, levels, misses } = await stream()
        stopped = true
        await Promise.all([status.done, memory.done])
        // One more recovery interval (1 s) and health check after the last request.
        await sleep(1500)
        const final = await service.status()
        const after = await service.metrics()

        // Every request answered as the README says: bad ones their 4xx, good ones 200/201.
        expect(misses).toEqual([])
        expect([...levels]).toEqual(["Optimal"])
        // Every case ran, the refusals Postgres makes itself more often than a breaker's two failures.
        for (const c of [...badCases, ...goodCases]) {
          expect(answered.get(c.label) ?? 0, c.label).toBeGreaterThanOrEqual(3)
        }

        // Optimal throughout, every dependency up with its breaker Closed, in every sample and at the end.
        expect(status.levels.length).toBeGreaterThanOrEqual(trafficMillis / 1000)
        expect(new Set(status.levels)).toEqual(new Set(["Optimal"]))
        expect(status.unhealthy).toEqual([])
        expect(final.level).toBe("Optimal")
        expect(final.transitions).toEqual([])
        expect(final.dependencies.map((d: any) => [d.name, d.breaker, d.up]).sort()).toEqual(
          breakers.map((name) => [name, "Closed", true])
        )

        // Nothing counted against a breaker, nothing fell back, nothing shed, no level change.
        expect(metric(after, "degradation_level")).toBe(1)
        expect(sum(after, "degradation_transitions_total")).toBe(0)
        expect(sum(after, "http_requests_shed_total")).toBe(0)
        for (const breaker of breakers) {
          expect(metric(after, "circuit_breaker_state", { breaker }), breaker).toBe(0)
          expect(metric(after, "circuit_breaker_failures_total", { breaker }), breaker).toBe(0)
          for (const outcome of ["failure", "timeout", "rejected"]) {
            expect(metric(after, "circuit_breaker_calls_total", { breaker, outcome }), `${breaker} ${outcome}`).toBe(0)
          }
          expect(metric(after, "circuit_breaker_fallback_calls_total", { breaker }), breaker).toBe(0)
        }
        // Postgres's own refusals reached it, and were ignored by the breaker, each of them.
        const refusedByPostgres = (answered.get("POST /products duplicate name (Postgres unique)") ?? 0) +
          (answered.get("POST /products price 6000 (Postgres check)") ?? 0)
        expect(calls(after, "db", "ignored") - calls(before, "db", "ignored")).toBe(refusedByPostgres)

        // Every good product stored once, nothing else.
        const rows = database.sql("SELECT name, price FROM products WHERE id > 3 ORDER BY name COLLATE \"C\"").trim()
        expect(rows === "" ? [] : rows.split("\n")).toEqual(
          [...created].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, price]) => `${name}|${price}`)
        )
        expect(created.size).toBeGreaterThanOrEqual(3)

        // Every good upload stored once, straight (one PUT each, none queued), nothing else in the bucket.
        for (
          const name of ["write_behind_queue_depth", "write_behind_enqueued_total", "write_behind_dead_lettered_total"]
        ) {
          expect(metric(after, name, { dependency: "s3" }), name).toBe(0)
        }
        expect(calls(after, "s3", "success") - calls(before, "s3", "success")).toBe(uploaded.size)
        expect(s3.keys()).toEqual([...uploaded.keys()].sort())
        for (const [key, { content, contentType }] of uploaded) {
          const object = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`)
          expect(object.status, key).toBe(200)
          expect(object.headers.get("content-type"), key).toBe(contentType)
          expect(await object.text(), key).toBe(content)
        }

        // Bodies past the limits were never held. Bodies within them are (8 in flight, up to 5 MiB, a few
        // copies each: ~80-90 MiB seen); one 100 MiB body read whole, then joined, would pass 150.
        expect(memory.state.samples).toBeGreaterThanOrEqual(trafficMillis / 200)
        expect(memory.state.peak - baselineMegabytes).toBeLessThan(150)
      }),
    60_000
  )
})
