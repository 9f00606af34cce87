/**
 * One forced level for the whole fleet: force/release go through Redis (a
 * key holding the override, a channel announcing each change) and every
 * instance applies them to its own `Degradation`. Loaded by the `/redis`
 * subpath only: ioredis is an optional peer.
 *
 * @internal
 */
import { Degradation, DegradationLevel, Describe } from "@effect-resilience/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import { hostname } from "node:os"
import type * as FleetOverride from "../redis/FleetOverride.js"
import * as fleet from "./fleetStatus.js"
import * as options_ from "./options.js"

const module = "FleetOverride.layer"

/** The override as Redis holds it; `seq` comes from Redis (INCR), so it orders changes across the fleet. */
interface OverrideRecord {
  readonly seq: number
  readonly forced: { readonly level: DegradationLevel.Tag; readonly reason: string; readonly since: number } | null
  readonly origin: string
  readonly at: number
}

type Draft = Omit<OverrideRecord, "seq">

// One script: the change is numbered, stored and announced atomically, so the
// channel carries changes in `seq` order. With an expected seq (ARGV[3]) it
// only writes when nobody changed the override since (a Redis that lost its
// data counts as unchanged); otherwise it returns the record in force.
const writeScript = `
if ARGV[3] ~= "" then
  local seq = redis.call("GET", KEYS[2])
  if seq and tonumber(seq) ~= tonumber(ARGV[3]) then
    return {0, redis.call("GET", KEYS[1])}
  end
end
local seq = redis.call("INCR", KEYS[2])
local record = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call("SET", KEYS[1], record)
redis.call("PUBLISH", ARGV[2], record)
return {1, record}
`

/** A record from Redis, or `undefined` for anything this version cannot read. @internal */
export const decode = (text: unknown): OverrideRecord | undefined => {
  if (typeof text !== "string") return undefined
  let value: any
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== "object" || !Number.isInteger(value.seq)) return undefined
  const forced = value.forced
  if (forced !== null) {
    if (forced === undefined || typeof forced !== "object") return undefined
    if (DegradationLevel.fromString(forced.level) === undefined || typeof forced.reason !== "string") return undefined
    if (typeof forced.since !== "number") return undefined
  }
  return {
    seq: value.seq,
    forced: forced === null ? null : { level: forced.level, reason: forced.reason, since: forced.since },
    origin: typeof value.origin === "string" ? value.origin : "unknown",
    at: typeof value.at === "number" ? value.at : 0
  }
}

const resolveOptions = (options: FleetOverride.Options | undefined) => {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    options_.fail(module, "options", "an object", options)
  }
  const redis = options?.redis ?? "redis://127.0.0.1:6379"
  if (typeof redis !== "string" && (redis === null || typeof redis !== "object")) {
    options_.fail(module, "redis", "a redis:// URL or ioredis options", redis)
  }
  const prefix = options?.prefix ?? "effect-resilience:degradation"
  if (typeof prefix !== "string" || prefix.length === 0) options_.fail(module, "prefix", "a non-empty string", prefix)
  const instance = options?.instance ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  if (typeof instance !== "string" || instance.length === 0) {
    options_.fail(module, "instance", "a non-empty string", instance)
  }
  return {
    redis,
    prefix,
    instance,
    timeout: options_.optionalDuration(module, "timeout", options?.timeout) ?? Duration.seconds(2),
    syncInterval: options_.optionalDuration(module, "syncInterval", options?.syncInterval) ?? Duration.seconds(15)
  }
}

type Event =
  | { readonly _tag: "Message"; readonly text: string }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Lost"; readonly error: string | undefined }

