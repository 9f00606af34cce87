/**
 * The fault-injecting wrapper behind `Faults.layer`: members are found as
 * `Dependency.layer` finds them (own and inherited keys, getters; `Option`,
 * `Either` and tags are data), and each call reads the fault in force when
 * it runs, not when it was built.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Faults from "../Faults.js"
import * as Profile from "../Profile.js"
import * as Validation from "../Validation.js"
import { MemberThrew } from "./errors.js"
import { allKeys, type AnyEffect, type AnyStream, findDescriptor, isEffect, isStream, wrapMembers } from "./members.js"

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

/** Every kind of fault, in the order their metric series are created. */
export const kinds: ReadonlyArray<Faults.Fault["_tag"]> = ["Down", "Hang", "Slow", "Flaky"]

/** The `fault` label and the text of logs and errors: `down`, `hang`, `slow`, `flaky`. */
export const label = (fault: Faults.Fault): "down" | "hang" | "slow" | "flaky" =>
  fault._tag.toLowerCase() as "down" | "hang" | "slow" | "flaky"

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

/** A fault in force and when it was injected (`Clock` milliseconds). */
interface Entry {
  readonly fault: Faults.Fault
  readonly since: number
}

/** The faults in force, with their injection times. */
interface State {
  readonly service: Entry | undefined
  readonly members: Readonly<Record<string, Entry>>
}

/** A fresh, empty state: no fault anywhere. */
const healthy: State = { service: undefined, members: {} }

const toActive = (state: State): Faults.Active => {
  const members: Record<string, Faults.Fault> = {}
  for (const [member, entry] of Object.entries(state.members)) members[member] = entry.fault
  return { service: state.service?.fault, members }
}

const toInjected = (dependency: string, state: State): ReadonlyArray<Faults.Injected> => {
  const out: Array<Faults.Injected> = []
  if (state.service !== undefined) {
    out.push({ dependency, member: undefined, fault: state.service.fault, since: state.service.since })
  }
  for (const member of Object.keys(state.members).sort()) {
    const entry = state.members[member]!
    out.push({ dependency, member, fault: entry.fault, since: entry.since })
  }
  return out
}

/** @internal */
export const ControlTypeId: unique symbol = Symbol.for("@effect-resilience/core/Faults/Control")

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
export const controlKey = (tag: Context.Tag<any, any>): string => `@effect-resilience/core/Faults/Control/${tag.key}`

/** @internal */
export const control = <I, S>(tag: Context.Tag<I, S>): Context.Tag<Faults.Control<I, S>, Faults.Control<I, S>> =>
  Context.GenericTag<Faults.Control<I, S>>(controlKey(tag))

/**
 * One clock timer per wake-up instant: calls made slow at the same instant
 * with the same delay wait on one `Deferred`, woken by one sleeper forked in
 * the layer's scope. Under `TestClock` every woken sleep costs real
 * macrotasks, and a simulation issues its calls of a step in one batch.
 */
const sharedSleep = (scope: Scope.Scope) => {
  const timers = new Map<number, Deferred.Deferred<void>>()
  return (duration: Duration.Duration): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        const at = now + Duration.toMillis(duration)
        const pending = timers.get(at)
        // Waiting stays interruptible; an interrupted waiter leaves the timer to the others.
        if (pending !== undefined) return Deferred.await(pending)
        const deferred = Deferred.unsafeMake<void>(FiberId.none)
        timers.set(at, deferred)
        const sleeper = Effect.sleep(duration).pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (timers.get(at) === deferred) timers.delete(at)
              // The layer closing interrupts the sleeper: its waiters are interrupted, never left hanging.
              return Exit.isSuccess(exit) ? Deferred.succeed(deferred, undefined) : Deferred.interrupt(deferred)
            })
          )
        )
        return Effect.zipRight(Effect.forkIn(sleeper, scope), Deferred.await(deferred))
      }))
}

