import { AlertRules } from "@effect-resilience/otel"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { run } from "./utils/exec.js"

const promtool = process.env.PROMTOOL_BIN ?? "promtool"

const mutated = (replace: [string | RegExp, string]) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "otel-rules-"))
      const rules = Fs.readFileSync(AlertRules.rulesFile, "utf8")
      const changed = rules.replace(replace[0], replace[1])
      if (changed === rules) throw new Error(`mutation did not apply: ${String(replace[0])}`)
      Fs.writeFileSync(Path.join(dir, Path.basename(AlertRules.rulesFile)), changed)
      Fs.copyFileSync(AlertRules.testFile, Path.join(dir, Path.basename(AlertRules.testFile)))
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("alert rules", () => {
  it.effect("promtool check rules accepts the rule file", () =>
    Effect.gen(function*() {
      const result = yield* run(promtool, ["check", "rules", AlertRules.rulesFile])
      expect(result.output).toContain("SUCCESS: 10 rules found")
      expect(result.code).toBe(0)
    }))

  it.effect("promtool test rules: every alert fires and stays quiet at its boundary", () =>
    Effect.gen(function*() {
      const result = yield* run(promtool, ["test", "rules", Path.basename(AlertRules.testFile)], AlertRules.directory)
      expect(result.output).toContain("SUCCESS")
      expect(result.code).toBe(0)
    }))

  // The unit tests must notice a rule that is off by its boundary or aggregates wrongly.
  const mutations: ReadonlyArray<[string, [string | RegExp, string]]> = [
    ["fallback threshold >= instead of >", ["> 0.10", ">= 0.10"]],
    ["breaker open for 4 minutes", ["for: 5m", "for: 4m"]],
    ["level Degraded instead of Limited", ["degradation_level) >= 3", "degradation_level) >= 2"]],
    ["fallback ratio without the division guard", [
      "(sum by (job, breaker) (rate(circuit_breaker_calls_total[5m])) > 0)",
      "sum by (job, breaker) (rate(circuit_breaker_calls_total[5m]))"
    ]],
    ["fallback ratio per instance", [
      "sum by (job, breaker) (rate(circuit_breaker_fallback_calls_total[5m]))",
      "sum by (job, breaker, instance) (rate(circuit_breaker_fallback_calls_total[5m]))"
    ]],
    ["breaker counted only while open: flapping with half-open never fires", [
      "(circuit_breaker_state > 0)\n              and on",
      "(circuit_breaker_state == 1)\n              and on"
    ]],
    ["one breaker alert per instance instead of per breaker", [
      "max by (job, breaker) (\n            (circuit_breaker_state > 0)",
      "max by (job, breaker, instance) (\n            (circuit_breaker_state > 0)"
    ]],
    ["breaker transitions over 10 minutes", [
      "increase(circuit_breaker_transitions_total[5m])",
      "increase(circuit_breaker_transitions_total[10m])"
    ]],
    ["an idle half-open breaker counts as open", [
      "increase(circuit_breaker_transitions_total{from=\"half_open\", to=\"open\"}[10m])) > 0",
      "increase(circuit_breaker_transitions_total{from=\"half_open\", to=\"open\"}[10m])) >= 0"
    ]],
    ["failed probes remembered for 2 minutes only", [
      "to=\"open\"}[10m]",
      "to=\"open\"}[2m]"
    ]],
    ["not-closed and failing matched across instances", [
      "(circuit_breaker_state > 0)\n              and on (job, instance, breaker)",
      "max by (job, breaker) (circuit_breaker_state > 0)\n              and on (job, breaker)"
    ]],
    ["fallback ratio over the last minute only", [
      "rate(circuit_breaker_fallback_calls_total[5m])",
      "rate(circuit_breaker_fallback_calls_total[1m])"
    ]],
    ["fallback threshold at 10.5 %", ["> 0.10", "> 0.105"]],
    ["level transitions over 4 minutes", [
      "increase(degradation_transitions_total[5m])",
      "increase(degradation_transitions_total[4m])"
    ]],
    ["write-behind growth over 10 minutes", [
      "max by (job, dependency) (write_behind_queue_depth offset 15m)",
      "max by (job, dependency) (write_behind_queue_depth offset 10m)"
    ]],
    ["write-behind queue that holds steady counts as growing", [
      "max by (job, dependency) (write_behind_queue_depth)\n              >\n",
      "max by (job, dependency) (write_behind_queue_depth)\n              >=\n"
    ]],
    ["write-behind growth alerts despite replays", [
      /\n\s+unless on \(job, dependency\)\n\s+\(sum by \(job, dependency\) \(increase\(write_behind_replayed_total\[15m\]\)\) > 0\)/,
      ""
    ]],
    ["write-behind growth per instance: a replay on another instance of a shared queue is not seen", [
      "(job, dependency) (write_behind_queue_depth)\n              >\n            max by (job, dependency) (write_behind_queue_depth offset 15m)\n          )\n            unless on (job, dependency)\n          (sum by (job, dependency) (",
      "(job, dependency, instance) (write_behind_queue_depth)\n              >\n            max by (job, dependency, instance) (write_behind_queue_depth offset 15m)\n          )\n            unless on (job, dependency, instance)\n          (sum by (job, dependency, instance) ("
    ]],
    ["dead letters remembered for 5 minutes only", [
      "increase(write_behind_dead_lettered_total[15m])",
      "increase(write_behind_dead_lettered_total[5m])"
    ]],
    ["dead-letter alert that always fires", [
      "(increase(write_behind_dead_lettered_total[15m])) > 0",
      "(increase(write_behind_dead_lettered_total[15m])) >= 0"
    ]],
    ["level transitions that always fire", [
      "(increase(degradation_transitions_total[5m])) > 0",
      "(increase(degradation_transitions_total[5m])) >= 0"
    ]],
    ["keyed breaker: exactly half of the keys open fires", [
      "sum by (job, breaker) (circuit_breaker_keys)\n          > 0.5",
      "sum by (job, breaker) (circuit_breaker_keys)\n          >= 0.5"
    ]],
    ["keyed breaker open for 4 minutes", [/(\(circuit_breaker_keys\)\n\s+> 0\.5\n\s+)for: 5m/, "$1for: 4m"]],
    ["keyed breaker: forced-open keys not counted as open", [
      "circuit_breaker_keys{state=~\"open|forced_open\"}",
      "circuit_breaker_keys{state=\"open\"}"
    ]],
    ["keyed breaker: idle half-open keys counted as open", [
      "circuit_breaker_keys{state=~\"open|forced_open\"}",
      "circuit_breaker_keys{state=~\"open|forced_open|half_open\"}"
    ]],
    ["keyed breaker: open ratio per instance", [
      /sum by \(job, breaker\) \(circuit_breaker_keys/g,
      "sum by (job, breaker, instance) (circuit_breaker_keys"
    ]],
    ["keyed breaker: open keys over the closed ones instead of all keys", [
      "sum by (job, breaker) (circuit_breaker_keys)\n",
      "sum by (job, breaker) (circuit_breaker_keys{state=\"closed\"})\n"
    ]],
    ["retry budget: an alert that always fires", [
      "(rate(retry_calls_total{outcome=\"budget_exhausted\"}[2m])) > 0",
      "(rate(retry_calls_total{outcome=\"budget_exhausted\"}[2m])) >= 0"
    ]],
    ["retry budget exhausted for 4 minutes", [/(retry_calls_total\{[^\n]*\n\s+)for: 5m/, "$1for: 4m"]],
    ["retry budget: calls that gave up counted as exhausted", [
      "outcome=\"budget_exhausted\"",
      "outcome=~\"budget_exhausted|gave_up\""
    ]],
    ["retry budget: every retry outcome counted", [
      "retry_calls_total{outcome=\"budget_exhausted\"}",
      "retry_calls_total"
    ]],
    ["retry budget: exhaustion over 5 minutes (a 2-minute burst stretched to fire)", [
      "outcome=\"budget_exhausted\"}[2m]",
      "outcome=\"budget_exhausted\"}[5m]"
    ]],
    ["retry budget: exhaustion over the last minute only", [
      "outcome=\"budget_exhausted\"}[2m]",
      "outcome=\"budget_exhausted\"}[1m]"
    ]],
    ["retry budget exhaustion per instance", [
      "sum by (job, dependency) (rate(retry_calls_total",
      "sum by (job, dependency, instance) (rate(retry_calls_total"
    ]],
    ["bulkhead: exactly 1 refusal per second fires", [
      "(rate(bulkhead_rejected_total[2m])) > 1",
      "(rate(bulkhead_rejected_total[2m])) >= 1"
    ]],
    ["bulkhead refusing for 4 minutes", [/(bulkhead_rejected_total\[2m\]\)\) > 1\n\s+)for: 5m/, "$1for: 4m"]],
    ["bulkhead refusals per instance", [
      "sum by (job, bulkhead) (",
      "sum by (job, bulkhead, instance) ("
    ]],
    ["bulkhead refusals per criticality class", [
      "sum by (job, bulkhead) (",
      "sum by (job, bulkhead, criticality) ("
    ]],
    ["bulkhead refusals over 5 minutes (a 2-minute burst stretched to fire)", [
      "bulkhead_rejected_total[2m]",
      "bulkhead_rejected_total[5m]"
    ]],
    ["bulkhead refusals over the last minute only", [
      "bulkhead_rejected_total[2m]",
      "bulkhead_rejected_total[1m]"
    ]]
  ]
  for (const [name, replace] of mutations) {
    it.scoped(`promtool test rules fails for a broken rule: ${name}`, () =>
      Effect.gen(function*() {
        const dir = yield* mutated(replace)
        const result = yield* run(promtool, ["test", "rules", Path.basename(AlertRules.testFile)], dir)
        expect(result.output).toContain("FAILED")
        expect(result.code).not.toBe(0)
      }))
  }
})
