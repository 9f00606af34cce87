/**
 * The object stores, on a real folder and against a local S3-protocol
 * server: the folder store keeps every key strictly inside its root
 * (symbolic links included), writes each upload through a temporary file of
 * its own (concurrent uploads of one key all succeed, none is left behind),
 * and every error says whether the store is down or refused this upload.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ObjectStore, type ObjectStoreError } from "../src/services/ObjectStore.js"
import * as Store from "../src/services/ObjectStore.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "object-store-"))
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Every file under `dir`, relative, sorted. */
const files = (dir: string) =>
  (fs.readdirSync(dir, { recursive: true }) as Array<string>)
    .filter((file) => fs.statSync(path.join(dir, file)).isFile())
    .sort()

const upload = (key: string, content = `body of ${key}`) => ({ key, contentType: "text/plain", content })

const putOn = (dataDir: string, key: string, content?: string) =>
  Effect.flatMap(ObjectStore, (store) => store.put(upload(key, content))).pipe(
    Effect.provide(Store.layerFilesystem(dataDir))
  )

const refusal = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => {
    const e = error as ObjectStoreError
    return { tag: e._tag, kind: e.kind, reason: e.reason }
  })

describe("ObjectStore.layerFilesystem", () => {
  it.live("12 concurrent uploads of one key: all stored, the object is one of them, no temporary file left", () =>
    Effect.gen(function*() {
      const dataDir = tempDir()
      const contents = Array.from({ length: 12 }, (_, i) => `version ${i} `.repeat(10_000))
      const results = yield* Effect.flatMap(
        ObjectStore,
        (store) =>
          Effect.forEach(contents, (content) => store.put(upload("reports/same.txt", content)), {
            concurrency: "unbounded"
          })
      ).pipe(Effect.provide(Store.layerFilesystem(dataDir)))
      expect(results).toEqual(contents.map(() => ({ status: "stored", key: "reports/same.txt" })))
      expect(files(dataDir)).toEqual([path.join("objects", "reports", "same.txt")])
      expect(contents).toContain(fs.readFileSync(path.join(dataDir, "objects/reports/same.txt"), "utf8"))
    }))

  it.live("keys that are not canonical are refused before anything is written", () =>
    Effect.gen(function*() {
      const dataDir = tempDir()
      for (const key of ["../escaped", "../../etc/x", "/etc/x", ".", "..", "a//b", "a\\b", "a/./b", "a\u0000", ""]) {
        expect(yield* refusal(putOn(dataDir, key)), JSON.stringify(key)).toEqual({
          tag: "ObjectStoreError",
          kind: "rejection",
          reason: "invalid_key"
        })
      }
      expect(files(dataDir)).toEqual([])
    }))

  it.live("a symbolic link inside the store that leads outside it is refused", () =>
    Effect.gen(function*() {
      const dataDir = tempDir()
      const outside = tempDir()
      fs.mkdirSync(path.join(dataDir, "objects"), { recursive: true })
      fs.symlinkSync(outside, path.join(dataDir, "objects", "link"))
      expect(yield* refusal(putOn(dataDir, "link/x.txt"))).toEqual({
        tag: "ObjectStoreError",
        kind: "rejection",
        reason: "invalid_key"
      })
      expect(fs.readdirSync(outside)).toEqual([])
    }))

  it.live("a key in the way of another object's path is a conflict (a rejection), and leaves no temporary file", () =>
    Effect.gen(function*() {
      const dataDir = tempDir()
      yield* putOn(dataDir, "a")
      expect(yield* refusal(putOn(dataDir, "a/b"))).toEqual({
        tag: "ObjectStoreError",
        kind: "rejection",
        reason: "conflict"
      })
      yield* putOn(dataDir, "c/d")
      expect(yield* refusal(putOn(dataDir, "c"))).toEqual({
        tag: "ObjectStoreError",
        kind: "rejection",
        reason: "conflict"
      })
      expect(files(dataDir)).toEqual([path.join("objects", "a"), path.join("objects", "c", "d")])
    }))
})

