/**
 * The application wired: one raw layer per backend (real client or embedded
 * default), each wrapped by `Dependency` with its preset and the
 * `RESILIENCE_<NAME>_*` overrides, all registered with one `Degradation`.
 * Between the two sits `Faults.layerConfig`: with `RESILIENCE_FAULTS=on`
 * (refused in the production profile unless
 * `RESILIENCE_FAULTS_ALLOW_PRODUCTION=true`) an operator can make a backend
 * fail, hang or slow down through `/admin/faults` for a drill; off (the
 * default), the raw service is used as is.
 *
 * Each breaker's `isFailure` reads the `kind` of its backend's errors: a
 * request the backend refused never counts towards opening it, and never
 * reaches a fallback (a refused upload is not queued).
 */
import { Degradation, Dependency, Fallback, Faults, Presets, Profile } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AppConfig } from "./Config.js"
import * as Ai from "./services/Ai.js"
import * as Cache from "./services/Cache.js"
import * as Db from "./services/Db.js"
import * as ObjectStore from "./services/ObjectStore.js"
import * as UploadQueue from "./UploadQueue.js"

/** `preset` whose breaker tells outages from rejections by `isFailure`. */
const classified = (preset: Presets.Preset, isFailure: (error: unknown) => boolean): Presets.Preset => ({
  ...preset,
  breaker: { ...preset.breaker, isFailure }
})

const dbPreset = classified(Presets.db, Db.isFailure)
const redisPreset = classified(Presets.redis, Cache.isFailure)
const s3Preset = classified(Presets.s3, ObjectStore.isFailure)
const openaiPreset = classified(Presets.openai, Ai.isFailure)

const DbRaw = (config: AppConfig) =>
  Option.match(config.databaseUrl, { onNone: () => Db.layerSqlite(config.dataDir), onSome: Db.layerPg })

/** The cache's client timeout follows its configured call timeout. */
const CacheRaw = (config: AppConfig) =>
  Option.match(config.redisUrl, {
    onNone: () => Cache.layerMemory,
    onSome: (url) =>
      Layer.unwrapEffect(
        Effect.map(Profile.dependency(redisPreset), (preset) => Cache.layerRedis(url, preset.callTimeout))
      )
  })

const ObjectStoreRaw = (config: AppConfig) =>
  Option.match(config.s3, { onNone: () => ObjectStore.layerFilesystem(config.dataDir), onSome: ObjectStore.layerS3 })

const AiRaw = (config: AppConfig) =>
  Option.match(config.openai, { onNone: () => Ai.layerRules, onSome: Ai.layerOpenAi })

const DbLive = (config: AppConfig) =>
  Dependency.layerConfig(Db.Db, dbPreset, {
    health: (db) => db.ping,
    fallback: { createProduct: Presets.writesBlocked("db") }
  }).pipe(Layer.provide(Faults.layerConfig(Db.Db, { name: Presets.db.name })), Layer.provide(DbRaw(config)))

// No fallbacks: the handlers choose what a cache miss or a cache outage means (read the DB).
const CacheLive = (config: AppConfig) =>
  Dependency.layerConfig(Cache.Cache, redisPreset, { health: (cache) => cache.ping }).pipe(
    Layer.provide(Faults.layerConfig(Cache.Cache, { name: Presets.redis.name })),
    Layer.provide(CacheRaw(config))
  )

const AiLive = (config: AppConfig) =>
  Dependency.layerConfig(Ai.Ai, openaiPreset, {
    health: (ai) => ai.ping,
    fallback: {
      enhancePrices: Fallback.sync((_error, items: ReadonlyArray<Ai.PriceItem>): Ai.Enhanced => Ai.baseline(items)),
      cleanText: Fallback.sync((_error, text: string): Ai.CleanedText => ({ text, ocr_enhanced: false }))
    }
  }).pipe(Layer.provide(Faults.layerConfig(Ai.Ai, { name: Presets.openai.name })), Layer.provide(AiRaw(config)))

/** Queued uploads are replayed every `UPLOAD_REPLAY_INTERVAL` while the store takes calls. */
const ObjectStoreLive = (config: AppConfig) =>
  Layer.unwrapEffect(
    Effect.map(UploadQueue.UploadQueue, (queue) =>
      Dependency.layerConfig(ObjectStore.ObjectStore, s3Preset, {
        health: (store) => store.ping,
        replayInterval: config.uploadReplayInterval,
        fallback: {
          put: (_error, upload: ObjectStore.Upload) =>
            Effect.as(queue.offer(upload), { status: "queued" as const, key: upload.key })
        },
        replay: [{ queue, run: (store, upload: ObjectStore.Upload) => store.put(upload) }]
      }))
  ).pipe(
    Layer.provide(Faults.layerConfig(ObjectStore.ObjectStore, { name: Presets.s3.name })),
    Layer.provide(ObjectStoreRaw(config))
  )

/**
 * Every dependency, wrapped, with the `Degradation` they register with, the
 * upload queue, and the registry of their fault controls (empty while
 * `RESILIENCE_FAULTS` is off) that `/admin/faults` and `/status` read.
 */
export const make = (config: AppConfig) =>
  Layer.mergeAll(DbLive(config), CacheLive(config), AiLive(config), ObjectStoreLive(config)).pipe(
    Layer.provideMerge(UploadQueue.layer(config.dataDir, config.uploadQueue)),
    Layer.provideMerge(Faults.layerRegistry),
    Layer.provideMerge(Degradation.layerConfig())
  )
