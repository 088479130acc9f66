/**
 * docker-compose 1.29 against the real swarmd binary: a two-service project with a named
 * network and a named volume goes up, is listed, logs and goes down, straight to the
 * engine, through `dockerserver | dockerclient` and through two swarmd processes joined by
 * `serve`/`remote`, with the same results.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, type Engine } from '@libswarm/test-engine'
import { dockerEnv, type EngineRoutes, FIXTURES, normaliseOutput, type ProcessResult, runProcess, startEngineRoutes } from './docker-cli-harness.js'

const COMPOSE = '/usr/bin/docker-compose'
const PROJECT_FILE = join(FIXTURES, 'compose', 'docker-compose.yml')

describe.runIf(canRunTests(['engine', 'docker-compose']))('docker-compose through swarmd', () => {
  let routes: EngineRoutes
  let engine: Engine
  let work: EngineRoutes['work']
  let socketA: string
  let socketC: string

  beforeAll(async () => {
    routes = await startEngineRoutes('swarmd-e2e-compose-')
    ;({ engine, work, socketA, socketC } = routes)
  }, 120_000)

  afterAll(async () => {
    expect(await routes?.close(), 'swarmd exits cleanly on SIGTERM').toEqual([])
  }, 120_000)

  /** One project, named so that both sides' names have the same length. */
  const compose = async (host: string, project: string, args: string[]): Promise<ProcessResult> =>
    await runProcess(COMPOSE, ['-p', project, '-f', PROJECT_FILE, ...args], { env: dockerEnv(host, join(work.path, 'docker-config')), timeoutMs: 90_000 })

  /** Compose prints parallel progress lines in the order things finish: compare them as sets. */
  const lines = (text: string, project: string): string[] =>
    normaliseOutput(text.replaceAll(project, 'PROJECT')).split('\n').map((line) => line.replace(/ +/g, ' ').trim()).filter((line) => line !== '').sort()

  it('up -d, ps, logs, down -v give the same results through swarmd as straight to the engine', async () => {
    const sides = [{ host: engine.host, project: 'e2ecd' }, { host: `unix://${socketA}`, project: 'e2eca' }, { host: `unix://${socketC}`, project: 'e2ecc' }]
    const seen: Array<Record<string, unknown>> = []
    for (const { host, project } of sides) {
      const up = await compose(host, project, ['up', '-d'])
      expect(up.code, `${project} up -d:\n${up.stderr}`).toBe(0)
      // The worker logs its last line once it has reached web by name on the named network.
      let logs: ProcessResult | undefined
      for (let attempt = 0; attempt < 40; attempt++) {
        logs = await compose(host, project, ['logs', '--no-color'])
        if (logs.stdout.includes('worker reached web')) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      const ps = await compose(host, project, ['ps'])
      const down = await compose(host, project, ['down', '-v'])
      expect(down.code, `${project} down -v:\n${down.stderr}`).toBe(0)
      const left = await engine.docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Names}}'])
      const volumes = await engine.docker(['volume', 'ls', '--filter', `name=${project}_`, '--format', '{{.Name}}'])
      seen.push({
        up: lines(up.stderr, project),
        ps: { code: ps.code, stdout: normaliseOutput(ps.stdout.replaceAll(project, 'PROJECT'), { spaces: false }) },
        logs: { code: logs?.code, lines: lines(logs?.stdout ?? '', project) },
        down: lines(down.stderr, project),
        leftovers: [left.stdout, volumes.stdout]
      })
    }
    const [direct, ...through] = seen
    // What compose did straight to the engine, so that the comparison means something.
    expect(direct).toMatchObject({
      up: expect.arrayContaining(['Creating network "PROJECT_backend" with the default driver', 'Creating volume "PROJECT_data" with default driver', 'Creating PROJECT_web_1 ... done', 'Creating PROJECT_worker_1 ... done']),
      ps: { code: 0, stdout: expect.stringMatching(/PROJECT_web_1 .* Up[\s\S]*PROJECT_worker_1 .* Up/) },
      logs: { code: 0, lines: expect.arrayContaining(['web_1 | web ready', 'worker_1 | written', 'worker_1 | worker reached web']) },
      down: expect.arrayContaining(['Removing network PROJECT_backend', 'Removing volume PROJECT_data']),
      leftovers: ['', '']
    })
    expect(through[0], 'through dockerserver | dockerclient').toEqual(direct)
    expect(through[1], 'through dockerserver | remote ~ serve | dockerclient').toEqual(direct)
  }, 240_000)
})
