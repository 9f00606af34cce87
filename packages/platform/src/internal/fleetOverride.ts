/**
 * One forced level for the whole fleet: force/release go through Redis (a
 * key holding the override, a channel announcing each change) and every
 * instance applies them to its own `Degradation`. Loaded by the `/redis`
 * subpath only: ioredis is an optional peer.
 *
 * @internal
 */
import { Degradation, DegradationLevel, Describe } from "@effect-resilience/core"
import type * as Clock from "effect/Clock"
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
import * as fleetStatus from "./fleetStatus.js"
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

type Settings = ReturnType<typeof resolveOptions>

/** The two connections: commands fail at once while disconnected (no offline queue); the subscriber resubscribes. */
const connections = (config: Settings) => {
  const base: RedisOptions = typeof config.redis === "string" ? {} : config.redis
  const url = typeof config.redis === "string" ? config.redis : undefined
  const connect = (extra: RedisOptions) =>
    // ioredis' option types disagree with `exactOptionalPropertyTypes`.
    url === undefined ? new Redis({ ...base, ...extra } as any) : new Redis(url, { ...base, ...extra } as any)
  const open = (extra: RedisOptions) =>
    Effect.acquireRelease(Effect.sync(() => connect(extra)), (redis) => Effect.sync(() => redis.disconnect()))
  // A force is applied here at once, not when Redis comes back.
  return Effect.all({ command: open({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }), subscriber: open({}) })
}

/**
 * What this instance knows of the shared override, and how it follows and
 * changes it. Every change of that knowledge happens under `lock` (or in the
 * one fiber that handles connection events).
 */
class Fleet {
  lastSeq = 0
  known: Draft | undefined = undefined
  pending: Draft | undefined = undefined
  lastSync: number | undefined = undefined
  wasConnected = false
  /** A connection closed: Redis may have restarted empty, its numbering started over; the next message or sync is the truth. */
  resync = false
  /** The last connection error, for the log (ioredis prints every failed reconnect without a listener). */
  lastError: string | undefined = undefined
  readonly keys: { readonly record: string; readonly seq: string; readonly channel: string }

  constructor(
    readonly config: Settings,
    readonly underlying: Degradation.Service,
    readonly command: Redis,
    readonly subscriber: Redis,
    readonly lock: Effect.Semaphore,
    readonly clock: Clock.Clock
  ) {
    this.keys = {
      record: `${config.prefix}:override`,
      seq: `${config.prefix}:override:seq`,
      channel: `${config.prefix}:override:changes`
    }
  }

  connected(): boolean {
    return this.command.status === "ready" && this.subscriber.status === "ready"
  }

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  redisCall<A>(f: () => Promise<A>): Effect.Effect<A, Error> {
    return Effect.tryPromise({ try: f, catch: (e) => e instanceof Error ? e : new Error(String(e)) }).pipe(
      Effect.timeoutFail({ duration: this.config.timeout, onTimeout: () => new Error("Redis did not answer in time") })
    )
  }

  /** Numbers, stores and announces `draft` if Redis holds `expectedSeq` (any, when undefined). */
  write(draft: Draft, expectedSeq: number | undefined) {
    const keys = this.keys
    return Effect.map(
      this.redisCall(() =>
        this.command.eval(
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
  }

  /** Makes the local level follow `forced` unless it already does. */
  applyLocally(forced: OverrideRecord["forced"], origin: string): Effect.Effect<void> {
    const underlying = this.underlying
    return Effect.flatMap(underlying.status, (status) => {
      if (sameForced(status, forced)) return Effect.void
      return forced === null
        ? Effect.zipRight(Effect.logInfo(`FleetOverride: release from ${origin}`), underlying.release)
        : Effect.zipRight(
          Effect.logInfo(`FleetOverride: force ${forced.level} (${forced.reason}) from ${origin}`),
          underlying.force(DegradationLevel.fromString(forced.level)!, forced.reason)
        )
    })
  }

  /** Takes `record` (Redis's) as the truth. */
  adopt(record: OverrideRecord | undefined): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.lastSeq = record?.seq ?? 0
      this.known = record
      this.pending = undefined
      this.resync = false
      this.lastSync = this.now()
      return record !== undefined
        ? this.applyLocally(record.forced, record.origin)
        : this.applyLocally(null, "redis (no override stored)")
    })
  }

  synced(seq = this.lastSeq): Effect.Effect<void> {
    return Effect.sync(() => {
      this.lastSeq = seq
      this.resync = false
      this.lastSync = this.now()
    })
  }

  /** A change made here while Redis was away: shared unless the fleet changed the override meanwhile. */
  sharePending(pending: Draft): Effect.Effect<void, Error> {
    return Effect.flatMap(this.write(pending, this.lastSeq), (result) => {
      if (!result.written) {
        return Effect.zipRight(
          Effect.logWarning(
            "FleetOverride: the override changed elsewhere while Redis was unreachable; following the fleet"
          ),
          this.adopt(result.record)
        )
      }
      this.known = pending
      this.pending = undefined
      return Effect.zipRight(
        Effect.logInfo("FleetOverride: shared the change made while Redis was unreachable"),
        this.synced(result.record?.seq ?? this.lastSeq)
      )
    })
  }

