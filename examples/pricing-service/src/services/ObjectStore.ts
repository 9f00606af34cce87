/**
 * The object store for uploads: S3 through `@aws-sdk/client-s3` (path-style,
 * `S3_ENDPOINT` + `S3_BUCKET`), or a folder on disk. Uploads are keyed by the
 * caller's key, so a replayed upload overwrites itself (idempotent).
 */
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import type { CircuitBreaker, Fallback } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { S3Settings } from "../Config.js"

export class ObjectStoreError extends Data.TaggedError("ObjectStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface Upload {
  readonly key: string
  readonly contentType: string
  readonly content: string
}

/** `stored`: in the object store now; `queued`: in the durable queue, replayed when the store is back. */
export type UploadResult = { readonly status: "stored" | "queued"; readonly key: string }

export class ObjectStore extends Context.Tag("pricing-service/ObjectStore")<ObjectStore, {
  readonly put: (upload: Upload) => Effect.Effect<UploadResult, ObjectStoreError | Fallback.WriteBehindError>
  readonly ping: Effect.Effect<void, ObjectStoreError | CircuitBreaker.Unavailable>
}>() {}

const toError = (cause: unknown) =>
  new ObjectStoreError({ message: cause instanceof Error ? cause.message || cause.name : String(cause), cause })

/** S3 or any S3-protocol server (MinIO, s3rver): path-style addressing, requests cancelled through AbortSignal. */
export const layerS3 = (settings: S3Settings): Layer.Layer<ObjectStore> =>
  Layer.scoped(
    ObjectStore,
    Effect.gen(function*() {
      const client = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new S3Client({
            endpoint: settings.endpoint,
            region: settings.region,
            forcePathStyle: true,
            // The breaker decides about retries: the SDK's own would multiply the call timeout.
            maxAttempts: 1,
            ...(Option.isSome(settings.accessKeyId) && Option.isSome(settings.secretAccessKey)
              ? {
                credentials: {
                  accessKeyId: settings.accessKeyId.value,
                  secretAccessKey: Redacted.value(settings.secretAccessKey.value)
                }
              }
              : {})
          })
        ),
        (client) => Effect.sync(() => client.destroy())
      )
      return ObjectStore.of({
        put: (upload) =>
          Effect.tryPromise({
            try: (signal) =>
              client.send(
                new PutObjectCommand({
                  Bucket: settings.bucket,
                  Key: upload.key,
                  Body: Buffer.from(upload.content, "utf8"),
                  ContentType: upload.contentType
                }),
                { abortSignal: signal }
              ),
            catch: toError
          }).pipe(Effect.as({ status: "stored" as const, key: upload.key })),
        ping: Effect.tryPromise({
          try: (signal) => client.send(new HeadBucketCommand({ Bucket: settings.bucket }), { abortSignal: signal }),
          catch: toError
        }).pipe(Effect.asVoid)
      })
    })
  )

/** The embedded default: files under `<dataDir>/objects`. */
export const layerFilesystem = (dataDir: string): Layer.Layer<ObjectStore> =>
  Layer.sync(ObjectStore, () => {
    const root = path.join(dataDir, "objects")
    return ObjectStore.of({
      put: (upload) =>
        Effect.tryPromise({
          try: async () => {
            const file = path.join(root, ...upload.key.split("/").filter((part) => part !== ".." && part !== ""))
            await fs.mkdir(path.dirname(file), { recursive: true })
            // Written aside then renamed: a reader never sees half an object.
            await fs.writeFile(`${file}.tmp`, upload.content, "utf8")
            await fs.rename(`${file}.tmp`, file)
          },
          catch: toError
        }).pipe(Effect.as({ status: "stored" as const, key: upload.key })),
      ping: Effect.tryPromise({ try: () => fs.mkdir(root, { recursive: true }), catch: toError }).pipe(Effect.asVoid)
    })
  })
