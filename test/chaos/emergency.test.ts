/**
 * Everything down at once — Postgres stopped, Redis and S3 killed, the AI
 * answering 500s — under a running pricing service: Emergency. Only the
 * status routes answer (health, ready 503, /status, the status page,
 * metrics); every other request is shed with 503 `system_degraded`. All back:
 * Optimal again.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  type AiServer,
  build,
  metric,
  type PostgresServer,
  type RedisServer,
  running,
  type S3Server,
  type Service,
  startAi,
  startPostgres,
  startRedis,
  startS3,
  startService,
  stopAll
} from "../fixtures/chaos.js"

let pg: PostgresServer
let redis: RedisServer
let s3: S3Server
let ai: AiServer
let service: Service

beforeAll(async () => {
  build()
  ;[pg, redis, s3, ai] = await Promise.all([startPostgres(), startRedis(), startS3(), startAi()])
  service = await startService({
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER",
    OPENAI_BASE_URL: ai.baseUrl,
    OPENAI_API_KEY: "sk-chaos",
    RESILIENCE_ADMIN_TOKEN: "chaos-admin"
  })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
  expect(pg.pid()).toBeUndefined()
})

describe("chaos: everything down", () => {
  it.live(
    "Emergency: only status routes answer, the status page shows it; all back → Optimal",
    () =>
      Effect.promise(async () => {
        // the first health checks of cold clients may time out: the next tick settles it
        await service.waitForLevel("Optimal", 5000)
        expect((await service.get("/prices/1")).body).toMatchObject({ price: 110, enhanced: true })

        pg.stop()
        await Promise.all([redis.proc.kill(), s3.proc.kill(), ai.set("error")])
        expect(await service.waitForLevel("Emergency", 4000)).toBeLessThan(4000)

        const read = await service.get("/prices/1")
        expect(read.status).toBe(503)
        expect(read.body).toMatchObject({ status: "system_degraded", level: "Emergency" })
        expect(Number(read.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        for (
          const [method, path, body] of [
            ["POST", "/products", { name: "x", price: 1 }],
            ["POST", "/uploads", { content: "x" }],
            ["POST", "/prices/enhance", { items: [] }],
            ["POST", "/ocr/enhance", { text: "x" }]
          ] as const
        ) {
          const r = await service.request(method, path, body)
          expect(r.status, path).toBe(503)
          expect(r.body.status, path).toBe("system_degraded")
        }

        expect((await service.get("/health")).status).toBe(200)
        const ready = await service.get("/ready")
        expect(ready.status).toBe(503)
        expect(ready.body.level).toBe("Emergency")
        // three down are enough for Emergency; the fourth is seen at its next health check
        await expect.poll(async () => {
          const status = await service.status()
          return [status.level, ...status.dependencies.filter((d: any) => !d.up).map((d: any) => d.name).sort()]
        }, { timeout: 3000 }).toEqual(["Emergency", "db", "openai", "redis", "s3"])
        const page = await service.request("GET", "/status", undefined, { accept: "text/html" })
        expect(page.status).toBe(200)
        expect(page.headers.get("content-type")).toMatch(/text\/html/)
        expect(String(page.body)).toContain("Emergency")
        const metrics = await service.metrics()
        expect(metric(metrics, "degradation_level")).toBe(5)
        expect(metric(metrics, "http_requests_shed_total", { reason: "status_only" })).toBeGreaterThanOrEqual(5)
        for (const dependency of ["db", "redis", "s3", "openai"]) {
          expect(metric(metrics, "dependency_up", { dependency }), dependency).toBe(0)
        }
        // admin routes are exempt too: an operator can still act
        const unauthorized = await service.post("/admin/degradation/release", {})
        expect(unauthorized.status).toBe(401)

        pg.start()
        await Promise.all([redis.restart(), s3.restart(), ai.set("ok")])
        await service.waitForLevel("Optimal", 8000)
        expect((await service.get("/prices/2")).body).toMatchObject({
          id: 2,
          price: 275,
          enhanced: true,
          level: "Optimal"
        })
      }),
    60_000
  )
})
