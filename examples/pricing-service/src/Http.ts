/**
 * The routes: the seed's `/prices/:id` handler pattern-matching on the
 * degradation level, AI endpoints with fallbacks, product writes, uploads
 * with a durable write-behind queue, plus status, admin (and fault-drill)
 * and metrics routes.
 * `DegradationMiddleware` sheds writes from Minimal and everything but
 * status routes at Emergency.
 */
import type { Fallback } from "@effect-resilience/core"
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import { AdminRoutes, DegradationMiddleware, FaultRoutes, StatusRoutes } from "@effect-resilience/platform"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { Ai, unavailableNotice } from "./services/Ai.js"
import { Cache } from "./services/Cache.js"
import { Db, type Product } from "./services/Db.js"
import { ObjectStore } from "./services/ObjectStore.js"

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

const badRequest = (message: string) => json({ error: "invalid_request", message }, 400)

const notFound = (id: number) => json({ error: "not_found", message: `no product ${id}` }, 404)

const unavailable = (message: string, retryAfterSeconds: number) =>
  json({ error: "unavailable", message, action: "Retry later." }, 503, {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds)))
  })

/** What a price comes with: where it was read and whether the model adjusted it. */
interface PriceBody {
  readonly id: number
  readonly name: string
  readonly price: number
  readonly base_price: number
  readonly source: "cache" | "db"
  readonly enhanced: boolean
  readonly notice?: string
  readonly level: string
}

type Read = { readonly product: Product; readonly source: "cache" | "db" }

/** The stored product, straight from the DB. `None` for an unknown id; fails when the DB is unreachable. */
const fromDb = (id: number) =>
  Effect.flatMap(Db, (db) => db.getProduct(id)).pipe(
    Effect.map(Option.map((product): Read => ({ product, source: "db" })))
  )

/** A cache hit, or nothing (a miss and a cache outage look the same to a reader). */
const fromCache = (id: number) =>
  Effect.flatMap(Cache, (cache) => cache.get(id)).pipe(
    Effect.map(Option.map((product): Read => ({ product, source: "cache" }))),
    Effect.orElseSucceed(() => Option.none<Read>())
  )

/** Cache-aside: after a DB read, fill the cache without making the request wait for it. */
const remember = (read: Read) =>
  read.source === "db"
    ? Effect.flatMap(Cache, (cache) => cache.set(read.product)).pipe(Effect.ignore, Effect.forkDaemon, Effect.asVoid)
    : Effect.void

const cacheThenDb = (id: number) =>
  Effect.flatMap(fromCache(id), (hit) => Option.isSome(hit) ? Effect.succeed(hit) : fromDb(id))

const enhance = (read: Read) =>
  Effect.flatMap(Ai, (ai) => ai.enhancePrices([{ name: read.product.name, price: read.product.price }]))

const body = (
  read: Read,
  level: DegradationLevel.DegradationLevel,
  price: number,
  enhanced: boolean,
  notice?: string
) => {
  const out: PriceBody = {
    id: read.product.id,
    name: read.product.name,
    price,
    base_price: read.product.price,
    source: read.source,
    enhanced,
    level: level._tag,
    ...(notice === undefined ? {} : { notice })
  }
  return out
}

/** Full pricing: the product read (as `read` says), then the model's adjustment (or its fallback). */
const priced = (
  level: DegradationLevel.DegradationLevel,
  read: Effect.Effect<Option.Option<Read>, unknown, Db | Cache>,
  options: { readonly fillCache: boolean }
) =>
  Effect.flatMap(read, (found) =>
    Option.match(found, {
      onNone: () => Effect.succeed(Option.none<PriceBody>()),
      onSome: (r) =>
        Effect.zipRight(
          options.fillCache ? remember(r) : Effect.void,
          Effect.map(enhance(r), (e) => Option.some(body(r, level, e.prices[0]!, e.enhanced, e.notice)))
        )
    }))

const priceUnavailable = unavailable(
  "The price cannot be read right now: neither the cache nor the database answers.",
  5
)

/** Answers the read: 200 with the price, 404 for an unknown id, 503 when no source answers. */
const respond = (read: Effect.Effect<Option.Option<PriceBody>, unknown, Db | Cache | Ai>, id: number) =>
  read.pipe(
    Effect.map(Option.match({ onNone: () => notFound(id), onSome: (b) => json(b) })),
    Effect.catchAll(() => Effect.succeed(priceUnavailable))
  )

const PriceParams = Schema.Struct({ id: Schema.NumberFromString.pipe(Schema.int(), Schema.positive()) })

/**
 * The seed's handler, exhaustive over the level:
 * - Optimal: cache, else DB (filling the cache), then the AI adjustment.
 * - Degraded: from the DB without the cache, then the AI adjustment.
 * - Limited: no AI; the cached price (else the DB's) with baseline pricing ×1.3.
 * - Minimal: the cached price as stored, read-only (the DB is down).
 * - Emergency: status only (the middleware answers before this handler runs).
 */
