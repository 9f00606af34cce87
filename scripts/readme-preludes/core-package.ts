// Context for the fragments of packages/core/README.md marked `<!-- check: prelude=core-package -->`:
// the services its first Dependency block defines, their raw clients, and the application's own
// effects. A block imports only the names it mentions (scripts/check-readme.mjs).
import type { CircuitBreaker, Fallback } from "@effect-resilience/core"
import type { Effect, Layer } from "effect"
import { Context, Data } from "effect"

export class DbError extends Data.TaggedError("DbError")<{ readonly cause: unknown }> {}
export class AiError extends Data.TaggedError("AiError")<{ readonly status: number }> {}
export class NotFound extends Data.TaggedError("NotFound")<{ readonly id: string }> {}

// As the README's Dependency block defines them.
export class Cache extends Context.Tag("Cache")<Cache, {
  readonly get: (key: string) => Effect.Effect<string | undefined, CircuitBreaker.Unavailable>
}>() {}
export class Db extends Context.Tag("Db")<Db, {
  readonly price: (id: string) => Effect.Effect<number, DbError | NotFound | CircuitBreaker.Unavailable>
  readonly setPrice: (id: string, price: number) => Effect.Effect<void, DbError | Fallback.UnavailableError>
}>() {}
export declare const DbRaw: Layer.Layer<Db>
export declare const CacheRaw: Layer.Layer<Cache>

// What a handler answers at each level.
export declare const fullPrice: (
  id: string
) => Effect.Effect<number, DbError | NotFound | CircuitBreaker.Unavailable, Db>
export declare const cachedPrice: (id: string) => Effect.Effect<number, NotFound, Cache>
export declare const statusOnly: Effect.Effect<never, Fallback.UnavailableError>

// Calls of the application's own clients.
export declare const queryRows: Effect.Effect<ReadonlyArray<string>, DbError>
export declare const buildReport: Effect.Effect<string, DbError>
export declare const complete: (model: string, prompt: string) => Effect.Effect<string, AiError>
