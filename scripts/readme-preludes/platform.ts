// Context for the fragments of packages/platform/README.md marked `<!-- check: prelude=platform -->`:
// the application's handlers, routers and errors. A block imports only the names it mentions.
import type { Degradation } from "@effect-resilience/core"
import type { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { HttpRouter } from "@effect/platform"
import { Data, type Effect, type Layer } from "effect"

export { DegradationMiddleware } from "@effect-resilience/platform"
export { HttpApiBuilder, HttpLayerRouter, HttpRouter, HttpServer } from "@effect/platform"
export { Layer } from "effect"

// Route handlers (they read the level through Degradation).
export declare const getPrice: Effect.Effect<HttpServerResponse.HttpServerResponse, never, Degradation>
export declare const createProduct: Effect.Effect<HttpServerResponse.HttpServerResponse, never, Degradation>

// The application's routes: an HttpRouter, and the same as HttpLayerRouter routes.
export const app: HttpRouter.HttpRouter<never, Degradation> = HttpRouter.empty.pipe(
  HttpRouter.get("/prices/:id", getPrice),
  HttpRouter.post("/products", createProduct)
)
export declare const Routes: Layer.Layer<never, never, HttpLayerRouter.HttpRouter>

// A client of a remote pricing API.
export declare const pricingApi: string
export class PricingError extends Data.TaggedError("PricingError")<{ readonly cause: unknown }> {}
