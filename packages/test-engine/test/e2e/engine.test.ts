import { access } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { runCommand } from '../../src/run-command.js'
import { busyboxImageTar, canRunTests, startEngine, startRegistry, type Engine } from '../../src/index.js'

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}

async function linkExists (name: string): Promise<boolean> {
  return (await runCommand('ip', ['link', 'show', name])).code === 0
}

async function ok (engine: Engine, args: string[]): Promise<string> {
  const result = await engine.docker(args)
  expect(result.stderr + `(exit ${result.code})`).toBe('(exit 0)')
  return result.stdout
}

describe.runIf(canRunTests())('startEngine', () => {
  it('runs two engines in parallel, each with its own hostname, bridge and busybox', async () => {
    const [a, b] = await Promise.all([startEngine({ name: 'te-alpha', tcp: true, labels: { zone: 'a' } }), startEngine({ name: 'te-beta' })])
    try {
      expect(a.socketPath).not.toBe(b.socketPath)
      expect(a.bridge).not.toBe(b.bridge)
      expect(await ok(a, ['info', '-f', '{{.Name}} {{.Labels}}'])).toBe('te-alpha [zone=a]\n')
      expect(await ok(b, ['info', '-f', '{{.Name}}'])).toBe('te-beta\n')
      const [helloA, helloB] = await Promise.all([
        ok(a, ['run', '--rm', 'busybox', 'echo', 'hello']),
        ok(b, ['run', '--rm', 'busybox', 'echo', 'hello'])
      ])
      expect(helloA).toBe('hello\n')
      expect(helloB).toBe('hello\n')
      // Same tarball everywhere, so the same image ID on every engine.
      expect(await ok(a, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).toBe(await ok(b, ['image', 'inspect', '-f', '{{.Id}}', 'busybox']))
      expect(a.tcpHost).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
      expect(await ok(a, ['-H', a.tcpHost!, 'version', '-f', '{{.Server.Version}}'])).toMatch(/^20\.10/)
      expect(await ok(b, ['version', '-f', '{{.Server.Version}}'], )).toMatch(/^20\.10/)
      expect((await b.docker(['version', '-f', '{{.Client.Version}}'], { cli: 'docker20' })).stdout).toMatch(/^20\.10/)

      const networkId = (await ok(a, ['network', 'create', 'te-net'])).trim()
      const subnet = await ok(a, ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'te-net'])
      expect(subnet).toMatch(/^10\.(1\d\d)\.\d+\.0\/24\n$/)
      expect(await ok(a, ['run', '--rm', '--network', 'te-net', 'busybox', 'hostname', '-i'])).toMatch(/^10\./)
      await ok(a, ['network', 'rm', 'te-net'])
      expect(await linkExists(`br-${networkId.slice(0, 12)}`)).toBe(false)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
    for (const engine of [a, b]) {
      expect(await exists(engine.dir)).toBe(false)
      expect(await linkExists(engine.bridge)).toBe(false)
    }
  })

  it('comes back after kill and restart with its data-root kept', async () => {
    await using engine = await startEngine()
    await ok(engine, ['create', '--name', 'survivor', 'busybox', 'true'])
    await engine.kill()
    expect((await engine.docker(['ps'], { timeoutMs: 10_000 })).code).not.toBe(0)
    await engine.restart()
    expect(await ok(engine, ['ps', '-a', '--format', '{{.Names}}'])).toBe('survivor\n')
    expect(await ok(engine, ['run', '--rm', 'busybox', 'echo', 'again'])).toBe('again\n')
    await engine.stop()
    await engine.restart()
    expect(await ok(engine, ['ps', '-a', '--format', '{{.Names}}'])).toBe('survivor\n')
  })

  it('pushes busybox to a private registry and pulls it on another engine', async () => {
    await using registry = await startRegistry()
    const [a, b] = await Promise.all([startEngine(), startEngine({ busybox: false })])
    try {
      const ref = `${registry.address}/te/busybox:1`
      await ok(a, ['tag', 'busybox', ref])
      await ok(a, ['push', ref])
      expect(await ok(b, ['images', '-q'])).toBe('')
      await ok(b, ['pull', ref])
      expect(await ok(b, ['run', '--rm', ref, 'echo', 'pulled'])).toBe('pulled\n')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('inits a swarm when asked', async () => {
    await using engine = await startEngine({ swarm: true, name: 'te-manager' })
    expect(await ok(engine, ['info', '-f', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).toBe('active true\n')
    expect(await ok(engine, ['node', 'ls', '--format', '{{.Hostname}}'])).toBe('te-manager\n')
  })

  it('caches the busybox tarball', async () => {
    const first = await busyboxImageTar()
    expect(await busyboxImageTar()).toBe(first)
    expect(await exists(first)).toBe(true)
  })
})
