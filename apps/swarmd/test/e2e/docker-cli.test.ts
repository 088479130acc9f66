/**
 * The real docker CLIs (28.x and 20.10) against the real swarmd binary, in three chains,
 * each command compared with the same command run straight against the engine.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, DOCKER20, DOCKER28, startEngine, startRegistry, type Engine, type Registry } from '@libswarm/test-engine'
import { compareStep, DOCKER_STEPS, expandArg, type CliName, type DockerStep, type SideContext, type SideOutcome } from './docker-cli-commands.js'
import { normaliseOutput, runDocker, startSwarmd, tempDir, type SwarmdProcess } from './docker-cli-harness.js'

const CLIS: Record<CliName, string> = { docker28: DOCKER28, docker20: DOCKER20 }

/** Which chains to run (debugging aid): `SWARMD_E2E_VARIANTS=a,c`; default all three; `x` adds a control route without swarmd. */
const VARIANTS = (process.env.SWARMD_E2E_VARIANTS ?? 'a,b,c').split(',').map((variant) => variant.trim())

/** A way to reach the engine: straight, or through one swarmd chain. */
interface Route {
  side: string
  label: string
  host: string
  processes: SwarmdProcess[]
}

let engine: Engine
let registry: Registry
let work: { path: string, close: () => void }
let direct: Route
const chains: Route[] = []
const summary: Array<{ cli: CliName, step: string, side: string, ok: boolean }> = []

beforeAll(async () => {
  work = tempDir('swarmd-e2e-cli-')
  engine = await startEngine()
  registry = await startRegistry()
  direct = { side: 'd', label: 'direct', host: engine.host, processes: [] }
  chains.push(...await startChains(engine.host, 'main'))
}, 120_000)

/** The three chain variants in front of `engineHost`. */
async function startChains (engineHost: string, prefix: string): Promise<Route[]> {
  const sock = (name: string): string => join(work.path, `${prefix}-${name}.sock`)
  const routes: Route[] = []
  try {
    // A control route with no swarmd at all: every comparison must hold for it, or the comparison is too strict.
    if (VARIANTS.includes('x')) routes.push({ side: 'x', label: 'X: control, straight to the engine', host: engineHost, processes: [] })
    if (VARIANTS.includes('a')) {
      const a = await startSwarmd([`dockerserver unix://${sock('a')}`, `dockerclient ${engineHost}`], { ready: { kind: 'docker', socket: sock('a') } })
      routes.push({ side: 'a', label: 'A: dockerserver | dockerclient', host: `unix://${sock('a')}`, processes: [a] })
    }
    if (VARIANTS.includes('b')) {
      const b = await startSwarmd([`dockerserver unix://${sock('b')}`, 'debug', `dockerclient ${engineHost}`], { ready: { kind: 'docker', socket: sock('b') } })
      routes.push({ side: 'b', label: 'B: dockerserver | debug | dockerclient', host: `unix://${sock('b')}`, processes: [b] })
    }
    if (VARIANTS.includes('c')) {
      const back = await startSwarmd([`serve unix://${sock('wire')}`, `dockerclient ${engineHost}`], { ready: { kind: 'socket', socket: sock('wire') } })
      const route: Route = { side: 'c', label: 'C: dockerserver | remote ~ serve | dockerclient', host: `unix://${sock('c')}`, processes: [back] }
      routes.push(route)
      const front = await startSwarmd([`dockerserver unix://${sock('c')}`, `remote unix://${sock('wire')}`], { ready: { kind: 'docker', socket: sock('c') } })
      route.processes.unshift(front)
    }
  } catch (error) {
    await closeChains(routes)
    throw error
  }
  return routes
}

/** Stops every swarmd of `routes`; returns how the ones that did not exit with 0 ended. */
async function closeChains (routes: readonly Route[]): Promise<string[]> {
  const exits: string[] = []
  for (const route of routes) {
    for (const process of route.processes) {
      const exit = await process.close()
      if (exit.code !== 0) exits.push(`${route.label} pid ${process.pid}: exit ${exit.code ?? exit.signal}\n${process.output().slice(-2000)}`)
    }
  }
  return exits
}

afterAll(async () => {
  const exits = await closeChains(chains)
  await registry?.close()
  await engine?.close()
  work?.close()
  printSummary()
  expect(exits, 'swarmd exits cleanly on SIGTERM').toEqual([])
}, 120_000)

function printSummary (): void {
  if (summary.length === 0) return
  const rows = new Map<string, Map<string, boolean>>()
  for (const entry of summary) {
    const key = `${entry.cli} ${entry.side}`
    const row = rows.get(key) ?? new Map<string, boolean>()
    row.set(entry.step, (row.get(entry.step) ?? true) && entry.ok)
    rows.set(key, row)
  }
  const lines = [...rows].map(([key, row]) => {
    const failed = [...row].filter(([, ok]) => !ok).map(([step]) => step)
    return `${key}: ${row.size - failed.length}/${row.size} steps match${failed.length > 0 ? `; differ: ${failed.join(', ')}` : ''}`
  })
  console.log(`docker CLI through swarmd:\n${lines.join('\n')}`)
}

