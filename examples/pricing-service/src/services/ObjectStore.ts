/**
 * The object store for uploads: S3 through `@aws-sdk/client-s3` (path-style,
 * `S3_ENDPOINT` + `S3_BUCKET`), or a folder on disk. Uploads are keyed by the
 * caller's key, so a replayed upload overwrites itself (idempotent).
 *
 * A key is canonical (see {@link keyProblem}): the same object has one key,
 * and on disk every key names a file strictly inside the store's folder.
 */
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import type { CircuitBreaker, Fallback } from "@effect-resilience/core"
import { Classify } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { S3Settings } from "../Config.js"
import * as Failure from "./Failure.js"

/**
 * The store failed (`kind: "outage"`: unreachable, a timeout, a full disk)
 * or refused this upload (`"rejection"`: an S3 `4xx` for this object, a key
 * whose path conflicts with another object's, a key that is not canonical).
 * `reason` says which refusal: `invalid_key` (the key itself), `conflict`
 * (another object is in the way), `refused` (anything else the store refused).
 */
export class ObjectStoreError extends Data.TaggedError("ObjectStoreError")<{
  readonly message: string
  readonly kind: Failure.Kind
  readonly reason?: "invalid_key" | "conflict" | "refused" | undefined
  readonly key?: string | undefined
  readonly cause?: unknown
}> {}

/** An object to store under `key`. */
export interface Upload {
  readonly key: string
  readonly contentType: string
  readonly content: string
}

/** `stored`: in the object store now; `queued`: in the durable queue, replayed when the store is back. */
export type UploadResult = { readonly status: "stored" | "queued"; readonly key: string }

/** Where uploads are stored. */
export class ObjectStore extends Context.Tag("pricing-service/ObjectStore")<ObjectStore, {
  readonly put: (upload: Upload) => Effect.Effect<UploadResult, ObjectStoreError | Fallback.WriteBehindError>
  readonly ping: Effect.Effect<void, ObjectStoreError | CircuitBreaker.Unavailable>
}>() {}

/** Longest key accepted (S3 allows 1024 bytes; keys are ASCII here). */
export const maxKeyLength = 512

/** Longest segment: a file name, with room for the temporary suffix under the usual 255-byte limit. */
export const maxSegmentLength = 200

const keyCharacters = /^[A-Za-z0-9._\-/]*$/

/**
 * What is wrong with `key`, or `undefined` for a canonical key: 1 to
 * {@link maxKeyLength} characters of `A–Z a–z 0–9 . _ - /`, segments
 * separated by single `/` (none empty, none `.` or `..`, none longer than
 * {@link maxSegmentLength}), no leading or trailing `/`. Without these,
 * `../../etc/x`, `/etc/x` and `etc/x` would name one object, and `.` a file
 * beside the store.
 */
