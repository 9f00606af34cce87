/**
 * `/admin/faults`: the fault controls of `Faults.Registry` over HTTP, behind
 * the admin token (the guard, body reader and answers of the admin routes).
 *
 * @internal
 */
import { Degradation, Validation } from "@effect-resilience/core"
import * as Faults from "@effect-resilience/core/Faults"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { invalid, json, type Outcome, readJson } from "./adminJson.js"
import { guarded, type Token } from "./adminRoutes.js"
import { type FaultJson, faultJson, snapshot } from "./status.js"

/** What `GET /admin/faults` lists for each dependency. @internal */
export interface DependencyFaultsJson {
  readonly name: string
  readonly members: ReadonlyArray<string>
  readonly faults: ReadonlyArray<FaultJson>
}

type Control = Faults.Control<unknown, any>

const kinds = ["down", "hang", "slow", "flaky"] as const
type Kind = (typeof kinds)[number]

const fields = new Set(["fault", "member", "duration", "probability"])

const quote = (value: string): string => JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)

/** The registry, when fault injection is enabled (at least one dependency registered); 404 otherwise. */
const enabledRegistry: Effect.Effect<Faults.RegistryService, Outcome> = Effect.flatMap(
  Effect.serviceOption(Faults.Registry),
  (registry) =>
    Option.isNone(registry)
      ? Effect.fail(notEnabled)
      : Effect.flatMap(
        registry.value.dependencies,
        (dependencies) => dependencies.length === 0 ? Effect.fail(notEnabled) : Effect.succeed(registry.value)
      )
)

const notEnabled: Outcome = {
  outcome: "denied",
  detail: "fault injection is off",
  response: json(404, {
    error: "not_found",
    message: "Fault injection is off: no dependency is registered for faults (RESILIENCE_FAULTS=on turns it on)"
  })
}

/** The control of `:dependency`; 404 naming the known ones. */
const controlOf = (
  registry: Faults.RegistryService,
  params: Readonly<Record<string, string | undefined>>
): Effect.Effect<Control, Outcome> => {
  const name = params["dependency"] ?? ""
  return Effect.flatMap(
    registry.get(name),
    (control) =>
      Option.isSome(control) ?
        Effect.succeed(control.value) :
        Effect.flatMap(registry.dependencies, (all) =>
          Effect.fail<Outcome>({
            outcome: "invalid",
            detail: `unknown dependency ${quote(name)}`,
            response: json(404, {
              error: "unknown_dependency",
              field: "dependency",
              dependency: name,
              message: `No fault-injectable dependency named ${quote(name)}: expected one of ${
                all.map((c) => c.dependency).join(", ")
              }`,
              dependencies: all.map((c) => c.dependency)
            })
          }))
  )
}

/** A member of `control`, or 400 naming `member` and the known ones. */
const memberOf = (control: Control, member: unknown): Effect.Effect<string | undefined, Outcome> => {
  if (member === undefined) return Effect.succeed(undefined)
  if (typeof member === "string" && control.members.includes(member)) return Effect.succeed(member)
  return Effect.fail(
    invalid(
      400,
      "member",
      `${
        typeof member === "string" ? `Unknown member ${quote(member)}` : "member must be a string"
      } of ${control.dependency}: ` +
        `expected one of ${control.members.join(", ")}`,
      { members: control.members }
    )
  )
}

/** Core's check, as a 400 naming `field`: its message says what was expected. */
const checked = <A>(field: string, f: (v: Validation.Validator) => A): Effect.Effect<A, Outcome> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f(Validation.validator("FaultRoutes")))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      return Effect.fail(invalid(400, field, message))
    }
  })

