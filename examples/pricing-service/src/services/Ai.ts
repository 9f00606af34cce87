/**
 * The AI pricing / OCR model: any OpenAI-compatible chat-completions API
 * through the official `openai` client (`OPENAI_BASE_URL`, `OPENAI_API_KEY`),
 * or a deterministic rule-based model. Requests carry the call's AbortSignal,
 * so a call timeout really cancels them.
 */
import type { CircuitBreaker } from "@effect-resilience/core"
import { Classify } from "@effect-resilience/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import OpenAI from "openai"
import type { OpenAiSettings } from "../Config.js"
import * as Failure from "./Failure.js"

/**
 * The model failed (`kind: "outage"`: unreachable, `5xx`, `429`, our key
 * refused, an answer that is not what was asked for) or refused this request
 * (`"rejection"`: a `4xx` for this prompt), by `Classify.http`.
 */
export class AiError extends Data.TaggedError("AiError")<{
  readonly message: string
  readonly kind: Failure.Kind
  readonly cause?: unknown
}> {}

/** Outages of the model's API: `Classify.http`, but a `404` is the model or base URL we are configured with missing. */
export const isOutage: Classify.Predicate = Failure.configuredResourceMissing(Classify.http)

/** The openai breaker's `isFailure`: a prompt the API refused never counts against it. */
export const isFailure = Failure.isFailure(isOutage)

/** An item to price: its name and stored price. */
export interface PriceItem {
  readonly name: string
  readonly price: number
}

/** The model's prices, in the order of the items. */
export interface Enhanced {
  readonly prices: ReadonlyArray<number>
  /** False when the baseline rules answered instead of the model. */
  readonly enhanced: boolean
  readonly notice?: string
}

/** OCR text, cleaned by the model (or passed through by the fallback). */
export interface CleanedText {
  readonly text: string
  readonly ocr_enhanced: boolean
}

/** The pricing / OCR model. */
export class Ai extends Context.Tag("pricing-service/Ai")<Ai, {
  readonly enhancePrices: (items: ReadonlyArray<PriceItem>) => Effect.Effect<Enhanced, AiError>
  readonly cleanText: (text: string) => Effect.Effect<CleanedText, AiError>
  readonly ping: Effect.Effect<void, AiError | CircuitBreaker.Unavailable>
}>() {}

/** The notice shown when baseline pricing answers instead of the AI. */
export const unavailableNotice = "AI enhancement temporarily unavailable"

const round = (n: number) => Math.round(n * 100) / 100

/** Baseline pricing (×1.3, to the cent), what answers while the model cannot. */
export const baseline = (items: ReadonlyArray<PriceItem>): Enhanced => ({
  prices: items.map((item) => round(item.price * 1.3)),
  enhanced: false,
  notice: unavailableNotice
})

/** What the rule-based model does, and what the test fixture's fake API answers too. */
export const rules = {
  price: (item: PriceItem) => round(item.price * (/premium|pro/i.test(item.name) ? 1.25 : 1.1)),
  clean: (text: string) => text.replace(/\s+/g, " ").trim()
}

const toError = (cause: unknown) =>
  new AiError({
    message: cause instanceof Error ? cause.message : String(cause),
    kind: Failure.kindOf(isOutage, cause),
    cause
  })

const parseJson = <A>(raw: string | null | undefined, check: (value: any) => value is A): Effect.Effect<A, AiError> =>
  Effect.try({ try: () => JSON.parse(raw ?? ""), catch: toError }).pipe(
    Effect.filterOrFail(
      check,
      // A model that answers nonsense is as good as down: its fallback answers instead.
      () => new AiError({ message: `unexpected model answer: ${String(raw).slice(0, 200)}`, kind: "outage" })
    )
  )

/** A price the model may answer: finite and not negative (`1e400` parses as Infinity, which JSON writes as null). */
const isPrice = (p: unknown): p is number => typeof p === "number" && Number.isFinite(p) && p >= 0

const isPrices = (n: number) => (value: any): value is { prices: Array<number> } =>
  Array.isArray(value?.prices) && value.prices.length === n && value.prices.every(isPrice)

const isText = (value: any): value is { text: string } => typeof value?.text === "string"

/** An OpenAI-compatible chat-completions API, with the call's AbortSignal on every request. */
export const layerOpenAi = (settings: OpenAiSettings): Layer.Layer<Ai> =>
  Layer.sync(Ai, () => {
    const client = new OpenAI({
      apiKey: Redacted.value(settings.apiKey),
      ...(Option.isSome(settings.baseUrl) ? { baseURL: settings.baseUrl.value } : {}),
      // The breaker owns retries and timeouts.
      maxRetries: 0
    })
    const complete = (task: object) =>
      Effect.tryPromise({
        try: (signal) =>
          client.chat.completions.create({
            model: settings.model,
            response_format: { type: "json_object" },
            messages: [
              {
                role: "system",
                content:
                  "You are a pricing and OCR assistant. Answer JSON only: {\"prices\": number[]} for a pricing task, {\"text\": string} for an ocr task."
              },
              { role: "user", content: JSON.stringify(task) }
            ]
          }, { signal }),
        catch: toError
      }).pipe(Effect.map((completion) => completion.choices[0]?.message?.content))
    return Ai.of({
      enhancePrices: (items) =>
        complete({ task: "pricing", items }).pipe(
          Effect.flatMap((raw) => parseJson(raw, isPrices(items.length))),
          Effect.map(({ prices }) => ({ prices, enhanced: true }))
        ),
      cleanText: (text) =>
        complete({ task: "ocr", text }).pipe(
          Effect.flatMap((raw) => parseJson(raw, isText)),
          Effect.map(({ text }) => ({ text, ocr_enhanced: true }))
        ),
      ping: Effect.tryPromise({ try: (signal) => client.models.list({ signal }), catch: toError }).pipe(Effect.asVoid)
    })
  })

/** The embedded default: deterministic rules in place of a model. */
export const layerRules: Layer.Layer<Ai> = Layer.succeed(
  Ai,
  Ai.of({
    enhancePrices: (items) => Effect.succeed({ prices: items.map(rules.price), enhanced: true }),
    cleanText: (text) => Effect.succeed({ text: rules.clean(text), ocr_enhanced: true }),
    ping: Effect.void
  })
)