const getPrice = Effect.gen(function*() {
  const params = yield* Effect.either(HttpRouter.schemaPathParams(PriceParams))
  if (params._tag === "Left") return badRequest("id must be a positive integer")
  const id = params.right.id
  const level = yield* Effect.flatMap(Degradation, (d) => d.current)
  return yield* DegradationLevel.$match(level, {
    Optimal: () => respond(priced(level, cacheThenDb(id), { fillCache: true }), id),
    Degraded: () => respond(priced(level, Effect.catchAll(fromDb(id), () => fromCache(id)), { fillCache: false }), id),
    Limited: () =>
      respond(
        Effect.map(
          cacheThenDb(id),
          Option.map((r) => body(r, level, Math.round(r.product.price * 1.3 * 100) / 100, false, unavailableNotice))
        ),
        id
      ),
    Minimal: () =>
      respond(
        Effect.map(
          cacheThenDb(id),
          Option.map((r) => body(r, level, r.product.price, false, "Read-only mode: showing the last cached price"))
        ),
        id
      ),
    Emergency: () =>
      Effect.succeed(json({ status: "system_degraded", level: level._tag, message: "Only status is available." }, 503, {
        "retry-after": "5"
      }))
  })
})

const NewProduct = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  price: Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
})

const retryAfterOf = (error: Fallback.UnavailableError) => {
  const cause = error.cause as { readonly retryAfter?: Duration.Duration } | undefined
  return cause?.retryAfter !== undefined && Duration.isFinite(cause.retryAfter)
    ? Duration.toSeconds(cause.retryAfter)
    : 5
}

const createProduct = Effect.gen(function*() {
  const input = yield* Effect.either(HttpServerRequest.schemaBodyJson(NewProduct))
  if (input._tag === "Left") return badRequest("body must be { \"name\": non-empty string, \"price\": number ≥ 0 }")
  const db = yield* Db
  return yield* db.createProduct(input.right).pipe(
    Effect.map((product) => json(product, 201)),
    Effect.catchTags({
      UnavailableError: (e) =>
        Effect.succeed(json({ error: "writes_blocked", message: e.message, action: e.action }, 503, {
          "retry-after": String(Math.max(1, Math.ceil(retryAfterOf(e))))
        })),
      DbError: () => Effect.succeed(unavailable("The product could not be stored.", 5))
    })
  )
})

const EnhanceBody = Schema.Struct({
  items: Schema.Array(Schema.Struct({ name: Schema.String, price: Schema.Number.pipe(Schema.finite()) })).pipe(
    Schema.maxItems(100)
  )
})

const enhancePrices = Effect.gen(function*() {
  const input = yield* Effect.either(HttpServerRequest.schemaBodyJson(EnhanceBody))
  if (input._tag === "Left") return badRequest("body must be { \"items\": [{ \"name\": string, \"price\": number }] }")
  const ai = yield* Ai
  return yield* ai.enhancePrices(input.right.items).pipe(
    Effect.map((e) => json({ prices: e.prices, enhanced: e.enhanced, ...(e.notice ? { notice: e.notice } : {}) })),
    Effect.catchAll(() => Effect.succeed(unavailable("The pricing model failed.", 5)))
  )
})

const OcrBody = Schema.Struct({ text: Schema.String.pipe(Schema.maxLength(100_000)) })

const enhanceOcr = Effect.gen(function*() {
  const input = yield* Effect.either(HttpServerRequest.schemaBodyJson(OcrBody))
  if (input._tag === "Left") return badRequest("body must be { \"text\": string }")
  const ai = yield* Ai
  return yield* ai.cleanText(input.right.text).pipe(
    Effect.map((cleaned) => json(cleaned)),
    Effect.catchAll(() => Effect.succeed(unavailable("The OCR model failed.", 5)))
  )
})

const UploadBody = Schema.Struct({
  key: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._\-/]{1,200}$/))),
  contentType: Schema.optional(Schema.String),
  content: Schema.String.pipe(Schema.maxLength(1_000_000))
})

/** `201 stored` when the object store took it, `202 queued` when it waits in the durable queue. */
const upload = Effect.gen(function*() {
  const input = yield* Effect.either(HttpServerRequest.schemaBodyJson(UploadBody))
  if (input._tag === "Left") {
    return badRequest(
      "body must be { \"content\": string, \"key\"?: [A-Za-z0-9._-/]{1,200}, \"contentType\"?: string }"
    )
  }
  const store = yield* ObjectStore
  const key = input.right.key ?? `uploads/${randomUUID()}`
  return yield* store.put({
    key,
    contentType: input.right.contentType ?? "application/octet-stream",
    content: input.right.content
  })
    .pipe(
      Effect.map((result) => json(result, result.status === "stored" ? 201 : 202)),
      Effect.catchAll((error) =>
        Effect.succeed(unavailable(
          error._tag === "WriteBehindError" ? "The upload queue is full." : "The upload could not be stored.",
          5
        ))
      )
    )
})

/** AI computations are POSTs but not writes: they stay available while writes are blocked. */
const computations = new Set(["/prices/enhance", "/ocr/enhance"])

export const middleware = DegradationMiddleware.make({
  isWrite: (request) => DegradationMiddleware.defaultIsWrite(request) && !computations.has(request.url.split("?")[0]!)
})

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/prices/:id", getPrice),
  HttpRouter.post("/prices/enhance", enhancePrices),
  HttpRouter.post("/ocr/enhance", enhanceOcr),
  HttpRouter.post("/products", createProduct),
  HttpRouter.post("/uploads", upload),
  HttpRouter.get("/metrics", Prometheus.httpApp),
  HttpRouter.concat(StatusRoutes.router),
  HttpRouter.concat(AdminRoutes.router),
  // Fault drills (`RESILIENCE_FAULTS=on`), behind the same admin token.
  HttpRouter.concat(FaultRoutes.router)
)
