/**
 * Retry-After as the real clients report it: the openai client and
 * @aws-sdk/client-s3 (both from the example service) and @effect/platform's
 * HttpClient, against local servers that answer 429 / 503 SlowDown with
 * `retry-after-ms`, `retry-after` in seconds or as a date, or nothing. Each
 * error is read bare and wrapped in an app's own error; then `Retry.retry`
 * around the real client waits what the server asked, never less.
 */
import { Retry } from "@effect-resilience/core"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as http from "node:http"
import { createRequire } from "node:module"
import type * as net from "node:net"
import type * as OpenAi from "../examples/pricing-service/node_modules/openai/index.js"

const fromService = createRequire(new URL("../examples/pricing-service/package.json", import.meta.url))
const { OpenAI } = fromService("openai") as typeof OpenAi

/** The part of @aws-sdk/client-s3 these tests use: its own types name packages the example does not link. */
interface S3Module {
  readonly S3Client: new(config: {
    readonly endpoint: string
    readonly region: string
    readonly forcePathStyle: boolean
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
    readonly maxAttempts: number
  }) => { send(command: object): Promise<unknown>; destroy(): void }
  readonly GetObjectCommand: new(input: { readonly Bucket: string; readonly Key: string }) => object
}
const S3 = fromService("@aws-sdk/client-s3") as S3Module

/** An app's own error around a client's. */
class AppError extends Data.TaggedError("AppError")<{ readonly cause: unknown }> {}

/** An answer of the local server: status, headers, body. */
interface Answer {
  readonly status: number
  readonly headers?: http.OutgoingHttpHeaders
  readonly body: string
}

/**
 * A node:http server on 127.0.0.1 answering from `answers` in turn (the
 * last one again when they run out) and recording when each request came.
 */
const serve = (answers: ReadonlyArray<Answer>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: http.Server; readonly arrivals: Array<number> }>((resume) => {
      const arrivals: Array<number> = []
      const server = http.createServer((request, response) => {
        request.resume()
        request.on("end", () => {
          const answer = answers[Math.min(arrivals.length, answers.length - 1)]!
          arrivals.push(performance.now())
          response.writeHead(answer.status, answer.headers).end(answer.body)
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, arrivals })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.map(({ arrivals, server }) => ({
      url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      arrivals
    }))
  )

/** What a promise rejects with; resolving is a defect, and fails the test. */
const rejection = (thunk: () => PromiseLike<unknown>): Effect.Effect<unknown> =>
  Effect.tryPromise({ try: thunk, catch: (error) => error }).pipe(
    Effect.flatMap((value) => Effect.die(new Error(`expected a rejection, got ${String(value)}`))),
    Effect.flip
  )

/** The reader's answer in milliseconds, for the error bare and wrapped; `undefined` for none. */
const read = (reader: Retry.RetryAfter, error: unknown, now = Date.now()) => {
  const bare = Option.map(reader(error, now), Duration.toMillis)
  const wrapped = Option.map(reader(new AppError({ cause: error }), now), Duration.toMillis)
  expect(wrapped).toEqual(bare)
  return Option.getOrUndefined(bare)
}

const json = { "content-type": "application/json" }
const rateLimited = JSON.stringify({
  error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" }
})
const completion = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 0,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "42.00" }, finish_reason: "stop" }]
})

