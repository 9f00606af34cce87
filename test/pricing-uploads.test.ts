/**
 * Uploads to the running pricing service (compiled `dist/`): keys are
 * canonical and stay inside the store (`../x`, `.` and `/etc/x` are refused,
 * not silently the same object or a file beside the store); concurrent
 * uploads of one key are all stored, on the local folder and on s3rver; a
 * key the folder store refuses is a `409`, never queued and never counted
 * against the store; and with the store down the queue is bounded by entries
 * and by bytes, answering `503 "The upload queue is full."` past either.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  build,
  freePort,
  metric,
  patientTimeouts,
  running,
  type S3Server,
  type Service,
  startS3,
  startService,
  stopAll
} from "./fixtures/chaos.js"

let embedded: Service
let s3: S3Server
let onS3: Service

beforeAll(async () => {
  build()
  s3 = await startS3()
  ;[embedded, onS3] = await Promise.all([
    startService(patientTimeouts),
    startService({
      ...patientTimeouts,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER"
    })
  ])
  await Promise.all([embedded.waitForLevel("Optimal", 5000), onS3.waitForLevel("Optimal", 5000)])
}, 120_000)

afterAll(async () => {
  await stopAll()
  expect(running()).toEqual([])
})

/** Every file under `dir`, relative with `/`, sorted. */
const files = (dir: string) =>
  fs.existsSync(dir)
    ? (fs.readdirSync(dir, { recursive: true }) as Array<string>)
      .filter((file) => fs.statSync(path.join(dir, file)).isFile())
      .map((file) => file.split(path.sep).join("/"))
      .sort()
    : []

const s3Calls = async (service: Service) => {
  const text = await service.metrics()
  return {
    failure: metric(text, "circuit_breaker_calls_total", { breaker: "s3", outcome: "failure" }),
    enqueued: metric(text, "write_behind_enqueued_total", { dependency: "s3" })
  }
}

describe("pricing service: uploads", () => {
  it.live(
    "keys that are not canonical are refused with 400 naming key; nothing lands beside the store",
    () =>
      Effect.promise(async () => {
        for (const service of [embedded, onS3]) {
          for (
            const key of [
              "../x",
              "../../etc/x",
              ".",
              "..",
              "/etc/x",
              "a//b",
              "a\\b",
              "a/./b",
              "x\u0000",
              "x".repeat(513)
            ]
          ) {
            const r = await service.post("/uploads", { key, content: "escape" })
            expect(r.status, JSON.stringify(key)).toBe(400)
            expect(r.body).toMatchObject({ error: "invalid_request", field: "key" })
          }
        }
        // Only the service's own files beside the objects folder (no objects.tmp, no escaped x), and none in it.
        const beside = fs.readdirSync(embedded.dataDir).filter((f) => !/^(pricing|upload-queue)\.sqlite/.test(f))
        expect(beside).toEqual(["objects"])
        expect(files(path.join(embedded.dataDir, "objects"))).toEqual([])
        expect(s3.keys()).toEqual([])
        const etc = await embedded.post("/uploads", { key: "etc/x", content: "inside" })
        expect(etc.status).toBe(201)
        expect(files(path.join(embedded.dataDir, "objects"))).toEqual(["etc/x"])
      }),
    30_000
  )

  it.live(
    "12 concurrent uploads of one key: all 201 and stored, no temporary file left, no store failure",
    () =>
      Effect.promise(async () => {
        for (
          const [service, stored] of [
            [embedded, () => files(path.join(embedded.dataDir, "objects"))],
            [onS3, () => s3.keys()]
          ] as const
        ) {
          const before = await s3Calls(service)
          const contents = Array.from({ length: 12 }, (_, i) => `version ${i} `.repeat(5_000))
          const answers = await Promise.all(
            contents.map((content) =>
              service.post("/uploads", { key: "reports/same.txt", content, contentType: "text/plain" })
            )
          )
          expect(answers.map((a) => a.status)).toEqual(contents.map(() => 201))
          expect(answers.map((a) => a.body)).toEqual(
            contents.map(() => ({ status: "stored", key: "reports/same.txt" }))
          )
          expect(stored()).toContain("reports/same.txt")
          expect(stored().filter((key) => key.endsWith(".tmp"))).toEqual([])
          expect(await s3Calls(service)).toEqual(before)
        }
        const onDisk = fs.readFileSync(path.join(embedded.dataDir, "objects/reports/same.txt"), "utf8")
        expect(onDisk).toMatch(/^version \d+ /)
      }),
    30_000
  )

  it.live(
    "a key in the way of another object: 409, never queued, the s3 breaker stays Closed",
    () =>
      Effect.promise(async () => {
        const before = await s3Calls(embedded)
        expect((await embedded.post("/uploads", { key: "tree/a", content: "file" })).status).toBe(201)
        expect((await embedded.post("/uploads", { key: "tree/c/d", content: "file" })).status).toBe(201)
        // More than RESILIENCE_S3_FAIL_MAX (3) refusals: none counts.
        for (let i = 0; i < 4; i++) {
          for (const key of ["tree/a/b", "tree/c"]) {
            const r = await embedded.post("/uploads", { key, content: "conflict" })
            expect(r.status, key).toBe(409)
            expect(r.body).toMatchObject({ error: "conflict", field: "key" })
            expect(r.body.message).not.toContain(embedded.dataDir)
          }
        }
        expect(await s3Calls(embedded)).toEqual(before)
        const status = await embedded.status()
        expect(status.level).toBe("Optimal")
        expect(status.dependencies.find((d: any) => d.name === "s3").breaker).toBe("Closed")
        expect(files(path.join(embedded.dataDir, "objects")).filter((f) => f.startsWith("tree/"))).toEqual([
          "tree/a",
          "tree/c/d"
        ])
      }),
    30_000
  )

  it.live(
    "store down: the queue takes uploads up to its entries and bytes, then 503 \"The upload queue is full.\"",
    () =>
      Effect.promise(async () => {
        // Nothing listens on that port: every PUT is refused (an outage), so uploads queue.
        const down = await startService({
          S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
          S3_BUCKET: "absent",
          S3_ACCESS_KEY_ID: "x",
          S3_SECRET_ACCESS_KEY: "x",
          UPLOAD_QUEUE_CAPACITY: "3",
          UPLOAD_QUEUE_MAX_BYTES: "3500"
        })
        const put = (key: string, bytes: number) => down.post("/uploads", { key, content: "x".repeat(bytes) })
        expect((await put("q/1", 1000)).status).toBe(202)
        expect((await put("q/2", 1000)).status).toBe(202)
        // 2,000 more bytes would pass 3,500.
        const bytes = await put("q/3", 2000)
        expect(bytes.status).toBe(503)
        expect(bytes.body).toMatchObject({ error: "unavailable", message: "The upload queue is full." })
        expect(Number(bytes.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        expect((await put("q/3", 100)).status).toBe(202)
        // A fourth entry would pass the capacity of 3.
        const entries = await put("q/4", 10)
        expect(entries.status).toBe(503)
        expect(entries.body.message).toBe("The upload queue is full.")
        const metrics = await down.metrics()
        expect(metric(metrics, "write_behind_queue_depth", { dependency: "s3" })).toBe(3)
        expect(metric(metrics, "write_behind_enqueued_total", { dependency: "s3" })).toBe(3)
        await down.proc.kill()
      }),
    30_000
  )
})
