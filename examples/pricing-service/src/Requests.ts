/**
 * What each route accepts, as `Schema`s: only values every backend stores
 * and gives back unchanged (Postgres and SQLite, JSON on the way out, S3 or
 * the local folder). A value outside them is refused with `400` naming the
 * field (`items[0].price`) before any backend sees it, so no client can make
 * a backend refuse a request — let alone open its breaker.
 *
 * - ids: canonical decimal integers from 1 to 2147483647 (Postgres `integer`,
 *   which `SERIAL` ids are): no sign, leading zero, exponent or hex;
 * - text: no NUL (Postgres refuses it in `text`) and no unpaired UTF-16
 *   surrogate (UTF-8 cannot encode one: it would be stored as U+FFFD);
 * - names: trimmed, 1 to 200 characters, no control characters;
 * - prices: finite numbers from 0 to 1,000,000,000 (a price × 1.3 to the
 *   cent stays exact, where 1.7976931348623157e308 × 1.1 overflows to
 *   Infinity, which JSON writes as `null`);
 * - upload keys: canonical (`ObjectStore.keyProblem`); content types a
 *   `type/subtype` of RFC 7231 token characters.
 */
import * as Schema from "effect/Schema"
import { keyProblem } from "./services/ObjectStore.js"

/** The largest id: Postgres `integer` (SERIAL). */
export const maxId = 2_147_483_647

/** The largest price accepted. */
export const maxPrice = 1_000_000_000

/** The longest name (product or priced item), after trimming. */
export const maxNameLength = 200

/** Items priced in one `/prices/enhance` request at most. */
export const maxItems = 100

/** The longest text `/ocr/enhance` cleans. */
export const maxOcrTextLength = 20_000

/** Bytes of an upload's content (UTF-8) at most. */
export const maxUploadBytes = 4 * 1024 * 1024

/** Request body limits: uploads carry content, every other JSON body is small. */
export const bodyLimits = { upload: 5 * 1024 * 1024, json: 64 * 1024 } as const

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f\u007f]/

/** Text every backend keeps as sent: no NUL, no unpaired surrogate. */
export const Text = Schema.String.annotations({ message: () => "must be a string" }).pipe(
  Schema.filter((s) =>
    s.includes("\u0000")
      ? "must not contain NUL characters"
      : unpairedSurrogate.test(s)
      ? "must not contain unpaired UTF-16 surrogates"
      : true
  )
)

/** A name: trimmed, then 1 to {@link maxNameLength} characters without control characters. */
export const Name = Schema.transform(Text, Schema.String, {
  strict: true,
  decode: (s) => s.trim(),
  encode: (s) => s
}).pipe(
  Schema.filter((s) =>
    s.length === 0
      ? "must not be empty or only spaces"
      : s.length > maxNameLength
      ? `must be at most ${maxNameLength} characters`
      : controlCharacter.test(s)
      ? "must not contain control characters"
      : true
  )
)

/** A price: a finite number from 0 to {@link maxPrice}. */
export const Price = Schema.Number.annotations({ message: () => "must be a number" }).pipe(
  Schema.filter((n) => Number.isFinite(n) && n >= 0 && n <= maxPrice, {
    message: () => `must be a number from 0 to ${maxPrice}`
  })
)

const object = <Fields extends Schema.Struct.Fields>(fields: Fields, shape: string) =>
  Schema.Struct(fields).annotations({ message: () => `must be a JSON object ${shape}` })

/** `/prices/:id`: the id as the router hands it over, a string. */
export const PriceParams = Schema.Struct({
  id: Schema.String.pipe(
    Schema.filter((raw) => /^[1-9][0-9]{0,9}$/.test(raw) && Number(raw) <= maxId, {
      message: () => `must be a decimal integer from 1 to ${maxId} (no sign, leading zeros or exponent)`
    }),
    Schema.compose(Schema.NumberFromString)
  )
})

/** `POST /products`. */
export const NewProduct = object({ name: Name, price: Price }, "{ \"name\": string, \"price\": number }")

/** `POST /prices/enhance`. */
export const EnhanceBody = object({
  items: Schema.Array(object({ name: Name, price: Price }, "{ \"name\": string, \"price\": number }")).annotations({
    message: () => "must be an array"
  }).pipe(
    Schema.filter((items) => items.length >= 1 && items.length <= maxItems, {
      message: () => `must hold 1 to ${maxItems} items`
    })
  )
}, "{ \"items\": [{ \"name\": string, \"price\": number }] }")

/** `POST /ocr/enhance`. */
export const OcrBody = object({
  text: Text.pipe(Schema.filter((s) => s.length <= maxOcrTextLength, {
    message: () => `must be at most ${maxOcrTextLength} characters`
  }))
}, "{ \"text\": string }")

/** RFC 7231 `token` characters. */
const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
const mediaType = new RegExp(`^${token}/${token}$`)

/** An upload's content type: `type/subtype`, at most 255 characters. */
export const ContentType = Schema.String.annotations({ message: () => "must be a string" }).pipe(
  Schema.filter((s) => mediaType.test(s) && s.length <= 255, {
    message: () => "must be a media type of the form type/subtype, in RFC 7231 token characters (e.g. text/plain)"
  })
)

/** An upload's key: canonical, so that one object has one key. */
export const Key = Schema.String.annotations({ message: () => "must be a string" }).pipe(
  Schema.filter((key) => keyProblem(key) ?? true)
)

/** `POST /uploads`. */
export const UploadBody = object({
  key: Schema.optional(Key),
  contentType: Schema.optional(ContentType),
  content: Text.pipe(Schema.filter((s) => Buffer.byteLength(s, "utf8") <= maxUploadBytes, {
    message: () => `must be at most ${maxUploadBytes} bytes (UTF-8)`
  }))
}, "{ \"content\": string, \"key\"?: string, \"contentType\"?: string }")
