/** @internal */
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash, timingSafeEqual } from "node:crypto"
import { checkBody, hasBody, invalid, json, maxBodyBytes, type Outcome, readJson } from "./adminJson.js"
import * as metrics from "./metrics.js"
import * as options_ from "./options.js"
import { snapshot } from "./status.js"

/** What {@link Token} holds: the bearer token, or `undefined` for admin routes off. @internal */
export interface TokenService {
  readonly token: Redacted.Redacted<string> | undefined
}

/** @internal */
export class Token extends Context.Tag("@effect-resilience/platform/AdminRoutes/Token")<Token, TokenService>() {}

/** The largest request body an admin route reads. @internal */
export { maxBodyBytes } from "./adminJson.js"

const maxReasonLength = 1000

const counters = metrics.adminCounters()

/** @internal */
export const layer = (options: { readonly token: Redacted.Redacted<string> | undefined }): Layer.Layer<Token> =>
  Layer.effect(
    Token,
    Effect.suspend((): Effect.Effect<TokenService> => {
      // Every series exists from the moment admin routes are configured, on or off.
      counters("force", "ok")
      try {
        const value: unknown = options?.token
        if (value === undefined) return Effect.succeed({ token: undefined })
        if (!Redacted.isRedacted(value)) {
          return options_.fail("AdminRoutes.layer", "token", "a Redacted string or undefined", "<not redacted>")
        }
        const secret = Redacted.value(value)
        if (typeof secret !== "string" || secret.trim().length === 0) {
          return options_.fail("AdminRoutes.layer", "token", "a non-empty string", "<redacted>")
        }
        return Effect.succeed({ token: value as Redacted.Redacted<string> })
      } catch (error) {
        return Effect.die(error)
      }
    })
  )

/** The variable {@link layerConfig} reads. @internal */
export const tokenVariable = "RESILIENCE_ADMIN_TOKEN"

/**
 * Unset: `None` (admin routes off). Set but blank: an `InvalidData` error of
 * its own, since a blank token is a mistake, not a way to turn admin off.
 *
 * @internal
 */
export const tokenConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  // Validated inside the nesting, so that the error's path is the variable; and outside
  // `Config.redacted`, which would redact the message along with the value.
  Config.nested(
    Config.redacted(Config.string()).pipe(Config.validate({
      message: `${tokenVariable} is set but blank (empty or only whitespace): ` +
        "set it to the admin token, or unset it to turn the admin routes off",
      validation: (token) => Redacted.value(token).trim().length > 0
    })),
    tokenVariable
  )
)

/** @internal */
export const layerConfig: Layer.Layer<Token, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(tokenConfig, (token) => layer({ token: Option.getOrUndefined(token) }))
)

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** `Authorization: Bearer <token>`, compared in constant time (equal-length digests). @internal */
export const isAuthorized = (header: string | undefined, token: Redacted.Redacted<string>): boolean => {
  if (header === undefined) return false
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header)
  const candidate = digest(match === null ? "" : match[1]!)
  const ok = timingSafeEqual(candidate, digest(Redacted.value(token)))
  return ok && match !== null
}

const ok = (degradation: Degradation.Service): Effect.Effect<Outcome> =>
  Effect.map(snapshot(degradation), (status) => ({ outcome: "ok", response: json(200, status) }))

const levelNames = DegradationLevel.all.map((level) => level._tag).join(", ")

const force = (degradation: Degradation.Service, request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const body = yield* readJson(request)
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return yield* Effect.fail(
        invalid(400, "body", "Expected a JSON object: { \"level\": \"Minimal\", \"reason\": \"…\" }")
      )
    }
    const { level: rawLevel, reason: rawReason } = body as { level?: unknown; reason?: unknown }
    if (rawLevel === undefined) {
      return yield* Effect.fail(invalid(400, "level", `level is required (one of ${levelNames})`))
    }
    if (typeof rawLevel !== "string") {
      return yield* Effect.fail(invalid(400, "level", `level must be a string, one of ${levelNames}`))
    }
    const level = DegradationLevel.fromString(rawLevel)
    if (level === undefined) {
      return yield* Effect.fail(
        invalid(400, "level", `Unknown level ${JSON.stringify(rawLevel.slice(0, 64))}: expected one of ${levelNames}`)
      )
    }
    let reason = "forced through the admin API"
    if (rawReason !== undefined) {
      if (typeof rawReason !== "string" || rawReason.trim().length === 0 || rawReason.length > maxReasonLength) {
        return yield* Effect.fail(
          invalid(400, "reason", `reason must be a non-empty string of at most ${maxReasonLength} characters`)
        )
      }
      reason = rawReason.trim()
    }
    yield* degradation.force(level, reason)
    return { detail: `${level._tag} (${reason})` }
  })

