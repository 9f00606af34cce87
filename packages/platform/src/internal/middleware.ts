/** @internal */
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as DegradationMiddleware from "../DegradationMiddleware.js"
import * as metrics from "./metrics.js"
import * as options_ from "./options.js"
import { retryAfterSeconds } from "./status.js"

const module = "DegradationMiddleware.make"

/** The header every passed response carries. @internal */
export const levelHeader = "x-degradation-level"

const readMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"])

/** @internal */
export const defaultIsWrite = (request: HttpServerRequest.HttpServerRequest): boolean =>
  !readMethods.has(request.method)

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

// Per request, the middleware only reads the level and installs a pre-response handler; both
// are done without running Effects where the runtime allows it (see bench/RESULTS-http.md).

/** Where core hides a synchronous read of the level (see core's internal/degradation.ts). */
const UnsafeLevelId = Symbol.for("@effect-resilience/core/Degradation/UnsafeLevel")

interface UnsafeLevel {
  readonly current: Effect.Effect<DegradationLevel.DegradationLevel>
  readonly get: () => DegradationLevel.DegradationLevel
}

/** What the middleware needs of a service, built once per service. */
interface View {
  /** The level, read synchronously; `undefined` when the service only offers `current`. */
  readonly read: (() => DegradationLevel.DegradationLevel) | undefined
  /** The pre-response handler that sets the header, as the `Some` the fiber ref holds. */
  readonly header: Option.Some<HttpApp.PreResponseHandler>
}

const makeView = (degradation: Degradation.Service): View => {
  const unsafe = (degradation as { readonly [UnsafeLevelId]?: UnsafeLevel })[UnsafeLevelId]
  // A decorator that replaces `current` is read through it, not through the level it decorates.
  const read = unsafe !== undefined && unsafe.current === degradation.current ? unsafe.get : undefined
  // The level when the response is sent: an admin action answers with the level it applied.
  const handler: HttpApp.PreResponseHandler = read !== undefined
    ? (_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, levelHeader, read()._tag))
    : (_request, response) =>
      Effect.map(degradation.current, (level) => HttpServerResponse.setHeader(response, levelHeader, level._tag))
  return { read, header: Option.some(handler) as Option.Some<HttpApp.PreResponseHandler> }
}

const views = new WeakMap<Degradation.Service, View>()
const viewOf = (degradation: Degradation.Service): View => {
  let view = views.get(degradation)
  if (view === undefined) {
    view = makeView(degradation)
    views.set(degradation, view)
  }
  return view
}

/** What `HttpApp.appendPreResponseHandler` computes: the header handler after any installed one. */
const withHeader = (
  handlers: Option.Option<HttpApp.PreResponseHandler>,
  header: Option.Some<HttpApp.PreResponseHandler>
): Option.Option<HttpApp.PreResponseHandler> => {
  if (handlers._tag === "None") return header
  const prev = handlers.value
  const handler = header.value
  return Option.some((request, response) =>
    Effect.flatMap(prev(request, response), (response) => handler(request, response))
  )
}

/**
 * The fiber running the middleware, as `Effect.withFiberRuntime` hands it. Effect's fiber
 * runtime can set a fiber ref in place; `FiberRef.set` would be one more Effect per request
 * (and measurably more garbage). Any other fiber goes through `FiberRef.set`.
 */
interface RuntimeFiber {
  getFiberRef<A>(ref: FiberRef.FiberRef<A>): A
  readonly setFiberRef?: <A>(ref: FiberRef.FiberRef<A>, value: A) => void
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

  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | Degradation> => {
    // With `HttpServer.serve(app, middleware)` the app has sent its response when it returns:
    // only a pre-response handler can still add the header.
    const pass = (fiber: RuntimeFiber, view: View): HttpApp.Default<E, R> => {
      const handlers = withHeader(fiber.getFiberRef(HttpApp.currentPreResponseHandlers), view.header)
      if (typeof fiber.setFiberRef === "function") {
        fiber.setFiberRef(HttpApp.currentPreResponseHandlers, handlers)
        return app
      }
      return Effect.zipRight(FiberRef.set(HttpApp.currentPreResponseHandlers, handlers), app)
    }
    const admit = (
      fiber: RuntimeFiber,
      degradation: Degradation.Service,
      view: View,
      request: HttpServerRequest.HttpServerRequest,
      level: DegradationLevel.DegradationLevel
    ): HttpApp.Default<E, R> => {
      const rank = DegradationLevel.rank(level)
      if (rank >= statusOnlyFrom) return refuse(degradation, level, "status_only")
      if (rank >= blockWritesFrom && isWrite(request)) return refuse(degradation, level, "writes_blocked")
      return pass(fiber, view)
    }
    return Effect.withFiberRuntime<
      HttpServerResponse.HttpServerResponse,
      E,
      R | Degradation | HttpServerRequest.HttpServerRequest
    >((fiber) => {
      const context = fiber.currentContext as Context.Context<Degradation | HttpServerRequest.HttpServerRequest>
      const degradation = Context.unsafeGet(context, Degradation)
      const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
      const view = viewOf(degradation)
      if (exempt(request)) return pass(fiber, view)
      if (view.read !== undefined) return admit(fiber, degradation, view, request, view.read())
      return Effect.flatMap(degradation.current, (level) => admit(fiber, degradation, view, request, level))
    })
  }
}
