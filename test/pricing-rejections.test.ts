/**
 * A backend that refuses one request is not down. The running pricing
 * service (compiled `dist/`) on Postgres (a database of its own on the
 * machine's server, to which a DBA adds a unique and a check constraint),
 * an OpenAI-compatible API and an S3-protocol server (both stand-ins in
 * this process, refusing some requests with a `400`): every refusal is
 * answered `409`/`422` — a refused upload is never queued, a refused prompt
 * never gets the baseline — and however many there are, no breaker opens and
 * the level stays Optimal.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type * as net from "node:net"
import {
  build,
  metric,
  patientTimeouts,
  type PostgresDatabase,
  running,
  type Service,
  sharedPostgresDatabase,
  startService,
  stopAll
} from "./fixtures/chaos.js"

/** A local HTTP server answering `handle`; resolves with its base URL once it listens. */
const listen = (handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void) =>
  new Promise<{ readonly url: string; readonly server: http.Server }>((resolve) => {
    const server = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => handle(req, body, res))
    })
    server.listen(
      0,
      "127.0.0.1",
      () => resolve({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server })
    )
  })

const sendJson = (res: http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

/** Chat completions that refuse (`400`, as OpenAI does for a policy violation) any prompt that says "refuse". */
const fakeOpenAi = () =>
  listen((req, body, res) => {
    if (req.url?.startsWith("/v1/models")) return sendJson(res, 200, { object: "list", data: [] })
    const prompt = JSON.parse(JSON.parse(body).messages.at(-1).content)
    if (JSON.stringify(prompt).includes("refuse")) {
      return sendJson(res, 400, {
        error: { message: "This prompt was refused.", type: "invalid_request_error", code: "content_policy_violation" }
      })
    }
    const content = JSON.stringify({ prices: prompt.items.map((item: { price: number }) => item.price * 2) })
    sendJson(res, 200, {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 0,
      model: "fake",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }]
    })
  })

/** An S3 bucket that refuses (`400 InvalidArgument`) every key under `refused/`. */
const fakeS3 = () =>
  listen((req, _body, res) => {
    if (req.method === "HEAD") return res.writeHead(200).end()
    if (req.url?.includes("/refused/")) {
      return res.writeHead(400, { "content-type": "application/xml" }).end(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidArgument</Code><Message>no</Message></Error>"
      )
    }
    res.writeHead(200, { etag: "\"0\"" }).end()
  })

let database: PostgresDatabase
let service: Service
const servers: Array<http.Server> = []

beforeAll(async () => {
  build()
  database = sharedPostgresDatabase("pricing_rejections")
  const [ai, s3] = await Promise.all([fakeOpenAi(), fakeS3()])
  servers.push(ai.server, s3.server)
  service = await startService({
    ...patientTimeouts,
    DATABASE_URL: database.url,
    OPENAI_BASE_URL: `${ai.url}/v1`,
    OPENAI_API_KEY: "sk-test",
    S3_ENDPOINT: s3.url,
    S3_BUCKET: "bucket",
    S3_ACCESS_KEY_ID: "key",
    S3_SECRET_ACCESS_KEY: "secret"
  })
  await service.waitForLevel("Optimal", 5000)
  // Rules the service does not know about, added once its migrations have made the table.
  database.sql("ALTER TABLE products ADD CONSTRAINT products_name_key UNIQUE (name)")
  database.sql("ALTER TABLE products ADD CONSTRAINT products_price_cap CHECK (price < 5000)")
}, 120_000)

afterAll(async () => {
  await stopAll()
  for (const server of servers) server.close()
  expect(running()).toEqual([])
})

const calls = async (breaker: string) => {
  const text = await service.metrics()
  return {
    failure: metric(text, "circuit_breaker_calls_total", { breaker, outcome: "failure" }),
    ignored: metric(text, "circuit_breaker_calls_total", { breaker, outcome: "ignored" }) ?? 0,
    fallbacks: metric(text, "circuit_breaker_fallback_calls_total", { breaker })
  }
}

