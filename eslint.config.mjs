// Lint + TypeScript formatting, as in the Effect monorepo: typescript-eslint's recommended rules, and
// @effect/eslint-plugin's `@effect/dprint` rule, which formats through dprint's TypeScript plugin
// (so `eslint --fix` is the formatter for .ts/.mjs; `dprint` itself formats JSON, see dprint.json).
import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import { defineConfig } from "eslint/config"
import tseslint from "typescript-eslint"

// The globals the Node scripts (.mjs) use; .ts files are checked by tsc instead (no-undef is off there).
const nodeGlobals = Object.fromEntries(
  [
    "AbortController",
    "AbortSignal",
    "Buffer",
    "URL",
    "URLSearchParams",
    "TextDecoder",
    "TextEncoder",
    "clearInterval",
    "clearTimeout",
    "console",
    "fetch",
    "globalThis",
    "performance",
    "process",
    "queueMicrotask",
    "setImmediate",
    "setInterval",
    "setTimeout",
    "structuredClone"
  ].map((name) => [name, "readonly"])
)

export default defineConfig(
  {
    ignores: ["**/node_modules/", "**/dist/", "**/build/", "**/docs/", "**/coverage/", "**/.tmp/", "**/out/"]
  },
  {
    files: [
      "*.{ts,mjs}",
      "packages/*/{src,test}/**/*.{ts,mjs}",
      "examples/*/{src,test}/**/*.{ts,mjs}",
      "test/**/*.{ts,mjs}",
      "bench/**/*.{ts,mjs}",
      "scripts/**/*.{ts,mjs}"
    ],
    extends: [js.configs.recommended, ...tseslint.configs.recommended, ...effect.configs.dprint],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: nodeGlobals
    },
    linterOptions: {
      // A directive that no longer suppresses anything is an error, so stale ones do not pile up.
      reportUnusedDisableDirectives: "error"
    },
    rules: {
      // The rules the Effect monorepo sets on top of the recommended ones.
      "object-shorthand": "error",
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.property.name='push'] > SpreadElement.arguments",
        message: "Do not use spread arguments in Array.push"
      }],
      "no-unused-vars": "off",
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_",
        destructuredArrayIgnorePattern: "^_"
      }],
      // Effect code uses `any` in variance positions and `Tag` interfaces, namespaces for type-level
      // companions, and non-null assertions where an invariant holds; all are off in the Effect repo too.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/no-unsafe-declaration-merging": "off",
      // `typeof x === "function"` narrows to `Function`, and the validators and `Dependency`'s member
      // wrapper handle arbitrary user functions with it (the rule is a part of v6's `ban-types`, off in
      // the Effect repo).
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  }
)
