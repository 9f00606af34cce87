/**
 * The service's configuration, read through Effect `Config` (environment by
 * default). Every backend is optional: an unset one falls back to its
 * embedded default, a half-configured one is a `ConfigError` naming the
 * missing variable.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { fileURLToPath } from "node:url"

/** Where the embedded SQLite database, the object store and the upload queue live by default. */
export const defaultDataDir = fileURLToPath(new URL("../data", import.meta.url))

/** The S3-protocol object store (`S3_ENDPOINT` + `S3_BUCKET`, region and credentials). */
export interface S3Settings {
  readonly endpoint: string
  readonly bucket: string
  readonly region: string
  readonly accessKeyId: Option.Option<string>
  readonly secretAccessKey: Option.Option<Redacted.Redacted>
}

/** The OpenAI-compatible API (`OPENAI_API_KEY`, base URL and model). */
export interface OpenAiSettings {
  readonly baseUrl: Option.Option<string>
  readonly apiKey: Redacted.Redacted
  readonly model: string
}

/** Bounds of the HTTP server: how long a client may take, and how many may be connected at once. */
export interface HttpSettings {
  /** Until the request's headers are in (`HTTP_HEADERS_TIMEOUT`, default 10 s). */
  readonly headersTimeout: Duration.Duration
  /** Until the whole request is in (`HTTP_REQUEST_TIMEOUT`, default 30 s; at least the headers timeout). */
  readonly requestTimeout: Duration.Duration
  /** How long an idle keep-alive connection stays open (`HTTP_KEEP_ALIVE_TIMEOUT`, default 5 s). */
  readonly keepAliveTimeout: Duration.Duration
  /** Connections at once; more are closed on arrival (`HTTP_MAX_CONNECTIONS`, default 1000). */
  readonly maxConnections: number
}

/** Bounds of the queue that holds uploads while the object store is down. */
export interface UploadQueueSettings {
  /** Uploads queued at most (`UPLOAD_QUEUE_CAPACITY`, default 1000). */
  readonly capacity: number
  /** Bytes of queued content at most (`UPLOAD_QUEUE_MAX_BYTES`, default 256 MiB). */
  readonly maxBytes: number
}

/** Everything the service reads at start. */
export interface AppConfig {
  readonly port: number
  readonly host: Option.Option<string>
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  readonly redisUrl: Option.Option<string>
  readonly s3: Option.Option<S3Settings>
  readonly openai: Option.Option<OpenAiSettings>
  /** How often queued uploads are retried while the object store admits calls. */
  readonly uploadReplayInterval: Duration.Duration
  readonly uploadQueue: UploadQueueSettings
  readonly http: HttpSettings
}

/** A number of seconds or a duration string (`"500 millis"`), as `Profile` reads its overrides. */
const duration = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const trimmed = raw.trim()
      const decoded = /^\d+(\.\d+)?$/.test(trimmed)
        ? Option.some(Duration.seconds(Number(trimmed)))
        : Duration.decodeUnknown(trimmed)
      return Option.match(decoded, {
        onNone: () =>
          Either.left(ConfigError.InvalidData([], `Expected a duration ("2 seconds") or seconds, got "${raw}"`)),
        onSome: (d) =>
          Duration.toMillis(d) >= 1 && Duration.toMillis(d) <= 2 ** 31 - 1
            ? Either.right(d)
            : Either.left(ConfigError.InvalidData([], `Expected a duration between 1 ms and 2^31-1 ms, got "${raw}"`))
      })
    })
  )

/** A whole number from 1 to `max`. */
const count = (name: string, max: number) =>
  Config.integer(name).pipe(
    Config.validate({
      message: `Expected a whole number from 1 to ${max}`,
      validation: (value) => value >= 1 && value <= max
    })
  )

