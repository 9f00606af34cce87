/**
 * How other modules reach `Degradation`: members and Tags, nothing hidden
 * on the service value.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Degradation, DegradationLevel, Dependency } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { uniqueName } from "./utils.js"

class Api extends Context.Tag("test/seams/Api")<Api, {
  readonly ping: Effect.Effect<void, CircuitBreaker.Unavailable>
}>() {}

const api = (name: string) =>
  Dependency.layer(Api, { name, whenDown: DegradationLevel.Degraded() }).pipe(
    Layer.provide(Layer.succeed(Api, { ping: Effect.void }))
  )

const registered = Effect.flatMap(Degradation, (d) => d.status).pipe(
  Effect.map((status) => status.dependencies.map((dependency) => dependency.name))
)

describe("Degradation's seams", () => {
  it.scoped("unsafeCurrent reads the level in force synchronously, as current does", () =>
    Effect.gen(function*() {
      const degradation = yield* Degradation
      expect(degradation.unsafeCurrent()._tag).toBe("Optimal")
      yield* degradation.set(DegradationLevel.Limited())
      expect(degradation.unsafeCurrent()._tag).toBe("Limited")
      yield* degradation.force(DegradationLevel.Emergency(), "maintenance")
      expect(degradation.unsafeCurrent()).toStrictEqual(yield* degradation.current)
      yield* degradation.release
      expect(degradation.unsafeCurrent()).toStrictEqual(yield* degradation.current)
    }).pipe(Effect.provide(Degradation.layer())))

  it.scoped("the service value carries no symbol-keyed side channel", () =>
    Effect.gen(function*() {
      const degradation = yield* Degradation
      expect(Object.getOwnPropertySymbols(degradation)).toEqual([])
      expect(Object.getPrototypeOf(degradation)).toBe(Object.prototype)
    }).pipe(Effect.provide(Degradation.layer())))

  it.scoped("a decorator that builds a new service and passes its input context through keeps registration working", () =>
    Effect.gen(function*() {
      const forced: Array<string> = []
      // An auditing decorator: a new service from the original's members, force replaced.
      const Audited = Layer.effectContext(Effect.map(Effect.context<Degradation>(), (context) => {
        const underlying = Context.get(context, Degradation)
        const decorated: Degradation.Service = {
          ...underlying,
          force: (level, reason) =>
            Effect.zipRight(Effect.sync(() => forced.push(reason)), underlying.force(level, reason))
        }
        return Context.add(context, Degradation, decorated)
      }))
      const name = uniqueName("api")
      yield* Effect.gen(function*() {
        expect(yield* registered).toEqual([name])
        const degradation = yield* Degradation
        yield* degradation.force(DegradationLevel.Minimal(), "drill")
        expect(forced).toEqual(["drill"])
        expect(degradation.unsafeCurrent()._tag).toBe("Minimal")
      }).pipe(Effect.provide(api(name).pipe(Layer.provideMerge(Audited), Layer.provideMerge(Degradation.layer()))))
    }))

  it.scoped("a decorator that spreads the service, provided by hand, keeps registration working", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const decorated = Layer.scoped(
        Degradation,
        Effect.map(Degradation.make(), (real): Degradation.Service => ({ ...real, set: () => Effect.void }))
      )
      yield* Effect.gen(function*() {
        expect(yield* registered).toEqual([name])
      }).pipe(Effect.provide(api(name).pipe(Layer.provideMerge(decorated))))
    }))

  it.scoped("a service built by Degradation.make and provided by hand accepts registrations too", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const byHand = Layer.scoped(Degradation, Degradation.make())
      yield* Effect.gen(function*() {
        expect(yield* registered).toEqual([name])
      }).pipe(Effect.provide(api(name).pipe(Layer.provideMerge(byHand))))
    }))

  it.scoped("a Degradation service not built by the toolkit is refused with a clear defect", () =>
    Effect.gen(function*() {
      const real = yield* Degradation.make()
      // Its own members (a hand-written stand-in), not the toolkit's: nothing to register with.
      const foreign = Layer.succeed(Degradation, { ...real, unsafeCurrent: () => DegradationLevel.Optimal() })
      const exit = yield* Effect.exit(Layer.build(api(uniqueName("api")).pipe(Layer.provide(foreign))))
      expect(exit._tag).toBe("Failure")
      expect(String(exit._tag === "Failure" && exit.cause)).toContain("was not built by Degradation.layer")
    }))
})
