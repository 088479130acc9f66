/**
 * The Python docker SDK (Debian's python3-docker, through /usr/bin/python3) against the
 * real swarmd binary: the same session of calls straight to the engine, through
 * `dockerserver | dockerclient` and through `dockerserver | remote ~ serve | dockerclient`
 * (two swarmd processes) must report the same things.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, type Engine } from '@libswarm/test-engine'
import { type EngineRoutes, FIXTURES, runProcess, startEngineRoutes } from './docker-cli-harness.js'

const PYTHON = '/usr/bin/python3'
const SESSION = join(FIXTURES, 'python', 'sdk_session.py')

describe.runIf(canRunTests(['engine', 'python3-docker']))('python docker SDK through swarmd', () => {
  let routes: EngineRoutes
  let engine: Engine
  let socketA: string
  let socketC: string

  beforeAll(async () => {
    routes = await startEngineRoutes('swarmd-e2e-py-')
    ;({ engine, socketA, socketC } = routes)
  }, 120_000)

  afterAll(async () => {
    expect(await routes?.close(), 'swarmd exits cleanly on SIGTERM').toEqual([])
  }, 120_000)

  it('runs, lists and reads logs the same as straight to the engine', async () => {
    const session = async (baseUrl: string, prefix: string): Promise<Record<string, unknown>> => {
      const result = await runProcess(PYTHON, [SESSION, baseUrl, prefix], { timeoutMs: 90_000 })
      expect(result.code, `${PYTHON} ${SESSION} ${baseUrl}:\n${result.stderr}`).toBe(0)
      // The prefix is the only thing that may differ between the two sessions.
      return JSON.parse(result.stdout.replaceAll(prefix, 'PREFIX')) as Record<string, unknown>
    }
    const direct = await session(engine.host, 'py-direct')
    // The session must have done what it says, or comparing would prove nothing.
    expect(direct).toMatchObject({
      ping: true,
      run_stdout: 'hello from python\n',
      run_error: { exit_status: 7, stderr: 'failing\n' },
      wait: { StatusCode: 0 },
      logs: 'line 1\nline 2\nline 3\nwarn\n',
      logs_stdout_only: 'line 1\nline 2\nline 3\n',
      listed: [['PREFIX-logger', 'exited', { 'e2e.python': 'PREFIX' }]],
      after_remove: [],
      get_removed: { status: 404 }
    })
    expect(await session(`unix://${socketA}`, 'py-chainA'), 'through dockerserver | dockerclient').toEqual(direct)
    expect(await session(`unix://${socketC}`, 'py-chainC'), 'through dockerserver | remote ~ serve | dockerclient').toEqual(direct)
  }, 180_000)
})