const http = Config.all({
  headersTimeout: duration("HTTP_HEADERS_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10))),
  requestTimeout: duration("HTTP_REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
  keepAliveTimeout: duration("HTTP_KEEP_ALIVE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  maxConnections: count("HTTP_MAX_CONNECTIONS", 1_000_000).pipe(Config.withDefault(1000))
}).pipe(
  // Node refuses a headers timeout longer than the request timeout.
  Config.mapOrFail((settings) =>
    Duration.greaterThan(settings.headersTimeout, settings.requestTimeout)
      ? Either.left(
        ConfigError.InvalidData(
          ["HTTP_HEADERS_TIMEOUT"],
          `HTTP_HEADERS_TIMEOUT (${Duration.format(settings.headersTimeout)}) must not exceed HTTP_REQUEST_TIMEOUT (${
            Duration.format(settings.requestTimeout)
          })`
        )
      )
      : Either.right(settings)
  )
)

const uploadQueue = Config.all({
  capacity: count("UPLOAD_QUEUE_CAPACITY", 10_000_000).pipe(Config.withDefault(1000)),
  maxBytes: count("UPLOAD_QUEUE_MAX_BYTES", Number.MAX_SAFE_INTEGER).pipe(Config.withDefault(256 * 1024 * 1024))
})

const url = (name: string) =>
  Config.string(name).pipe(
    Config.validate({
      message: "Expected an absolute URL (http://host:port)",
      validation: (value) => URL.canParse(value)
    })
  )

/** Both variables or neither: one alone is a `ConfigError` naming the other. */
const pair = <A, B>(
  first: { readonly name: string; readonly config: Config.Config<A> },
  second: { readonly name: string; readonly config: Config.Config<B> }
): Config.Config<Option.Option<readonly [A, B]>> =>
  Config.all([Config.option(first.config), Config.option(second.config)]).pipe(
    Config.mapOrFail(([a, b]) => {
      if (Option.isSome(a) && Option.isSome(b)) return Either.right(Option.some([a.value, b.value] as const))
      if (Option.isNone(a) && Option.isNone(b)) return Either.right(Option.none())
      const missing = Option.isNone(a) ? first.name : second.name
      const present = Option.isNone(a) ? second.name : first.name
      return Either.left(ConfigError.MissingData([missing], `${present} is set, so ${missing} must be set too`))
    })
  )

const s3 = Config.all({
  pair: pair({ name: "S3_ENDPOINT", config: url("S3_ENDPOINT") }, {
    name: "S3_BUCKET",
    config: Config.nonEmptyString("S3_BUCKET")
  }),
  region: Config.nonEmptyString("S3_REGION").pipe(Config.withDefault("us-east-1")),
  accessKeyId: Config.option(Config.nonEmptyString("S3_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("S3_SECRET_ACCESS_KEY"))
}).pipe(
  Config.map(({ pair, ...rest }) =>
    Option.map(pair, ([endpoint, bucket]): S3Settings => ({ endpoint, bucket, ...rest }))
  )
)

const openai = Config.all({
  baseUrl: Config.option(url("OPENAI_BASE_URL")),
  apiKey: Config.option(Config.redacted("OPENAI_API_KEY")),
  model: Config.nonEmptyString("OPENAI_MODEL").pipe(Config.withDefault("gpt-4o-mini"))
}).pipe(Config.mapOrFail(({ apiKey, baseUrl, model }) =>
  Option.isNone(apiKey)
    ? Option.isSome(baseUrl)
      ? Either.left(
        ConfigError.MissingData(["OPENAI_API_KEY"], "OPENAI_BASE_URL is set, so OPENAI_API_KEY must be set too")
      )
      : Either.right(Option.none<OpenAiSettings>())
    : Either.right(Option.some<OpenAiSettings>({ baseUrl, apiKey: apiKey.value, model }))
))

/** The service's configuration, each field from its variable (see the README). */
export const config: Config.Config<AppConfig> = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.option(Config.nonEmptyString("HOST")),
  dataDir: Config.nonEmptyString("DATA_DIR").pipe(Config.withDefault(defaultDataDir)),
  databaseUrl: Config.option(Config.redacted("DATABASE_URL")),
  redisUrl: Config.option(url("REDIS_URL")),
  s3,
  openai,
  uploadReplayInterval: duration("UPLOAD_REPLAY_INTERVAL").pipe(Config.withDefault(Duration.seconds(30))),
  uploadQueue,
  http
})

/** Read once at start; the layers share it. */
export const load: Effect.Effect<AppConfig, ConfigError.ConfigError> = config

/** What the startup log says about each backend (no secrets). */
export const describeBackends = (c: AppConfig) => {
  const redact = (raw: string) => {
    try {
      const u = new URL(raw)
      u.password = u.password ? "***" : ""
      return u.toString()
    } catch {
      return "(invalid url)"
    }
  }
  return {
    db: Option.match(c.databaseUrl, {
      onNone: () => `sqlite ${c.dataDir}/pricing.sqlite`,
      onSome: (u) => `postgres ${redact(Redacted.value(u))}`
    }),
    cache: Option.match(c.redisUrl, { onNone: () => "in-process", onSome: (u) => `redis ${redact(u)}` }),
    objectStore: Option.match(c.s3, {
      onNone: () => `filesystem ${c.dataDir}/objects`,
      onSome: (s) => `s3 ${s.endpoint} bucket ${s.bucket}`
    }),
    ai: Option.match(c.openai, {
      onNone: () => "rule-based pricing model",
      onSome: (o) => `openai ${Option.getOrElse(o.baseUrl, () => "https://api.openai.com/v1")} model ${o.model}`
    }),
    uploadQueue:
      `sqlite ${c.dataDir}/upload-queue.sqlite (at most ${c.uploadQueue.capacity} uploads, ${c.uploadQueue.maxBytes} bytes)`
  }
}
