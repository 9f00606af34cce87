/**
 * Walking the members of a service value: what `Dependency` protects and
 * what `Faults` makes fail are the same members, found the same way.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** @internal */
export type AnyEffect = Effect.Effect<unknown, unknown, unknown>

/** @internal */
export type AnyStream = Stream.Stream<unknown, unknown, unknown>

const isRealEffect = (u: unknown): boolean =>
  Effect.isEffect(u) && !Option.isOption(u) && !Either.isEither(u) && !Context.isTag(u)

const effectPrototypes = new WeakMap<object, boolean>()

/**
 * A real Effect. In Effect 3, `Option`, `Either` and tags are Effects too
 * (yieldable), but as members of a service they are data: never wrapped.
 * (`Exit`s stay Effects: `Effect.succeed` returns one.) What a value is, is
 * decided by its prototype: remembered per prototype, so a wrapped call pays
 * one lookup, not four type-id checks.
 *
 * @internal
 */
export const isEffect = (u: unknown): u is AnyEffect => {
  if (typeof u !== "object" || u === null) return typeof u === "function" && isRealEffect(u)
  const proto = Object.getPrototypeOf(u) as object | null
  if (proto === null) return isRealEffect(u)
  let known = effectPrototypes.get(proto)
  if (known === undefined) {
    known = isRealEffect(u)
    effectPrototypes.set(proto, known)
  }
  return known
}

/**
 * A Stream that is not an Effect (in Effect 3, every Effect — `Option` too — is also a Stream).
 *
 * @internal
 */
export const isStream = (u: unknown): u is AnyStream =>
  typeof u === "object" && u !== null && Stream.StreamTypeId in u && !Effect.isEffect(u)

/**
 * The property descriptor of `key` on `service` or the nearest prototype that has it.
 *
 * @internal
 */
export const findDescriptor = (service: object, key: PropertyKey): PropertyDescriptor | undefined => {
  for (let o: object | null = service; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key)
    if (descriptor !== undefined) return descriptor
  }
  return undefined
}

/**
 * Own and inherited keys (class methods live on the prototype), but not Object's.
 *
 * @internal
 */
export const allKeys = (service: object): Array<PropertyKey> => {
  const keys = new Set<PropertyKey>()
  for (let o: object | null = service; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) if (key !== "constructor") keys.add(key)
  }
  return [...keys]
}

/**
 * Defines a wrapped member as a data property (assignment would hit a prototype's getter).
 *
 * @internal
 */
export const define = (target: object, key: PropertyKey, descriptor: PropertyDescriptor, value: unknown): void => {
  Object.defineProperty(target, key, {
    configurable: true,
    enumerable: descriptor.enumerable ?? false,
    writable: true,
    value
  })
}

/**
 * Defines `key` on `target` as a live view of the same key on `source`:
 * read and written there (plain data, and members left as they are).
 *
 * @internal
 */
export const passThrough = (target: object, source: object, key: PropertyKey, descriptor: PropertyDescriptor): void => {
  Object.defineProperty(target, key, {
    configurable: true,
    enumerable: descriptor.enumerable ?? false,
    get: () => (source as any)[key],
    set: (value) => {
      ;(source as any)[key] = value
    }
  })
}

/** How {@link wrapMembers} treats each kind of member. */
export interface Visitor {
  /** A getter (or setter): its value is read on the raw service at every access, then given to this. */
  readonly accessor: (key: PropertyKey, read: () => unknown) => unknown
  /** A data member holding an Effect, a Stream or a function; `undefined`: passed through. */
  readonly member: (key: PropertyKey, value: AnyEffect | AnyStream | Function) => unknown
}

/**
 * A new object with the prototype of `service` whose members are those of
 * `service` (own and inherited) as `visitor` wraps them: accessors stay
 * accessors (read live, written through), Effect/Stream/function members
 * become data properties holding what `visitor.member` answers, and plain
 * data is read and written live on `service`.
 *
 * @internal
 */
export const wrapMembers = <S>(service: S, visitor: Visitor): S => {
  const raw = service as object
  const wrapped: object = Object.create(Object.getPrototypeOf(raw))
  for (const key of allKeys(raw)) {
    const descriptor = findDescriptor(raw, key)!
    if (descriptor.get !== undefined || descriptor.set !== undefined) {
      Object.defineProperty(wrapped, key, {
        configurable: true,
        enumerable: descriptor.enumerable ?? false,
        get: () => visitor.accessor(key, () => (raw as any)[key]),
        set: (value) => {
          ;(raw as any)[key] = value
        }
      })
      continue
    }
    const value = descriptor.value
    if (isEffect(value) || isStream(value) || typeof value === "function") {
      const member = visitor.member(key, value)
      if (member !== undefined) {
        define(wrapped, key, descriptor, member)
        continue
      }
    }
    passThrough(wrapped, raw, key, descriptor)
  }
  return wrapped as S
}
