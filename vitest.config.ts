import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, never a stale `dist/`.
    alias: [
      { find: /^@effect-resilience\/(core|otel|platform|simulation)$/, replacement: `${src("$1")}/index.ts` },
      { find: /^@effect-resilience\/(core|otel|platform|simulation)\/(.*)$/, replacement: `${src("$1")}/$2.ts` }
    ]
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { concurrent: false }
  }
})
