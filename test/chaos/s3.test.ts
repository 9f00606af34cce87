/**
 * The S3 server (s3rver, its own process) killed under a running pricing
 * service: uploads are answered 202 queued (durable in the SQLite queue);
 * the service itself is killed with SIGKILL while they are queued and
 * restarted; once S3 is back every queued upload reaches it — none lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  build,
  metric,
  running,
  type S3Server,
  type Service,
  startS3,
  startService,
  stopAll
} from "../fixtures/chaos.js"

let s3: S3Server
let service: Service

beforeAll(async () => {
  build()
  s3 = await startS3()
  service = await startService({
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER"
  })
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

const queued = Array.from({ length: 10 }, (_, i) => `uploads/queued-${i}.txt`)

describe("chaos: S3 and SIGKILL", () => {
  it.live(
    "S3 killed: 202 queued; service SIGKILLed and restarted; S3 back: all uploads stored, 0 lost",
    () =>
      Effect.promise(async () => {
        await service.waitForLevel("Optimal", 5000)
        const direct = await service.post("/uploads", {
          key: "uploads/direct.txt",
          content: "direct",
          contentType: "text/plain"
        })
        expect(direct.status).toBe(201)
        expect(direct.body).toEqual({ status: "stored", key: "uploads/direct.txt" })
        expect(s3.keys()).toEqual(["uploads/direct.txt"])

        await s3.proc.kill()
        for (const key of queued) {
          const r = await service.post("/uploads", { key, content: `body of ${key}` })
          expect(r.status).toBe(202)
          expect(r.body).toEqual({ status: "queued", key })
          expect(r.ms).toBeLessThan(500 + 250) // the S3 call timeout, then the queue
        }
        await service.waitForLevel("Degraded", 3000)
        let metrics = await service.metrics()
        expect(metric(metrics, "write_behind_enqueued_total", { dependency: "s3" })).toBe(queued.length)
        expect(metric(metrics, "write_behind_queue_depth", { dependency: "s3" })).toBe(queued.length)

        // Killed while the uploads are queued: only the SQLite queue holds them now.
        await service.proc.kill()
        await service.restart()
        expect(service.proc.output()).toMatch(/objectStore: s3 http:\/\/127\.0\.0\.1/)
        await service.waitForLevel("Degraded", 4000)
        metrics = await service.metrics()
        expect(metric(metrics, "write_behind_queue_depth", { dependency: "s3" })).toBe(queued.length)
        // the new process queues too while S3 is still away
        const late = await service.post("/uploads", { key: "uploads/late.txt", content: "late" })
        expect(late.status).toBe(202)

        await s3.restart()
        const backAt = performance.now()
        const expected = ["uploads/direct.txt", "uploads/late.txt", ...queued].sort()
        await expect.poll(() => s3.keys(), { timeout: 8000, interval: 100 }).toEqual(expected)
        // replay: the reset delay (1 s) or the replay interval (1 s), then the probe and the rest
        expect(performance.now() - backAt).toBeLessThan(5000)
        await service.waitForLevel("Optimal", 4000)
        metrics = await service.metrics()
        expect(metric(metrics, "write_behind_queue_depth", { dependency: "s3" })).toBe(0)
        expect(metric(metrics, "write_behind_dead_lettered_total", { dependency: "s3" })).toBe(0)
        const after = await service.post("/uploads", { key: "uploads/after.txt", content: "after" })
        expect(after.status).toBe(201)
      }),
    60_000
  )
})