/** @internal */
export const make = (
  underlying: Degradation.Service,
  options?: FleetOverride.Options
): Effect.Effect<Degradation.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* Effect.try({ try: () => resolveOptions(options), catch: (e) => e }).pipe(Effect.orDie)
    const keys = {
      record: `${config.prefix}:override`,
      seq: `${config.prefix}:override:seq`,
      channel: `${config.prefix}:override:changes`
    }
    const clock = yield* Effect.clock
    const lock = yield* Effect.makeSemaphore(1)
    const events = yield* Effect.acquireRelease(Queue.unbounded<Event>(), Queue.shutdown)

    // What this instance knows of the shared override.
    let lastSeq = 0
    let known: Draft | undefined
    let pending: Draft | undefined
    let lastSync: number | undefined
    let wasConnected = false
    // Set when a connection closed: Redis may have restarted empty, so its
    // numbering may have started over; the next message or sync is the truth.
    let resync = false

    const base: RedisOptions = typeof config.redis === "string" ? {} : config.redis
    const url = typeof config.redis === "string" ? config.redis : undefined
    const connect = (extra: RedisOptions) =>
      // ioredis' option types disagree with `exactOptionalPropertyTypes`.
      url === undefined ? new Redis({ ...base, ...extra } as any) : new Redis(url, { ...base, ...extra } as any)

    // Commands fail at once while disconnected (no offline queue): a force is
    // applied here at once, not when Redis comes back.
    const command = yield* Effect.acquireRelease(
      Effect.sync(() => connect({ enableOfflineQueue: false, maxRetriesPerRequest: 1 })),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // The subscriber resubscribes by itself after a reconnect.
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() => connect({})),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    const connected = () => command.status === "ready" && subscriber.status === "ready"

    const onMessage = (channel: string, text: string) => {
      if (channel === keys.channel) Queue.unsafeOffer(events, { _tag: "Message", text })
    }
    const onReady = () => Queue.unsafeOffer(events, { _tag: "Ready" })
    const onClose = () => Queue.unsafeOffer(events, { _tag: "Lost", error: undefined })
    // Without an `error` listener ioredis prints every failed reconnect.
    let lastError: string | undefined
    const onError = (error: unknown) => {
      lastError = Describe.describe(error)
    }
    subscriber.on("message", onMessage)
    for (const redis of [command, subscriber]) {
      redis.on("ready", onReady)
      redis.on("close", onClose)
      redis.on("error", onError)
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        subscriber.off("message", onMessage)
        for (const redis of [command, subscriber]) {
          redis.off("ready", onReady)
          redis.off("close", onClose)
        }
      })
    )

    const redisCall = <A>(f: () => Promise<A>): Effect.Effect<A, Error> =>
      Effect.tryPromise({ try: f, catch: (e) => e instanceof Error ? e : new Error(String(e)) }).pipe(
        Effect.timeoutFail({ duration: config.timeout, onTimeout: () => new Error("Redis did not answer in time") })
      )

    const write = (draft: Draft, expectedSeq: number | undefined) =>
      Effect.map(
        redisCall(() =>
          command.eval(
            writeScript,
            2,
            keys.record,
            keys.seq,
            JSON.stringify(draft),
            keys.channel,
            expectedSeq === undefined ? "" : String(expectedSeq)
          ) as Promise<[number, string | null]>
        ),
        ([written, text]) => ({ written: written === 1, record: text === null ? undefined : decode(text) })
      )

    const sameDraft = (record: OverrideRecord, draft: Draft | undefined) =>
      draft !== undefined && record.origin === draft.origin && record.at === draft.at &&
      JSON.stringify(record.forced) === JSON.stringify(draft.forced)

    const sameForced = (status: Degradation.Status, forced: OverrideRecord["forced"]) =>
      forced === null
        ? status.forced === undefined
        : status.forced !== undefined && status.forced.level._tag === forced.level &&
          status.forced.reason === forced.reason

    /** Makes the local level follow `record` (already numbered) unless it already does. */
    const applyLocally = (forced: OverrideRecord["forced"], origin: string) =>
      Effect.flatMap(underlying.status, (status) => {
        if (sameForced(status, forced)) return Effect.void
        return forced === null
          ? Effect.zipRight(Effect.logInfo(`FleetOverride: release from ${origin}`), underlying.release)
          : Effect.zipRight(
            Effect.logInfo(`FleetOverride: force ${forced.level} (${forced.reason}) from ${origin}`),
            underlying.force(DegradationLevel.fromString(forced.level)!, forced.reason)
          )
      })

    const adopt = (record: OverrideRecord | undefined) =>
      Effect.gen(function*() {
        lastSeq = record?.seq ?? 0
        known = record
        pending = undefined
        resync = false
        lastSync = yield* Clock.currentTimeMillis
        if (record !== undefined) yield* applyLocally(record.forced, record.origin)
        else yield* applyLocally(null, "redis (no override stored)")
      })

    // Redis is the truth once reachable again, except for what it does not
    // know: a change made here while it was away is shared unless someone
    // changed the override meanwhile, and a Redis that lost its data (a
    // restart without persistence) is re-seeded with the last known override.
    const reconcile = lock.withPermits(1)(
      Effect.gen(function*() {
        if (!connected()) return
        if (pending !== undefined) {
          const result = yield* write(pending, lastSeq)
          if (result.written) {
            resync = false
            yield* Effect.logInfo("FleetOverride: shared the change made while Redis was unreachable")
            lastSeq = result.record?.seq ?? lastSeq
            known = pending
            pending = undefined
            lastSync = yield* Clock.currentTimeMillis
            return
          }
          yield* Effect.logWarning(
            "FleetOverride: the override changed elsewhere while Redis was unreachable; following the fleet"
          )
          return yield* adopt(result.record)
        }
        const text = yield* redisCall(() => command.get(keys.record))
        const record = text === null ? undefined : decode(text)
        if (text !== null && record === undefined) {
          return yield* Effect.logWarning(`FleetOverride: unreadable override at ${keys.record}; ignored`)
        }
        if (record === undefined && known !== undefined && known.forced !== null) {
          const result = yield* write(known, 0)
          return yield* result.written
            ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                lastSeq = result.record?.seq ?? lastSeq
                lastSync = now
                resync = false
              }))
            : adopt(result.record)
        }
        if (record === undefined && known === undefined) {
          resync = false
          lastSync = yield* Clock.currentTimeMillis
          return
        }
        if (record !== undefined && record.seq === lastSeq && sameDraft(record, known)) {
          resync = false
          lastSync = yield* Clock.currentTimeMillis
          return
        }
        yield* adopt(record)
      })
    ).pipe(
      Effect.catchAll((error) => Effect.logWarning(`FleetOverride: cannot sync with Redis: ${error.message}`))
    )

    const onRemote = (text: string) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const record = decode(text)
        if (record === undefined) {
          return yield* Effect.logWarning(`FleetOverride: unreadable message on ${keys.channel}; ignored`)
        }
        lastSync = yield* Clock.currentTimeMillis
        // Ours (already applied) or older than what we know; after a reconnect, newer than anything we know.
        if (record.seq <= lastSeq && !resync) return
        yield* adopt(record)
      }))

    const handle = (event: Event): Effect.Effect<void> => {
      switch (event._tag) {
        case "Message":
          return onRemote(event.text)
        case "Ready": {
          // Also after a blip too short to be seen as lost: a message may have been missed.
          if (!connected()) return Effect.void
          const back = !wasConnected
          wasConnected = true
          return back ? Effect.zipRight(Effect.logInfo("FleetOverride: connected to Redis"), reconcile) : reconcile
        }
        case "Lost":
          resync = true
          if (!wasConnected || connected()) return Effect.void
          wasConnected = false
          return Effect.logWarning(
            `FleetOverride: lost Redis${lastError === undefined ? "" : ` (${lastError})`}; keeping the last known ` +
              `override (${
                known?.forced == null ? "none" : `${known.forced.level}: ${known.forced.reason}`
              }) until it is back`
          )
      }
    }

    // Wait (bounded) for the first sync so that a new instance starts with
    // the override in force; an unreachable Redis only delays it.
    yield* redisCall(() => subscriber.subscribe(keys.channel)).pipe(
      Effect.zipRight(
        Effect.async<void>((resume) => {
          if (command.status === "ready") return resume(Effect.void)
          const ready = () => resume(Effect.void)
          command.once("ready", ready)
          return Effect.sync(() => command.off("ready", ready))
        }).pipe(Effect.timeout(config.timeout))
      ),
      Effect.matchEffect({
        onFailure: (error) =>
          Effect.logWarning(
            `FleetOverride: Redis unreachable at start (${Describe.describe(lastError ?? error)}); ` +
              "the override is shared once it is back"
          ),
        onSuccess: () =>
          Effect.suspend(() => {
            wasConnected = connected()
            return reconcile
          })
      })
    )

    yield* Queue.take(events).pipe(
      Effect.flatMap(handle),
      Effect.forever,
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "fleet-override")
    )
    // Pub/sub delivers at most once: a periodic read catches what a blip lost.
    yield* reconcile.pipe(
      Effect.schedule(Schedule.spaced(config.syncInterval)),
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "fleet-override-sync")
    )

    const now = () => clock.unsafeCurrentTimeMillis()

    /** Redis first (numbered, stored, announced), then here; here alone (and later shared) when Redis is away. */
    const change = (forced: OverrideRecord["forced"], local: Effect.Effect<void>) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const draft: Draft = { forced, origin: config.instance, at: now() }
        const result = yield* Effect.either(
          connected() ? write(draft, undefined) : Effect.fail(new Error("disconnected"))
        )
        if (result._tag === "Right") {
          // The script numbered it after every change Redis holds: what comes later on the channel is older.
          lastSeq = result.right.record?.seq ?? lastSeq
          resync = false
          known = draft
          pending = undefined
          lastSync = now()
        } else {
          known = draft
          pending = draft
          yield* Effect.logWarning(
            `FleetOverride: Redis unreachable (${result.left.message}); the change applies to this instance ` +
              "and is shared once Redis is back"
          )
        }
        yield* local
      }))

    const fleetStatus = Effect.sync((): FleetOverride.FleetStatus => ({
      connected: connected(),
      lastSync: lastSync ?? null,
      pending: pending !== undefined,
      instance: config.instance
    }))

    // The service's own members, `force` and `release` going to Redis first.
    const decorated: Degradation.Service = {
      ...underlying,
      force: (level: DegradationLevel.DegradationLevel, reason: string) =>
        change({ level: level._tag, reason, since: now() }, underlying.force(level, reason)),
      release: change(null, underlying.release)
    }
    fleet.register(decorated, fleetStatus)
    return decorated
  })

/** @internal */
export const layer = (
  options?: FleetOverride.Options
): Layer.Layer<Degradation | fleet.Status, never, Degradation> =>
  // The input context passes through: what `Degradation.layer` provides beside the service (how
  // dependencies register) stays available to the layers built on this one.
  Layer.scopedContext(Effect.gen(function*() {
    const context = yield* Effect.context<Degradation>()
    const decorated = yield* make(Context.get(context, Degradation), options)
    return Context.add(context, Degradation, decorated).pipe(
      Context.add(fleet.Status, Effect.flatMap(fleet.status(decorated), (status) => Effect.succeed(status!)))
    )
  }))

/** @internal */
export const layerConfig = (
  options?: Omit<FleetOverride.Options, "redis">
): Layer.Layer<Degradation | fleet.Status, ConfigError.ConfigError, Degradation> =>
  Layer.unwrapEffect(
    Effect.map(Config.string("REDIS_URL"), (redis) => layer({ ...options, redis }))
  )