/** `{ "fault": "slow", "duration": "2 seconds", "member"?: "get" }` → a fault and its target. */
const parseInjection = (
  control: Control,
  body: unknown
): Effect.Effect<{ readonly fault: Faults.Fault; readonly member: string | undefined }, Outcome> =>
  Effect.gen(function*() {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return yield* Effect.fail(
        invalid(400, "body", "Expected a JSON object: { \"fault\": \"down\" | \"hang\" | \"slow\" | \"flaky\", … }")
      )
    }
    const input = body as Record<string, unknown>
    for (const key of Object.keys(input)) {
      if (!fields.has(key)) {
        return yield* Effect.fail(
          invalid(400, key, `Unknown field ${quote(key)}: expected fault, member, duration (slow), probability (flaky)`)
        )
      }
    }
    const kind = input["fault"]
    if (typeof kind !== "string" || !(kinds as ReadonlyArray<string>).includes(kind)) {
      return yield* Effect.fail(
        invalid(
          400,
          "fault",
          `${
            kind === undefined
              ? "fault is required"
              : typeof kind === "string"
              ? `Unknown fault ${quote(kind)}`
              : "fault must be a string"
          }: ` +
            `expected one of ${kinds.join(", ")}`
        )
      )
    }
    const member = yield* memberOf(control, input["member"])
    const duration = input["duration"]
    const probability = input["probability"]
    if (kind !== "slow" && duration !== undefined) {
      return yield* Effect.fail(invalid(400, "duration", "duration applies to the slow fault only"))
    }
    if (kind !== "flaky" && probability !== undefined) {
      return yield* Effect.fail(invalid(400, "probability", "probability applies to the flaky fault only"))
    }
    switch (kind as Kind) {
      case "down":
        return { fault: Faults.down, member }
      case "hang":
        return { fault: Faults.hang, member }
      case "slow": {
        if (typeof duration !== "string" && typeof duration !== "number") {
          return yield* Effect.fail(
            invalid(
              400,
              "duration",
              "slow needs a duration: a string such as \"2 seconds\" or a number of milliseconds"
            )
          )
        }
        // A timer's delay: at least 1 ms, at most 2^31-1 ms (a longer sleep never fires).
        const delay = yield* checked("duration", (v) => v.duration("duration", duration, { timer: true }))
        return { fault: Faults.slow(delay), member }
      }
      case "flaky": {
        const p = yield* checked("probability", (v) => v.probability("probability", probability))
        return { fault: Faults.flaky(p), member }
      }
    }
  })

const dependencyJson = (control: Control): Effect.Effect<DependencyFaultsJson> =>
  Effect.map(control.injected, (injected) => ({
    name: control.dependency,
    members: control.members,
    faults: injected.map(faultJson)
  }))

/** Answered with the JSON of `/status` (which carries `faults`), as every admin action. */
const statusResponse = (detail: string) =>
  Effect.flatMap(
    Degradation,
    (degradation) => Effect.map(snapshot(degradation), (status) => ({ detail, response: json(200, status) }))
  )

const list = guarded("faults-list", () =>
  Effect.gen(function*() {
    const registry = yield* enabledRegistry
    const dependencies = yield* Effect.flatMap(registry.dependencies, (all) => Effect.forEach(all, dependencyJson))
    const faults = dependencies.flatMap((d) => d.faults)
    return {
      detail: `${dependencies.length} dependencies, ${faults.length} faults`,
      response: json(200, { dependencies, faults })
    }
  }))

const inject = guarded(
  "fault-inject",
  (request: HttpServerRequest.HttpServerRequest, params) =>
    Effect.gen(function*() {
      const registry = yield* enabledRegistry
      const control = yield* controlOf(registry, params)
      const body = yield* readJson(request)
      const { fault, member } = yield* parseInjection(control, body)
      yield* control.inject(fault, { member })
      return yield* statusResponse(`${control.dependency}: ${Faults.describe(fault)} on ${member ?? "every member"}`)
    })
)

const recover = guarded(
  "fault-recover",
  (request: HttpServerRequest.HttpServerRequest, params) =>
    Effect.gen(function*() {
      const registry = yield* enabledRegistry
      const control = yield* controlOf(registry, params)
      const query = new URL(request.url, "http://localhost").searchParams
      const member = yield* memberOf(control, query.has("member") ? query.get("member") : undefined)
      yield* control.recover({ member })
      return yield* statusResponse(`${control.dependency}: recovered ${member ?? "every member"}`)
    })
)

const recoverAll = guarded("fault-recover", () =>
  Effect.gen(function*() {
    const registry = yield* enabledRegistry
    const all = yield* registry.dependencies
    yield* Effect.forEach(all, (control) => control.recover(), { discard: true })
    return yield* statusResponse(`recovered ${all.map((c) => c.dependency).join(", ")}`)
  }))

/** @internal */
export const router: HttpRouter.HttpRouter<never, Degradation | Token> = HttpRouter.empty.pipe(
  HttpRouter.get("/admin/faults", list),
  HttpRouter.del("/admin/faults", recoverAll),
  HttpRouter.post("/admin/faults/:dependency", inject),
  HttpRouter.del("/admin/faults/:dependency", recover)
)
