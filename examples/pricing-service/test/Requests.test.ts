/**
 * What the routes accept: every value a backend would refuse or change is
 * refused here, with a `400` naming the field — the path of the
 * `ParseError` (`items[1].price`) — and saying what is wrong.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Body from "../src/Body.js"
import * as Requests from "../src/Requests.js"

const refused = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
  Effect.map(Effect.flip(Body.decode(schema, input)), (refusal) => ({
    status: refusal.status,
    field: refusal.field,
    message: refusal.message
  }))

const accepted = <A, I>(schema: Schema.Schema<A, I>, input: unknown) => Body.decode(schema, input)

describe("Requests", () => {
  it.effect.each(["1", "42", "2147483647"])("id %s is accepted", (id) =>
    Effect.gen(function*() {
      expect(yield* accepted(Requests.PriceParams, { id })).toEqual({ id: Number(id) })
    }))

  it.effect.each(["0", "-1", "+1", "1e3", "0x10", "00001", "01", "1.0", " 1", "2147483648", "99999999999", ""])(
    "id %j is refused: a canonical decimal integer within Postgres integer",
    (id) =>
      Effect.gen(function*() {
        const refusal = yield* refused(Requests.PriceParams, { id })
        expect(refusal).toMatchObject({ status: 400, field: "id" })
        expect(refusal.message).toContain("from 1 to 2147483647")
      })
  )

  it.effect("names are trimmed; empty, too long, NUL, lone surrogates and control characters are refused", () =>
    Effect.gen(function*() {
      expect(yield* accepted(Requests.NewProduct, { name: "  Lamp\u00a0 ", price: 20 })).toEqual({
        name: "Lamp",
        price: 20
      })
      expect(yield* accepted(Requests.NewProduct, { name: "Lamp \ud83d\udca1", price: 0 })).toEqual({
        name: "Lamp \ud83d\udca1",
        price: 0
      })
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["   ", "must not be empty"],
        ["x".repeat(Requests.maxNameLength + 1), `at most ${Requests.maxNameLength} characters`],
        ["La\u0000mp", "NUL"],
        ["La\ud800mp", "unpaired UTF-16 surrogates"],
        ["La\udc00mp", "unpaired UTF-16 surrogates"],
        ["La\tmp", "control characters"]
      ]
      for (const [name, problem] of cases) {
        const refusal = yield* refused(Requests.NewProduct, { name, price: 1 })
        expect(refusal, JSON.stringify(name)).toMatchObject({ status: 400, field: "name" })
        expect(refusal.message).toContain(problem)
      }
      expect(yield* accepted(Requests.NewProduct, { name: "x".repeat(Requests.maxNameLength), price: 1 })).toBeTruthy()
    }))

  it.effect("prices: finite, from 0 to the bound, a number (not a string)", () =>
    Effect.gen(function*() {
      expect(yield* accepted(Requests.NewProduct, { name: "a", price: Requests.maxPrice })).toMatchObject({
        price: Requests.maxPrice
      })
      for (const price of [-0.01, Requests.maxPrice + 1, 1.7976931348623157e308, Infinity, NaN]) {
        const refusal = yield* refused(Requests.NewProduct, { name: "a", price })
        expect(refusal, String(price)).toEqual({
          status: 400,
          field: "price",
          message: `price must be a number from 0 to ${Requests.maxPrice}`
        })
      }
      expect(yield* refused(Requests.NewProduct, { name: "a", price: "3" })).toMatchObject({
        field: "price",
        message: "price must be a number"
      })
    }))

  it.effect("the body: an object of the known fields only; a missing field is named", () =>
    Effect.gen(function*() {
      expect(yield* refused(Requests.NewProduct, [])).toMatchObject({ field: "body" })
      expect(yield* refused(Requests.NewProduct, null)).toMatchObject({ field: "body" })
      expect(yield* refused(Requests.NewProduct, { name: "a" })).toMatchObject({
        field: "price",
        message: "price is missing"
      })
      const extra = yield* refused(Requests.NewProduct, { name: "a", price: 1, prise: 2 })
      expect(extra).toMatchObject({ status: 400, field: "prise" })
      expect(extra.message).toContain("unexpected")
    }))

  it.effect("/prices/enhance: 1 to 100 items, each a valid name and price, named by its index", () =>
    Effect.gen(function*() {
      const item = { name: "Lamp", price: 20 }
      expect(yield* accepted(Requests.EnhanceBody, { items: [item] })).toEqual({ items: [item] })
      expect(yield* refused(Requests.EnhanceBody, { items: [item, { name: "b", price: -1 }] })).toMatchObject({
        field: "items[1].price"
      })
      expect(yield* refused(Requests.EnhanceBody, { items: [item, { name: "\u0000", price: 1 }] })).toMatchObject({
        field: "items[1].name"
      })
      expect(yield* refused(Requests.EnhanceBody, { items: [] })).toMatchObject({ field: "items" })
      const many = Array.from({ length: Requests.maxItems + 1 }, () => item)
      const tooMany = yield* refused(Requests.EnhanceBody, { items: many })
      expect(tooMany).toMatchObject({ field: "items" })
      expect(tooMany.message).toContain(`1 to ${Requests.maxItems} items`)
    }))

  it.effect("/ocr/enhance: text of at most the bound, without NUL", () =>
    Effect.gen(function*() {
      expect(yield* accepted(Requests.OcrBody, { text: "x".repeat(Requests.maxOcrTextLength) })).toBeTruthy()
      expect(yield* refused(Requests.OcrBody, { text: "x".repeat(Requests.maxOcrTextLength + 1) })).toMatchObject({
        field: "text"
      })
      expect(yield* refused(Requests.OcrBody, { text: "a\u0000" })).toMatchObject({ field: "text" })
    }))

  it.effect.each(
    [
      ["../x", ". or .. segments"],
      ["../../etc/x", ". or .. segments"],
      [".", ". or .. segments"],
      ["a/./b", ". or .. segments"],
      ["/etc/x", "must not start with /"],
      ["a/", "must not end with /"],
      ["a//b", "empty segments"],
      ["a\\b", "backslashes"],
      ["a\u0000b", "control characters"],
      ["a\u001bb", "control characters"],
      ["", "must not be empty"],
      ["x".repeat(513), "at most 512 characters"],
      [`${"x".repeat(201)}/a`, "longer than 200"],
      ["caf\u00e9", "may contain only"]
    ] as const
  )("upload key %j is refused (%s)", ([key, problem]) =>
    Effect.gen(function*() {
      const refusal = yield* refused(Requests.UploadBody, { key, content: "x" })
      expect(refusal).toMatchObject({ status: 400, field: "key" })
      expect(refusal.message).toContain(problem)
    }))

  it.effect("upload: canonical keys, type/subtype content types, bounded content", () =>
    Effect.gen(function*() {
      expect(yield* accepted(Requests.UploadBody, { key: "docs/2024/a-b_c.txt", content: "hi" })).toMatchObject({
        key: "docs/2024/a-b_c.txt"
      })
      for (const contentType of ["text/plain", "application/vnd.api+json", "image/svg+xml"]) {
        expect(yield* accepted(Requests.UploadBody, { contentType, content: "x" })).toMatchObject({ contentType })
      }
      for (const contentType of ["text", "text/plain; charset=utf-8", "te xt/plain", "a/b/c", "text/pl\u0000ain", ""]) {
        expect(yield* refused(Requests.UploadBody, { contentType, content: "x" }), contentType).toMatchObject({
          status: 400,
          field: "contentType"
        })
      }
      expect(yield* refused(Requests.UploadBody, { content: "x".repeat(Requests.maxUploadBytes + 1) }))
        .toMatchObject({ field: "content" })
      expect(yield* refused(Requests.UploadBody, { content: "\ud800" })).toMatchObject({ field: "content" })
      // A misspelt optional field is not silently dropped.
      expect(yield* refused(Requests.UploadBody, { content: "x", content_type: "text/plain" })).toMatchObject({
        field: "content_type"
      })
    }))

  it("the bounds fit the backends: ids in Postgres integer, prices ×1.3 still exact to the cent", () => {
    expect(Requests.maxId).toBe(2 ** 31 - 1)
    const adjusted = Math.round(Requests.maxPrice * 1.3 * 100) / 100
    expect(Number.isFinite(adjusted)).toBe(true)
    expect(JSON.parse(JSON.stringify({ price: adjusted })).price).toBe(1_300_000_000)
    expect(Requests.bodyLimits.upload).toBeGreaterThan(Requests.maxUploadBytes)
    // The longest OCR text fits the JSON body limit.
    expect(JSON.stringify({ text: "x".repeat(Requests.maxOcrTextLength) }).length).toBeLessThan(
      Requests.bodyLimits.json
    )
  })
})
