import { join } from 'node:path'
import { canRunTests, DOCKER20, DOCKER28 } from '@libswarm/test-engine'
import { describe, expect, it } from 'vitest'
import { until } from './cli-front.js'
import { useThreeNodeSwarm } from './three-node-swarm.js'

// Classic Swarm 1.2.9 behaviour when a node fails, checked with three private dockerd (one killed and restarted per test).
describe.runIf(canRunTests())('classic Swarm behaviour when a node fails, with the docker CLI over three private dockerd', () => {
  const swarm = useThreeNodeSwarm('faults')
  const { cli, ok, nodeOf, engineOf } = swarm

  it('hides a down node\'s containers from ps, lists them as Host Down with -a, inspects them from the cache and refuses the rest at once', async () => {
    await ok(['run', '-d', '--name', 'steady', '-e', 'constraint:node==node-0', 'busybox', 'sleep', '600'])
    await ok(['run', '-d', '--name', 'gone', '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600'])
    await ok(['create', '--name', 'gone-stopped', '-e', 'constraint:node==node-2', 'busybox', 'true'])
    const ids = new Map<string, string>()
    for (const name of ['gone', 'gone-stopped']) ids.set(name, await ok(['inspect', '-f', '{{.Id}}', name]))
    const victim = engineOf('node-2')
    await victim.kill()
    try {
      await until('node-2 to drop out', async () => !(await ok(['ps', '--format', '{{.Names}}'])).includes('node-2/'), 10_000)
      expect((await ok(['ps', '--format', '{{.Names}}\t{{.Status}}'])).split('\n')).toContainEqual(expect.stringMatching(/^node-0\/steady\tUp /))
      for (const binary of [DOCKER28, DOCKER20]) {
        const all = (await ok(['ps', '-a', '--format', '{{.Names}}\t{{.Status}}'], { cli: binary })).split('\n')
        expect(all).toContain('node-2/gone\tHost Down')
        expect(all).toContain('node-2/gone-stopped\tHost Down')
        expect(all).toContainEqual(expect.stringMatching(/^node-0\/steady\tUp /))
        expect(await ok(['ps', '-a', '--filter', 'node=node-2', '--format', '{{.Names}}'], { cli: binary })).toBe('node-2/gone-stopped\nnode-2/gone')
        expect(await ok(['inspect', '-f', '{{.Name}} {{.State.Running}} {{.Node.Name}} {{.Config.Image}}', 'gone'], { cli: binary })).toBe('/gone true node-2 busybox')
      }
      const attempts: string[][] = [['logs', 'gone'], ['exec', 'gone', 'true'], ['stop', 'gone'], ['start', 'gone-stopped'], ['restart', 'gone'], ['kill', 'gone'],
        ['pause', 'gone'], ['top', 'gone'], ['rm', '-f', 'gone'], ['rename', 'gone', 'elsewhere'], ['wait', 'gone'], ['cp', 'gone:/etc/hostname', '-'], ['diff', 'gone'], ['stats', '--no-stream', 'gone']]
      for (const args of attempts) {
        const started = Date.now()
        const refused = await cli(args)
        expect(Date.now() - started, `docker ${args.join(' ')}`).toBeLessThan(2000)
        expect(refused.code, `docker ${args.join(' ')}`).not.toBe(0)
        // some commands inspect first (from the cache) and then ask by id
        const name = args.includes('gone-stopped') ? 'gone-stopped' : 'gone'
        expect(refused.stderr, `docker ${args.join(' ')}`).toMatch(new RegExp(`^Error response from daemon: Container (${name}|${ids.get(name) ?? ''}) running on unhealthy node node-2 \\(`))
      }
      const info = await ok(['info'])
      expect(info).toMatch(/  node-2: [^\n]+\n   └ ID: [^\n]*\n   └ Status: Unhealthy\n   └ Containers: 2\n   └ Reserved CPUs: [^\n]+\n   └ Reserved Memory: [^\n]+\n   └ Labels: [^\n]+\n   └ Error: [^\n]+\n   └ UpdatedAt: /)
    } finally {
      await victim.restart()
    }
    // a killed dockerd does not restart its containers: back, they are listed as exited
    await until('node-2 to rejoin', async () => /^node-2\/gone\tExited /m.test(await ok(['ps', '-a', '--format', '{{.Names}}\t{{.Status}}'])), 40_000)
    await ok(['rm', '-f', 'gone', 'gone-stopped', 'steady'])
  }, 90_000)
  it('reschedules a container whose node fails onto a healthy node, and removes the stale copy when the node returns', async () => {
    await ok(['run', '-d', '--name', 'node-1/resched-env', '-e', 'reschedule:on-node-failure', '-e', 'GREETING=hello', '--label', 'team=blue', 'busybox', 'sleep', '600'])
    await ok(['run', '-d', '--name', 'node-1/resched-label', '-l', 'com.docker.swarm.reschedule-policies=["on-node-failure"]', '-e', 'constraint:storage!=ssd', 'busybox', 'sleep', '600'])
    await ok(['create', '--name', 'node-1/resched-stopped', '-e', 'reschedule:on-node-failure', 'busybox', 'true'])
    await ok(['run', '-d', '--name', 'node-1/resched-not', 'busybox', 'sleep', '600'])
    const bad = await cli(['create', '-e', 'reschedule:sometimes', 'busybox', 'true'])
    expect(bad.stderr).toContain('invalid reschedule policy: sometimes')
    const before = new Map<string, string>()
    for (const name of ['resched-env', 'resched-label', 'resched-stopped']) before.set(name, await ok(['inspect', '-f', '{{.Id}}', name]))
    expect(await ok(['inspect', '-f', '{{json .Config.Env}} {{index .Config.Labels "com.docker.swarm.reschedule-policies"}}', 'resched-env'])).toMatch(/^\[[^\]]*"GREETING=hello"[^\]]*\] \["on-node-failure"\]$/)
    expect(await ok(['inspect', '-f', '{{json .Config.Env}}', 'resched-env'])).not.toContain('reschedule:')

    const end = ((Date.now() + 12_000) / 1000).toFixed(3)
    const watching = cli(['events', '--since', (Date.now() / 1000).toFixed(3), '--until', end, '--filter', 'event=reschedule', '--filter', 'event=engine_disconnect', '--filter', 'event=engine_reconnect',
      '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "node.name"}} {{index .Actor.Attributes "old.node"}}'], { timeoutMs: 30_000 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    const victim = engineOf('node-1')
    await victim.kill()
    try {
      await until('the containers to be rescheduled', async () => {
        const rows = await ok(['ps', '--format', '{{.Names}}'])
        return /^node-[02]\/resched-env$/m.test(rows) && /^node-2\/resched-label$/m.test(rows)
      }, 15_000)
      expect(await ok(['inspect', '-f', '{{.State.Running}} {{json .Config.Env}} {{.Config.Labels.team}} {{index .Config.Labels "com.docker.swarm.reschedule-policies"}}', 'resched-env'])).toMatch(/^true \[[^\]]*"GREETING=hello"[^\]]*\] blue \["on-node-failure"\]$/)
      expect(await ok(['inspect', '-f', '{{.Node.Name}} {{index .Config.Labels "com.docker.swarm.constraints"}} {{json .Config.Cmd}}', 'resched-label'])).toBe('node-2 ["storage!=ssd"] ["sleep","600"]')
      // a container that was not running is made again, not started
      await until('the stopped one to be rescheduled', async () => (await cli(['inspect', '-f', '{{.Node.Name}}', 'resched-stopped'])).stdout.trim() !== 'node-1')
      expect(await ok(['inspect', '-f', '{{.State.Status}}', 'resched-stopped'])).toBe('created')
      for (const [name, id] of before) expect(await ok(['inspect', '-f', '{{.Id}}', name])).not.toBe(id)
      // without a policy, it stays where it was
      expect(await ok(['ps', '-a', '--filter', 'name=resched-not', '--format', '{{.Names}} {{.Status}}'])).toBe('node-1/resched-not Host Down')
    } finally {
      await victim.restart()
    }
    await until('node-1 to rejoin and its stale copies to go', async () => {
      const own = (await victim.docker(['ps', '-a', '--format', '{{.Names}}'])).stdout
      return /^resched-not$/m.test(own) && !/^resched-/m.test(own.replace(/^resched-not$/m, ''))
    }, 40_000)
    expect((await ok(['ps', '-a', '--filter', 'name=resched-', '--format', '{{.Names}}'])).split('\n').sort()).toEqual([
      `${await nodeOf('resched-env')}/resched-env`, 'node-1/resched-not', 'node-2/resched-label', `${await nodeOf('resched-stopped')}/resched-stopped`
    ].sort())
    const events = (await watching).stdout
    expect(events).toMatch(/^swarm engine_disconnect node-1 node-1 $/m)
    expect(events).toMatch(/^container reschedule resched-env node-[02] node-1$/m)
    expect(events).toMatch(/^container reschedule resched-label node-2 node-1$/m)
    await ok(['rm', '-f', 'resched-env', 'resched-label', 'resched-stopped', 'resched-not'])
  }, 90_000)
})