/** @internal */
export const make = <I, S>(
  tag: Context.Tag<I, S>,
  service: S,
  options: Faults.Options | undefined,
  publish: (change: Faults.Change) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<{ readonly service: S; readonly control: Faults.Control<I, S> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dependency = yield* validated(() => {
      if (service === null || typeof service !== "object") {
        fail("Faults.layer", "service", "an object whose members are Effects, Streams or functions", service)
      }
      return nameOf(tag, options)
    })
    const scope = yield* Effect.scope
    const sleep = sharedSleep(scope)
    // Read by every call: a plain variable, so a healthy call costs one
    // `Effect.suspend` (JavaScript runs one fiber at a time: an update is atomic).
    let state: State = healthy
    const update = (f: (state: State) => State) =>
      Effect.sync(() => {
        state = f(state)
      })
    const counter = injections.pipe(Metric.tagged("dependency", dependency))
    // Every series exists from the moment the layer is built.
    yield* Effect.forEach(kinds, (kind) => Metric.incrementBy(Metric.tagged(counter, "fault", kind.toLowerCase()), 0), {
      discard: true
    })

    const raw = service as object
    const members: Array<string> = []

    // One failure per member and kind, built when first needed: an outage
    // fails every call of a member alike, and a new Error costs ~2 µs for its
    // stack.
    const failures = new Map<string, Effect.Effect<never, FaultInjectedError>>()
    const failure = (member: string, fault: "down" | "flaky"): Effect.Effect<never, FaultInjectedError> => {
      const key = `${fault}\u0000${member}`
      let failed = failures.get(key)
      if (failed === undefined) {
        failed = Effect.fail(new FaultInjectedError({ dependency, member, fault }))
        failures.set(key, failed)
      }
      return failed
    }

    /** What the fault in force for `member` (its own first, else the whole service's) does before the call, if any. */
    const gate = (member: string): Effect.Effect<void, FaultInjectedError> | undefined => {
      const fault = (state.members[member] ?? state.service)?.fault
      if (fault === undefined) return undefined
      switch (fault._tag) {
        case "Down":
          return failure(member, "down")
        case "Hang":
          return Effect.never
        case "Slow":
          return sleep(fault.duration)
        case "Flaky":
          return Effect.flatMap(Random.next, (n) => n < fault.probability ? failure(member, "flaky") : Effect.void)
      }
    }

    // The fault is the one in force when the call runs, not when its Effect was made.
    const wrapEffect = (member: string, effect: AnyEffect): AnyEffect =>
      Effect.suspend(() => {
        const before = gate(member)
        return before === undefined ? effect : Effect.zipRight(before, effect)
      })
    // A stream is faulted before it starts: down fails it, hang never emits, slow delays its start.
    const wrapStream = (member: string, stream: AnyStream): AnyStream =>
      Stream.unwrap(Effect.suspend(() => Effect.as(gate(member) ?? Effect.void, stream)))
    const wrapResult = (member: string, result: unknown): unknown =>
      isEffect(result) ? wrapEffect(member, result) : isStream(result) ? wrapStream(member, result) : result
    // A raw member that throws has failed its call: `Dependency.MemberThrew`, as an Effect,
    // so that faults still apply and the dependency above counts it and runs its fallback.
    const wrapMethod = (member: string, f: Function) =>
      function(this: unknown, ...args: Array<unknown>) {
        let result: unknown
        try {
          result = f.apply(service, args)
        } catch (error) {
          return wrapEffect(member, Effect.die(new MemberThrew({ member, error })))
        }
        return wrapResult(member, result)
      }

    const wrapped = wrapMembers(service, {
      accessor: (key, read) => {
        if (typeof key !== "string") return read()
        let value: unknown
        try {
          value = read()
        } catch (error) {
          return wrapEffect(key, Effect.die(new MemberThrew({ member: key, error })))
        }
        return typeof value === "function" && !isEffect(value) ? wrapMethod(key, value) : wrapResult(key, value)
      },
      // Symbol-keyed members pass through.
      member: (key, value) =>
        typeof key !== "string"
          ? undefined
          : typeof value === "function" && !isEffect(value)
          ? wrapMethod(key, value)
          : wrapResult(key, value)
    })
    // Every string-keyed accessor, Effect, Stream or function member can be faulted.
    for (const key of allKeys(raw)) {
      if (typeof key !== "string") continue
      const descriptor = findDescriptor(raw, key)!
      const value = descriptor.value
      if (
        descriptor.get !== undefined || descriptor.set !== undefined || isEffect(value) || isStream(value) ||
        typeof value === "function"
      ) members.push(key)
    }

    const annotate = (member: string | undefined, fault: string) =>
      Effect.annotateLogs({ dependency, member: member ?? "*", fault })

    const inject: Faults.Control<I, S>["inject"] = (fault, options) =>
      Effect.flatMap(
        validated(() => ({
          fault: checkFault("Faults.inject", fault),
          member: checkMember("Faults.inject", members, options)
        })),
        ({ fault, member }) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) =>
            update((active): State =>
              member === undefined
                // The whole service: a fault on every member, replacing theirs.
                ? { service: { fault, since: at }, members: {} }
                : { service: active.service, members: { ...active.members, [member]: { fault, since: at } } }
            ).pipe(
              Effect.zipRight(Metric.increment(Metric.tagged(counter, "fault", label(fault)))),
              Effect.zipRight(
                Effect.logInfo(`Faults ${dependency}: injected ${describe(fault)} on ${member ?? "every member"}`)
                  .pipe(
                    annotate(member, label(fault))
                  )
              ),
              Effect.zipRight(publish({ _tag: "Injection", dependency, member, fault, at }))
            ))
      )

    const recover: Faults.Control<I, S>["recover"] = (options) =>
      Effect.flatMap(
        validated(() => checkMember("Faults.recover", members, options)),
        (member) =>
          update((active): State => {
            if (member === undefined) return healthy
            const { [member]: _, ...rest } = active.members
            return { service: active.service, members: rest }
          }).pipe(
            Effect.zipRight(
              Effect.logInfo(`Faults ${dependency}: recovered ${member ?? "every member"}`).pipe(
                annotate(member, "recover")
              )
            ),
            Effect.zipRight(
              Effect.flatMap(Clock.currentTimeMillis, (at) => publish({ _tag: "Recovery", dependency, member, at }))
            )
          )
      )

    const handle: Faults.Control<I, S> = {
      [ControlTypeId]: variance,
      dependency,
      members,
      inject,
      recover,
      active: Effect.sync(() => toActive(state)),
      injected: Effect.sync(() => toInjected(dependency, state))
    }
    return { service: wrapped as S, control: handle }
  })

