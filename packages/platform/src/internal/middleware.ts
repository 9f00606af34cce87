/** @internal */
import { Degradation, DegradationLevel, EffectInternals } from "@effect-resilience/core"
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
export const defaultIsWrite = (request: HttpServerRequest.HttpServerRequest, _path?: string): boolean =>
  !readMethods.has(request.method)

// The router (find-my-way-ts with @effect/platform's defaults) matches a path after these steps, in
// this order; `routePath` repeats them so that `exempt` and `isWrite` never disagree with it.
const absoluteForm = /^https?:\/\/.*?\//
const duplicateSlashes = /\/\/+/g

/** `%XX` that the router leaves encoded in the path (`decodeURI` keeps them): `# $ & + , / : ; = ? @ %`. */
const isReservedEscape = (high: number, low: number): boolean =>
  high === 50 // "2"
    ? low === 53 || low === 51 || low === 52 || low === 54 || low === 66 || low === 98 || low === 67 ||
      low === 99 || low === 70 || low === 102
    : high === 51 // "3"
    ? low === 65 || low === 97 || low === 66 || low === 98 || low === 68 || low === 100 || low === 70 ||
      low === 102
    : high === 52 && low === 48 // "@"

const slowRoutePath = (url: string): string => {
  let path = url.charCodeAt(0) === 47 ? url : url.replace(absoluteForm, "/")
  path = path.replace(duplicateSlashes, "/")
  let decode = false
  let end = path.length
  for (let i = 1; i < end; i++) {
    const c = path.charCodeAt(i)
    if (c === 37 /* % */) {
      const high = path.charCodeAt(i + 1)
      const low = path.charCodeAt(i + 2)
      if (!isReservedEscape(high, low)) {
        decode = true
      } else {
        if (high === 50 && low === 53) {
          // `%25` stays `%25`: escaped once more so that `decodeURI` gives it back as it was.
          decode = true
          path = `${path.slice(0, i + 1)}25${path.slice(i + 1)}`
          end += 2
          i += 2
        }
        i += 2
      }
    } else if (c === 63 /* ? */ || c === 59 /* ; */ || c === 35 /* # */) {
      end = i
    }
  }
  path = path.slice(0, end)
  if (decode) {
    try {
      path = decodeURI(path)
    } catch {
      // A malformed escape: the router matches no route at all; the path is left as it is.
    }
  }
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) path = path.slice(0, -1)
  return path.toLowerCase()
}

/**
 * The path of a request URL as `HttpRouter` and `HttpLayerRouter` match it (find-my-way-ts with
 * its default options): without query (`?`, `;`) or fragment, duplicate slashes merged, one
 * trailing slash dropped, percent-escapes decoded except reserved ones (`%2F` stays), lowercase.
 * A canonical path — lowercase ASCII, no `//`, `%`, `;` or trailing slash — is returned without
 * a copy.
 *
 * @internal
 */
export const routePath = (url: string): string => {
  const length = url.length
  if (length === 0 || url.charCodeAt(0) !== 47) return slowRoutePath(url)
  let previous = 47
  let i = 1
  for (; i < length; i++) {
    const c = url.charCodeAt(i)
    if (c === 63 /* ? */ || c === 35 /* # */) break
    if (
      c === 37 /* % */ || c === 59 /* ; */ || (c >= 65 && c <= 90) /* A-Z */ || c > 126 ||
      (c === 47 && previous === 47)
    ) return slowRoutePath(url)
    previous = c
  }
  if (i > 1 && previous === 47) return slowRoutePath(url)
  return i === length ? url : url.slice(0, i)
}

const isUnder = (path: string, prefix: string): boolean =>
  path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* "/" */)

/** `/health`, `/ready`, `/status…`, `/metrics`, `/admin…`, on the path as the router matches it. @internal */
export const defaultExempt = (request: HttpServerRequest.HttpServerRequest, path?: string): boolean => {
  const p = path ?? routePath(request.url)
  return p === "/health" || p === "/ready" || p === "/metrics" || isUnder(p, "/status") || isUnder(p, "/admin")
}

// Per request, the middleware only reads the level and installs a pre-response handler; both
// are done without running Effects where the runtime allows it (see bench/RESULTS-http.md).

/** The object of `value`'s prototype chain that holds `key` itself. */
const holderOf = (value: object, key: string): object | null => {
  let holder: object | null = value
  while (holder !== null && !Object.prototype.hasOwnProperty.call(holder, key)) holder = Object.getPrototypeOf(holder)
  return holder
}

/** What the middleware needs of a service, built once per service. */
interface View {
  /** The level, read synchronously; `undefined` when the service only offers `current`. */
  readonly read: (() => DegradationLevel.DegradationLevel) | undefined
  /** The pre-response handler that sets the header, as the `Some` the fiber ref holds. */
  readonly header: Option.Some<HttpApp.PreResponseHandler>
}

const makeView = (degradation: Degradation.Service): View => {
  // A decorator that replaces `current` and inherits `unsafeCurrent` (`Object.create` over the service) is
  // read through its `current`, not through the level it decorates; so is a hand-made service without it.
  const read = typeof degradation.unsafeCurrent === "function" &&
      holderOf(degradation, "current") === holderOf(degradation, "unsafeCurrent")
    ? () => degradation.unsafeCurrent()
    : undefined
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
 * runtime can set a fiber ref in place (`EffectInternals.unsafeSetFiberRef`); `FiberRef.set`
 * would be one more Effect per request (and measurably more garbage).
 */
interface RuntimeFiber {
  getFiberRef<A>(ref: FiberRef.FiberRef<A>): A
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
  const isWrite = options_.optionalFunction<DegradationMiddleware.RequestPredicate>(
    module,
    "isWrite",
    options?.isWrite
  ) ?? defaultIsWrite
  const exempt = options_.optionalFunction<DegradationMiddleware.RequestPredicate>(
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
            "cache-control": "no-store",
            "x-content-type-options": "nosniff"
          }
        }
      )
    })

  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | Degradation> => {
    // With `HttpServer.serve(app, middleware)` the app has sent its response when it returns:
    // only a pre-response handler can still add the header.
    const pass = (fiber: RuntimeFiber, view: View): HttpApp.Default<E, R> => {
      const handlers = withHeader(fiber.getFiberRef(HttpApp.currentPreResponseHandlers), view.header)
      // Set in place (one Effect less per request) through core's guarded Effect internals.
      if (EffectInternals.unsafeSetFiberRef(fiber as any, HttpApp.currentPreResponseHandlers, handlers)) return app
      return Effect.zipRight(FiberRef.set(HttpApp.currentPreResponseHandlers, handlers), app)
    }
    const admit = (
      fiber: RuntimeFiber,
      degradation: Degradation.Service,
      view: View,
      request: HttpServerRequest.HttpServerRequest,
      path: string,
      level: DegradationLevel.DegradationLevel
    ): HttpApp.Default<E, R> => {
      const rank = DegradationLevel.rank(level)
      if (rank >= statusOnlyFrom) return refuse(degradation, level, "status_only")
      if (rank >= blockWritesFrom && isWrite(request, path)) return refuse(degradation, level, "writes_blocked")
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
      const path = routePath(request.url)
      if (exempt(request, path)) return pass(fiber, view)
      if (view.read !== undefined) return admit(fiber, degradation, view, request, path, view.read())
      return Effect.flatMap(degradation.current, (level) => admit(fiber, degradation, view, request, path, level))
    })
  }
}
