/**
 * An outage or a rejection. Every backend error of the service says which
 * (`kind`), decided once, when the error is built from what the client threw,
 * by the `Classify` predicate of that backend; each dependency's breaker
 * reads it back as its `isFailure`. A backend that refuses one request (a
 * value out of range, a key that conflicts) is not down: its breaker ignores
 * the error, no fallback answers it, and the handler turns it into a `4xx`.
 */
import { Classify } from "@effect-resilience/core"

/** `outage`: the backend cannot serve us; `rejection`: it works and refused this request. */
export type Kind = "outage" | "rejection"

/** The kind of `cause` by the backend's predicate (`true` = outage). */
export const kindOf = (isOutage: Classify.Predicate, cause: unknown): Kind => isOutage(cause) ? "outage" : "rejection"

/** An error of this service's backends: its `kind` was decided when it was built. */
interface Kinded {
  readonly kind: Kind
}

const isKinded = (error: unknown): error is Kinded =>
  typeof error === "object" && error !== null && "kind" in error &&
  (error.kind === "outage" || error.kind === "rejection")

/**
 * A breaker's `isFailure`: the service's own errors by their `kind`, anything
 * else (a timeout, an error some other layer raised) by `isOutage`.
 */
export const isFailure = (isOutage: Classify.Predicate) => (error: unknown): boolean =>
  isKinded(error) ? error.kind === "outage" : isOutage(error)

/** Whether `error` is one of this service's errors that a backend refused (not an outage). */
export const isRejection = (error: unknown): boolean => isKinded(error) && error.kind === "rejection"

/**
 * A `404` from an HTTP backend names what this service is configured with
 * (the bucket, the model, the base URL), not something the caller chose:
 * every call fails alike, so it is an outage.
 */
export const configuredResourceMissing: (self: Classify.Predicate) => Classify.Predicate = Classify.outageWhen(
  (error) => Classify.httpStatus(error) === 404
)
