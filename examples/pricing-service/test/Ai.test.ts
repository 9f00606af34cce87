/**
 * The `openai` client against a local OpenAI-compatible server started here:
 * a `400` for this prompt is a rejection (never counted, never the
 * fallback's); a `404` (the configured model or base URL missing), a `429`
 * or a `5xx` is an outage, and so is an answer that is not what was asked
 * for — a price that is not a finite number ≥ 0 included.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type * as net from "node:net"
import { Ai, type AiError } from "../src/services/Ai.js"
import * as AiModule from "../src/services/Ai.js"

/** Answers chat completions by the item's name: `status-<code>` fails with that status, `answer-<json>` answers it. */
const server = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const s = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        const task = JSON.parse(JSON.parse(body).messages.at(-1).content)
        const name: string = task.items[0].name
        const status = /^status-(\d+)$/.exec(name)
        if (status !== null) {
          return res.writeHead(Number(status[1]), { "content-type": "application/json" }).end(
            JSON.stringify({ error: { message: `refused with ${status[1]}`, type: "invalid_request_error" } })
          )
        }
        const content = name.startsWith("answer-") ? name.slice("answer-".length) : "{\"prices\":[1]}"
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
          id: "1",
          object: "chat.completion",
          created: 0,
          model: "m",
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }]
        }))
      })
    })
    s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
  }),
  (s) =>
    Effect.async<void>((resume) => {
      s.close(() => resume(Effect.void))
    })
)

const kindOf = (name: string) =>
  Effect.gen(function*() {
    const s = yield* server
    const port = (s.address() as net.AddressInfo).port
    const layer = AiModule.layerOpenAi({
      baseUrl: Option.some(`http://127.0.0.1:${port}/v1`),
      apiKey: Redacted.make("sk-test"),
      model: "m"
    })
    const error = (yield* Effect.flip(
      Effect.flatMap(Ai, (ai) => ai.enhancePrices([{ name, price: 1 }])).pipe(Effect.provide(layer))
    )) as AiError
    return { kind: error.kind, counts: AiModule.isFailure(error) }
  })

describe("Ai on the openai client", () => {
  it.scoped.each(["status-400", "status-422"])(
    "%s for this prompt: a rejection, not counted",
    (name) =>
      Effect.gen(function*() {
        expect(yield* kindOf(name)).toEqual({ kind: "rejection", counts: false })
      })
  )

  it.scoped.each(["status-404", "status-429", "status-500", "status-401"])(
    "%s: an outage, counted",
    (name) =>
      Effect.gen(function*() {
        expect(yield* kindOf(name)).toEqual({ kind: "outage", counts: true })
      })
  )

  it.scoped.each(["answer-{\"prices\":[1e400]}", "answer-{\"prices\":[-1]}", "answer-not json"])(
    "%s: an answer that is not prices ≥ 0 is an outage (the fallback answers)",
    (name) =>
      Effect.gen(function*() {
        expect(yield* kindOf(name)).toEqual({ kind: "outage", counts: true })
      })
  )
})