/** `options.name`, checked, or the Tag's key. */
const nameOf = (tag: Context.Tag<any, any>, options: Faults.Options | undefined): string => {
  if (options === undefined) return tag.key
  if (options === null || typeof options !== "object") fail("Faults.layer", "options", "an object", options)
  const name = options.name
  if (name === undefined) return tag.key
  return typeof name === "string" && name.trim().length > 0
    ? name
    : fail("Faults.layer", "name", "a non-empty string", name)
}

// ---------------------------------------------------------------- Registry

/** What the registry's own implementation adds: how `Faults.layer` registers into it. */
interface RegistryInternals {
  readonly publish: (change: Faults.Change) => Effect.Effect<void>
  readonly register: (control: Faults.Control<any, any>) => Effect.Effect<void, never, Scope.Scope>
}

/** Registries made by `makeRegistry`, with their internals: module-private, nothing on the service value. */
const registryInternals = new WeakMap<Faults.RegistryService, RegistryInternals>()

/** @internal */
export class Registry extends Context.Tag("@effect-resilience/core/Faults/Registry")<
  Registry,
  Faults.RegistryService
>() {}

/** @internal */
export const makeRegistry: Effect.Effect<Faults.RegistryService, never, Scope.Scope> = Effect.gen(function*() {
  const controls = new Map<string, Faults.Control<any, any>>()
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<Faults.Change>(), PubSub.shutdown)
  const sorted = () =>
    [...controls.values()].sort((a, b) => a.dependency < b.dependency ? -1 : a.dependency > b.dependency ? 1 : 0)
  const internals: RegistryInternals = {
    publish: (change) => PubSub.publish(pubsub, change),
    register: (handle) =>
      Effect.acquireRelease(
        validated(() => {
          if (controls.has(handle.dependency)) {
            fail(
              "Faults.layer",
              "name",
              "a dependency name no other Faults layer of this registry uses",
              handle.dependency
            )
          }
          controls.set(handle.dependency, handle)
        }),
        () =>
          Effect.sync(() => {
            if (controls.get(handle.dependency) === handle) controls.delete(handle.dependency)
          })
      )
  }
  const service: Faults.RegistryService = {
    dependencies: Effect.sync(sorted),
    get: (dependency) => Effect.sync(() => Option.fromNullable(controls.get(dependency))),
    injected: Effect.flatMap(
      Effect.sync(sorted),
      (all) => Effect.map(Effect.forEach(all, (c) => c.injected), (lists) => lists.flat())
    ),
    subscribe: PubSub.subscribe(pubsub),
    changes: Stream.fromPubSub(pubsub)
  }
  registryInternals.set(service, internals)
  return service
})

