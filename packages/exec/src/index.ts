/**
 * @packageDocumentation
 * `@libswarm/exec` runs a libswarm service written in any language as a child process
 * that speaks the libswarm wire on its stdin and stdout.
 */
export { exec, spawnExec } from './exec.js'
export type { ExecOptions } from './exec.js'
