import { ErrorCode, SwarmError, endOfChain, errorMessage, parseServiceSpec, replyAndClose, spawnService, type ByteStream, type Message, type Sender, type Service } from '@libswarm/core'
import { createSimulator, simulator } from '@libswarm/simulator'
import { describe, expect, it } from 'vitest'
import { aggregate, createAggregate } from '../src/index.js'
import { docker, eventually, failure } from './harness.js'

const services: Record<string, Service> = { aggregate, simulator }
const resolve = (name: string): Service => {
  const service = services[name]
  if (service === undefined) throw new Error(`no service ${name}`)
  return service
}

async function spawnAggregate (spec: string): Promise<Sender & AsyncDisposable> {
  const instance = await spawnService(parseServiceSpec(spec), endOfChain, resolve)
  return Object.assign(instance, { [Symbol.asyncDispose]: async () => { await instance.close() } })
}

const decoder = new TextDecoder()

async function text (stream: ByteStream | undefined): Promise<string> {
  let out = ''
  for await (const chunk of stream ?? []) out += decoder.decode(chunk, { stream: true })
  return out
}

/** A child that can be cut off, as a killed engine is: requests fail and open streams break. */
function gate (target: Sender): Sender & { down: boolean } {
  let cut: () => void = () => {}
  let cutting = new Promise<void>((resolve) => { cut = resolve })
  const wrap = (stream: ByteStream): ByteStream => (async function * () {
    const iterator = stream[Symbol.asyncIterator]()
    while (true) {
      const next = await Promise.race([iterator.next(), cutting.then(() => undefined)])
      if (next === undefined) {
        void iterator.return?.()
        throw new SwarmError(ErrorCode.Unavailable, 'connection reset')
      }
      if (next.done === true) return
      yield next.value
    }
  })()
  const state = {
    get down () { return down },
    set down (value: boolean) {
      down = value
      if (value) cut()
      else cutting = new Promise<void>((resolve) => { cut = resolve })
    },
    send: async (message: Message) => {
      if (down) {
        await replyAndClose(message.ret, errorMessage(new SwarmError(ErrorCode.Unavailable, 'connect ECONNREFUSED 127.0.0.1:2402')))
        return
      }
      const ret = message.ret
      await target.send({
        ...message,
        ret: ret === undefined
          ? undefined
          : {
              send: async (reply: Message) => { await ret.send(reply.stream === undefined ? reply : { ...reply, stream: wrap(reply.stream) }) },
              close: async (error?: Error) => { await ret.close(error) }
            }
      })
    },
    close: async () => { await target.close() }
  }
  let down = false
  return state
}