export const keyProblem = (key: string): string | undefined => {
  if (key.length === 0) return "must not be empty"
  if (key.length > maxKeyLength) return `must be at most ${maxKeyLength} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return "must not contain control characters (NUL included)"
  if (key.includes("\\")) return "must not contain backslashes (segments are separated by /)"
  if (!keyCharacters.test(key)) return "may contain only letters, digits, '.', '_', '-' and '/'"
  if (key.startsWith("/")) return "must not start with /"
  if (key.endsWith("/")) return "must not end with /"
  const segments = key.split("/")
  if (segments.includes("")) return "must not contain empty segments (//)"
  if (segments.some((segment) => segment === "." || segment === "..")) return "must not contain . or .. segments"
  if (segments.some((segment) => segment.length > maxSegmentLength)) {
    return `must not have a segment longer than ${maxSegmentLength} characters`
  }
  return undefined
}

const describe = (cause: unknown) => cause instanceof Error ? cause.message || cause.name : String(cause)

/** Errnos that mean another object's path is in the way (`a` stored, then `a/b`; or the other way round). */
const conflictCodes: ReadonlySet<string> = new Set(["EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY"])

const reasonOf = (cause: unknown): "conflict" | "refused" => {
  for (const link of Classify.causes(cause)) {
    const code = (link as { readonly code?: unknown }).code
    if (typeof code === "string" && conflictCodes.has(code)) return "conflict"
    if (Classify.httpStatus(link) === 409) return "conflict"
  }
  return "refused"
}

const fromCause = (isOutage: Classify.Predicate, key: string | undefined) => (cause: unknown): ObjectStoreError => {
  const kind = Failure.kindOf(isOutage, cause)
  return new ObjectStoreError({
    message: describe(cause),
    kind,
    ...(kind === "rejection" ? { reason: reasonOf(cause) } : {}),
    ...(key === undefined ? {} : { key }),
    cause
  })
}

const invalidKey = (key: string, problem: string) =>
  new ObjectStoreError({ message: `key ${problem}`, kind: "rejection", reason: "invalid_key", key })

/**
 * Outages of S3: `Classify.http` (a `4xx` for this object is a rejection) and
 * `Classify.node`, but a `404` is the bucket we are configured with missing.
 */
export const isS3Outage: Classify.Predicate = Failure.configuredResourceMissing(
  Classify.all(Classify.http, Classify.node)
)

/** The s3 breaker's `isFailure`: an upload the store refused never counts against it (and is never queued). */
export const isFailure = Failure.isFailure(isS3Outage)

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
        put: (upload) => {
          const problem = keyProblem(upload.key)
          if (problem !== undefined) return Effect.fail(invalidKey(upload.key, problem))
          return Effect.tryPromise({
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
            catch: fromCause(isS3Outage, upload.key)
          }).pipe(Effect.as({ status: "stored" as const, key: upload.key }))
        },
        ping: Effect.tryPromise({
          try: (signal) => client.send(new HeadBucketCommand({ Bucket: settings.bucket }), { abortSignal: signal }),
          catch: fromCause(isS3Outage, undefined)
        }).pipe(Effect.asVoid)
      })
    })
  )

/** `inner` is `root` itself or strictly inside it. */
const isWithin = (root: string, inner: string) => inner === root || inner.startsWith(root + path.sep)

/**
 * Writes `content` to `file` through a temporary file of its own in the same
 * folder, renamed over it: a reader never sees half an object, and
 * concurrent uploads of one key never share a temporary file (the last
 * rename wins). The temporary file is removed when anything fails.
 */
const writeAtomically = async (file: string, content: string) => {
  const temporary = `${file}.${randomBytes(8).toString("hex")}.tmp`
  try {
    await fs.writeFile(temporary, content, { encoding: "utf8", flag: "wx" })
    await fs.rename(temporary, file)
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => {})
    throw error
  }
}

/**
 * The embedded default: files under `<dataDir>/objects`, one per key (its
 * segments are folders). Besides refusing a key that is not canonical, it
 * checks that the file it would write — symbolic links resolved — lies
 * strictly inside that folder, and refuses the upload otherwise.
 */
export const layerFilesystem = (dataDir: string): Layer.Layer<ObjectStore> =>
  Layer.sync(ObjectStore, () => {
    const root = path.resolve(dataDir, "objects")
    const refuse = (key: string, message: string) =>
      new ObjectStoreError({ message, kind: "rejection", reason: "invalid_key", key })
    const put = (upload: Upload) =>
      Effect.gen(function*() {
        const problem = keyProblem(upload.key)
        if (problem !== undefined) return yield* Effect.fail(invalidKey(upload.key, problem))
        const file = path.resolve(root, ...upload.key.split("/"))
        if (!isWithin(root, file) || file === root) {
          return yield* Effect.fail(refuse(upload.key, "key names a path outside the object store"))
        }
        const folder = path.dirname(file)
        const inside = yield* Effect.tryPromise({
          try: async () => {
            await fs.mkdir(folder, { recursive: true })
            return isWithin(await fs.realpath(root), await fs.realpath(folder))
          },
          catch: fromCause(Classify.node, upload.key)
        })
        if (!inside) return yield* Effect.fail(refuse(upload.key, "key leads outside the object store"))
        yield* Effect.tryPromise({
          try: () => writeAtomically(file, upload.content),
          catch: fromCause(Classify.node, upload.key)
        })
        return { status: "stored" as const, key: upload.key }
      })
    return ObjectStore.of({
      put,
      ping: Effect.tryPromise({
        try: () => fs.mkdir(root, { recursive: true }),
        catch: fromCause(Classify.node, undefined)
      }).pipe(Effect.asVoid)
    })
  })
