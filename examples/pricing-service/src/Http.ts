/**
 * The routes: the `/prices/:id` handler pattern-matching on the
 * degradation level, AI endpoints with fallbacks, product writes, uploads
 * with a durable write-behind queue, plus status, admin (and fault-drill)
 * and metrics routes.
 * `DegradationMiddleware` sheds writes from Minimal and everything but
 * status routes at Emergency.
 *
 * Requests are checked against what the backends accept (`Requests`, read
 * by `Body`) before any backend is called; a request a backend refuses all
 * the same is answered `409`/`422`, never as an outage. An unknown path is
 * a JSON `404`, a known path with another method a JSON `405` with `allow`.
 */
import type { Fallback } from "@effect-resilience/core"
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import { AdminRoutes, DegradationMiddleware, FaultRoutes, StatusRoutes } from "@effect-resilience/platform"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import * as Body from "./Body.js"
import { json, Refusal } from "./Body.js"
import * as Requests from "./Requests.js"
import { Ai, baseline, unavailableNotice } from "./services/Ai.js"
import { Cache } from "./services/Cache.js"
import { Db, type DbError, type Product } from "./services/Db.js"
import * as Failure from "./services/Failure.js"
import { ObjectStore, type ObjectStoreError } from "./services/ObjectStore.js"
import { UploadQueueFull } from "./UploadQueue.js"

const notFound = (id: number) => json({ error: "not_found", field: "id", message: `no product ${id}` }, 404)

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

const enhance = (read: Read) => {
  const items = [{ name: read.product.name, price: read.product.price }]
  return Effect.flatMap(Ai, (ai) => ai.enhancePrices(items)).pipe(
    // The model refused this product's prompt: it is not down, and this price gets the baseline.
    Effect.catchIf(Failure.isRejection, () => Effect.succeed(baseline(items)))
  )
}

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
const answer = (read: Effect.Effect<Option.Option<PriceBody>, unknown, Db | Cache | Ai>, id: number) =>
  read.pipe(
    Effect.map(Option.match({ onNone: () => notFound(id), onSome: (b) => json(b) })),
    Effect.catchAll(() => Effect.succeed(priceUnavailable))
  )

/**
 * The price handler, exhaustive over the level:
 * - Optimal: cache, else DB (filling the cache), then the AI adjustment.
 * - Degraded: from the DB without the cache, then the AI adjustment.
 * - Limited: no AI; the cached price (else the DB's) with baseline pricing ×1.3.
 * - Minimal: the cached price as stored, read-only (the DB is down).
 * - Emergency: status only (the middleware answers before this handler runs).
 */
