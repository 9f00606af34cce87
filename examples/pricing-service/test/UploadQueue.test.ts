/**
 * The upload queue is bounded by entries and by bytes (on a real SQLite
 * file): an upload past either bound is refused with `UploadQueueFull`
 * naming it, concurrent offers never overshoot the byte bound together,
 * delivered uploads free their bytes, and entries left by an earlier run
 * count (by the file's size) until the queue has been emptied.
 */
import type { Fallback } from "@effect-resilience/core"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Upload } from "../src/services/ObjectStore.js"
import * as UploadQueue from "../src/UploadQueue.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "upload-queue-"))
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** An upload of exactly `bytes` bytes as the queue counts them. */
const upload = (key: string, bytes: number): Upload => {
  const contentType = "text/plain"
  const content = "x".repeat(bytes - key.length - contentType.length)
  return { key, contentType, content }
}

const queueIn = (dataDir: string, settings: { readonly capacity: number; readonly maxBytes: number }) =>
  Effect.map(Layer.build(UploadQueue.layer(dataDir, settings)), Context.get(UploadQueue.UploadQueue))

const fullBy = (effect: Effect.Effect<unknown, Fallback.WriteBehindError>) =>
  Effect.map(Effect.flip(effect), (error) => (error.cause as UploadQueue.UploadQueueFull | undefined)?.limit)

describe("UploadQueue", () => {
  it.scoped("bytes: an upload that would pass maxBytes is refused; a delivered one frees its bytes", () =>
    Effect.gen(function*() {
      const queue = yield* queueIn(tempDir(), { capacity: 100, maxBytes: 100 })
      yield* queue.offer(upload("a", 60))
      expect(yield* fullBy(queue.offer(upload("b", 50)))).toBe("bytes")
      yield* queue.offer(upload("c", 40))
      expect(yield* queue.size).toBe(2)
      expect(yield* queue.replay(() => Effect.void)).toBe(2)
      yield* queue.offer(upload("b", 100))
      expect(yield* queue.size).toBe(1)
    }))

  it.scoped("entries: past capacity, refused as full by entries", () =>
    Effect.gen(function*() {
      const queue = yield* queueIn(tempDir(), { capacity: 2, maxBytes: 1_000_000 })
      yield* queue.offer(upload("a", 20))
      yield* queue.offer(upload("b", 20))
      expect(yield* fullBy(queue.offer(upload("c", 20)))).toBe("entries")
      expect(yield* queue.size).toBe(2)
    }))

  it.scoped("concurrent offers never pass the byte bound together", () =>
    Effect.gen(function*() {
      const queue = yield* queueIn(tempDir(), { capacity: 100, maxBytes: 100 })
      const results = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => upload(`k${i}`, 30)),
        (u) => Effect.either(queue.offer(u)),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r._tag === "Right")).toHaveLength(3)
      expect(yield* queue.size).toBe(3)
    }))

  it.live("entries an earlier run left count by the file's size until the queue is emptied", () =>
    Effect.gen(function*() {
      const dataDir = tempDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* queueIn(dataDir, { capacity: 100, maxBytes: 10_000_000 })
        for (let i = 0; i < 5; i++) yield* queue.offer(upload(`left-${i}`, 10_000))
      }))
      const fileBytes = fs.statSync(path.join(dataDir, "upload-queue.sqlite")).size
      expect(fileBytes).toBeGreaterThan(50_000)
      yield* Effect.scoped(Effect.gen(function*() {
        // Room for 100 KB: the earlier entries (about 50 KB, the file larger) leave less than 50 KB.
        const queue = yield* queueIn(dataDir, { capacity: 100, maxBytes: fileBytes + 20_000 })
        expect(yield* queue.size).toBe(5)
        expect(yield* fullBy(queue.offer(upload("new", 30_000)))).toBe("bytes")
        expect(yield* queue.replay(() => Effect.void)).toBe(5)
        yield* queue.offer(upload("new", 30_000))
      }))
    }))
})
