/** @internal */
import { Degradation, DegradationLevel } from "@effect-resilience/core"
import * as Faults from "@effect-resilience/core/Faults"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as StatusRoutes from "../StatusRoutes.js"
import * as options_ from "./options.js"
import { activeFaults, snapshot } from "./status.js"
import * as statusPage from "./statusPage.js"

const module = "StatusRoutes.make"

const noStore = { "cache-control": "no-store", "x-content-type-options": "nosniff" } as const

/** The q-value of `type` in an `Accept` header (0 when not acceptable, -1 when not named). */
const quality = (accept: string, type: string): number => {
  let best = -1
  for (const part of accept.split(",")) {
    const [range, ...params] = part.trim().toLowerCase().split(";")
    if (range !== type) continue
    let q = 1
    for (const param of params) {
      const [key, value] = param.trim().split("=")
      if (key === "q") q = Number(value)
    }
    best = Math.max(best, Number.isFinite(q) ? q : 0)
  }
  return best
}

/** HTML only when the client names `text/html` and prefers it to JSON (`*\/*` gets JSON). @internal */
export const wantsHtml = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const format = new URL(request.url, "http://localhost").searchParams.get("format")
  if (format === "json") return false
  if (format === "html") return true
  const accept = request.headers["accept"]
  if (accept === undefined) return false
  const html = quality(accept, "text/html")
  return html > 0 && html >= quality(accept, "application/json")
}

const encoder = new TextEncoder()

