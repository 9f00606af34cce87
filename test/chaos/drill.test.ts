/**
 * A fault drill over HTTP on the running pricing service (compiled `dist/`,
 * a private redis-server as its cache, embedded defaults for the rest):
 * with `RESILIENCE_FAULTS=on` an operator injects `down` on the cache through
 * `/admin/faults` with the admin token — Redis itself stays healthy — and the
 * service keeps answering from the DB while its level and `/status` show the
 * fault; clearing it brings Optimal back. Without the token: 401. With
 * fault injection off: 404. In the production profile without
 * `RESILIENCE_FAULTS_ALLOW_PRODUCTION=true` the service refuses to start,
 * naming the variables.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  build,
  freePort,
  metric,
  type RedisServer,
  root,
  running,
  type Service,
  shortPresets,
  startProcess,
  startRedis,
  startService,
  stopAll,
  tempDir
} from "../fixtures/chaos.js"

const token = "drill-operator-token-42"
const auth = { authorization: `Bearer ${token}` }

let redis: RedisServer
let service: Service

beforeAll(async () => {
  build()
  redis = await startRedis()
  service = await startService({
    REDIS_URL: redis.url,
    RESILIENCE_ADMIN_TOKEN: token,
    RESILIENCE_FAULTS: "on",
    RESILIENCE_PROFILE: "staging"
  })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

describe("chaos: a fault drill over HTTP", () => {
  it.live(
    "down on the cache: reads still served from the DB, Degraded with the fault shown; cleared: Optimal",
    () =>
      Effect.promise(async () => {
        // Enabled loudly at start-up, once per wrapped dependency.
        expect(service.proc.output()).toMatch(
          /Fault injection is enabled for redis \(RESILIENCE_FAULTS=on, profile staging\)/
        )
        await service.waitForLevel("Optimal", 5000)
        const listed = await service.request("GET", "/admin/faults", undefined, auth)
        expect(listed.status).toBe(200)
        expect(listed.body.dependencies.map((d: any) => d.name)).toEqual(["db", "openai", "redis", "s3"])
        expect(listed.body.dependencies.find((d: any) => d.name === "redis").members).toEqual(
          expect.arrayContaining(["get", "set", "ping"])
        )
        expect((await service.status()).faults).toEqual([])
        // Warm the cache: the second read is a hit.
        expect((await service.get("/prices/1")).status).toBe(200)
        await expect.poll(async () => (await service.get("/prices/1")).body.source).toBe("cache")

        // Without the token (or with a wrong one): 401, nothing injected.
        const anonymous = await service.request("POST", "/admin/faults/redis", { fault: "down" })
        expect(anonymous.status).toBe(401)
        expect(anonymous.headers.get("www-authenticate")).toBe("Bearer")
        expect(
          (await service.request("POST", "/admin/faults/redis", { fault: "down" }, { authorization: "Bearer guess" }))
            .status
        )
          .toBe(401)
        expect((await service.status()).faults).toEqual([])

        // The drill: the cache is made to fail, though Redis is fine.
        const injected = await service.request("POST", "/admin/faults/redis", { fault: "down" }, auth)
        expect(injected.status).toBe(200)
        expect(injected.body.faults).toEqual([
          expect.objectContaining({ dependency: "redis", member: null, fault: "down", description: "down" })
        ])
        const since = injected.body.faults[0].since
        expect(Math.abs(since - Date.now())).toBeLessThan(5000)
        for (let i = 0; i < 6; i++) {
          const r = await service.get(`/prices/${1 + (i % 3)}`)
          expect(r.status).toBe(200)
          expect(r.body.source).toBe("db")
        }
        expect(await service.waitForLevel("Degraded", 5000)).toBeLessThan(5000)
        const status = await service.status()
        expect(status.dependencies.find((d: any) => d.name === "redis")).toMatchObject({ up: false, breaker: "Open" })
        expect(status.faults).toEqual([
          expect.objectContaining({ dependency: "redis", member: null, fault: "down", since })
        ])
        const degraded = await service.get("/prices/2")
        expect(degraded.status).toBe(200)
        expect(degraded.headers.get("x-degradation-level")).toBe("Degraded")
        expect(degraded.body).toMatchObject({ source: "db", level: "Degraded" })
        // The page an operator watches says so too.
        const page = await fetch(`${service.url}/status`, { headers: { accept: "text/html" } }).then((r) => r.text())
        expect(page).toContain("Fault injection active")
        expect(page).toContain("Degraded")

        const metrics = await service.metrics()
        expect(metric(metrics, "fault_injections_total", { dependency: "redis", fault: "down" })).toBe(1)
        expect(metric(metrics, "fault_injections_total", { dependency: "db", fault: "down" })).toBe(0)
        expect(metric(metrics, "admin_actions_total", { action: "fault-inject", outcome: "ok" })).toBe(1)
        expect(metric(metrics, "admin_actions_total", { action: "fault-inject", outcome: "denied" })).toBe(2)
        expect(service.proc.output()).toMatch(/Admin: fault-inject ok: redis: down on every member/)

        // Cleared: the breaker's probe and the recovery tick bring Optimal back, and the cache serves again.
        const cleared = await service.request("DELETE", "/admin/faults/redis", undefined, auth)
        expect(cleared.status).toBe(200)
        expect(cleared.body.faults).toEqual([])
        // recoveryInterval (1 s) + reset (1 s) + polling.
        expect(await service.waitForLevel("Optimal", 6000)).toBeLessThan(4000)
        await expect.poll(async () => (await service.get("/prices/3")).body.source, { timeout: 3000 }).toBe("cache")
        expect((await service.status()).faults).toEqual([])
        expect(metric(await service.metrics(), "admin_actions_total", { action: "fault-recover", outcome: "ok" })).toBe(
          1
        )
      }),
    60_000
  )

  it.live(
    "RESILIENCE_FAULTS off (the default): the fault routes are 404 and /status has no faults",
    () =>
      Effect.promise(async () => {
        const off = await startService({ RESILIENCE_ADMIN_TOKEN: token })
        const answer = await off.request("POST", "/admin/faults/redis", { fault: "down" }, auth)
        expect(answer.status).toBe(404)
        expect(answer.body.message).toContain("RESILIENCE_FAULTS")
        expect((await off.request("GET", "/admin/faults", undefined, auth)).status).toBe(404)
        expect("faults" in (await off.status())).toBe(false)
        expect(off.proc.output()).not.toContain("Fault injection is enabled")
        // The other admin routes are unaffected.
        expect((await off.request("POST", "/admin/degradation/release", undefined, auth)).status).toBe(200)
        await off.proc.kill()
      }),
    60_000
  )

  it.live(
    "production profile without RESILIENCE_FAULTS_ALLOW_PRODUCTION: refuses to start, naming the variables",
    () =>
      Effect.promise(async () => {
        const dataDir = tempDir("drill-refused")
        const env = {
          ...shortPresets,
          HOST: "127.0.0.1",
          PORT: String(await freePort()),
          DATA_DIR: dataDir,
          RESILIENCE_ADMIN_TOKEN: token,
          RESILIENCE_FAULTS: "on"
        }
        for (const profile of [{}, { RESILIENCE_PROFILE: "production" }]) {
          const proc = startProcess(process.execPath, [path.join(root, "examples/pricing-service/dist/main.js")], {
            env: { ...env, ...profile }
          })
          await proc.exited
          const output = proc.output()
          expect(output, JSON.stringify(profile)).not.toContain("Listening on")
          expect(output).toContain("RESILIENCE_FAULTS=on")
          expect(output).toContain("RESILIENCE_PROFILE")
          expect(output).toContain("RESILIENCE_FAULTS_ALLOW_PRODUCTION=true")
        }
        fs.rmSync(dataDir, { recursive: true, force: true })
        // Told explicitly, it starts (and warns).
        const allowed = await startService({
          RESILIENCE_ADMIN_TOKEN: token,
          RESILIENCE_FAULTS: "on",
          RESILIENCE_PROFILE: "production",
          RESILIENCE_FAULTS_ALLOW_PRODUCTION: "true"
        })
        expect(allowed.proc.output()).toMatch(
          /Fault injection is enabled for redis \(RESILIENCE_FAULTS=on, profile production\)/
        )
        expect((await allowed.request("GET", "/admin/faults", undefined, auth)).status).toBe(200)
        await allowed.proc.kill()
      }),
    60_000
  )
})
