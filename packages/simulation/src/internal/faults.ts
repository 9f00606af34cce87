/**
 * The fault-injecting wrapper behind `Faults.layer`: members are found as
 * `Dependency.layer` finds them (own and inherited keys, getters; `Option`,
 * `Either` and tags are data), and each call reads the fault in force when
 * it runs, not when it was built.
 *
 * @internal
 */
import { Validation } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Faults from "../Faults.js"

/** @internal */
export class FaultInjectedError extends Data.TaggedError("FaultInjectedError")<{
  /** The dependency's name (`Faults.layer`'s `name`, by default the Tag's key). */
  readonly dependency: string
  /** The member that was called. */
  readonly member: string
  /** The fault that failed it: `down` or `flaky`. */
  readonly fault: "down" | "flaky"
}> {
  override get message(): string {
    return `Fault injected into ${this.dependency}.${this.member}: ${this.fault}`
  }
}

type AnyEffect = Effect.Effect<unknown, unknown, unknown>
type AnyStream = Stream.Stream<unknown, unknown, unknown>

/** Every kind of fault, in the order their metric series are created. */
export const kinds: ReadonlyArray<Faults.Fault["_tag"]> = ["Down", "Hang", "Slow", "Flaky"]

/** The `fault` label and the text of logs and errors: `down`, `hang`, `slow`, `flaky`. */
export const label = (fault: Faults.Fault): string => fault._tag.toLowerCase()

/** `fault_injections_total{dependency,fault}`: one per `inject`, not per faulted call. */
export const injections = Metric.counter("fault_injections_total", { incremental: true })

const fail = (module: string, option: string, expected: string, actual: unknown): never =>
  Validation.validator(module).fail(option, expected, actual)

/**
 * The checks of a fault, throwing an `InvalidOptionError` that names the
 * field (`flaky.probability`, `slow.duration`). Raw numbers and strings are
 * checked before `Duration.decode`, which reads NaN and negatives as zero.
 */
export const checkFault = (module: string, fault: unknown): Faults.Fault => {
  if (fault === null || typeof fault !== "object") {
    return fail(module, "fault", "a fault (Faults.down, hang, slow(d) or flaky(p))", fault)
  }
  const f = fault as { _tag?: unknown; duration?: unknown; probability?: unknown }
  switch (f._tag) {
    case "Down":
    case "Hang":
      return fault as Faults.Fault
    case "Slow":
      checkDuration(module, "slow.duration", f.duration)
      return fault as Faults.Fault
    case "Flaky":
      Validation.validator(module).probability("flaky.probability", f.probability)
      return fault as Faults.Fault
    default:
      return fail(module, "fault", "a fault (Faults.down, hang, slow(d) or flaky(p))", fault)
  }
}

/** A finite, non-negative duration (core's check: NaN and negatives are refused before `Duration.decode`). */
export const checkDuration = (module: string, option: string, value: unknown): Duration.Duration =>
  Validation.validator(module).duration(option, value, { allowZero: true })

/** The member named in `options`, checked against the wrapped members. */
const checkMember = (module: string, members: ReadonlyArray<string>, options: unknown): string | undefined => {
  if (options === undefined) return undefined
  if (options === null || typeof options !== "object") return fail(module, "options", "an object", options)
  const member = (options as { member?: unknown }).member
  if (member === undefined) return undefined
  return typeof member === "string" && members.includes(member)
    ? member
    : fail(module, "member", `one of the service's members (${members.join(", ")})`, member)
}

/** Runs `f` and dies with what it throws: bad input is a defect before any state changes. */
const validated = <A>(f: () => A): Effect.Effect<A> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (error) {
      return Effect.die(error)
    }
  })

/** A fresh, empty state: no fault anywhere. */
const healthy: Faults.Active = { service: undefined, members: {} }

/** @internal */
export const ControlTypeId: unique symbol = Symbol.for("@effect-resilience/simulation/Faults/Control")

/** The phantom `I` of a `Control<I>`: a type-level brand only. */
const variance: { readonly _I: (_: any) => any } = { _I: (_) => _ }

/** @internal */
export const isTag = (u: unknown): boolean => Context.isTag(u)