const getPrice = Effect.gen(function*() {
  const { id } = yield* Effect.flatMap(HttpRouter.params, (params) => Body.decode(Requests.PriceParams, params))
  const level = yield* Effect.flatMap(Degradation, (d) => d.current)
  return yield* DegradationLevel.$match(level, {
    Optimal: () => answer(priced(level, cacheThenDb(id), { fillCache: true }), id),
    Degraded: () => answer(priced(level, Effect.catchAll(fromDb(id), () => fromCache(id)), { fillCache: false }), id),
    Limited: () =>
      answer(
        Effect.map(
          cacheThenDb(id),
          Option.map((r) => body(r, level, Math.round(r.product.price * 1.3 * 100) / 100, false, unavailableNotice))
        ),
        id
      ),
    Minimal: () =>
      answer(
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
}).pipe(Effect.catchTag("Refusal", Body.answer))

const retryAfterOf = (error: Fallback.UnavailableError) => {
  const cause = error.cause as { readonly retryAfter?: Duration.Duration } | undefined
  return cause?.retryAfter !== undefined && Duration.isFinite(cause.retryAfter)
    ? Duration.toSeconds(cause.retryAfter)
    : 5
}

/**
 * A JSON route: its body read as `schema` under `limit` bytes, then
 * `handle`; every refusal on the way answered as JSON.
 */
const jsonRoute = <A, I, R>(
  schema: Schema.Schema<A, I>,
  limit: number,
  handle: (input: A) => Effect.Effect<HttpServerResponse.HttpServerResponse, Refusal, R>
) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Body.readJson(request, schema)).pipe(
    Effect.flatMap(handle),
    Effect.catchTag("Refusal", Body.answer),
    HttpIncomingMessage.withMaxBodySize(Option.some(limit))
  )

/** The database refused the row: a conflict (`409`), a value it cannot take (`422`), or our own bad statement. */
const dbRefusal = (error: DbError) =>
  Effect.gen(function*() {
    const code = error.code ?? ""
    const field = error.column ?? "body"
    if (code === "23505" || /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(code)) {
      return new Refusal({
        status: 409,
        error: "conflict",
        field,
        message: `The database refused the product: ${error.message}`
      })
    }
    if (/^2[23]/.test(code) || code.startsWith("SQLITE_")) {
      return new Refusal({
        status: 422,
        error: "unprocessable",
        field,
        message: `The database refused the product: ${error.message}`
      })
    }
    // Anything else it refuses (a syntax or access rule) is a statement of ours: a bug to look at.
    yield* Effect.logError("The database refused a statement of this service", error)
    return new Refusal({ status: 500, error: "internal_error", message: "The product could not be stored." })
  })

const createProduct = jsonRoute(
  Requests.NewProduct,
  Requests.bodyLimits.json,
  (input) =>
    Effect.flatMap(Db, (db) => db.createProduct(input)).pipe(
      Effect.map((product) => json(product, 201)),
      Effect.catchTags({
        UnavailableError: (e) =>
          Effect.succeed(json({ error: "writes_blocked", message: e.message, action: e.action }, 503, {
            "retry-after": String(Math.max(1, Math.ceil(retryAfterOf(e))))
          })),
        DbError: (e) =>
          e.kind === "rejection"
            ? Effect.flatMap(dbRefusal(e), Effect.fail)
            : Effect.succeed(unavailable("The product could not be stored.", 5))
      })
    )
)

/** The model refused this request (a `4xx` for this prompt): not an outage, and not the fallback's to answer. */
const aiRefusal = () =>
  new Refusal({
    status: 422,
    error: "unprocessable",
    field: "body",
    message: "The model refused this request."
  })

const enhancePrices = jsonRoute(
  Requests.EnhanceBody,
  Requests.bodyLimits.json,
  (input) =>
    Effect.flatMap(Ai, (ai) => ai.enhancePrices(input.items)).pipe(
      Effect.map((e) => json({ prices: e.prices, enhanced: e.enhanced, ...(e.notice ? { notice: e.notice } : {}) })),
      Effect.catchAll((error) =>
        Failure.isRejection(error)
          ? Effect.fail(aiRefusal())
          : Effect.succeed(unavailable("The pricing model failed.", 5))
      )
    )
)

const enhanceOcr = jsonRoute(
  Requests.OcrBody,
  Requests.bodyLimits.json,
  (input) =>
    Effect.flatMap(Ai, (ai) => ai.cleanText(input.text)).pipe(
      Effect.map((cleaned) => json(cleaned)),
      Effect.catchAll((error) =>
        Failure.isRejection(error) ? Effect.fail(aiRefusal()) : Effect.succeed(unavailable("The OCR model failed.", 5))
      )
    )
)

/** What the store said, without the paths or hosts it may name: the S3 error code, or the errno. */
const storeCode = (error: ObjectStoreError) => {
  const cause = error.cause as { readonly name?: unknown; readonly code?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : typeof cause?.name === "string" ? cause.name : undefined
  return code === undefined || code === "Error" ? "" : ` (${code})`
}

/** The store refused this upload: its key (`400`), another object in its way (`409`), or anything else (`422`). */
const storeRefusal = (error: ObjectStoreError) =>
  error.reason === "invalid_key"
    ? Body.invalid("key", error.message)
    : error.reason === "conflict"
    ? new Refusal({
      status: 409,
      error: "conflict",
      field: "key",
      message: `Another object is in the way of key ${
        JSON.stringify(error.key)
      }: a key cannot name both an object and a folder${storeCode(error)}`
    })
    : new Refusal({
      status: 422,
      error: "unprocessable",
      field: "body",
      message: `The object store refused this upload${storeCode(error)}`
    })

/**
 * `201 stored` when the object store took it, `202 queued` when it waits in
 * the durable queue; an upload the store refused is answered `4xx` (never
 * queued), and one the full queue cannot take `503`.
 */
const upload = jsonRoute(Requests.UploadBody, Requests.bodyLimits.upload, (input) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const key = input.key ?? `uploads/${randomUUID()}`
    return yield* store.put({
      key,
      contentType: input.contentType ?? "application/octet-stream",
      content: input.content
    }).pipe(
      Effect.map((result) => json(result, result.status === "stored" ? 201 : 202)),
      Effect.catchTags({
        ObjectStoreError: (error) =>
          error.kind === "rejection"
            ? Effect.fail(storeRefusal(error))
            : Effect.succeed(unavailable("The upload could not be stored.", 5)),
        WriteBehindError: (error) =>
          Effect.succeed(unavailable(
            error.cause instanceof UploadQueueFull ? "The upload queue is full." : "The upload could not be queued.",
            5
          ))
      })
    )
  }))

/** AI computations are POSTs but not writes: they stay available while writes are blocked. */
const computations = new Set(["/prices/enhance", "/ocr/enhance"])

/** Sheds writes from Minimal and everything but the status routes at Emergency; AI computations are not writes. */
export const middleware = DegradationMiddleware.make({
  // `path` as the router matches it (`/Prices/Enhance/` is `/prices/enhance`).
  isWrite: (request, path) => DegradationMiddleware.defaultIsWrite(request, path) && !computations.has(path)
})

/** Every route of the service, the status, admin, fault-drill and metrics routes included. */
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

/** A route's path as a pattern: `:param` one segment, `*` the rest. */
const compile = (path: string) =>
  new RegExp(
    `^${
      path.split("/").map((segment) =>
        segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      ).join("/")
    }$`
  )

const patterns = Chunk.toReadonlyArray(router.routes).map((route) => ({
  method: route.method,
  matches: compile(route.path),
  exact: !/[:*]/.test(route.path)
}))

/**
 * The methods `pathname` is served with; none for an unknown path. A path
 * that a route names exactly (`/prices/enhance`) goes by those routes only,
 * as the router prefers them (GET on it is not `/prices/:id`). Admin paths
 * are never advertised: they answer `404` to anyone without the token.
 */
export const allowedMethods = (pathname: string): ReadonlyArray<string> => {
  if (pathname === "/admin" || pathname.startsWith("/admin/")) return []
  const matching = patterns.filter((pattern) => pattern.matches.test(pathname))
  const exact = matching.filter((pattern) => pattern.exact)
  const methods = new Set((exact.length > 0 ? exact : matching).map((pattern) => pattern.method))
  // The router answers HEAD with the GET route.
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods].sort()
}

