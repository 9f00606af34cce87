/**
 * Redis hung (SIGSTOP), then killed, then restarted, under a running pricing
 * service (SQLite database, private redis-server): the service goes Degraded,
 * every read stays 200 from the DB, no request waits much longer than the
 * cache's call timeout, and the level is Optimal again within the recovery
 * interval plus the reset delay once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  build,
  metric,
  type RedisServer,
  running,
  type Service,
  startRedis,
  startService,
  stopAll
} from "../fixtures/chaos.js"

const callTimeoutMs = 300 // RESILIENCE_REDIS_CALL_TIMEOUT in shortPresets
const slackMs = 250

let redis: RedisServer
let service: Service

beforeAll(async () => {
  build()
  redis = await startRedis()
  service = await startService({ REDIS_URL: redis.url })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

describe("chaos: Redis", () => {
  it.live("hung, killed, restarted: Degraded with reads from the DB, then Optimal", () =>
    Effect.promise(async () => {
      // the first health checks of cold clients may time out: the next tick settles it
      await service.waitForLevel("Optimal", 5000)
      const first = await service.get("/prices/1")
      expect(first.status).toBe(200)
      expect(first.body).toMatchObject({ id: 1, price: 110, base_price: 100, source: "db", enhanced: true })
      // cache-aside: the second read is a hit
      await expect.poll(async () => (await service.get("/prices/1")).body.source).toBe("cache")

      // Hung: the process is stopped, its socket stays open, commands never answer.
      redis.proc.signal("SIGSTOP")
      const hung = []
      for (let i = 0; i < 8; i++) hung.push(await service.get(`/prices/${1 + (i % 3)}`))
      for (const r of hung) {
        expect(r.status).toBe(200)
        expect(r.body.source).toBe("db")
        expect(r.ms).toBeLessThan(callTimeoutMs + slackMs)
      }
      expect(await service.waitForLevel("Degraded", 3000)).toBeLessThan(3000)
      const status = await service.status()
      const dep = status.dependencies.find((d: any) => d.name === "redis")
      expect(dep.up).toBe(false)
      expect(dep.breaker).toBe("Open")
      // Degraded: straight from the DB, no cache call at all, so no wait either
      const degraded = await service.get("/prices/2")
      expect(degraded.status).toBe(200)
      expect(degraded.headers.get("x-degradation-level")).toBe("Degraded")
      expect(degraded.body).toMatchObject({ id: 2, source: "db", enhanced: true, level: "Degraded" })
      expect(degraded.ms).toBeLessThan(callTimeoutMs)

      // Killed (a stopped process takes SIGKILL): still 200 from the DB.
      await redis.proc.kill()
      for (let i = 1; i <= 3; i++) {
        const r = await service.get(`/prices/${i}`)
        expect(r.status).toBe(200)
        expect(r.body.source).toBe("db")
        expect(r.ms).toBeLessThan(callTimeoutMs + slackMs)
      }
      expect(await service.level()).toBe("Degraded")

      // Restarted on the same port: back to Optimal within recoveryInterval (1 s) + reset (1 s),
      // plus ioredis' reconnect back-off (≤ 1 s) and the polling.
      await redis.restart()
      const recovered = await service.waitForLevel("Optimal", 6000)
      expect(recovered).toBeLessThan(1000 + 1000 + 1000 + 1000)
      await expect.poll(async () => (await service.get("/prices/3")).body.source, { timeout: 3000 }).toBe("cache")

      const metrics = await service.metrics()
      expect(metric(metrics, "degradation_level")).toBe(1)
      expect(metric(metrics, "dependency_up", { dependency: "redis" })).toBe(1)
      expect(metric(metrics, "circuit_breaker_failures_total", { breaker: "redis" })).toBeGreaterThanOrEqual(3)
      expect(metric(metrics, "circuit_breaker_transitions_total", { breaker: "redis", from: "closed", to: "open" }))
        .toBeGreaterThanOrEqual(1)
      expect(
        metric(metrics, "circuit_breaker_transitions_total", { breaker: "redis", from: "half_open", to: "closed" })
      )
        .toBeGreaterThanOrEqual(1)
      expect(metric(metrics, "degradation_transitions_total", { from: "Optimal", to: "Degraded" }))
        .toBeGreaterThanOrEqual(1)
      const transitions = (await service.status()).transitions.map((t: any) => `${t.from}->${t.to}`)
      expect(transitions).toContain("Optimal->Degraded")
      expect(transitions[0]).toBe("Degraded->Optimal")
    }), 60_000)
})
