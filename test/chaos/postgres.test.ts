/**
 * Postgres stopped under a running pricing service (private Postgres cluster
 * and redis-server): Minimal — cached prices are read, writes are answered
 * 503 with `retry-after` by the middleware; restarted, writes succeed again
 * and the level recovers within the recovery interval plus the reset delay.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  build,
  metric,
  type PostgresServer,
  type RedisServer,
  running,
  type Service,
  startPostgres,
  startRedis,
  startService,
  stopAll
} from "../fixtures/chaos.js"

let pg: PostgresServer
let redis: RedisServer
let service: Service

beforeAll(async () => {
  build()
  pg = await startPostgres()
  redis = await startRedis()
  service = await startService({ DATABASE_URL: pg.url, REDIS_URL: redis.url })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
  expect(pg.pid()).toBeUndefined()
})

describe("chaos: Postgres", () => {
  it.live(
    "stopped: Minimal, cached reads, writes 503 + retry-after; restarted: writes succeed, Optimal",
    () =>
      Effect.promise(async () => {
        expect(service.proc.output()).toMatch(/db: postgres postgres:\/\/postgres@127\.0\.0\.1/)
        // the first health checks of cold clients may time out: the next tick settles it
        await service.waitForLevel("Optimal", 5000)
        const created = await service.post("/products", { name: "Chaos lamp", price: 20 })
        expect(created.status).toBe(201)
        expect(created.body).toMatchObject({ id: 4, name: "Chaos lamp", price: 20 })
        // warm the cache for 1, 2 and the new product
        for (const id of [1, 2, 4]) {
          expect((await service.get(`/prices/${id}`)).status).toBe(200)
          await expect.poll(async () => (await service.get(`/prices/${id}`)).body.source).toBe("cache")
        }

        pg.stop()
        // the next recovery tick's health check (or the first failed query) finds it down
        expect(await service.waitForLevel("Minimal", 4000)).toBeLessThan(4000)

        for (const id of [1, 2, 4]) {
          const read = await service.get(`/prices/${id}`)
          expect(read.status).toBe(200)
          expect(read.headers.get("x-degradation-level")).toBe("Minimal")
          expect(read.body).toMatchObject({ id, source: "cache", enhanced: false, level: "Minimal" })
          expect(read.body.price).toBe(read.body.base_price)
        }
        // a product never cached has no copy to show
        const uncached = await service.get("/prices/3")
        expect(uncached.status).toBe(503)

        const blocked = await service.post("/products", { name: "Blocked", price: 1 })
        expect(blocked.status).toBe(503)
        expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        expect(blocked.body).toMatchObject({ level: "Minimal" })
        for (const field of ["error", "message", "action"]) expect(typeof blocked.body[field]).toBe("string")
        const shed = metric(await service.metrics(), "http_requests_shed_total", { reason: "writes_blocked" })
        expect(shed).toBeGreaterThanOrEqual(1)
        const dbStatus = (await service.status()).dependencies.find((d: any) => d.name === "db")
        expect(dbStatus.up).toBe(false)
        expect(dbStatus.lastCheck.healthy).toBe(false)

        pg.start()
        const restartedAt = performance.now()
        await service.waitForLevel("Optimal", 8000)
        // recoveryInterval (1 s) + reset (1 s) + a health check (≤ 0.4 s) and pool reconnection
        expect(performance.now() - restartedAt).toBeLessThan(4000)
        const after = await service.post("/products", { name: "After", price: 5 })
        expect(after.status).toBe(201)
        // (ids may jump: Postgres pre-logs sequence values, and an immediate stop is a crash)
        expect(after.body).toMatchObject({ name: "After", price: 5 })
        const read = await service.get(`/prices/${after.body.id}`)
        expect(read.status).toBe(200)
        expect(read.body).toMatchObject({ id: after.body.id, base_price: 5, enhanced: true, level: "Optimal" })
        const metrics = await service.metrics()
        expect(metric(metrics, "degradation_level")).toBe(1)
        expect(metric(metrics, "degradation_transitions_total", { from: "Optimal", to: "Minimal" }))
          .toBeGreaterThanOrEqual(1)
      }),
    60_000
  )
})