describe("the openai client", () => {
  const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: "sk-retry", maxRetries: 0 })
  const complete = (openai: InstanceType<typeof OpenAI>) =>
    openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "price?" }] })

  it.scopedLive("429 with retry-after-ms, retry-after in seconds and as a date", () =>
    Effect.gen(function*() {
      const date = "Wed, 01 Apr 2026 12:00:05 GMT"
      const cases = [
        [{ "retry-after-ms": "1500" }, Date.now(), 1500],
        [{ "retry-after": "2" }, Date.now(), 2000],
        [{ "retry-after": date }, Date.parse(date) - 3000, 3000],
        [{ "retry-after": date }, Date.parse(date) + 1000, 0],
        [{}, Date.now(), undefined]
      ] as const
      for (const [headers, now, expected] of cases) {
        const server = yield* serve([{ status: 429, headers: { ...json, ...headers }, body: rateLimited }])
        const error = yield* rejection(() => complete(client(server.url)))
        expect((error as { readonly status?: unknown }).status).toBe(429)
        expect(read(Retry.retryAfterOpenAI, error, now), JSON.stringify(headers)).toBe(expected)
        expect(read(Retry.retryAfterFromError, error, now)).toBe(expected)
      }
    }))

  it.scopedLive("Retry.retry around the client: the next request no earlier than the server asked", () =>
    Effect.gen(function*() {
      const server = yield* serve([
        { status: 429, headers: { ...json, "retry-after-ms": "400" }, body: rateLimited },
        { status: 200, headers: json, body: completion }
      ])
      const openai = client(server.url)
      const policy = Retry.policy({ schedule: Schedule.spaced("10 millis"), retryAfter: Retry.retryAfterOpenAI })
      const answer = yield* Retry.retry(Effect.tryPromise({ try: () => complete(openai), catch: (e) => e }), policy)
      expect(answer.choices[0]?.message.content).toBe("42.00")
      expect(server.arrivals).toHaveLength(2)
      expect(server.arrivals[1]! - server.arrivals[0]!).toBeGreaterThanOrEqual(400)
    }))
})

/** S3's answer when it sheds load. */
const slowDown = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>retry</RequestId></Error>`

describe("S3 through @aws-sdk/client-s3", () => {
  const s3Client = (endpoint: string) =>
    Effect.acquireRelease(
      Effect.sync(() =>
        new S3.S3Client({
          endpoint,
          region: "us-east-1",
          forcePathStyle: true,
          credentials: { accessKeyId: "retry", secretAccessKey: "retry" },
          maxAttempts: 1
        })
      ),
      (client) => Effect.sync(() => client.destroy())
    )
  const xml = { "content-type": "application/xml" }

  it.scopedLive("503 SlowDown with retry-after, and without", () =>
    Effect.gen(function*() {
      for (const [headers, expected] of [[{ "retry-after": "3" }, 3000], [{}, undefined]] as const) {
        const server = yield* serve([{ status: 503, headers: { ...xml, ...headers }, body: slowDown }])
        const s3 = yield* s3Client(server.url)
        const error = yield* rejection(() => s3.send(new S3.GetObjectCommand({ Bucket: "uploads", Key: "k" })))
        expect((error as Error).name).toBe("SlowDown")
        expect(read(Retry.retryAfterS3, error)).toBe(expected)
        expect(read(Retry.retryAfterFromError, error)).toBe(expected)
      }
    }))

  it.scopedLive("Retry.retry around the client: the next request no earlier than the server asked", () =>
    Effect.gen(function*() {
      const server = yield* serve([
        { status: 503, headers: { ...xml, "retry-after": "1" }, body: slowDown },
        { status: 200, headers: { "content-type": "text/plain", "content-length": "5" }, body: "fresh" }
      ])
      const s3 = yield* s3Client(server.url)
      const policy = Retry.policy({ schedule: Schedule.spaced("10 millis"), retryAfter: Retry.retryAfterS3 })
      const get = Effect.tryPromise({
        try: () => s3.send(new S3.GetObjectCommand({ Bucket: "uploads", Key: "k" })),
        catch: (e) => e
      })
      yield* Retry.retry(get, policy)
      expect(server.arrivals).toHaveLength(2)
      expect(server.arrivals[1]! - server.arrivals[0]!).toBeGreaterThanOrEqual(1000)
    }))
})

describe("@effect/platform's HttpClient", () => {
  it.scopedLive("a ResponseError's retry-after", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ status: 429, headers: { "retry-after": "7" }, body: "" }])
      const error = yield* HttpClient.HttpClient.pipe(
        Effect.map(HttpClient.filterStatusOk),
        Effect.flatMap((client) => client.get(server.url)),
        Effect.flip,
        Effect.provide(FetchHttpClient.layer)
      )
      expect(error._tag).toBe("ResponseError")
      expect(read(Retry.retryAfterHttpClient, error)).toBe(7000)
      expect(read(Retry.retryAfterFromError, error)).toBe(7000)
      // Not an openai error nor an AWS one: their readers find nothing.
      expect(read(Retry.retryAfterOpenAI, error)).toBeUndefined()
      expect(read(Retry.retryAfterS3, error)).toBeUndefined()
    }))
})