  /** Redis holds nothing but we knew an override (a restart without persistence): seed it again. */
  reseed(known: Draft): Effect.Effect<void, Error> {
    return Effect.flatMap(
      this.write(known, 0),
      (result) => result.written ? this.synced(result.record?.seq ?? this.lastSeq) : this.adopt(result.record)
    )
  }

  /** What Redis holds against what we know. */
  compare(): Effect.Effect<void, Error> {
    return Effect.flatMap(this.redisCall(() => this.command.get(this.keys.record)), (text) => {
      const record = text === null ? undefined : decode(text)
      if (text !== null && record === undefined) {
        return Effect.logWarning(`FleetOverride: unreadable override at ${this.keys.record}; ignored`)
      }
      const known = this.known
      if (record === undefined && known !== undefined && known.forced !== null) return this.reseed(known)
      if (record === undefined && known === undefined) return this.synced()
      if (record !== undefined && record.seq === this.lastSeq && sameDraft(record, known)) return this.synced()
      return this.adopt(record)
    })
  }

  /**
   * Redis is the truth once reachable again, except for what it does not
   * know: a change made here while it was away is shared unless someone
   * changed the override meanwhile, and a Redis that lost its data is
   * re-seeded with the last known override.
   */
  get reconcile(): Effect.Effect<void> {
    return this.lock.withPermits(1)(Effect.suspend(() => {
      if (!this.connected()) return Effect.void
      return this.pending !== undefined ? this.sharePending(this.pending) : this.compare()
    })).pipe(
      Effect.catchAll((error) => Effect.logWarning(`FleetOverride: cannot sync with Redis: ${error.message}`))
    )
  }

  onRemote(text: string): Effect.Effect<void> {
    return this.lock.withPermits(1)(Effect.suspend(() => {
      const record = decode(text)
      if (record === undefined) {
        return Effect.logWarning(`FleetOverride: unreadable message on ${this.keys.channel}; ignored`)
      }
      this.lastSync = this.now()
      // Ours (already applied) or older than what we know; after a reconnect, newer than anything we know.
      if (record.seq <= this.lastSeq && !this.resync) return Effect.void
      return this.adopt(record)
    }))
  }

  handle(event: Event): Effect.Effect<void> {
    switch (event._tag) {
      case "Message":
        return this.onRemote(event.text)
      case "Ready": {
        // Also after a blip too short to be seen as lost: a message may have been missed.
        if (!this.connected()) return Effect.void
        const back = !this.wasConnected
        this.wasConnected = true
        return back
          ? Effect.zipRight(Effect.logInfo("FleetOverride: connected to Redis"), this.reconcile)
          : this.reconcile
      }
      case "Lost": {
        this.resync = true
        if (!this.wasConnected || this.connected()) return Effect.void
        this.wasConnected = false
        const known = this.known
        return Effect.logWarning(
          `FleetOverride: lost Redis${this.lastError === undefined ? "" : ` (${this.lastError})`}; keeping the last ` +
            `known override (${
              known?.forced == null ? "none" : `${known.forced.level}: ${known.forced.reason}`
            }) until it is back`
        )
      }
    }
  }

  /** Redis first (numbered, stored, announced), then here; here alone (and later shared) when Redis is away. */
  change(forced: OverrideRecord["forced"], local: Effect.Effect<void>): Effect.Effect<void> {
    return this.lock.withPermits(1)(Effect.gen(this, function*() {
      const draft: Draft = { forced, origin: this.config.instance, at: this.now() }
      const result = yield* Effect.either(
        this.connected() ? this.write(draft, undefined) : Effect.fail(new Error("disconnected"))
      )
      this.known = draft
      if (result._tag === "Right") {
        // The script numbered it after every change Redis holds: what comes later on the channel is older.
        this.lastSeq = result.right.record?.seq ?? this.lastSeq
        this.resync = false
        this.pending = undefined
        this.lastSync = this.now()
      } else {
        this.pending = draft
        yield* Effect.logWarning(
          `FleetOverride: Redis unreachable (${result.left.message}); the change applies to this instance ` +
            "and is shared once Redis is back"
        )
      }
      yield* local
    }))
  }

  get status(): Effect.Effect<FleetOverride.FleetStatus> {
    return Effect.sync(() => ({
      connected: this.connected(),
      lastSync: this.lastSync ?? null,
      pending: this.pending !== undefined,
      instance: this.config.instance
    }))
  }

