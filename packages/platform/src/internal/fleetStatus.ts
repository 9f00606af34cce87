/**
 * The fleet status of a `Degradation` decorated by `FleetOverride`: what
 * `FleetOverride.status` and `/status` read, without loading Redis.
 *
 * @internal
 */
import type { Degradation } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as FleetOverride from "../FleetOverride.js"

/** The fleet status of each service `FleetOverride.make` decorated: module-private, nothing on the value. */
const statuses = new WeakMap<object, Effect.Effect<FleetOverride.FleetStatus>>()

/** @internal */
export const register = (service: Degradation.Service, status: Effect.Effect<FleetOverride.FleetStatus>): void => {
  statuses.set(service, status)
}

/** @internal */
export const status = (degradation: Degradation.Service): Effect.Effect<FleetOverride.FleetStatus | undefined> =>
  statuses.get(degradation) ?? Effect.succeed(undefined)

/** @internal */
export class Status extends Context.Tag("@effect-resilience/platform/FleetOverride/Status")<
  Status,
  Effect.Effect<FleetOverride.FleetStatus>
>() {}
