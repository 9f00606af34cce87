/** @internal */
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as DegradationMiddleware from "../DegradationMiddleware.js"
import * as metrics from "./metrics.js"
import * as options_ from "./options.js"
import { retryAfterSeconds } from "./status.js"

const module = "DegradationMiddleware.make"

/** The header every passed response carries. @internal */
export const levelHeader = "x-degradation-level"

const readMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"])

/** @internal */
export const defaultIsWrite = (request: HttpServerRequest.HttpServerRequest): boolean => !readMethods.has(request.method)

/** The path of a request URL, without query or fragment. @internal */
export const pathOf = (url: string): string => {
  let end = url.length
  const query = url.indexOf("?")
  if (query !== -1) end = query
  const hash = url.indexOf("#")
  if (hash !== -1 && hash < end) end = hash
  let path = url.slice(0, end)
  // An absolute-form request target (`GET http://host/path`) is legal HTTP.
  if (!path.startsWith("/")) {
    const scheme = path.indexOf("://")
    if (scheme !== -1) {
      const slash = path.indexOf("/", scheme + 3)
      path = slash === -1 ? "/" : path.slice(slash)
    }
  }
  return path
}

const isUnder = (path: string, prefix: string): boolean =>
  path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* "/" */)

/** `/health`, `/ready`, `/status…`, `/metrics`, `/admin…`. @internal */
export const defaultExempt = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const path = pathOf(request.url)
  return path === "/health" || path === "/ready" || path === "/metrics" || isUnder(path, "/status") ||
    isUnder(path, "/admin")
}

// One pre-response handler per service: no closure allocated per request.
const headerHandlers = new WeakMap<Degradation.Service, HttpApp.PreResponseHandler>()
const headerHandler = (degradation: Degradation.Service): HttpApp.PreResponseHandler => {
  let handler = headerHandlers.get(degradation)
  if (handler === undefined) {
    // The level when the response is sent: an admin action answers with the level it applied.
    handler = (_request, response) =>
      Effect.map(degradation.current, (level) => HttpServerResponse.setHeader(response, levelHeader, level._tag))
    headerHandlers.set(degradation, handler)
  }
  return handler
}

const writesBlockedBody = (level: DegradationLevel.DegradationLevel, retryAfter: number) => ({
  error: "writes_blocked",
  message: `The service is running at level ${level._tag}: write operations are temporarily disabled.`,
  action: `Retry in ${retryAfter} second${retryAfter === 1 ? "" : "s"}; reads still work.`,
  level: level._tag,
  rank: DegradationLevel.rank(level),
  retryAfter
})

const statusOnlyBody = (level: DegradationLevel.DegradationLevel, retryAfter: number) => ({
  status: "system_degraded",
  error: "system_degraded",
  message: `The service is running at level ${level._tag}: only status routes are answered.`,
  action: `Retry in ${retryAfter} second${retryAfter === 1 ? "" : "s"}; see /status for details.`,
  level: level._tag,
  rank: DegradationLevel.rank(level),
  retryAfter
})

/** @internal */
export const make = (
  options?: DegradationMiddleware.Options
): <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R | Degradation> => {
  const isWrite = options_.optionalFunction<(request: HttpServerRequest.HttpServerRequest) => boolean>(
    module,
    "isWrite",
    options?.isWrite
  ) ?? defaultIsWrite
  const exempt = options_.optionalFunction<(request: HttpServerRequest.HttpServerRequest) => boolean>(
    module,
    "exempt",
    options?.exempt
  ) ?? defaultExempt
  const blockWritesFrom = DegradationLevel.rank(
    options_.optionalLevel(module, "blockWritesFrom", options?.blockWritesFrom) ?? DegradationLevel.Minimal()
  )
  const statusOnlyFrom = DegradationLevel.rank(
    options_.optionalLevel(module, "statusOnlyFrom", options?.statusOnlyFrom) ?? DegradationLevel.Emergency()
  )
  const fallbackRetryAfter = options_.optionalDuration(module, "retryAfter", options?.retryAfter) ??
    Duration.seconds(30)
  const shed = metrics.shedCounters()

  const refuse = (
    degradation: Degradation.Service,
    level: DegradationLevel.DegradationLevel,
    reason: metrics.ShedReason
  ) =>
    Effect.map(retryAfterSeconds(degradation, fallbackRetryAfter), (retryAfter) => {
      shed[reason].update(1)
      return HttpServerResponse.unsafeJson(
        reason === "status_only" ? statusOnlyBody(level, retryAfter) : writesBlockedBody(level, retryAfter),
        {
          status: 503,
          headers: {
            [levelHeader]: level._tag,
            "retry-after": String(retryAfter),
            "cache-control": "no-store"
          }
        }
      )
    })

  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | Degradation> =>
    Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | Degradation | HttpServerRequest.HttpServerRequest>(
      (fiber) => {
        const context = fiber.currentContext as Context.Context<Degradation | HttpServerRequest.HttpServerRequest>
        const degradation = Context.unsafeGet(context, Degradation)
        const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
        // With `HttpServer.serve(app, middleware)` the app has sent its response when it returns:
        // only a pre-response handler can still add the header.
        const pass = Effect.zipRight(HttpApp.appendPreResponseHandler(headerHandler(degradation)), app)
        if (exempt(request)) return pass
        return Effect.flatMap(degradation.current, (level) => {
          const rank = DegradationLevel.rank(level)
          if (rank >= statusOnlyFrom) return refuse(degradation, level, "status_only")
          if (rank >= blockWritesFrom && isWrite(request)) return refuse(degradation, level, "writes_blocked")
          return pass
        })
      }
    )
}