/** @internal */
export const layerRegistry: Layer.Layer<Registry> = Layer.scoped(Registry, makeRegistry)

const internalsOf = (registry: Faults.RegistryService): RegistryInternals | undefined => registryInternals.get(registry)

// ---------------------------------------------------------------- Layers

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: Faults.Options | undefined
): Layer.Layer<I | Faults.Control<I, S>, never, I> =>
  Layer.scopedContext(Effect.gen(function*() {
    const service = yield* tag
    // A registry built by `Faults.layerRegistry` lists this dependency for the admin routes and the status page.
    const registry = Option.flatMap(yield* Effect.serviceOption(Registry), (r) => Option.fromNullable(internalsOf(r)))
    const made = yield* make(tag, service, options, Option.isSome(registry) ? registry.value.publish : undefined)
    if (Option.isSome(registry)) yield* registry.value.register(made.control)
    return Context.make(tag, made.service).pipe(Context.add(control(tag), made.control))
  }))

/** @internal */
export const variables = {
  faults: "RESILIENCE_FAULTS",
  allowProduction: "RESILIENCE_FAULTS_ALLOW_PRODUCTION",
  profile: "RESILIENCE_PROFILE"
} as const

const received = (raw: string): string => JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw)

/** `RESILIENCE_FAULTS`: `on` or `off` (case-insensitive), default `off`. */
const switchConfig: Config.Config<boolean> = Config.string(variables.faults).pipe(
  Config.mapOrFail((raw) => {
    const value = raw.trim().toLowerCase()
    return value === "on"
      ? Either.right(true)
      : value === "off"
      ? Either.right(false)
      : Either.left(ConfigError.InvalidData([], `Expected on or off but received ${received(raw)}`))
  }),
  Config.withDefault(false)
)

/** @internal */
export const config: Config.Config<Faults.Settings> = Config.all({
  enabled: switchConfig,
  profile: Profile.config,
  allowProduction: Config.boolean(variables.allowProduction).pipe(Config.withDefault(false))
}).pipe(
  Config.mapOrFail(({ allowProduction, enabled, profile }) =>
    enabled && profile === "production" && !allowProduction
      ? Either.left(ConfigError.InvalidData(
        [variables.faults],
        `Fault injection (${variables.faults}=on) is refused in the production profile ` +
          `(${variables.profile} is production, which is also its default): set ${variables.profile}=staging or development, ` +
          `or ${variables.allowProduction}=true to allow it in production`
      ))
      : Either.right({ enabled, profile, allowProduction })
  )
)

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  options: Faults.Options | undefined
): Layer.Layer<I, ConfigError.ConfigError, I> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const settings = yield* config
    // Off: the raw service itself, untouched — nothing wraps it, nothing is registered.
    if (!settings.enabled) return Layer.effect(tag, tag)
    const name = yield* validated(() => nameOf(tag, options))
    yield* Effect.logWarning(
      `Fault injection is enabled for ${name} (${variables.faults}=on, profile ${settings.profile}): ` +
        "its calls can be made to fail, hang or slow down at run time"
    ).pipe(Effect.annotateLogs({ dependency: name, profile: settings.profile }))
    return layer(tag, options) as Layer.Layer<I, never, I>
  }))

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