async function runStep (step: DockerStep, cli: CliName, route: Route, base: Omit<SideContext, 'side' | 'n' | 'tmp'>): Promise<SideOutcome> {
  const ctx: SideContext = { ...base, side: route.side, n: `${base.pass}-${route.side}`, tmp: join(work.path, cli, route.side) }
  mkdirSync(ctx.tmp, { recursive: true })
  const args = step.args.map((arg) => expandArg(arg, ctx))
  const options = { timeoutMs: step.timeoutMs ?? 30_000, holdStdin: step.holdStdin === true, ...(step.stdin === undefined ? {} : { stdin: step.stdin }), ...(step.tty === true ? { tty: true } : {}), ...(step.env === undefined ? {} : { env: step.env }) }
  const result = await runDocker(CLIS[cli], route.host, join(work.path, 'docker-config'), args, options)
  return { result, ctx }
}

/** `seconds.nanoseconds`, as docker events --since/--until take them. */
function unixSeconds (ms: number): string {
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}000000`
}

function describeResult (outcome: SideOutcome): string {
  const { result } = outcome
  return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''} in ${result.ms} ms\n[stdout]\n${result.stdout.slice(0, 3000)}\n[stderr]\n${result.stderr.slice(0, 3000)}`
}

for (const cli of ['docker28', 'docker20'] as const) {
  describe.runIf(canRunTests())(`${cli} (${CLIS[cli]})`, () => {
    const pass = `e2e-${cli}`
    let since = ''

    beforeAll(() => {
      since = unixSeconds(Date.now() - 1000)
    })

    afterAll(async () => {
      // Leave nothing of this pass behind for the next one (ps and images are compared whole).
      const ids = await engine.docker(['ps', '-aq'])
      const list = ids.stdout.split('\n').filter((id) => id !== '')
      if (list.length > 0) await engine.docker(['rm', '-f', ...list])
      const images = await engine.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])
      const mine = images.stdout.split('\n').filter((ref) => ref.includes(pass))
      if (mine.length > 0) await engine.docker(['rmi', '-f', ...mine])
    }, 60_000)

    for (const step of DOCKER_STEPS.filter((candidate) => candidate.only === undefined || candidate.only === cli)) {
      it(step.name, async () => {
        const base = { cli, pass, d: `${pass}-d`, registry: registry.address, since, until: unixSeconds(Date.now()) }
        const reference = await runStep(step, cli, direct, base)
        // The step must do what it says straight against the engine, or comparing is meaningless.
        expect(reference.result.code, `direct: ${step.name}\n${describeResult(reference)}`).toBe(step.expectCode ?? 0)
        if (step.expectStdout !== undefined) expect(reference.result.stdout, `direct stdout: ${describeResult(reference)}`).toMatch(step.expectStdout)
        if (step.expectStderr !== undefined) expect(reference.result.stderr, `direct stderr: ${describeResult(reference)}`).toMatch(step.expectStderr)
        for (const chain of chains) {
          const dead = chain.processes.filter((process) => !process.alive())
          if (dead.length > 0) {
            summary.push({ cli, step: step.name, side: chain.side, ok: false })
            expect.soft(dead.map((process) => process.output().slice(-2000)), `${chain.label}: swarmd is not running`).toEqual([])
            continue
          }
          const outcome = await runStep(step, cli, chain, base)
          const diffs = await compareStep(step, reference, outcome)
          summary.push({ cli, step: step.name, side: chain.side, ok: diffs.length === 0 })
          expect.soft(diffs, `${chain.label}\n${describeResult(outcome)}`).toEqual([])
        }
      }, 180_000)
    }
  })
}

describe.runIf(canRunTests())('swarm mode (a second engine)', () => {
  let swarmEngine: Engine
  const swarmChains: Route[] = []

  beforeAll(async () => {
    swarmEngine = await startEngine({ swarm: true })
    swarmChains.push(...await startChains(swarmEngine.host, 'swarm'))
  }, 120_000)

  afterAll(async () => {
    const exits = await closeChains(swarmChains)
    await swarmEngine?.close()
    expect(exits, 'swarmd exits cleanly on SIGTERM').toEqual([])
  }, 120_000)

  for (const cli of ['docker28', 'docker20'] as const) {
    for (const args of [['service', 'ls'], ['node', 'ls'], ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}}']]) {
      it(`${cli} ${args.slice(0, 2).join(' ')}`, async () => {
        const dockerConfig = join(work.path, 'docker-config')
        const reference = await runDocker(CLIS[cli], swarmEngine.host, dockerConfig, args)
        expect(reference.code, reference.stderr).toBe(0)
        for (const chain of swarmChains) {
          const through = await runDocker(CLIS[cli], chain.host, dockerConfig, args)
          const ok = through.code === reference.code && through.stdout === reference.stdout && through.stderr === reference.stderr
          summary.push({ cli, step: args.join(' '), side: chain.side, ok })
          expect.soft({ code: through.code, stdout: through.stdout, stderr: through.stderr }, chain.label)
            .toEqual({ code: reference.code, stdout: reference.stdout, stderr: reference.stderr })
        }
      }, 60_000)
    }
  }
})
