// Context for the fragments of packages/otel/README.md marked `<!-- check: prelude=otel -->`:
// the application's program. A block imports only the names it mentions.
import type { Effect } from "effect"

export declare const program: Effect.Effect<void>
