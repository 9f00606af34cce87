/**
 * Optional peer dependencies, loaded when a layer that needs them is built:
 * importing `@effect-resilience/platform` must work without ioredis or
 * better-sqlite3 installed when their layers are not used.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

const load = <A>(pkg: string, use: string, f: () => Promise<A>): Effect.Effect<A, string> =>
  Effect.tryPromise({
    try: f,
    catch: (cause) =>
      `${use} needs the package ${pkg}, which could not be loaded (${
        cause instanceof Error ? cause.message : String(cause)
      }): install it next to @effect-resilience/platform`
  })

/** @internal */
export const ioredis = (use: string) => load("ioredis", use, () => import("ioredis"))

/** @internal */
export const redisPersistedQueue = (use: string) =>
  load("ioredis", use, () => import("@effect/experimental/PersistedQueue/Redis"))

/** @internal */
export const sqliteClient = (use: string) =>
  load("@effect/sql-sqlite-node", use, () => import("@effect/sql-sqlite-node/SqliteClient"))