const breakerOf = async (name: string) =>
  (await service.status()).dependencies.find((d: any) => d.name === name).breaker as string

describe("pricing service: rejections are not outages", () => {
  it.live(
    "Postgres refuses a duplicate (409 naming the column) and a check (422); db stays Closed",
    () =>
      Effect.promise(async () => {
        const before = await calls("db")
        // RESILIENCE_DB_FAIL_MAX is 2: four refusals would open it twice over, were they counted.
        for (let i = 0; i < 2; i++) {
          const duplicate = await service.post("/products", { name: "Widget", price: 1 })
          expect(duplicate.status).toBe(409)
          expect(duplicate.body).toMatchObject({ error: "conflict", field: "name" })
          const capped = await service.post("/products", { name: `Yacht ${i}`, price: 6000 })
          expect(capped.status).toBe(422)
          expect(capped.body).toMatchObject({ error: "unprocessable" })
          expect(capped.body.message).toContain("products_price_cap")
        }
        const after = await calls("db")
        expect(after.failure).toBe(before.failure)
        expect(after.ignored - before.ignored).toBe(4)
        // No fallback ran: the writes were refused, not blocked.
        expect(after.fallbacks).toBe(before.fallbacks)
        expect(await breakerOf("db")).toBe("Closed")
        expect(await service.level()).toBe("Optimal")
        expect((await service.post("/products", { name: "Lamp", price: 20 })).status).toBe(201)
      }),
    30_000
  )

  it.live(
    "the model refuses a prompt: 422 (not the baseline); openai stays Closed; prices still priced",
    () =>
      Effect.promise(async () => {
        const before = await calls("openai")
        for (let i = 0; i < 4; i++) {
          const refused = await service.post("/prices/enhance", { items: [{ name: "please refuse", price: 10 }] })
          expect(refused.status).toBe(422)
          expect(refused.body).toMatchObject({ error: "unprocessable" })
        }
        const after = await calls("openai")
        expect(after.failure).toBe(before.failure)
        expect(after.fallbacks).toBe(before.fallbacks)
        expect(await breakerOf("openai")).toBe("Closed")
        expect(await service.level()).toBe("Optimal")
        expect((await service.post("/prices/enhance", { items: [{ name: "Lamp", price: 10 }] })).body).toEqual({
          prices: [20],
          enhanced: true
        })
        // A stored product whose prompt is refused gets the baseline price, not a 503.
        const product = await service.post("/products", { name: "Do refuse me", price: 10 })
        const read = await service.get(`/prices/${product.body.id}`)
        expect(read.status).toBe(200)
        expect(read.body).toMatchObject({ price: 13, base_price: 10, enhanced: false })
      }),
    30_000
  )

  it.live(
    "the object store refuses an upload: 422, never 202 queued; s3 stays Closed",
    () =>
      Effect.promise(async () => {
        const text = await service.metrics()
        const enqueued = metric(text, "write_behind_enqueued_total", { dependency: "s3" })
        const before = await calls("s3")
        // RESILIENCE_S3_FAIL_MAX is 3.
        for (let i = 0; i < 5; i++) {
          const refused = await service.post("/uploads", { key: `refused/${i}.txt`, content: "no" })
          expect(refused.status).toBe(422)
          expect(refused.body).toMatchObject({ error: "unprocessable" })
          expect(refused.body.message).toContain("InvalidArgument")
        }
        const after = await service.metrics()
        expect(metric(after, "write_behind_enqueued_total", { dependency: "s3" })).toBe(enqueued)
        expect(metric(after, "write_behind_queue_depth", { dependency: "s3" })).toBe(0)
        expect((await calls("s3")).failure).toBe(before.failure)
        expect(await breakerOf("s3")).toBe("Closed")
        expect(await service.level()).toBe("Optimal")
        expect((await service.post("/uploads", { key: "docs/ok.txt", content: "yes" })).status).toBe(201)
      }),
    30_000
  )
})
