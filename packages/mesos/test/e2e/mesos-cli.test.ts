import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { DOCKER20, DOCKER28, canRunTests } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, ok, startFront, startStand, startSwarmd, type Front, type Stand } from '../support/harness.js'

let stand: Stand
let front: Front
const docker = async (args: string[], options?: Parameters<typeof ok>[3]): Promise<string> => await ok(stand.dir, front.host, args, options)

describe.runIf(canRunTests())('swarmd \'dockerserver\' \'@libswarm/mesos\' over a stand-in master and two private dockerd agents, driven by the docker CLI', () => {
  beforeAll(async () => {
    stand = await startStand(2, {}, (engine, index) => ({ zone: `zone-${index + 1}`, docker_host: engine.tcpHost ?? '' }))
    front = await startSwarmd(stand)
  }, 120_000)

  afterAll(async () => {
    await front?.close()
    await stand?.close()
  }, 120_000)

  it('runs a container as a Mesos task: run -d, ps, logs, exec, inspect, stop, rm', async () => {
    const id = await docker(['run', '-d', '--name', 'web', '-e', 'GREETING=hi', '-l', 'app=demo', 'busybox', 'sh', '-c', 'echo $GREETING from mesos; sleep 300'])
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const launch = stand.master.callsOf('ACCEPT').at(-1)
    const task = launch?.accept?.operations[0]?.launch.task_infos[0]
    expect(task?.container?.type).toBe('DOCKER')
    expect(task?.container?.docker?.image).toBe('busybox')
    expect(task?.command?.environment?.variables).toContainEqual({ name: 'GREETING', value: 'hi' })
    expect(task?.container?.docker?.parameters).toContainEqual({ key: 'label', value: 'app=demo' })
    const ps = await docker(['ps', '--format', '{{.ID}} {{.Names}} {{.State}} {{.Image}}'])
    expect(ps).toBe(`${id.slice(0, 12)} web running busybox`)
    await expect.poll(async () => await docker(['logs', 'web']), { timeout: 10_000 }).toBe('hi from mesos')
    expect(await docker(['exec', 'web', 'cat', '/proc/1/cmdline'])).toContain('sleep')
    expect(await docker(['inspect', '-f', '{{.Id}} {{.Name}} {{.State.Running}} {{.Config.Labels.app}}', 'web'])).toBe(`${id} /web true demo`)
    const node = await docker(['inspect', '-f', '{{.Node.Name}}', id.slice(0, 10)])
    expect(['agent-1', 'agent-2']).toContain(node)
    // the container really runs on that agent's engine
    const onAgent = stand.engines.find((engine) => engine.name === node)
    expect((await onAgent?.docker(['ps', '--filter', `label=libswarm.mesos.task=${id}`, '--format', '{{.Image}}']))?.stdout.trim()).toBe('busybox')
    const rmRunning = await cli(stand.dir, front.host, ['rm', 'web'])
    expect(rmRunning.code).not.toBe(0)
    expect(rmRunning.stderr).toMatch(/cannot remove a running container/)
    await docker(['stop', 'web'])
    expect(stand.master.callsOf('KILL').map((call) => call.kill?.task_id.value)).toContain(`${id}.1`)
    expect(await docker(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).toBe('web exited')
    expect(await docker(['inspect', '-f', '{{.State.Status}}', 'web'])).toBe('exited')
    await docker(['rm', 'web'])
    expect(await docker(['ps', '-a', '-q'])).toBe('')
    expect((await onAgent?.docker(['ps', '-a', '-q', '--filter', `label=libswarm.mesos.task=${id}`]))?.stdout.trim()).toBe('')
    expect(stand.master.acknowledged).toBeGreaterThanOrEqual(3)
  })

  it('publishes ports from the offer\'s port ranges and sizes the task from --cpus and -m', async () => {
    await docker(['run', '-d', '--name', 'ports', '--cpus', '0.5', '-m', '32m', '-p', '80', '-p', '31050:8080', '-e', 'constraint:node==agent-1', 'busybox', 'sleep', '300'])
    const task = stand.master.callsOf('ACCEPT').at(-1)?.accept?.operations[0]?.launch.task_infos[0]
    expect(task?.resources).toContainEqual({ name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } })
    expect(task?.resources).toContainEqual({ name: 'mem', type: 'SCALAR', scalar: { value: 32 } })
    const mappings = task?.container?.docker?.port_mappings ?? []
    expect(mappings).toContainEqual({ host_port: 31050, container_port: 8080, protocol: 'tcp' })
    const any = mappings.find((mapping) => mapping.container_port === 80)
    expect(any?.host_port).toBeGreaterThanOrEqual(31000)
    expect(any?.host_port).toBeLessThanOrEqual(31099)
    expect(await docker(['port', 'ports', '8080'])).toContain('31050')
    expect(await docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.Node.Name}}', 'ports'])).toBe(`${32 * 1024 * 1024} agent-1`)
    await docker(['rm', '-f', 'ports'])
  })

  it('places by Classic Swarm constraints on attributes and hostnames, and fails clearly when nothing fits', async () => {
    await docker(['run', '-d', '--name', 'z2', '-e', 'constraint:zone==zone-2', 'busybox', 'sleep', '300'])
    expect(await docker(['inspect', '-f', '{{.Node.Name}}', 'z2'])).toBe('agent-2')
    await docker(['run', '-d', '--name', 'not1', '-e', 'constraint:node!=agent-1', 'busybox', 'sleep', '300'])
    expect(await docker(['inspect', '-f', '{{.Node.Name}}', 'not1'])).toBe('agent-2')
    const started = Date.now()
    const nowhere = await cli(stand.dir, front.host, ['run', '-d', '--name', 'nowhere', '-e', 'constraint:zone==mars', 'busybox', 'true'])
    expect(nowhere.code).not.toBe(0)
    expect(nowhere.stderr).toMatch(/no Mesos offer fitted nowhere \(cpus 0.1, mem 64 MB, constraint zone==mars\) within 5 s; 2 agent\(s\) seen/)
    expect(Date.now() - started).toBeLessThan(15_000)
    const huge = await cli(stand.dir, front.host, ['run', '-d', '--cpus', '64', 'busybox', 'true'])
    expect(huge.stderr).toMatch(/no Mesos offer fitted .*cpus 64/)
    expect(stand.master.callsOf('DECLINE').some((call) => call.decline?.filters?.refuse_seconds === 5)).toBe(true)
    expect(stand.master.callsOf('REVIVE').length).toBeGreaterThan(0)
    await docker(['rm', '-f', 'z2', 'not1', 'nowhere'])
  })

  it('runs attached (docker run without -d): output, exit code, --rm', async () => {
    expect(await docker(['run', '--name', 'attached', 'busybox', 'echo', 'hello attached'])).toBe('hello attached')
    const failing = await cli(stand.dir, front.host, ['run', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 5'])
    expect(failing).toMatchObject({ code: 5, stdout: 'out\n', stderr: 'err\n' })
    expect(await docker(['run', '--rm', '--name', 'gone', 'busybox', 'echo', 'bye'])).toBe('bye')
    await expect.poll(async () => await docker(['ps', '-a', '--filter', 'name=gone', '-q']), { timeout: 5000 }).toBe('')
    expect(await docker(['ps', '-a', '--filter', 'name=attached', '--format', '{{.Status}}'])).toMatch(/^Exited \(0\)/)
    await docker(['rm', 'attached'])
    const left = (await docker(['ps', '-aq', '--filter', 'status=exited'])).split('\n').filter((id) => id !== '')
    if (left.length > 0) await docker(['rm', ...left])
  })

  it('lists the agents as nodes in docker info, with both CLIs', async () => {
    for (const binary of [undefined, DOCKER20]) {
      const info = await docker(['info'], { cli: binary })
      expect(info).toMatch(/Nodes: 2/)
      expect(info).toMatch(/ agent-1: agent-1/)
      expect(info).toMatch(/Reserved CPUs: 0 \/ 2/)
      expect(info).toMatch(/Labels: zone=zone-2/)
    }
  })

  it('reports a task that exits as exited with its code, and streams docker events', async () => {
    const events = spawn(DOCKER28, ['events', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { env: { PATH: process.env.PATH, HOME: stand.dir, DOCKER_HOST: front.host, DOCKER_CONFIG: join(stand.dir, 'cli') } })
    let seen = ''
    events.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString() })
    await new Promise((resolve) => setTimeout(resolve, 500))
    await docker(['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'exit 3'])
    await expect.poll(async () => await docker(['ps', '-a', '--filter', 'name=short', '--format', '{{.Status}}']), { timeout: 10_000 }).toMatch(/^Exited \(3\)/)
    expect(await docker(['wait', 'short'])).toBe('3')
    await docker(['rm', 'short'])
    await expect.poll(() => seen, { timeout: 5000 }).toMatch(/destroy short/)
    events.kill()
    expect(seen.trim().split('\n')).toEqual(['create short', 'start short', 'die short', 'destroy short'])
  })

  it('without children: each agent\'s engine is reached at its --agent-attribute address (docker_host)', async () => {
    await front.close()
    front = await startFront(stand, '--agent-attribute docker_host', 'no-children', false)
    await docker(['run', '-d', '--name', 'by-attribute', '-e', 'constraint:zone==zone-2', 'busybox', 'sh', '-c', 'echo via tcp; sleep 300'])
    await expect.poll(async () => await docker(['logs', 'by-attribute']), { timeout: 10_000 }).toBe('via tcp')
    expect(await docker(['info'])).toContain(` agent-2: ${stand.engines[1]?.tcpHost ?? ''}`)
    await docker(['rm', '-f', 'by-attribute'])
  })
})
