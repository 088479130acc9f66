import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { canRunTests, DOCKER20, DOCKER28, startRegistry, type Engine } from '@libswarm/test-engine'
import { describe, expect, it } from 'vitest'
import { AGGREGATE_VERSION } from '../../src/index.js'
import { until } from './cli-front.js'
import { useThreeNodeSwarm } from './three-node-swarm.js'

// Classic Swarm 1.2.9 behaviour the docker CLI relies on, checked with three private dockerd.
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe.runIf(canRunTests())('classic Swarm behaviour, with the docker CLI over three private dockerd', () => {
  const swarm = useThreeNodeSwarm('classic')
  const { cli, ok, nodeOf } = swarm

  it('says libswarm/VERSION as its server version and keeps classic Swarm node lines in docker info', async () => {
    for (const binary of [DOCKER28, DOCKER20]) {
      expect(await ok(['version', '--format', '{{.Server.Version}}'], { cli: binary })).toBe(`libswarm/${AGGREGATE_VERSION}`)
      expect(await ok(['version'], { cli: binary })).toMatch(new RegExp(`Server:[^]*Version: +libswarm/${escape(AGGREGATE_VERSION)}\\n`))
      expect(await ok(['info', '--format', '{{.ServerVersion}}'], { cli: binary })).toBe(`libswarm/${AGGREGATE_VERSION}`)
      const info = await ok(['info'], { cli: binary })
      expect(info).toMatch(/ Role: primary\n +Strategy: spread\n +Filters: [^\n]+\n +Nodes: 3\n/)
      for (const [index, engine] of swarm.engines.entries()) {
        const engineVersion = (await engine.docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim()
        const lines = new RegExp([
          `  node-${index}: ${escape((engine.tcpHost ?? '').replace('tcp://', ''))}`,
          '   └ ID: [A-Z0-9]{4}(:[A-Z0-9]{4}){11}',
          '   └ Status: Healthy',
          '   └ Containers: \\d+ \\(\\d+ Running, \\d+ Paused, \\d+ Stopped\\)',
          '   └ Reserved CPUs: \\d+ / \\d+',
          '   └ Reserved Memory: [\\d.]+ [KMGT]?i?B / [\\d.]+ [KMGT]iB',
          `   └ Labels: kernelversion=[^,]+, operatingsystem=[^,]+, ostype=linux, ${index === 0 ? 'storage=ssd, ' : ''}storagedriver=\\w+`,
          '   └ UpdatedAt: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ',
          `   └ ServerVersion: ${escape(engineVersion)}\\n`
        ].join('\\n'))
        expect(info).toMatch(lines)
      }
      expect(info).not.toContain('└ Error')
    }
  })
  it('creates a network on one node, refuses an ambiguous inspect, inspects NODE/NAME as the engine does, and filters ls by type and name', async () => {
    const before = (await ok(['network', 'ls', '-q'])).split('\n').length
    await ok(['network', 'create', '-d', 'bridge', 'netone'])
    const listed = (await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n')
    expect(listed).toHaveLength(before + 1)
    const holders = listed.filter((name) => name.endsWith('/netone'))
    expect(holders).toHaveLength(1)
    const holder = (holders[0] as string).split('/')[0] as string
    for (const [index, engine] of swarm.engines.entries()) {
      expect((await engine.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').includes('netone')).toBe(`node-${index}` === holder)
    }
    await ok(['network', 'create', '-d', 'bridge', 'node-1/nettwo'])
    expect((await Promise.all(swarm.engines.map(async (engine) => (await engine.docker(['network', 'ls', '-q', '--filter', 'name=^nettwo$'])).stdout.trim() !== ''))))
      .toEqual([false, true, false])
    // a container that joins netone lands where netone is
    await ok(['create', '--name', 'onnet', '--net', 'netone', 'busybox', 'true'])
    expect(await nodeOf('onnet')).toBe(holder)

    for (const binary of [DOCKER28, DOCKER20]) {
      const ambiguous = await cli(['network', 'inspect', 'bridge'], { cli: binary })
      expect(ambiguous.code).not.toBe(0)
      expect(ambiguous.stderr).toContain('3 matches found based on name: network bridge is ambiguous')
    }
    expect(JSON.parse(await ok(['network', 'inspect', 'netone']))[0].Name).toBe('netone')
    const own = JSON.parse((await (swarm.engines[0] as Engine).docker(['network', 'inspect', 'bridge'])).stdout)
    expect(JSON.parse(await ok(['network', 'inspect', 'node-0/bridge']))).toEqual(own)
    expect(own[0].Name).toBe('bridge')

    const names = async (filter: string, binary = DOCKER28): Promise<string[]> => (await ok(['network', 'ls', '--filter', filter, '--format', '{{.Name}}'], { cli: binary })).split('\n').filter((line) => line !== '').sort()
    for (const binary of [DOCKER28, DOCKER20]) {
      expect(await names('type=builtin', binary)).toEqual(['bridge', 'host', 'none'].flatMap((name) => [0, 1, 2].map((index) => `node-${index}/${name}`)).sort())
      expect(await names('type=custom', binary)).toEqual([`${holder}/netone`, 'node-1/nettwo'].sort())
    }
    const engineRefusal = await (swarm.engines[0] as Engine).docker(['network', 'ls', '--filter', 'type=nonsense'])
    expect(engineRefusal.code).not.toBe(0)
    const refusal = await cli(['network', 'ls', '--filter', 'type=nonsense'])
    expect(refusal.code).not.toBe(0)
    expect(refusal.stderr).toBe(engineRefusal.stderr)
    expect(await names('name=net')).toEqual([`${holder}/netone`, 'node-1/nettwo'].sort())
    expect(await names('name=two')).toEqual(['node-1/nettwo'])
    expect(await names('name=^brid')).toEqual(['node-0/bridge', 'node-1/bridge', 'node-2/bridge'])
    expect(await names('name=nothing-like-it')).toEqual([])

    await ok(['rm', 'onnet'])
    await ok(['network', 'rm', 'netone', 'node-1/nettwo'])
    expect((await ok(['network', 'ls', '-q'])).split('\n')).toHaveLength(before)
  })

  it('bounds the merged event stream by --since and --until as one engine bounds its own', async () => {
    const stamp = (): string => (Date.now() / 1000).toFixed(6)
    const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
    const format = '{{.TimeNano}} {{.Type}} {{.Action}} {{.Actor.ID}}'
    // each engine's own events within the bounds, tagged with its node and merged in time order
    const expected = async (bounds: string[]): Promise<string[]> => {
      const lines: string[] = []
      for (const [index, engine] of swarm.engines.entries()) {
        const own = await engine.docker(['events', ...bounds, '--format', format])
        expect(own.code).toBe(0)
        for (const line of own.stdout.split('\n')) if (line !== '') lines.push(`${line} node-${index}`)
      }
      return lines.sort((a, b) => Number(BigInt(a.split(' ')[0] as string) - BigInt(b.split(' ')[0] as string)))
    }
    const through = async (bounds: string[], binary = DOCKER28): Promise<string[]> =>
      (await ok(['events', ...bounds, '--format', `${format} {{index .Actor.Attributes "node.name"}}`], { cli: binary })).split('\n').filter((line) => line !== '')

    for (const binary of [DOCKER28, DOCKER20]) {
      const started = Date.now()
      expect(await ok(['events', '--until', '1'], { cli: binary })).toBe('')
      expect(await ok(['events', '--since', '1', '--until', '2'], { cli: binary })).toBe('')
      expect(Date.now() - started).toBeLessThan(3000)
    }
    const t0 = stamp()
    await pause(50)
    for (const index of [0, 1, 2]) await ok(['create', '--name', `ev-${index}`, '-e', `constraint:node==node-${index}`, 'busybox', 'true'])
    await ok(['rm', 'ev-2', 'ev-0', 'ev-1'])
    await pause(50)
    const t1 = stamp()
    await pause(50)
    await ok(['create', '--name', 'ev-late', '-e', 'constraint:node==node-1', 'busybox', 'true'])
    await pause(50)
    const t2 = stamp()

    const window = await expected(['--since', t0, '--until', t1])
    expect(window.filter((line) => line.includes(' container create '))).toHaveLength(3)
    expect(window.filter((line) => line.includes(' container destroy '))).toHaveLength(3)
    for (const binary of [DOCKER28, DOCKER20]) {
      const started = Date.now()
      expect(await through(['--since', t0, '--until', t1], binary)).toEqual(window)
      expect(Date.now() - started).toBeLessThan(3000)
    }
    expect(await through(['--since', t1, '--until', t2])).toEqual(await expected(['--since', t1, '--until', t2]))
    // no --since: every node's past up to --until, as an engine replays its own
    expect(await through(['--until', t1])).toEqual(await expected(['--until', t1]))
    const refusal = await cli(['events', '--since', t1, '--until', t0])
    const engineRefusal = await (swarm.engines[0] as Engine).docker(['events', '--since', t1, '--until', t0])
    expect(refusal.code).not.toBe(0)
    expect(refusal.stderr).toBe(engineRefusal.stderr)

    // --until in the future: the past since t1, then live events, and the stream ends at --until
    const end = ((Date.now() + 2500) / 1000).toFixed(6)
    const started = Date.now()
    const streaming = through(['--since', t1, '--until', end])
    await pause(700)
    await ok(['create', '--name', 'ev-live', '-e', 'constraint:node==node-2', 'busybox', 'true'])
    const streamed = await streaming
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000)
    expect(Date.now() - started).toBeLessThan(6000)
    expect(streamed).toEqual(await expected(['--since', t1, '--until', end]))
    expect(streamed.filter((line) => line.includes(' container create ')).map((line) => line.split(' ').pop())).toEqual(['node-1', 'node-2'])

    // --since still to come: nothing before it, live events from it on
    const from = ((Date.now() + 900) / 1000).toFixed(6)
    const to = ((Date.now() + 2500) / 1000).toFixed(6)
    const ahead = through(['--since', from, '--until', to])
    await ok(['create', '--name', 'ev-early', '-e', 'constraint:node==node-0', 'busybox', 'true'])
    await pause(1300)
    await ok(['create', '--name', 'ev-ahead', '-e', 'constraint:node==node-0', 'busybox', 'true'])
    const aheadLines = await ahead
    expect(aheadLines).toEqual(await expected(['--since', from, '--until', to]))
    expect(aheadLines.filter((line) => line.includes(' container create '))).toHaveLength(1)
    await ok(['rm', 'ev-late', 'ev-live', 'ev-early', 'ev-ahead'])
  })

  it('creates a volume only on the nodes its com.docker.swarm.whitelists label allows', async () => {
    const holders = async (name: string): Promise<boolean[]> =>
      await Promise.all(swarm.engines.map(async (engine) => (await engine.docker(['volume', 'ls', '-q', '--filter', `name=^${name}$`])).stdout.trim() === name))
    expect(await ok(['volume', 'create', '--label', 'com.docker.swarm.whitelists=["node==node-1|node-2"]', 'listed'])).toBe('listed')
    expect(await holders('listed')).toEqual([false, true, true])
    expect((await ok(['volume', 'ls', '--filter', 'name=listed', '--format', '{{.Name}}'])).split('\n').sort()).toEqual(['node-1/listed', 'node-2/listed'])
    expect(await ok(['volume', 'inspect', '-f', '{{index .Labels "com.docker.swarm.whitelists"}}', 'node-2/listed'])).toBe('["node==node-1|node-2"]')
    await ok(['volume', 'create', '--label', 'com.docker.swarm.whitelists=["node!=node-1"]', 'notone'])
    expect(await holders('notone')).toEqual([true, false, true])
    await ok(['volume', 'create', 'everywhere'])
    expect(await holders('everywhere')).toEqual([true, true, true])
    const nowhere = await cli(['volume', 'create', '--label', 'com.docker.swarm.whitelists=["node==node-9"]', 'nowhere'])
    expect(nowhere.code).not.toBe(0)
    expect(nowhere.stderr).toContain('unable to find a node that satisfies the whitelist node==node-9')
    expect(await holders('nowhere')).toEqual([false, false, false])
    const garbled = await cli(['volume', 'create', '--label', 'com.docker.swarm.whitelists=node-1', 'garbled'])
    expect(garbled.stderr).toContain('invalid com.docker.swarm.whitelists label "node-1"')
    await ok(['volume', 'rm', 'listed', 'notone', 'everywhere'])
    expect(await holders('listed')).toEqual([false, false, false])
  })

  it('imports and loads onto every healthy node, saves images of several nodes in one archive, and pulls on every node', async () => {
    const everywhere = async (image: string): Promise<boolean[]> =>
      await Promise.all(swarm.engines.map(async (engine) => (await engine.docker(['image', 'inspect', image])).code === 0))
    // import: a container's filesystem, from stdin
    await ok(['create', '--name', 'exported', 'busybox', 'true'])
    const tarball = join(swarm.dir, 'exported.tar')
    await ok(['export', '-o', tarball, 'exported'])
    await ok(['rm', 'exported'])
    const imported = await cli(['import', '-', 'imported:1'], { input: await readFile(tarball) as unknown as string })
    expect(imported.code, imported.stderr).toBe(0)
    expect(await everywhere('imported:1')).toEqual([true, true, true])
    expect((await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n')).toContain('imported:1')

    // save: one image only on node-0, one only on node-1
    for (const [index, tag] of [[0, 'only-a:1'], [1, 'only-b:1']] as const) {
      await ok(['create', '--name', `source-${index}`, '-e', `constraint:node==node-${index}`, 'busybox', 'sh', '-c', `echo ${tag}`])
      await ok(['commit', `source-${index}`, tag])
      await ok(['rm', `source-${index}`])
    }
    expect(await everywhere('only-a:1')).toEqual([true, false, false])
    expect(await everywhere('only-b:1')).toEqual([false, true, false])
    const archive = join(swarm.dir, 'both.tar')
    await ok(['save', '-o', archive, 'only-a:1', 'only-b:1'])
    const target = swarm.engines[2] as Engine
    const loaded = await target.docker(['load', '-i', archive])
    expect(loaded.stdout).toContain('Loaded image: only-a:1')
    expect(loaded.stdout).toContain('Loaded image: only-b:1')
    expect((await target.docker(['run', '--rm', 'only-b:1'])).stdout.trim()).toBe('only-b:1')
    await target.docker(['rmi', 'only-a:1', 'only-b:1'])

    // load: the archive onto every healthy node
    const load = await ok(['load', '-i', archive])
    expect(load).toContain('Loaded image: only-a:1')
    expect(await everywhere('only-a:1')).toEqual([true, true, true])
    expect(await everywhere('only-b:1')).toEqual([true, true, true])
    expect((await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n')).toEqual(expect.arrayContaining(['only-a:1', 'only-b:1']))

    // pull: from a private registry, on every healthy node, with each node's progress
    await using registry = await startRegistry()
    const remote = `${registry.address}/pulled:1`
    const pusher = swarm.engines[0] as Engine
    await pusher.docker(['tag', 'imported:1', remote])
    expect((await pusher.docker(['push', remote])).code).toBe(0)
    await pusher.docker(['rmi', remote])
    for (const engine of swarm.engines) expect((await engine.docker(['image', 'inspect', remote])).code).not.toBe(0)
    const pulled = await ok(['pull', remote])
    for (const node of ['node-0', 'node-1', 'node-2']) expect(pulled).toMatch(new RegExp(`^${node}: (Status: Downloaded newer image|Pulling from)`, 'm'))
    expect(await everywhere(remote)).toEqual([true, true, true])
    await ok(['rmi', remote, 'imported:1', 'only-a:1', 'only-b:1'])
    expect(await everywhere('imported:1')).toEqual([false, false, false])
  }, 90_000)
})