/** A stand-in for an S3 server: the bucket exists; each key prefix picks the answer to a PUT. */
const startFakeS3 = () =>
  Effect.acquireRelease(
    Effect.async<{ readonly endpoint: string; readonly puts: Array<string>; readonly server: http.Server }>(
      (resume) => {
        const puts: Array<string> = []
        const server = http.createServer((req, res) => {
          req.resume()
          req.on("end", () => {
            const key = decodeURIComponent((req.url ?? "").split("?")[0]!.replace(/^\/bucket\/?/, ""))
            if (req.method === "HEAD") return res.writeHead(200).end()
            puts.push(key)
            const error = (status: number, code: string) =>
              res.writeHead(status, { "content-type": "application/xml" }).end(
                `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`
              )
            if (key.startsWith("refused/")) return error(400, "InvalidArgument")
            if (key.startsWith("conflict/")) return error(409, "OperationAborted")
            if (key.startsWith("nobucket/")) return error(404, "NoSuchBucket")
            if (key.startsWith("down/")) return error(503, "ServiceUnavailable")
            res.writeHead(200, { etag: "\"0\"" }).end()
          })
        })
        server.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({
            endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
            puts,
            server
          })))
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

const s3Layer = (endpoint: string) =>
  Store.layerS3({
    endpoint,
    bucket: "bucket",
    region: "us-east-1",
    accessKeyId: Option.some("key"),
    secretAccessKey: Option.some(Redacted.make("secret"))
  })

describe("ObjectStore.layerS3", () => {
  it.scoped("a 4xx for this object is a rejection, the bucket missing or a 5xx an outage; bad keys never sent", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeS3()
      const put = (key: string) =>
        Effect.flatMap(ObjectStore, (store) => store.put(upload(key))).pipe(Effect.provide(s3Layer(fake.endpoint)))
      expect(yield* put("docs/a.txt")).toEqual({ status: "stored", key: "docs/a.txt" })
      expect(yield* refusal(put("refused/a.txt"))).toEqual({
        tag: "ObjectStoreError",
        kind: "rejection",
        reason: "refused"
      })
      expect(yield* refusal(put("conflict/a.txt"))).toEqual({
        tag: "ObjectStoreError",
        kind: "rejection",
        reason: "conflict"
      })
      expect(yield* refusal(put("nobucket/a.txt"))).toMatchObject({ kind: "outage" })
      expect(yield* refusal(put("down/a.txt"))).toMatchObject({ kind: "outage" })
      expect(yield* refusal(put("../escaped"))).toMatchObject({ kind: "rejection", reason: "invalid_key" })
      expect(fake.puts).toEqual(["docs/a.txt", "refused/a.txt", "conflict/a.txt", "nobucket/a.txt", "down/a.txt"])
    }))

  it.live("nothing listening: an outage", () =>
    Effect.gen(function*() {
      // A port that was just free: connecting is refused.
      const endpoint = yield* Effect.async<string>((resume) => {
        const server = http.createServer()
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port
          server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
        })
      })
      const error = yield* Effect.flip(
        Effect.flatMap(ObjectStore, (store) => store.put(upload("docs/a.txt"))).pipe(Effect.provide(s3Layer(endpoint)))
      )
      expect(error).toMatchObject({ _tag: "ObjectStoreError", kind: "outage" })
      expect(Store.isFailure(error)).toBe(true)
    }))

  it("isFailure: the kind decides; errors of others by Classify", () => {
    const rejected = new Store.ObjectStoreError({ message: "x", kind: "rejection", reason: "refused" })
    const down = new Store.ObjectStoreError({ message: "x", kind: "outage" })
    expect(Store.isFailure(rejected)).toBe(false)
    expect(Store.isFailure(down)).toBe(true)
    expect(Store.isFailure(new Error("boom"))).toBe(true)
    expect(Store.isFailure({ code: "EISDIR", syscall: "rename" })).toBe(false)
  })
})
