// Context for the fragments of README.md marked `<!-- check: prelude=core -->`: the modules the
// README's earlier blocks import, and the application's own services, errors and layers.
// A block imports only the names it mentions (scripts/check-readme.mjs).
import type { CircuitBreaker, Degradation } from "@effect-resilience/core"
import type { Effect, Layer } from "effect"
import { Context, Data } from "effect"

export { CircuitBreaker, Degradation, DegradationLevel, Dependency, Fallback, Presets } from "@effect-resilience/core"
export { Context, Effect, Layer } from "effect"

export class AiError extends Data.TaggedError("AiError")<{ readonly message: string }> {}
export class DbError extends Data.TaggedError("DbError")<{ readonly cause: unknown }> {}
export class NotFound extends Data.TaggedError("NotFound")<{ readonly id: string }> {}

export interface Row {
  readonly id: number
  readonly name: string
  readonly price: number
}
export declare const queryRows: Effect.Effect<ReadonlyArray<Row>, DbError | NotFound>

export class Db extends Context.Tag("Db")<Db, {
  readonly product: (id: string) => Effect.Effect<Row, DbError | NotFound | CircuitBreaker.Unavailable>
}>() {}
export class Cache extends Context.Tag("Cache")<Cache, {
  readonly get: (key: string) => Effect.Effect<string | undefined, CircuitBreaker.Unavailable>
}>() {}
export class ObjectStore extends Context.Tag("ObjectStore")<ObjectStore, {
  readonly put: (key: string, body: Uint8Array) => Effect.Effect<void, CircuitBreaker.Unavailable>
}>() {}

// The other dependencies, already wrapped by Dependency.layer like OpenAILive.
export declare const DbLive: Layer.Layer<Db, never, Degradation>
export declare const CacheLive: Layer.Layer<Cache, never, Degradation>
export declare const S3Live: Layer.Layer<ObjectStore, never, Degradation>

// The service a handler calls: the AI's prices, recovered by tag.
export class Pricing extends Context.Tag("Pricing")<Pricing, {
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly enhance: (prices: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<number>, AiError>
}>() {}

// The pricing service's /prices/{id} at each level.
export interface Price {
  readonly id: string
  readonly price: number
  readonly notice?: string
}
export declare const fullPricing: (id: string) => Effect.Effect<Price, DbError | NotFound, Db | Cache | Pricing>
export declare const cachedPricing: (id: string) => Effect.Effect<Price, NotFound, Cache>
export declare const basicPrice: (id: string) => Effect.Effect<Price, NotFound, Cache>
export declare const statusOnly: Effect.Effect<Price, CircuitBreaker.CircuitOpenError>
