/**
 * The `code` and `message` a promise rejects with (a `SwarmError`, a `TestEngineError`: any
 * error with a string `code`), to assert both at once. Throws when the promise fulfils, and
 * rethrows an error without a code, so that a test cannot pass on the wrong failure.
 *
 * @example
 * expect(await rejectionOf(startService(bad))).toEqual({ code: 'INVALID_ARGUMENTS', message: 'svc: --size wants a size' })
 */
export async function rejectionOf (promise: Promise<unknown>): Promise<{ code: string, message: string }> {
  try {
    await promise
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code
    if (!(error instanceof Error) || typeof code !== 'string') throw error
    return { code, message: error.message }
  }
  throw new Error('expected a rejection, and the promise fulfilled')
}