  /** Connection events into `events`, for the one fiber that handles them; removed with the scope. */
  listen(events: Queue.Queue<Event>): Effect.Effect<void, never, Scope.Scope> {
    const { command, subscriber } = this
    const onMessage = (channel: string, text: string) => {
      if (channel === this.keys.channel) Queue.unsafeOffer(events, { _tag: "Message", text })
    }
    const onReady = () => Queue.unsafeOffer(events, { _tag: "Ready" })
    const onClose = () => Queue.unsafeOffer(events, { _tag: "Lost", error: undefined })
    const onError = (error: unknown) => {
      this.lastError = Describe.describe(error)
    }
    return Effect.acquireRelease(
      Effect.sync(() => {
        subscriber.on("message", onMessage)
        for (const redis of [command, subscriber]) {
          redis.on("ready", onReady)
          redis.on("close", onClose)
          redis.on("error", onError)
        }
      }),
      () =>
        Effect.sync(() => {
          subscriber.off("message", onMessage)
          for (const redis of [command, subscriber]) {
            redis.off("ready", onReady)
            redis.off("close", onClose)
          }
        })
    )
  }

  /** Waits (bounded) for the first sync so that a new instance starts with the override in force. */
  get start(): Effect.Effect<void> {
    const command = this.command
    return this.redisCall(() => this.subscriber.subscribe(this.keys.channel)).pipe(
      Effect.zipRight(
        Effect.async<void>((resume) => {
          if (command.status === "ready") return resume(Effect.void)
          const ready = () => resume(Effect.void)
          command.once("ready", ready)
          return Effect.sync(() => command.off("ready", ready))
        }).pipe(Effect.timeout(this.config.timeout))
      ),
      Effect.matchEffect({
        onFailure: (error) =>
          Effect.logWarning(
            `FleetOverride: Redis unreachable at start (${Describe.describe(this.lastError ?? error)}); ` +
              "the override is shared once it is back"
          ),
        onSuccess: () =>
          Effect.suspend(() => {
            this.wasConnected = this.connected()
            return this.reconcile
          })
      })
    )
  }
}

const sameDraft = (record: OverrideRecord, draft: Draft | undefined) =>
  draft !== undefined && record.origin === draft.origin && record.at === draft.at &&
  JSON.stringify(record.forced) === JSON.stringify(draft.forced)

const sameForced = (status: Degradation.Status, forced: OverrideRecord["forced"]) =>
  forced === null
    ? status.forced === undefined
    : status.forced !== undefined && status.forced.level._tag === forced.level &&
      status.forced.reason === forced.reason

/** @internal */
export const make = (
  underlying: Degradation.Service,
  options?: FleetOverride.Options
): Effect.Effect<Degradation.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* Effect.try({ try: () => resolveOptions(options), catch: (e) => e }).pipe(Effect.orDie)
    const { command, subscriber } = yield* connections(config)
    const fleet = new Fleet(
      config,
      underlying,
      command,
      subscriber,
      yield* Effect.makeSemaphore(1),
      yield* Effect.clock
    )
    const events = yield* Effect.acquireRelease(Queue.unbounded<Event>(), Queue.shutdown)
    yield* fleet.listen(events)
    yield* fleet.start
    yield* Queue.take(events).pipe(
      Effect.flatMap((event) => fleet.handle(event)),
      Effect.forever,
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "fleet-override")
    )
    // Pub/sub delivers at most once: a periodic read catches what a blip lost.
    yield* fleet.reconcile.pipe(
      Effect.schedule(Schedule.spaced(config.syncInterval)),
      Effect.forkScoped,
      Effect.annotateLogs("fiber", "fleet-override-sync")
    )
    // The service's own members, `force` and `release` going to Redis first.
    const decorated: Degradation.Service = {
      ...underlying,
      force: (level: DegradationLevel.DegradationLevel, reason: string) =>
        fleet.change({ level: level._tag, reason, since: fleet.now() }, underlying.force(level, reason)),
      release: fleet.change(null, underlying.release)
    }
    fleetStatus.register(decorated, fleet.status)
    return decorated
  })

/** @internal */
export const layer = (
  options?: FleetOverride.Options
): Layer.Layer<Degradation | fleetStatus.Status, never, Degradation> =>
  // The input context passes through: what `Degradation.layer` provides beside the service (how
  // dependencies register) stays available to the layers built on this one.
  Layer.scopedContext(Effect.gen(function*() {
    const context = yield* Effect.context<Degradation>()
    const decorated = yield* make(Context.get(context, Degradation), options)
    return Context.add(context, Degradation, decorated).pipe(
      Context.add(
        fleetStatus.Status,
        Effect.flatMap(fleetStatus.status(decorated), (status) => Effect.succeed(status!))
      )
    )
  }))

/** @internal */
export const layerConfig = (
  options?: Omit<FleetOverride.Options, "redis">
): Layer.Layer<Degradation | fleetStatus.Status, ConfigError.ConfigError, Degradation> =>
  Layer.unwrapEffect(
    Effect.map(Config.string("REDIS_URL"), (redis) => layer({ ...options, redis }))
  )
