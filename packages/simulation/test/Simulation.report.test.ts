/**
 * What a report tells beyond counts: how long callers waited (latency in
 * virtual time, per traffic), and logs that read the same on any machine.
 */
import { Degradation } from "@effect-resilience/core"
import { Simulation } from "@effect-resilience/simulation"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

class HandlerError extends Data.TaggedError("HandlerError")<{ readonly run: number }> {}

const layer = Degradation.layer()

describe("Simulation report: latency", () => {
  it.effect("p50, p99 and max of every run that answered or failed, in virtual milliseconds from its start", () =>
    Effect.gen(function*() {
      const report = yield* Simulation.run({
        name: "latency",
        duration: "10 seconds",
        layer,
        traffic: [
          // Run i takes i ms; every odd one fails after its wait.
          Simulation.traffic(
            "spread",
            (i) =>
              Effect.sleep(`${i} millis`).pipe(
                Effect.zipRight(i % 2 === 1 ? new HandlerError({ run: i }) : Effect.void)
              ),
            { perSecond: 10 }
          ),
          // Runs 0–4 take i × 100 ms; the others never end and are left out.
          Simulation.traffic("some stuck", (i) => i < 5 ? Effect.sleep(`${i * 100} millis`) : Effect.never, {
            perSecond: 1
          }),
          Simulation.traffic("stuck", Effect.never, { perSecond: 1 })
        ]
      })
      const spread = report.traffic.spread!
      expect([spread.calls, spread.answered, spread.errors, spread.inFlight]).toEqual([100, 50, 50, 0])
      // Latencies 0 … 99 ms: the failed runs count (without them p50 would be 48 and max 98).
      expect(spread.latency).toEqual({ p50: 49, p99: 98, max: 99 })
      const someStuck = report.traffic["some stuck"]!
      expect([someStuck.answered, someStuck.inFlight]).toEqual([5, 5])
      expect(someStuck.latency).toEqual({ p50: 200, p99: 400, max: 400 })
      expect(report.traffic.stuck).toMatchObject({ calls: 10, inFlight: 10, latency: undefined })
      expect(spread.timedOut).toBe(0)

      const text = Simulation.renderTimeline(report)
      expect(text).toMatch(/spread\s+100\s+50\s+50\s+0\s+0\s+49ms\s+98ms\s+99ms\s+HandlerError 50/)
      expect(text).toMatch(/some stuck\s+10\s+5\s+0\s+0\s+5\s+200ms\s+400ms\s+400ms/)
      expect(text).toMatch(/stuck\s+10\s+0\s+0\s+0\s+10\s+-\s+-\s+-/)
    }))

  it.effect("the same latencies on the virtual clock", () =>
    Effect.gen(function*() {
      const scenario: Simulation.Scenario = {
        name: "latency",
        duration: "5 seconds",
        layer,
        traffic: [Simulation.traffic("spread", (i) => Effect.sleep(`${i * 7} millis`), { perSecond: 20 })]
      }
      const test = yield* Simulation.run(scenario)
      const virtual = yield* Simulation.run({ ...scenario, clock: "virtual" })
      expect(test.traffic.spread!.latency).toEqual({ p50: 343, p99: 686, max: 693 })
      expect(virtual.traffic.spread!.latency).toEqual(test.traffic.spread!.latency)
    }))
})

describe("Simulation report: logs", () => {
  /** An absolute path with a line number, as a stack frame has it (POSIX, `file://` or Windows). */
  const absolutePath = /(?:^|[\s(])(?:file:\/\/)?(?:\/[^\s:()/]+)+\/?[^\s:()]*:\d+|[A-Za-z]:\\[^\s]*:\d+/m

  it.effect("carry no absolute path: the working directory reads ., other frames keep their file name", () =>
    Effect.gen(function*() {
      const cwd = process.cwd()
      const report = yield* Simulation.run({
        name: "logs",
        duration: "2 seconds",
        layer,
        traffic: [
          Simulation.traffic("logs", (i) =>
            Effect.gen(function*() {
              yield* Effect.logError(`run ${i} failed`, Cause.die(new Error("boom")))
              yield* Effect.logWarning(`stack of run ${i}: ${new Error("where").stack}`)
              yield* Effect.logInfo(
                `elsewhere: at lib (/opt/tools/node_modules/lib/index.js:1:2) at job (/srv/jobs/sync.js:3:4) in ${cwd}`
              )
            }), { perSecond: 1 })
        ]
      })
      const lines = report.logs.filter((l) => l.message.includes("run ") || l.message.includes("elsewhere"))
      expect(lines.length).toBe(6)
      for (const line of report.logs) {
        expect(line.message).not.toContain(cwd)
        expect(line.message).not.toMatch(absolutePath)
      }
      // The frames are still there, relative to the working directory.
      const failed = lines.find((l) => l.message.startsWith("run 0 failed"))!.message
      expect(failed).toContain("Error: boom")
      expect(failed).toMatch(/\(\.\/packages\/simulation\/test\/Simulation\.report\.test\.ts:\d+:\d+\)/)
      const stack = lines.find((l) => l.message.startsWith("stack of run 0"))!.message
      expect(stack).toContain("./packages/simulation/test/Simulation.report.test.ts:")
      const elsewhere = lines.find((l) => l.message.startsWith("elsewhere"))!.message
      expect(elsewhere).toBe("elsewhere: at lib (node_modules/lib/index.js:1:2) at job (sync.js:3:4) in .")
    }))
})
