/**
 * The Redis cache on the machine's Redis (keys of ids no other test uses,
 * deleted afterwards): a key of another type is a rejection of that command
 * (`WRONGTYPE`), which the redis breaker never counts; an entry that is not
 * a product reads as a miss instead of failing the read; Redis away is an
 * outage.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Redis } from "ioredis"
import * as net from "node:net"
import { Cache, type CacheError } from "../src/services/Cache.js"
import * as CacheModule from "../src/services/Cache.js"

const url = "redis://127.0.0.1:6379"
// Ids beyond what a test database ever holds, one range per run.
const base = 1_000_000_000 + (process.pid % 1000) * 1000
const key = (id: number) => `pricing-service:product:${id}`
const redis = new Redis(url)

afterAll(async () => {
  await redis.del(key(base), key(base + 1), key(base + 2))
  redis.disconnect()
})

const get = (id: number, at = url) =>
  Effect.flatMap(Cache, (cache) => cache.get(id)).pipe(
    Effect.provide(CacheModule.layerRedis(at, Duration.millis(500)))
  )

describe("Cache on Redis", () => {
  it.live("a key of another type: a rejection (WRONGTYPE), not counted", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => redis.lpush(key(base), "not a product"))
      const error = (yield* Effect.flip(get(base))) as CacheError
      expect(error).toMatchObject({ _tag: "CacheError", kind: "rejection" })
      expect(error.message).toMatch(/^WRONGTYPE/)
      expect(CacheModule.isFailure(error)).toBe(false)
    }))

  it.live("an entry that is not a product: a miss; a product: a hit", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => redis.set(key(base + 1), "{not json"))
      expect(yield* get(base + 1)).toEqual(Option.none())
      const product = { id: base + 2, name: "Lamp", price: 20 }
      yield* Effect.promise(() => redis.set(key(base + 2), JSON.stringify(product)))
      expect(yield* get(base + 2)).toEqual(Option.some(product))
    }))

  it.live("Redis away: an outage, counted", () =>
    Effect.gen(function*() {
      // A port that was just free: nothing answers there.
      const port = yield* Effect.async<number>((resume) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const error = (yield* Effect.flip(get(base, `redis://127.0.0.1:${port}`))) as CacheError
      expect(error).toMatchObject({ _tag: "CacheError", kind: "outage" })
      expect(CacheModule.isFailure(error)).toBe(true)
    }), 15_000)
})