/** One server-sent event carrying `data` as JSON. @internal */
export const sseEvent = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`

/**
 * The current level first, then one event per change of level (deduplicated),
 * of any registered breaker's state, or of the injected faults (when a
 * `Faults.Registry` is in context), with keep-alive comments. Everything
 * it forks lives in the stream's scope: it ends when the client goes away.
 *
 * @internal
 */
export const events = (
  degradation: Degradation.Service,
  keepAlive: Duration.Duration,
  maxDuration: Duration.Duration
): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<string>(), Queue.shutdown)
    // Subscribed before the first snapshot, so that no fault change falls between the two.
    const registry = yield* Effect.serviceOption(Faults.Registry)
    if (Option.isSome(registry)) {
      const changes = yield* registry.value.subscribe
      yield* Queue.take(changes).pipe(
        Effect.flatMap((change) =>
          Effect.flatMap(activeFaults, (faults) =>
            Queue.offer(
              queue,
              sseEvent({
                type: "faults",
                change: change._tag === "Injection" ? "inject" : "recover",
                dependency: change.dependency,
                member: change.member ?? null,
                ...(change._tag === "Injection" ? { fault: Faults.label(change.fault) } : {}),
                at: change.at,
                faults: faults ?? []
              })
            ))
        ),
        Effect.forever,
        Effect.forkScoped
      )
    }
    const breakers = yield* degradation.breakers
    const first = yield* snapshot(degradation)
    let last: DegradationLevel.Tag = first.level
    yield* degradation.changes.pipe(
      Stream.runForEach((level) => {
        if (level._tag === last) return Effect.void
        last = level._tag
        return Effect.flatMap(snapshot(degradation), (status) =>
          Queue.offer(
            queue,
            sseEvent({ type: "level", ...status, level: level._tag, rank: DegradationLevel.rank(level) })
          ))
      }),
      Effect.forkScoped
    )
    for (const [dependency, breaker] of breakers) {
      yield* breaker.changes.pipe(
        Stream.runForEach((change) =>
          Queue.offer(
            queue,
            sseEvent({
              type: "breaker",
              dependency,
              breaker: change.breaker,
              from: change.from._tag,
              to: change.to._tag,
              at: change.at
            })
          )
        ),
        Effect.forkScoped
      )
    }
    const keepAlives = Stream.fromSchedule(Schedule.spaced(keepAlive)).pipe(Stream.as(": keep-alive\n\n"))
    return Stream.succeed(`retry: 2000\n${sseEvent({ type: "level", ...first })}`).pipe(
      Stream.concat(Stream.merge(Stream.fromQueue(queue), keepAlives)),
      // Node's server.close waits for open connections: a bounded stream never blocks a shutdown for long,
      // and EventSource reconnects by itself.
      Stream.interruptAfter(maxDuration),
      Stream.map((text) => encoder.encode(text))
    )
  }))

/**
 * The open event streams of one router, oldest first (a `Set` iterates in insertion order).
 * `acquire` answers the slot's release — an Effect that frees it once, however often it runs —
 * or, when every slot is taken, the whole seconds until the oldest stream ends by itself.
 * Plain state, not a `Ref`: it is read and changed in single synchronous steps only.
 */
const makeStreamSlots = (max: number, maxDurationMillis: number) => {
  const open = new Set<{ readonly since: number }>()
  return {
    acquire: (now: number): Effect.Effect<void> | number => {
      if (open.size >= max) {
        const oldest = open.values().next().value!
        return Math.max(1, Math.ceil((oldest.since + maxDurationMillis - now) / 1000))
      }
      const slot = { since: now }
      open.add(slot)
      return Effect.sync(() => {
        open.delete(slot)
      })
    }
  }
}

const tooManyStreams = (max: number, retryAfter: number) =>
  HttpServerResponse.unsafeJson({
    error: "too_many_streams",
    message: `${max} event streams are open, the most this service serves at once: retry in ${retryAfter} second${
      retryAfter === 1 ? "" : "s"
    }, or poll the status instead.`,
    limit: max,
    retryAfter
  }, { status: 503, headers: { ...noStore, "retry-after": String(retryAfter) } })

/** @internal */
export const make = (options?: StatusRoutes.Options): HttpRouter.HttpRouter<never, Degradation> => {
  const healthPath = options_.optionalPath(module, "health", options?.health) ?? "/health"
  const readyPath = options_.optionalPath(module, "ready", options?.ready) ?? "/ready"
  const statusPath = options_.optionalPath(module, "status", options?.status) ?? "/status"
  const eventsPath = options_.optionalPath(module, "events", options?.events) ??
    `${statusPath === "/" ? "" : statusPath}/events` as `/${string}`
  const keepAlive = options_.optionalDuration(module, "keepAlive", options?.keepAlive) ?? Duration.seconds(15)
  const maxDuration = options_.optionalDuration(module, "maxStreamDuration", options?.maxStreamDuration) ??
    Duration.seconds(30)
  const title = options?.title === undefined
    ? "Service status"
    : typeof options.title === "string"
    ? options.title
    : options_.fail(module, "title", "a string", options.title)
  const maxStreams = options?.maxStreams === undefined
    ? 100
    : options_.positiveInt(module, "maxStreams", options.maxStreams)
  const page = statusPage.make({ title, statusPath, eventsPath })
  const streams = makeStreamSlots(maxStreams, Duration.toMillis(maxDuration))

  const health = Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }, { headers: noStore }))

  const ready = Effect.flatMap(Degradation, (degradation) =>
    Effect.map(degradation.current, (level) => {
      const isReady = DegradationLevel.rank(level) < 5
      return HttpServerResponse.unsafeJson(
        { status: isReady ? "ready" : "not_ready", level: level._tag, rank: DegradationLevel.rank(level) },
        { status: isReady ? 200 : 503, headers: noStore }
      )
    }))

  const status = Effect.gen(function*() {
    const degradation = yield* Degradation
    const request = yield* HttpServerRequest.HttpServerRequest
    const json = yield* snapshot(degradation)
    if (!wantsHtml(request)) return HttpServerResponse.unsafeJson(json, { headers: { ...noStore, vary: "Accept" } })
    const now = yield* Clock.currentTimeMillis
    return HttpServerResponse.text(page.render(json, now), {
      contentType: "text/html; charset=utf-8",
      headers: page.headers
    })
  })

  const eventStream = Effect.gen(function*() {
    const degradation = yield* Degradation
    const now = yield* Clock.currentTimeMillis
    const slot = streams.acquire(now)
    if (typeof slot === "number") return tooManyStreams(maxStreams, slot)
    // The request's scope closes once the response is sent or the client went away, even when the
    // body never ran; the stream's own end frees the slot as soon as it ends.
    yield* Effect.addFinalizer(() => slot)
    return HttpServerResponse.stream(Stream.ensuring(events(degradation, keepAlive, maxDuration), slot), {
      contentType: "text/event-stream",
      headers: {
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
        "x-content-type-options": "nosniff"
      }
    })
  })

  return HttpRouter.empty.pipe(
    HttpRouter.get(healthPath, health),
    HttpRouter.head(healthPath, health),
    HttpRouter.get(readyPath, ready),
    HttpRouter.head(readyPath, ready),
    HttpRouter.get(statusPath, status),
    HttpRouter.get(eventsPath, eventStream)
  )
}
