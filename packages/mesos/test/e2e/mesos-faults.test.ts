import { join } from 'node:path'
import { canRunTests } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, ok, startFront, startStand, until, type Front, type Stand } from '../support/harness.js'

let stand: Stand
let front: Front
const docker = async (args: string[]): Promise<string> => await ok(stand.dir, front.host, args)
const state = async (name: string): Promise<string> => await docker(['ps', '-a', '--filter', `name=^/${name}$`, '--format', '{{.State}}'])

describe.runIf(canRunTests())('mesos faults over the stand-in master and two private dockerd agents', () => {
  beforeAll(async () => {
    stand = await startStand(2, { heartbeatSeconds: 0.3 })
    front = await startFront(stand, `--framework-id-file ${join(stand.dir, 'framework-id')}`)
  }, 120_000)

  afterAll(async () => {
    await front?.close()
    await stand?.close()
  }, 120_000)

  it('a master restart: re-subscribes with the same framework id, reconciles, nothing is lost', async () => {
    await docker(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo alive; sleep 300'])
    const subscribes = stand.master.subscribes
    const id = stand.master.callsOf('SUBSCRIBE').at(-1)?.subscribe?.framework_info.id?.value
    await stand.master.restart(500)
    await until('a new subscription', () => stand.master.subscribes > subscribes)
    const again = stand.master.callsOf('SUBSCRIBE').at(-1)
    expect(again?.framework_id?.value ?? again?.subscribe?.framework_info.id?.value).toBeDefined()
    if (id !== undefined) expect(again?.subscribe?.framework_info.id?.value).toBe(id)
    await until('a reconcile', () => stand.master.callsOf('RECONCILE').some((call) => (call.reconcile?.tasks ?? []).some((task) => task.task_id.value.endsWith('.1'))))
    expect(await state('survivor')).toBe('running')
    expect(await docker(['logs', 'survivor'])).toBe('alive')
    await docker(['run', '-d', '--name', 'after-restart', 'busybox', 'sleep', '300'])
    expect(await state('after-restart')).toBe('running')
    await docker(['rm', '-f', 'survivor', 'after-restart'])
  })

  it('a broken stream: a run issued during the break waits for the re-subscription and runs', async () => {
    const subscribes = stand.master.subscribes
    stand.master.dropStream()
    await docker(['run', '-d', '--name', 'during-break', 'busybox', 'sleep', '300'])
    expect(stand.master.subscribes).toBeGreaterThan(subscribes)
    expect(await state('during-break')).toBe('running')
    await docker(['rm', '-f', 'during-break'])
  })

  it('heartbeats stop (a partition): the stream is dropped after the missed beats and subscribed again', async () => {
    await docker(['run', '-d', '--name', 'partitioned', 'busybox', 'sleep', '300'])
    const subscribes = stand.master.subscribes
    stand.master.pauseHeartbeats()
    try {
      // 3 missed intervals of 0.3 s
      await until('a re-subscription', () => stand.master.subscribes > subscribes, 5000)
    } finally {
      stand.master.pauseHeartbeats(false)
    }
    expect(await state('partitioned')).toBe('running')
    await docker(['stop', 'partitioned'])
    expect(await state('partitioned')).toBe('exited')
    await docker(['rm', 'partitioned'])
  })

  it('an offer rescinded as it is accepted: the task is placed again on a fresh offer', async () => {
    const accepts = stand.master.callsOf('ACCEPT').length
    stand.master.rescindNextAccepts(1)
    await docker(['run', '-d', '--name', 'rescinded', 'busybox', 'sleep', '300'])
    expect(stand.master.callsOf('ACCEPT').length).toBe(accepts + 2)
    expect(await state('rescinded')).toBe('running')
    await docker(['rm', '-f', 'rescinded'])
  })

  it('a launch that fails on the agent: docker run fails with the agent\'s reason, the container shows it', async () => {
    stand.master.failNextLaunch('the agent\'s disk is full')
    const failed = await cli(stand.dir, front.host, ['run', '-d', '--name', 'doomed', 'busybox', 'true'])
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toMatch(/ended TASK_FAILED on agent-\d: Failed to launch container: the agent's disk is full/)
    expect(await state('doomed')).toBe('exited')
    const missing = await cli(stand.dir, front.host, ['run', '-d', '--name', 'noimage', 'no-such-image:1', 'true'])
    expect(missing.stderr).toMatch(/TASK_FAILED .*No such image/i)
    await docker(['rm', 'doomed', 'noimage'])
  })

  it('an agent lost: its tasks turn LOST and the containers show it; new runs go elsewhere', async () => {
    await docker(['run', '-d', '--name', 'on-2', '-e', 'constraint:node==agent-2', 'busybox', 'sleep', '300'])
    stand.master.loseAgent('agent-2')
    await until('the task lost', async () => await state('on-2') === 'dead')
    expect(await docker(['ps', '-a', '--filter', 'name=on-2', '--format', '{{.Status}}'])).toBe('Dead (TASK_LOST: agent removed)')
    expect(await docker(['inspect', '-f', '{{.State.Status}} {{.State.Dead}} {{.State.Error}}', 'on-2'])).toBe('dead true agent removed')
    const logs = await cli(stand.dir, front.host, ['logs', 'on-2'])
    expect(logs.stderr).toMatch(/is lost: its agent agent-2 is gone/)
    expect(await docker(['ps', '-q'])).toBe('')
    await docker(['run', '-d', '--name', 'elsewhere', 'busybox', 'sleep', '300'])
    expect(await docker(['inspect', '-f', '{{.Node.Name}}', 'elsewhere'])).toBe('agent-1')
    expect(await docker(['info'])).toMatch(/agent-2[\s\S]*Status: Lost/)
    await docker(['rm', '-f', 'on-2', 'elsewhere'])
  })

  it('swarmd restarts: the new framework subscribes with the kept id and takes its running tasks back', async () => {
    await docker(['run', '-d', '--name', 'kept', '-p', '8080', '-l', 'team=a', 'busybox', 'sh', '-c', 'echo still here; sleep 300'])
    const id = await docker(['inspect', '-f', '{{.Id}}', 'kept'])
    await front.close()
    front = await startFront(stand, `--framework-id-file ${join(stand.dir, 'framework-id')}`, 'swarm2')
    await until('the task taken back', async () => (await docker(['ps', '--format', '{{.ID}} {{.Names}} {{.State}}'])) === `${id.slice(0, 12)} kept running`)
    expect(await docker(['logs', 'kept'])).toBe('still here')
    expect(await docker(['inspect', '-f', '{{index .Config.Labels "team"}}', 'kept'])).toBe('a')
    await docker(['stop', 'kept'])
    expect(await state('kept')).toBe('exited')
    await docker(['rm', 'kept'])
  })
})