/** The path as the client sent it, cut short: it is echoed in an answer. */
const pathOf = (request: HttpServerRequest.HttpServerRequest) => {
  const path = request.url.split("?")[0]!
  return path.length > 200 ? `${path.slice(0, 200)}…` : path
}

const unknownRoute = (request: HttpServerRequest.HttpServerRequest) =>
  Body.answer(Body.unread(
    request,
    new Refusal({
      status: 404,
      error: "not_found",
      message: `No route for ${request.method.slice(0, 20)} ${pathOf(request)}`
    })
  ))

const wrongMethod = (request: HttpServerRequest.HttpServerRequest, allow: ReadonlyArray<string>) =>
  Body.answer(Body.unread(
    request,
    new Refusal({
      status: 405,
      error: "method_not_allowed",
      message: `${pathOf(request)} answers ${allow.join(", ")}, not ${request.method.slice(0, 20)}`,
      headers: { allow: allow.join(", ") },
      allow
    })
  ))

/** The router, with JSON `404` and `405` (with `allow`) for requests it has no route for. */
export const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  const allow = allowedMethods(DegradationMiddleware.routePath(request.url))
  return allow.length > 0 && !allow.includes(request.method)
    ? wrongMethod(request, allow)
    : Effect.catchTag(router, "RouteNotFound", () => unknownRoute(request))
})