/** The admin actions, by route. */
const actions: ReadonlyArray<{
  readonly action: metrics.AdminAction
  readonly path: `/${string}`
  readonly run: (
    degradation: Degradation.Service,
    request: HttpServerRequest.HttpServerRequest,
    params: Readonly<Record<string, string | undefined>>
  ) => Effect.Effect<{ readonly detail: string }, Outcome, Scope.Scope>
}> = [
  { action: "force", path: "/admin/degradation/force", run: force },
  {
    action: "release",
    path: "/admin/degradation/release",
    run: (degradation) => Effect.as(degradation.release, { detail: "released" })
  },
  ...(["force-open", "disable", "reset"] as const).map((action) => ({
    action,
    path: `/admin/breakers/:name/${action}` as const,
    run: (
      degradation: Degradation.Service,
      _request: HttpServerRequest.HttpServerRequest,
      params: Readonly<Record<string, string | undefined>>
    ) =>
      Effect.gen(function*() {
        const name = params["name"] ?? ""
        const breakers = yield* degradation.breakers
        const breaker = breakers.get(name)
        if (breaker === undefined) {
          return yield* Effect.fail<Outcome>({
            outcome: "invalid",
            response: json(404, {
              error: "unknown_breaker",
              field: "name",
              breaker: name,
              message: `No breaker named ${JSON.stringify(name.slice(0, 64))}`,
              breakers: [...breakers.keys()]
            })
          })
        }
        yield* action === "force-open" ? breaker.forceOpen : action === "disable" ? breaker.disable : breaker.reset
        return { detail: name }
      })
  }))
]

const remoteOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const remote = Option.getOrElse(request.remoteAddress, () => "unknown")
  const forwarded = request.headers["x-forwarded-for"]
  return forwarded === undefined ? remote : `${remote} (x-forwarded-for ${forwarded.slice(0, 200)})`
}

/** What admin routes answer while they are off: the same as a route that does not exist, naming nothing. */
const notFound = (request: HttpServerRequest.HttpServerRequest): Outcome => ({
  outcome: "denied",
  response: json(404, { error: "not_found", message: "Not found" }, unreadBody(request))
})

/** A refused request's body is never read: close the connection instead of draining it. */
const unreadBody = (request: HttpServerRequest.HttpServerRequest): Record<string, string> | undefined =>
  hasBody(request) ? { connection: "close" } : undefined

/**
 * Every admin route behind the token: 404 without one, 401 for a missing or
 * wrong bearer, 415/413 for a POST body that is not JSON or too large, then
 * `run` under `withMaxBodySize(maxBodyBytes)`; each outcome counted in
 * `admin_actions_total` and logged with the remote address.
 *
 * @internal
 */
export const guarded = <R>(
  action: metrics.AdminAction,
  run: (
    request: HttpServerRequest.HttpServerRequest,
    params: Readonly<Record<string, string | undefined>>
  ) => Effect.Effect<{ readonly detail: string; readonly response: HttpServerResponse.HttpServerResponse }, Outcome, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | Token | HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext
> =>
  Effect.gen(function*() {
    const { token } = yield* Token
    const request = yield* HttpServerRequest.HttpServerRequest
    const { params } = yield* HttpRouter.RouteContext
    const remote = remoteOf(request)
    const finish = (outcome: Outcome, detail: string) =>
      Effect.as(
        Effect.sync(() => counters(action, outcome.outcome).update(1)).pipe(
          Effect.zipRight(
            (outcome.outcome === "ok" ? Effect.logInfo : Effect.logWarning)(
              `Admin: ${action} ${outcome.outcome}: ${detail}`
            )
          ),
          Effect.annotateLogs({ action, outcome: outcome.outcome, remote })
        ),
        outcome.response
      )
    if (token === undefined) return yield* finish(notFound(request), "admin routes are off")
    if (!isAuthorized(request.headers["authorization"], token)) {
      return yield* finish({
        outcome: "denied",
        response: json(401, {
          error: "unauthorized",
          message: "A valid `Authorization: Bearer <token>` header is required"
        }, {
          "www-authenticate": "Bearer",
          ...unreadBody(request)
        })
      }, request.headers["authorization"] === undefined ? "no bearer token" : "wrong bearer token")
    }
    return yield* checkBody(request).pipe(
      Effect.zipRight(run(request, params)),
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
      Effect.matchEffect({
        onFailure: (outcome) => finish(outcome, outcome.detail ?? "rejected"),
        onSuccess: ({ detail, response }) => finish({ outcome: "ok", response }, detail)
      })
    )
  })

/** An action on the level or a breaker: answered with the JSON of `/status`. */
const handler = (action: metrics.AdminAction, run: (typeof actions)[number]["run"]) =>
  guarded(
    action,
    (request, params) =>
      Effect.flatMap(Degradation, (degradation) =>
        Effect.flatMap(run(degradation, request, params), ({ detail }) =>
          Effect.map(ok(degradation), (outcome) => ({ detail, response: outcome.response }))))
  )

/** @internal */
export const router: HttpRouter.HttpRouter<never, Degradation | Token> = actions.reduce(
  (router, { action, path, run }) => HttpRouter.post(router, path, handler(action, run)),
  HttpRouter.empty as HttpRouter.HttpRouter<never, Degradation | Token>
)
