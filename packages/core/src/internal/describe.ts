/**
 * A short, printable description of an error or a cause, for logs and
 * reports: never throws, whatever it is given.
 *
 * @internal
 */
export const describeError = (error: unknown): string => {
  if (error instanceof Error) return error.message
  try {
    return typeof error === "string" ? error : JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
