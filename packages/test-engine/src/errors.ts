/**
 * The one error class of this package. `code` is stable: `TOOLS_MISSING`,
 * `ENGINE_START_FAILED`, `ENGINE_TIMEOUT`, `NO_FREE_SLOT`, `LOCK_TIMEOUT`, `COMMAND_FAILED`,
 * `REGISTRY_START_FAILED`.
 */
export class TestEngineError extends Error {
  override readonly name = 'TestEngineError'
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
