import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"

export interface Result {
  readonly code: number
  readonly output: string
}

/** Runs a command to completion; never fails on a non-zero exit (inspect `code`). */
export const run = (command: string, args: ReadonlyArray<string>, cwd?: string) =>
  Effect.async<Result, Error>((resume) => {
    const child = ChildProcess.execFile(command, [...args], { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`
      if (error && typeof error.code !== "number") {
        resume(Effect.fail(new Error(`cannot run ${command}: ${error.message}`)))
      } else {
        resume(Effect.succeed({ code: error ? (error.code as number) : 0, output }))
      }
    })
    return Effect.sync(() => child.kill())
  })
