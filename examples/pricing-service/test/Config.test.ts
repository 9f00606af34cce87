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
      [{ UPLOAD_REPLAY_INTERVAL: "0" }, "UPLOAD_REPLAY_INTERVAL"]
    ] as const
  )("bad config %j: a ConfigError naming %s", ([env, name]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(env))
      expect(String(error)).toContain(name)
    }))
})
