/**
 * The AI API (a fake OpenAI-compatible server in its own process) returning
 * 500s, then hanging, under a running pricing service with a private Redis:
 * Limited with baseline prices ×1.3 and the AI-unavailable notice; Redis down too →
 * Limited holds ("OpenAI + Redis down"); partial recovery: the AI
 * back while Redis is still down → Degraded; Redis back → Optimal.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  type AiServer,
  build,
  metric,
  type RedisServer,
  running,
  type Service,
  sleep,
  startAi,
  startRedis,
  startService,
  stopAll
} from "../fixtures/chaos.js"

const callTimeoutMs = 500 // RESILIENCE_OPENAI_CALL_TIMEOUT in shortPresets
const notice = "AI enhancement temporarily unavailable"

let ai: AiServer
let redis: RedisServer
let service: Service

beforeAll(async () => {
  build()
  ai = await startAi()
  redis = await startRedis()
  service = await startService({ OPENAI_BASE_URL: ai.baseUrl, OPENAI_API_KEY: "sk-chaos", REDIS_URL: redis.url })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

describe("chaos: AI API", () => {
  it.live(
    "500s then hangs → Limited (×1.3 + notice); + Redis down → Limited; AI back → Degraded; Redis back → Optimal",
    () =>
      Effect.promise(async () => {
        expect(service.proc.output()).toMatch(/ai: openai http:\/\/127\.0\.0\.1:\d+\/v1/)
        await service.waitForLevel("Optimal", 5000)
        const optimal = await service.get("/prices/1")
        expect(optimal.body).toMatchObject({ id: 1, price: 110, enhanced: true, level: "Optimal" })
        const ocr = await service.post("/ocr/enhance", { text: "  total   42 " })
        expect(ocr.body).toEqual({ text: "total 42", ocr_enhanced: true })

        await ai.set("error")
        // every call answers from the fallback while the breaker counts the 500s
        for (let i = 0; i < 3; i++) {
          const r = await service.post("/prices/enhance", { items: [{ name: "Widget", price: 100 }] })
          expect(r.status).toBe(200)
          expect(r.body).toEqual({ prices: [130], enhanced: false, notice })
        }
        expect(await service.waitForLevel("Limited", 2000)).toBeLessThan(2000)
        const limited = await service.get("/prices/1")
        expect(limited.status).toBe(200)
        expect(limited.body).toMatchObject({
          id: 1,
          price: 130,
          base_price: 100,
          enhanced: false,
          notice,
          level: "Limited"
        })
        const rawOcr = await service.post("/ocr/enhance", { text: "  total   42 " })
        expect(rawOcr.body).toEqual({ text: "  total   42 ", ocr_enhanced: false })

        // Hanging: the half-open probe and the health checks time out; the level holds, calls stay bounded.
        await ai.set("hang")
        await sleep(1200) // past the reset delay: the next call is a probe that hangs
        for (let i = 0; i < 4; i++) {
          const r = await service.post("/prices/enhance", { items: [{ name: "Pro kit", price: 10 }] })
          expect(r.body).toEqual({ prices: [13], enhanced: false, notice })
          expect(r.ms).toBeLessThan(callTimeoutMs + 250)
        }
        expect(await service.level()).toBe("Limited")
        // the timed-out requests were really cancelled (AbortSignal): the fake saw its clients go away
        await expect.poll(async () => (await ai.stats()).aborted, { timeout: 3000 }).toBeGreaterThanOrEqual(1)

        // Redis down too: Limited holds (worst of Limited and Degraded), prices from the DB.
        await redis.proc.kill()
        await sleep(1500)
        expect(await service.level()).toBe("Limited")
        const both = await service.get("/prices/2")
        expect(both.status).toBe(200)
        expect(both.body).toMatchObject({ id: 2, price: 325, source: "db", enhanced: false, notice, level: "Limited" })
        const redisDep = (await service.status()).dependencies.find((d: any) => d.name === "redis")
        expect(redisDep.up).toBe(false)

        // Partial recovery: the AI answers again, Redis is still down → Degraded.
        await ai.set("ok")
        const aiBackAt = performance.now()
        await service.waitForLevel("Degraded", 6000)
        // recoveryInterval (1 s) + reset (1 s) + the probe
        expect(performance.now() - aiBackAt).toBeLessThan(1000 + 1000 + 1500)
        const partial = await service.get("/prices/3")
        expect(partial.body).toMatchObject({ id: 3, price: 46.75, source: "db", enhanced: true, level: "Degraded" })

        await redis.restart()
        await service.waitForLevel("Optimal", 6000)
        const metrics = await service.metrics()
        expect(metric(metrics, "circuit_breaker_fallback_calls_total", { breaker: "openai" })).toBeGreaterThanOrEqual(7)
        expect(metric(metrics, "circuit_breaker_calls_total", { breaker: "openai", outcome: "timeout" }))
          .toBeGreaterThanOrEqual(1)
        expect(metric(metrics, "degradation_transitions_total", { from: "Limited", to: "Degraded" }))
          .toBeGreaterThanOrEqual(1)
        const transitions = (await service.status()).transitions.map((t: any) => `${t.from}->${t.to}`)
        expect(transitions.slice(0, 3)).toEqual(["Degraded->Optimal", "Limited->Degraded", "Optimal->Limited"])
      }),
    60_000
  )
})
