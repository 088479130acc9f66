import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEngine, type Engine } from '@libswarm/test-engine'
import { afterAll, beforeAll } from 'vitest'
import { cli, ok, startFront, type Front, type Run } from './cli-front.js'

type CliOptions = Parameters<typeof cli>[3]

/** Three private dockerd behind one aggregate front, and the docker CLI pointed at the front. */
export interface ThreeNodeSwarm {
  /** node-0 (labelled `storage=ssd`), node-1 and node-2, each listening on TCP. */
  readonly engines: readonly Engine[]
  /** A directory of the file's own, removed after its tests; the CLI's HOME. */
  readonly dir: string
  /** Runs the docker CLI against the front; never rejects. */
  cli: (args: string[], options?: CliOptions) => Promise<Run>
  /** Runs the docker CLI against the front and returns its trimmed stdout; throws with its stderr when it fails. */
  ok: (args: string[], options?: CliOptions) => Promise<string>
  /** The node a container is on, as the front says. */
  nodeOf: (ref: string) => Promise<string>
  /** The engine of `node-N`. */
  engineOf: (node: string) => Engine
}

/**
 * Starts the swarm before the tests of the enclosing `describe` (its socket `NAME.sock`) and
 * closes it after them, so call it inside `describe.runIf(canRunTests())`.
 */
export function useThreeNodeSwarm (name: string): ThreeNodeSwarm {
  let dir = ''
  let engines: Engine[] = []
  let front: Front | undefined
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `aggregate-${name}-`))
    engines = await Promise.all([
      startEngine({ name: 'node-0', labels: { storage: 'ssd' }, tcp: true }),
      startEngine({ name: 'node-1', tcp: true }),
      startEngine({ name: 'node-2', tcp: true })
    ])
    front = await startFront(dir, name, engines)
  }, 120_000)
  afterAll(async () => {
    await front?.close()
    await Promise.all(engines.map(async (engine) => { await engine.close().catch(() => {}) }))
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  }, 120_000)
  const host = (): string => {
    if (front === undefined) throw new Error(`the ${name} swarm has not started`)
    return front.host
  }
  const swarm: ThreeNodeSwarm = {
    get engines () { return engines },
    get dir () { return dir },
    cli: async (args, options) => await cli(dir, host(), args, options),
    ok: async (args, options) => await ok(dir, host(), args, options),
    nodeOf: async (ref) => await swarm.ok(['inspect', '-f', '{{.Node.Name}}', ref]),
    engineOf: (node) => engines[Number(node.slice('node-'.length))] as Engine
  }
  return swarm
}