/** @internal */
export const withControl = <I, S, A>(
  tag: Context.Tag<I, S>,
  f: (control: Faults.Control<I, S>) => Effect.Effect<A>
): Effect.Effect<A, never, Faults.Control<I, S>> => Effect.flatMap(control(tag), f)

/** @internal */
export const controlKey = (tag: Context.Tag<any, any>): string => `@effect-resilience/simulation/Faults/Control/${tag.key}`

/** @internal */
export const control = <I, S>(tag: Context.Tag<I, S>): Context.Tag<Faults.Control<I, S>, Faults.Control<I, S>> =>
  Context.GenericTag<Faults.Control<I, S>>(controlKey(tag))

/** @internal */
export const make = <I, S>(
  tag: Context.Tag<I, S>,
  service: S,
  options: Faults.Options | undefined
): Effect.Effect<{ readonly service: S; readonly control: Faults.Control<I, S> }> =>
  Effect.gen(function*() {
    const dependency = yield* validated(() => {
      if (service === null || typeof service !== "object") {
        fail("Faults.layer", "service", "an object whose members are Effects, Streams or functions", service)
      }
      if (options === undefined) return tag.key
      if (options === null || typeof options !== "object") fail("Faults.layer", "options", "an object", options)
      const name = options.name
      if (name === undefined) return tag.key
      return typeof name === "string" && name.trim().length > 0
        ? name
        : fail("Faults.layer", "name", "a non-empty string", name)
    })
    const state = yield* Ref.make<Faults.Active>(healthy)
    const counter = injections.pipe(Metric.tagged("dependency", dependency))
    // Every series exists from the moment the layer is built.
    yield* Effect.forEach(kinds, (kind) => Metric.incrementBy(Metric.tagged(counter, "fault", kind.toLowerCase()), 0), {
      discard: true
    })

    const raw = service as object
    const members: Array<string> = []
    const wrapped: object = Object.create(Object.getPrototypeOf(raw))

    /** The fault in force for `member`: its own first, else the whole service's. */
    const gate = (member: string): Effect.Effect<void, FaultInjectedError> =>
      Effect.flatMap(Ref.get(state), (active) => {
        const fault = active.members[member] ?? active.service
        if (fault === undefined) return Effect.void
        switch (fault._tag) {
          case "Down":
            return Effect.fail(new FaultInjectedError({ dependency, member, fault: "down" }))
          case "Hang":
            return Effect.never
          case "Slow":
            return Effect.sleep(fault.duration)
          case "Flaky":
            return Effect.flatMap(Random.next, (n) =>
              n < fault.probability
                ? Effect.fail(new FaultInjectedError({ dependency, member, fault: "flaky" }))
                : Effect.void)
        }
      })

    const wrapEffect = (member: string, effect: AnyEffect): AnyEffect => Effect.zipRight(gate(member), effect)
    // A stream is faulted before it starts: down fails it, hang never emits, slow delays its start.
    const wrapStream = (member: string, stream: AnyStream): AnyStream =>
      Stream.unwrap(Effect.as(gate(member), stream))
    const wrapResult = (member: string, result: unknown): unknown =>
      isEffect(result) ? wrapEffect(member, result) : isStream(result) ? wrapStream(member, result) : result
    const wrapMethod = (member: string, f: Function) =>
      function(this: unknown, ...args: Array<unknown>) {
        return wrapResult(member, f.apply(service, args))
      }

    for (const key of allKeys(raw)) {
      const descriptor = findDescriptor(raw, key)!
      const name = typeof key === "string" ? key : undefined
      if (descriptor.get !== undefined || descriptor.set !== undefined) {
        if (name !== undefined) members.push(name)
        Object.defineProperty(wrapped, key, {
          configurable: true,
          enumerable: descriptor.enumerable ?? false,
          get: () => {
            const value = (service as any)[key]
            if (name === undefined) return value
            return typeof value === "function" && !isEffect(value) ? wrapMethod(name, value) : wrapResult(name, value)
          },
          set: (value) => {
            ;(service as any)[key] = value
          }
        })
        continue
      }
      const value = descriptor.value
      const faultable = name !== undefined && (isEffect(value) || isStream(value) || typeof value === "function")
      if (faultable) {
        members.push(name)
        Object.defineProperty(wrapped, key, {
          configurable: true,
          enumerable: descriptor.enumerable ?? false,
          writable: true,
          value: typeof value === "function" && !isEffect(value) ? wrapMethod(name, value) : wrapResult(name, value)
        })
      } else {
        // Plain data (and symbol-keyed members) pass through, live.
        Object.defineProperty(wrapped, key, {
          configurable: true,
          enumerable: descriptor.enumerable ?? false,
          get: () => (service as any)[key],
          set: (value) => {
            ;(service as any)[key] = value
          }
        })
      }
    }

    const annotate = (member: string | undefined, fault: string) =>
      Effect.annotateLogs({ dependency, member: member ?? "*", fault })

    const inject: Faults.Control<I, S>["inject"] = (fault, options) =>
      Effect.flatMap(
        validated(() => ({ fault: checkFault("Faults.inject", fault), member: checkMember("Faults.inject", members, options) })),
        ({ fault, member }) =>
          Ref.update(state, (active): Faults.Active =>
            member === undefined
              // The whole service: a fault on every member, replacing theirs.
              ? { service: fault, members: {} }
              : { service: active.service, members: { ...active.members, [member]: fault } }).pipe(
              Effect.zipRight(Metric.increment(Metric.tagged(counter, "fault", label(fault)))),
              Effect.zipRight(
                Effect.logInfo(`Faults ${dependency}: injected ${describe(fault)} on ${member ?? "every member"}`).pipe(
                  annotate(member, label(fault))
                )
              )
            )
      )

    const recover: Faults.Control<I, S>["recover"] = (options) =>
      Effect.flatMap(validated(() => checkMember("Faults.recover", members, options)), (member) =>
        Ref.update(state, (active): Faults.Active => {
          if (member === undefined) return healthy
          const { [member]: _, ...rest } = active.members
          return { service: active.service, members: rest }
        }).pipe(
          Effect.zipRight(
            Effect.logInfo(`Faults ${dependency}: recovered ${member ?? "every member"}`).pipe(annotate(member, "recover"))
          )
        ))

    const handle: Faults.Control<I, S> = {
      [ControlTypeId]: variance,
      dependency,
      members,
      inject,
      recover,
      active: Ref.get(state)
    }
    return { service: wrapped as S, control: handle }
  })

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: Faults.Options | undefined
): Layer.Layer<I | Faults.Control<I, S>, never, I> =>
  Layer.effectContext(
    Effect.map(
      Effect.flatMap(tag, (service) => make(tag, service, options)),
      ({ control: handle, service }) => Context.make(tag, service).pipe(Context.add(control(tag), handle))
    )
  )

