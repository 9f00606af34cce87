/**
 * The service's configuration: embedded defaults with nothing set, real
 * backends when their variables are, and a `ConfigError` naming the variable
 * for a half-configured pair or a bad value.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as AppConfig from "../src/Config.js"

const load = (env: Record<string, string>) =>
  AppConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("Config", () => {
  it.effect("nothing set: embedded defaults on port 3000", () =>
    Effect.gen(function*() {
      const config = yield* load({})
      expect(config.port).toBe(3000)
      expect(Option.isNone(config.databaseUrl)).toBe(true)
      expect(Option.isNone(config.redisUrl)).toBe(true)
      expect(Option.isNone(config.s3)).toBe(true)
      expect(Option.isNone(config.openai)).toBe(true)
      expect(config.dataDir).toBe(AppConfig.defaultDataDir)
      expect(AppConfig.describeBackends(config)).toMatchObject({ cache: "in-process", ai: "rule-based pricing model" })
      // Bounded by default: slow clients, many connections and a long object-store outage.
      expect(Duration.toMillis(config.http.headersTimeout)).toBe(10_000)
      expect(Duration.toMillis(config.http.requestTimeout)).toBe(30_000)
      expect(Duration.toMillis(config.http.keepAliveTimeout)).toBe(5_000)
      expect(config.http.maxConnections).toBe(1000)
      expect(config.uploadQueue).toEqual({ capacity: 1000, maxBytes: 256 * 1024 * 1024 })
    }))

  it.effect("the HTTP bounds and the upload queue's from their variables", () =>
    Effect.gen(function*() {
      const config = yield* load({
        HTTP_HEADERS_TIMEOUT: "2",
        HTTP_REQUEST_TIMEOUT: "3 seconds",
        HTTP_KEEP_ALIVE_TIMEOUT: "500 millis",
        HTTP_MAX_CONNECTIONS: "50",
        UPLOAD_QUEUE_CAPACITY: "10",
        UPLOAD_QUEUE_MAX_BYTES: "1048576"
      })
      expect(Duration.toMillis(config.http.headersTimeout)).toBe(2000)
      expect(Duration.toMillis(config.http.requestTimeout)).toBe(3000)
      expect(Duration.toMillis(config.http.keepAliveTimeout)).toBe(500)
      expect(config.http.maxConnections).toBe(50)
      expect(config.uploadQueue).toEqual({ capacity: 10, maxBytes: 1_048_576 })
    }))

  it.effect("real backends from their variables; secrets are redacted in the startup log", () =>
    Effect.gen(function*() {
      const config = yield* load({
        PORT: "8080",
        DATABASE_URL: "postgres://app:hunter2@db:5432/pricing",
        REDIS_URL: "redis://cache:6379",
        S3_ENDPOINT: "http://minio:9000",
        S3_BUCKET: "uploads",
        OPENAI_BASE_URL: "http://llm:8000/v1",
        OPENAI_API_KEY: "sk-test",
        UPLOAD_REPLAY_INTERVAL: "2 seconds"
      })
      expect(config.port).toBe(8080)
      expect(Option.map(config.s3, (s) => [s.endpoint, s.bucket])).toEqual(
        Option.some(["http://minio:9000", "uploads"])
      )
      expect(Option.map(config.openai, (o) => Redacted.value(o.apiKey))).toEqual(Option.some("sk-test"))
      expect(Duration.toMillis(config.uploadReplayInterval)).toBe(2000)
      const described = AppConfig.describeBackends(config)
      expect(described.db).toBe("postgres postgres://app:***@db:5432/pricing")
      expect(JSON.stringify(described)).not.toContain("hunter2")
    }))

  it.effect.each(
    [
      [{ S3_ENDPOINT: "http://minio:9000" }, "S3_BUCKET"],
      [{ S3_BUCKET: "uploads" }, "S3_ENDPOINT"],
      [{ OPENAI_BASE_URL: "http://llm:8000/v1" }, "OPENAI_API_KEY"],
      [{ PORT: "seventy" }, "PORT"],
      [{ REDIS_URL: "not a url" }, "REDIS_URL"],
      [{ UPLOAD_REPLAY_INTERVAL: "0" }, "UPLOAD_REPLAY_INTERVAL"],
      [{ HTTP_HEADERS_TIMEOUT: "soon" }, "HTTP_HEADERS_TIMEOUT"],
      [{ HTTP_HEADERS_TIMEOUT: "40", HTTP_REQUEST_TIMEOUT: "30" }, "HTTP_HEADERS_TIMEOUT"],
      [{ HTTP_MAX_CONNECTIONS: "0" }, "HTTP_MAX_CONNECTIONS"],
      [{ UPLOAD_QUEUE_CAPACITY: "-1" }, "UPLOAD_QUEUE_CAPACITY"],
      [{ UPLOAD_QUEUE_MAX_BYTES: "1.5" }, "UPLOAD_QUEUE_MAX_BYTES"]
    ] as const
  )("bad config %j: a ConfigError naming %s", ([env, name]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(env))
      expect(String(error)).toContain(name)
    }))
})
