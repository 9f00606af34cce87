/**
 * Uploads accepted while the object store is down wait in a durable SQLite
 * queue, bounded twice so that a long outage (or someone uploading through
 * one) cannot fill the disk: at most `capacity` entries (`DurableQueue`'s
 * own bound) and at most `maxBytes` of queued content. An upload beyond
 * either is refused with `WriteBehindError` whose cause is
 * {@link UploadQueueFull}; the handler answers `503`.
 *
 * Queued bytes are counted as uploads are offered and delivered. Entries an
 * earlier run left behind are counted by the size of the queue's file (an
 * upper bound) until the queue has been emptied once; an entry dead-lettered
 * keeps counting until then too — it is still on disk.
 */
import { Fallback } from "@effect-resilience/core"
import { DurableQueue } from "@effect-resilience/platform/sqlite"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import type { UploadQueueSettings } from "./Config.js"
import type { Upload } from "./services/ObjectStore.js"

/** Which bound a refused upload would have crossed. */
export class UploadQueueFull extends Data.TaggedError("UploadQueueFull")<{
  readonly limit: "entries" | "bytes"
  readonly message: string
}> {}

/** Uploads accepted while the object store is down: durable before `202` is answered. */
export class UploadQueue extends Context.Tag("pricing-service/UploadQueue")<
  UploadQueue,
  Fallback.WriteBehindQueue<Upload>
>() {}

const UploadSchema = Schema.Struct({ key: Schema.String, contentType: Schema.String, content: Schema.String })

/** What an entry keeps on disk, near enough: its strings as UTF-8. */
export const bytesOf = (upload: Upload): number =>
  Buffer.byteLength(upload.content, "utf8") + Buffer.byteLength(upload.key, "utf8") +
  Buffer.byteLength(upload.contentType, "utf8")

/** The queue's SQLite file and its write-ahead log, in bytes (0 when absent). */
const fileBytes = (filename: string): number =>
  [filename, `${filename}-wal`].reduce((total, file) => {
    try {
      return total + fs.statSync(file).size
    } catch {
      return total
    }
  }, 0)

/**
 * `queue` with a bound on its queued bytes: an offer that would push them
 * over `maxBytes` is refused before it is written, and a full `queue`
 * (`capacity` entries) is told apart by its size.
 */
export const bounded = (
  queue: Fallback.WriteBehindQueue<Upload>,
  options: { readonly capacity: number; readonly maxBytes: number; readonly initialBytes: number }
): Fallback.WriteBehindQueue<Upload> => {
  // Bytes in the queue, and bytes of offers being written (reserved, so that concurrent offers cannot overshoot together).
  let queued = options.initialBytes
  let writing = 0
  const full = (limit: "entries" | "bytes", message: string) =>
    new Fallback.WriteBehindError({ message, cause: new UploadQueueFull({ limit, message }) })
  const delivered = (bytes: number) => Effect.sync(() => void (queued = Math.max(0, queued - bytes)))
  const offer = (upload: Upload) =>
    Effect.suspend(() => {
      const bytes = bytesOf(upload)
      if (queued + writing + bytes > options.maxBytes) {
        return Effect.fail(
          full(
            "bytes",
            `the upload queue holds ${queued + writing} bytes: ${bytes} more would exceed ${options.maxBytes}`
          )
        )
      }
      writing += bytes
      return queue.offer(upload).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            writing -= bytes
            if (exit._tag === "Success") queued += bytes
          })
        ),
        Effect.catchAll((error) =>
          Effect.flatMap(
            Effect.orElseSucceed(queue.size, () => 0),
            (size) =>
              Effect.fail(
                size >= options.capacity
                  ? full("entries", `the upload queue holds ${size} uploads, its capacity`)
                  : error
              )
          )
        )
      )
    })
  return {
    ...queue,
    offer,
    replay: (f) =>
      queue.replay((upload, delivery) => Effect.tap(f(upload, delivery), () => delivered(bytesOf(upload)))).pipe(
        // Emptied: nothing is left to count (dead letters and the estimate of an earlier run's entries included).
        Effect.ensuring(
          Effect.ignore(Effect.flatMap(queue.size, (size) => size === 0 ? delivered(queued) : Effect.void))
        )
      )
  }
}

/** The bounded upload queue in `<dataDir>/upload-queue.sqlite`. */
export const layer = (dataDir: string, settings: UploadQueueSettings): Layer.Layer<UploadQueue, unknown> => {
  const filename = path.join(dataDir, "upload-queue.sqlite")
  return Layer.scoped(
    UploadQueue,
    Effect.gen(function*() {
      const queue = yield* DurableQueue.make({
        name: "s3",
        schema: UploadSchema,
        capacity: settings.capacity,
        maxAttempts: 20
      })
      const waiting = yield* queue.size
      return bounded(queue, {
        capacity: settings.capacity,
        maxBytes: settings.maxBytes,
        initialBytes: waiting === 0 ? 0 : Math.min(fileBytes(filename), settings.maxBytes)
      })
    })
  ).pipe(Layer.provide(DurableQueue.layerSqlite({ filename })))
}