/** `down`, `hang`, `slow 2s`, `flaky 50%`: how logs name a fault. */
export const describe = (fault: Faults.Fault): string => {
  switch (fault._tag) {
    case "Slow":
      return `slow ${Duration.format(fault.duration)}`
    case "Flaky":
      return `flaky ${Math.round(fault.probability * 1000) / 10}%`
    default:
      return label(fault)
  }
}

/** A real Effect: in Effect 3, `Option`, `Either` and tags are Effects too, but as members they are data. */
const isEffect = (u: unknown): u is AnyEffect =>
  Effect.isEffect(u) && !Option.isOption(u) && !Either.isEither(u) && !Context.isTag(u)

/** A Stream that is not an Effect (every Effect is also a Stream in Effect 3). */
const isStream = (u: unknown): u is AnyStream =>
  typeof u === "object" && u !== null && Stream.StreamTypeId in u && !Effect.isEffect(u)

/** The property descriptor of `key` on `service` or the nearest prototype that has it. */
const findDescriptor = (service: object, key: PropertyKey): PropertyDescriptor | undefined => {
  for (let o: object | null = service; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key)
    if (descriptor !== undefined) return descriptor
  }
  return undefined
}

/** Own and inherited keys (class methods live on the prototype), but not Object's. */
const allKeys = (service: object): Array<PropertyKey> => {
  const keys = new Set<PropertyKey>()
  for (let o: object | null = service; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) if (key !== "constructor") keys.add(key)
  }
  return [...keys]
}