describe('aggregate over simulators', () => {
  it('runs containers across simulators and routes logs, exec, attach, stop and rm to the right one', async () => {
    await using swarm = await spawnAggregate('aggregate "simulator --name node-0 --label storage=ssd" "simulator --name node-1" "simulator --name node-2 --cpus 2"')
    const placed: Record<string, string> = {}
    for (const name of ['qa', 'qb', 'qc']) {
      const created = await docker(swarm, 'ContainerCreate', '', { query: { name }, body: { Image: 'busybox', Cmd: ['sh', '-c', `echo hello from ${name}; sleep 1000`] } })
      await docker(swarm, 'ContainerStart', created.json.Id)
      placed[name] = (await docker(swarm, 'ContainerInspect', name)).json.Node.Name
    }
    expect(Object.values(placed).sort()).toEqual(['node-0', 'node-1', 'node-2'])
    const ps = await docker(swarm, 'ContainerList')
    expect(ps.json.map((row: any) => row.Names[0]).sort()).toEqual(Object.entries(placed).map(([name, node]) => `/${node}/${name}`).sort())
    expect(ps.json.every((row: any) => row.State === 'running' && /^Up /.test(row.Status))).toBe(true)

    const logs = await docker(swarm, 'ContainerLogs', 'qb', { query: { stdout: '1', stderr: '1' } })
    expect(logs.text).toContain('hello from qb')
    expect(logs.text).not.toContain('hello from qa')

    const exec = await docker(swarm, 'ContainerExec', `${placed.qc as string}/qc`, { body: { Cmd: ['echo', 'exec output'], AttachStdout: true, AttachStderr: true } })
    const started = await docker(swarm, 'ExecStart', exec.json.Id, { body: { Detach: false, Tty: false } })
    expect(started.text).toContain('exec output')
    await eventually(async () => (await docker(swarm, 'ExecInspect', exec.json.Id)).json.ExitCode === 0)

    const attached = await docker(swarm, 'ContainerAttach', 'qa', { query: { logs: '1', stdout: '1', stream: '0' } })
    expect(attached.text).toContain('hello from qa')

    await docker(swarm, 'ContainerStop', 'qa', { query: { t: '0' } })
    const afterStop = await docker(swarm, 'ContainerList')
    expect(afterStop.json.map((row: any) => row.Names[0])).not.toContain(`/${placed.qa as string}/qa`)
    const stopped = await docker(swarm, 'ContainerList', '', { query: { all: '1', filters: JSON.stringify({ status: ['exited'] }) } })
    expect(stopped.json.map((row: any) => row.Names[0])).toEqual([`/${placed.qa as string}/qa`])
    await docker(swarm, 'ContainerDelete', 'qa')
    expect((await docker(swarm, 'ContainerList', '', { query: { all: '1' } })).json.length).toBe(2)
    await expect(docker(swarm, 'ContainerInspect', 'qa')).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const info = (await docker(swarm, 'SystemInfo')).json
    expect(info.NCPU).toBe(10)
    expect(info.ContainersRunning).toBe(2)
    expect(info.SystemStatus).toContainEqual(['  └ Status', 'Healthy'])
  })

  it('learns containers made behind its back from the event stream, and tags events with the node', async () => {
    const engines = [createSimulator({ name: 'node-0' }), createSimulator({ name: 'node-1' })]
    await using swarm = Object.assign(await createAggregate({ children: engines.map((engine) => ({ service: engine })) }, { spawn: async () => { throw new Error('unused') } }),
      { [Symbol.asyncDispose]: async function (this: Sender) { await this.close() } })
    const events = await docker(swarm, 'SystemEvents', '', { query: { filters: JSON.stringify({ type: ['container'], event: ['create'] }) } })
    const created = await docker(engines[1]!, 'ContainerCreate', '', { query: { name: 'sneaky' }, body: { Image: 'busybox', Cmd: ['sleep', '100'] } })
    await eventually(async () => (await docker(swarm, 'ContainerList', '', { query: { all: '1' } })).json.some((row: any) => row.Id === created.json.Id))
    const iterator = events.message.stream![Symbol.asyncIterator]()
    const event = JSON.parse(decoder.decode((await iterator.next()).value))
    expect(event).toMatchObject({ Action: 'create', node: { Name: 'node-1' }, Actor: { ID: created.json.Id, Attributes: { 'node.name': 'node-1', name: 'sneaky' } } })
    await iterator.return?.()
  })

  it('packs with binpack and refuses what does not fit', async () => {
    await using swarm = await spawnAggregate('aggregate --strategy binpack "simulator --name node-0 --memory 1g" "simulator --name node-1 --memory 1g"')
    const nodes: string[] = []
    for (let index = 0; index < 4; index++) {
      const created = await docker(swarm, 'ContainerCreate', '', { query: { name: `m${index}` }, body: { Image: 'busybox', HostConfig: { Memory: 512 * 1024 ** 2 } } })
      nodes.push((await docker(swarm, 'ContainerInspect', created.json.Id)).json.Node.Name)
    }
    expect(nodes).toEqual(['node-0', 'node-0', 'node-1', 'node-1'])
    const full = await failure(docker(swarm, 'ContainerCreate', '', { body: { Image: 'busybox', HostConfig: { Memory: 1 } } }))
    expect(full.message).toMatch(/no resources available to schedule container/)
  })

  it('takes a node that fails out of the cluster and back in when it returns', async () => {
    const engines = [createSimulator({ name: 'node-0' }), createSimulator({ name: 'node-1' })]
    const gated = gate(engines[1]!)
    const service = await createAggregate({ healthTimeoutMs: 500, healthIntervalMs: 200, maxBackoffMs: 400, children: [{ service: engines[0]! }, { service: gated, addr: '127.0.0.1:2402' }] },
      { spawn: async () => { throw new Error('unused') } })
    try {
      for (const [name, node] of [['keep', 'node-0'], ['lose', 'node-1']]) {
        const created = await docker(service, 'ContainerCreate', '', { query: { name: name as string }, body: { Image: 'busybox', Cmd: ['sleep', '1000'], Env: [`constraint:node==${node as string}`] } })
        await docker(service, 'ContainerStart', created.json.Id)
      }
      gated.down = true
      await eventually(async () => (await docker(service, 'ContainerList')).json.length === 1, 2000)
      const started = Date.now()
      const ps = await docker(service, 'ContainerList')
      expect(Date.now() - started).toBeLessThan(100)
      expect(ps.json.map((row: any) => row.Names[0])).toEqual(['/node-0/keep'])
      const error = await failure(docker(service, 'ContainerLogs', 'lose', { query: { stdout: '1' } }))
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/^Container lose running on unhealthy node node-1 \(/)
      expect((await docker(service, 'SystemInfo')).json.SystemStatus).toContainEqual(['  └ Status', 'Unhealthy'])
      gated.down = false
      await eventually(async () => (await docker(service, 'ContainerList')).json.length === 2, 5000)
      expect((await docker(service, 'ContainerInspect', 'lose')).json.State.Running).toBe(true)
    } finally {
      await service.close()
    }
  })
})
