/**
 * The fleet status of a `Degradation` decorated by `FleetOverride`: what
 * `FleetOverride.status` reads, without loading Redis.
 *
 * @internal
 */
import type { Degradation } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import type * as FleetOverride from "../FleetOverride.js"

/** Where the fleet status hides on a decorated service. @internal */
export const FleetStatusId = Symbol.for("@effect-resilience/platform/FleetOverride/Status")

/** @internal */
export const status = (
  degradation: Degradation.Service
): Effect.Effect<FleetOverride.FleetStatus | undefined> => {
  const fleet = (degradation as unknown as { readonly [FleetStatusId]?: Effect.Effect<FleetOverride.FleetStatus> })[
    FleetStatusId
  ]
  return fleet ?? Effect.succeed(undefined)
}
