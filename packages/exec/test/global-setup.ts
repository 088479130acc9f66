import { ensurePythonModules } from './python.js'

/** vitest global setup: the Python fixture needs Debian's python3-h2 and python3-msgpack. */
export function setup (): void {
  ensurePythonModules()
}
