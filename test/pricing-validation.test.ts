/**
 * The pricing service (compiled `dist/`, a child process) refuses what its
 * backends would refuse or change, with a `400` naming the field, before any
 * backend sees it — on its embedded defaults (SQLite) and on Postgres (a
 * database of its own on the machine's server). So ids out of Postgres
 * `integer`, NUL or lone surrogates in text, and prices that do not
 * round-trip can no longer open the db breaker or come back as `null`: the
 * level stays Optimal and the breaker Closed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
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

let embedded: Service
let postgres: Service
let database: PostgresDatabase

beforeAll(async () => {
  build()
  database = sharedPostgresDatabase("pricing_validation")
  ;[embedded, postgres] = await Promise.all([
    startService(patientTimeouts),
    startService({ ...patientTimeouts, DATABASE_URL: database.url })
  ])
  await Promise.all([embedded.waitForLevel("Optimal", 5000), postgres.waitForLevel("Optimal", 5000)])
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

const both = () => [["sqlite", embedded], ["postgres", postgres]] as const

/** The body as sent, not through JSON.stringify: `1e400` is valid JSON for a number. */
const postRaw = (service: Service, path: string, body: string) =>
  fetch(service.url + path, { method: "POST", headers: { "content-type": "application/json" }, body }).then(
    async (r) => ({ status: r.status, body: await r.json() as any })
  )

const dbBreaker = async (service: Service) =>
  (await service.status()).dependencies.find((d: any) => d.name === "db").breaker as string

describe("pricing service: what the backends accept", () => {
  it.live(
    "ids in the path: canonical decimal integers from 1 to 2147483647, else 400 naming id",
    () =>
      Effect.promise(async () => {
        for (const [backend, service] of both()) {
          for (const id of ["2147483648", "0", "-1", "+1", "1e3", "0x10", "00001", "1.5", "99999999999"]) {
            const r = await service.get(`/prices/${encodeURIComponent(id)}`)
            expect(r.status, `${backend} ${id}`).toBe(400)
            expect(r.body).toMatchObject({ error: "invalid_request", field: "id" })
            expect(r.body.message).toContain("2147483647")
          }
          // The largest id is valid: no such product.
          const largest = await service.get("/prices/2147483647")
          expect(largest.status, backend).toBe(404)
          expect((await service.get("/prices/1")).body).toMatchObject({ id: 1, base_price: 100 })
        }
      }),
    30_000
  )

  it.live(
    "Postgres: three ids beyond integer and a NUL name do not degrade the service (Optimal, db breaker Closed)",
    () =>
      Effect.promise(async () => {
        const before = await postgres.metrics()
        const failuresBefore = metric(before, "circuit_breaker_calls_total", { breaker: "db", outcome: "failure" })
        expect(failuresBefore).toBe(0)
        for (let i = 0; i < 3; i++) expect((await postgres.get("/prices/2147483648")).status).toBe(400)
        const nul = await postgres.post("/products", { name: "La\u0000mp", price: 1 })
        expect(nul.status).toBe(400)
        expect(nul.body).toMatchObject({ error: "invalid_request", field: "name" })
        const surrogate = await postRaw(postgres, "/products", "{\"name\":\"La\\ud800mp\",\"price\":1}")
        expect(surrogate.status).toBe(400)
        expect(surrogate.body).toMatchObject({ field: "name" })
        expect(surrogate.body.message).toContain("surrogate")
        // More than RESILIENCE_DB_FAIL_MAX (2) calls, had they reached Postgres.
        expect(await postgres.level()).toBe("Optimal")
        expect(await dbBreaker(postgres)).toBe("Closed")
        const after = await postgres.metrics()
        expect(metric(after, "circuit_breaker_calls_total", { breaker: "db", outcome: "failure" })).toBe(
          failuresBefore
        )
        expect(metric(after, "degradation_level")).toBe(1)
        // No such row was written.
        expect(database.sql("SELECT count(*) FROM products WHERE position(chr(65533) in name) > 0")).toBe("0\n")
      }),
    30_000
  )

  it.live(
    "names are trimmed; empty, too long and control characters are refused with the field",
    () =>
      Effect.promise(async () => {
        for (const [backend, service] of both()) {
          const created = await service.post("/products", { name: "  Desk lamp  ", price: 20 })
          expect(created.status, backend).toBe(201)
          expect(created.body.name).toBe("Desk lamp")
          expect((await service.get(`/prices/${created.body.id}`)).body.name).toBe("Desk lamp")
          for (const name of ["   ", "x".repeat(201), "a\nb"]) {
            const r = await service.post("/products", { name, price: 1 })
            expect(r.status, `${backend} ${JSON.stringify(name)}`).toBe(400)
            expect(r.body.field).toBe("name")
          }
          const missing = await service.post("/products", { price: 1 })
          expect(missing.body).toMatchObject({ field: "name", message: "name is missing" })
        }
      }),
    30_000
  )

  it.live(
    "prices: finite, 0 to 1e9; the largest round-trips as a number through SQLite, Postgres and JSON",
    () =>
      Effect.promise(async () => {
        for (const [backend, service] of both()) {
          for (
            const body of ["{\"name\":\"a\",\"price\":1.7976931348623157e308}", "{\"name\":\"a\",\"price\":1e400}"]
          ) {
            const r = await postRaw(service, "/products", body)
            expect(r.status, `${backend} ${body}`).toBe(400)
            expect(r.body).toMatchObject({ field: "price" })
          }
          for (const price of [-1, "12"]) {
            expect((await service.post("/products", { name: "a", price })).body.field, backend).toBe("price")
          }
          const largest = await service.post("/products", { name: "Yacht", price: 1_000_000_000 })
          expect(largest.status).toBe(201)
          const read = await service.get(`/prices/${largest.body.id}`)
          expect(read.body).toMatchObject({ base_price: 1_000_000_000, price: 1_100_000_000, enhanced: true })
        }
      }),
    30_000
  )

  it.live(
    "/prices/enhance, /ocr/enhance and uploads name the field at fault, to the item",
    () =>
      Effect.promise(async () => {
        const item = { name: "Lamp", price: 20 }
        const cases: ReadonlyArray<readonly [string, unknown, string]> = [
          ["/prices/enhance", { items: [item, { name: "Lamp", price: -1 }] }, "items[1].price"],
          ["/prices/enhance", { items: [{ name: "x".repeat(201), price: 1 }] }, "items[0].name"],
          ["/prices/enhance", { items: Array.from({ length: 101 }, () => item) }, "items"],
          ["/prices/enhance", { items: [] }, "items"],
          ["/ocr/enhance", { text: "x".repeat(20_001) }, "text"],
          ["/ocr/enhance", { text: "a\u0000b" }, "text"],
          ["/uploads", { content: "x", contentType: "text" }, "contentType"],
          ["/uploads", { content: "x", contentType: "text/plain; charset=utf-8" }, "contentType"],
          ["/uploads", { content: "x", content_type: "text/plain" }, "content_type"]
        ]
        for (const [path, body, field] of cases) {
          const r = await embedded.post(path, body)
          expect(r.status, `${path} ${field}`).toBe(400)
          expect(r.body).toMatchObject({ error: "invalid_request", field })
          expect(typeof r.body.message).toBe("string")
        }
        expect((await embedded.post("/prices/enhance", { items: [item] })).body).toEqual({
          prices: [22],
          enhanced: true
        })
      }),
    30_000
  )
})
