import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canRunTests } from '@libswarm/test-engine'
import { dockerUserData, issueSshHostKey, knownHostsFile, parseProvisionArgs, sshDockerUserData } from '../src/index.js'

const usage = 'test [--region R]'

describe('parseProvisionArgs', () => {
  it('reads the common arguments and the provider\'s, with defaults', () => {
    const { hostSet, values } = parseProvisionArgs('test', ['--region', 'r1', '--count', '3', '--tag', 'team=blue', '--tag', 'env=ci', '--terminate-on-stop', '--boot-timeout', '90s'], { region: { type: 'string' } }, usage)
    expect(values.region).toBe('r1')
    expect(hostSet).toMatchObject({ swarm: 'libswarm', count: 3, maxHosts: 6, dryRun: false, terminateOnStop: true, onUnreachable: 'replace', bootTimeoutMs: 90_000, checkIntervalMs: 10_000, checkRetries: 3, enginePort: 2376, tags: { team: 'blue', env: 'ci' } })
    expect(hostSet.stateDir).toMatch(/libswarm\/test\/libswarm$/)
  })

  it('refuses bad values with a clear INVALID_ARGUMENTS', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--count', '0'], /--count wants a whole number of at least 1/],
      [['--count', 'two'], /--count wants a whole number/],
      [['--on-unreachable', 'ignore'], /--on-unreachable wants replace or fail/],
      [['--tag', 'novalue'], /--tag wants KEY=VALUE/],
      [['--tag', 'libswarm:swarm=x'], /libswarm's own/],
      [['--swarm', 'a b'], /--swarm wants letters/],
      [['--boot-timeout', 'soon'], /--boot-timeout wants a duration/],
      [['--engine-port', '70000'], /at most 65535/],
      [['--nope'], /Unknown option '--nope'.*usage: test/]
    ]
    for (const [args, message] of bad) {
      expect(() => parseProvisionArgs('test', args, {}, usage)).toThrow(message)
      try { parseProvisionArgs('test', args, {}, usage) } catch (error) { expect((error as { code?: string }).code).toBe('INVALID_ARGUMENTS') }
    }
  })
})

describe('dockerUserData', () => {
  it('is a cloud-config that writes the TLS files (key 0600) and starts dockerd with --tlsverify on the port', () => {
    const text = dockerUserData({ caCert: 'CA PEM\n', serverCert: 'CERT PEM\n', serverKey: 'KEY PEM\n', port: 2399 })
    expect(text.startsWith('#cloud-config\n')).toBe(true)
    const config = parse(text) as { write_files: Array<{ path: string, content: string, permissions: string }>, runcmd: string[][] }
    const file = (name: string): { content: string, permissions: string } | undefined => config.write_files.find((entry) => entry.path.endsWith(name))
    expect(file('ca.pem')?.content).toBe('CA PEM\n')
    expect(file('server-cert.pem')?.content).toBe('CERT PEM\n')
    expect(file('server-key.pem')).toMatchObject({ content: 'KEY PEM\n', permissions: '0600' })
    const dropIn = file('libswarm-tls.conf')?.content ?? ''
    expect(dropIn).toMatch(/^ExecStart=\/usr\/bin\/dockerd -H fd:\/\/ -H tcp:\/\/0\.0\.0\.0:2399 --tlsverify --tlscacert=\S+ca\.pem --tlscert=\S+server-cert\.pem --tlskey=\S+server-key\.pem$/m)
    expect(config.runcmd.at(-1)).toEqual(['systemctl', 'restart', 'docker'])
  })
})

describe('--ssh-user', () => {
  it('reaches hosts over ssh instead of mutual TLS: user, key, port (default 22)', () => {
    expect(parseProvisionArgs('test', ['--ssh-user', 'ubuntu'], {}, usage).hostSet.ssh).toEqual({ user: 'ubuntu', keyFile: undefined, port: 22 })
    expect(parseProvisionArgs('test', ['--ssh-user', 'root', '--ssh-key', '/k/id_ed25519', '--ssh-port', '2222'], {}, usage).hostSet.ssh).toEqual({ user: 'root', keyFile: '/k/id_ed25519', port: 2222 })
    expect(parseProvisionArgs('test', [], {}, usage).hostSet.ssh).toBeUndefined()
  })

  it('refuses ssh flags without --ssh-user, the TLS port with it, and a bad user or port', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--ssh-key', 'k'], /--ssh-key goes with --ssh-user/],
      [['--ssh-port', '22'], /--ssh-port goes with --ssh-user/],
      [['--ssh-user', 'root', '--engine-port', '2376'], /--engine-port is the TLS port/],
      [['--ssh-user', 'root; rm -rf /'], /--ssh-user wants a user name/],
      [['--ssh-user', 'root', '--ssh-port', '0'], /--ssh-port wants a whole number of at least 1/],
      [['--ssh-user', 'root', '--ssh-port', '65536'], /--ssh-port must be at most 65535/]
    ]
    for (const [args, message] of bad) expect(() => parseProvisionArgs('test', args, {}, usage)).toThrow(message)
  })
})

describe('sshDockerUserData', () => {
  it.runIf(canRunTests(['sshd']))('sets the host key it is given, starts docker on its unix socket only and lets the user use it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provision-hostkey-'))
    try {
      const key = await issueSshHostKey(dir, 'h-0123456789ab.web.libswarm')
      expect(key.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/)
      expect(key.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ h-0123456789ab\.web\.libswarm$/)
      expect(await readFile(knownHostsFile(dir), 'utf8')).toBe(`h-0123456789ab.web.libswarm ${key.publicKey}\n`)
      expect((await stat(knownHostsFile(dir))).mode & 0o777).toBe(0o600)
      const text = sshDockerUserData({ hostKey: key, user: 'ubuntu' })
      expect(text.startsWith('#cloud-config\n')).toBe(true)
      const config = parse(text) as { ssh_keys: Record<string, string>, ssh_genkeytypes: string[], ssh_deletekeys: boolean, runcmd: string[][], write_files?: unknown }
      expect(config.ssh_keys).toEqual({ ed25519_private: key.privateKey, ed25519_public: key.publicKey })
      expect(config.ssh_genkeytypes).toEqual([])
      expect(config.ssh_deletekeys).toBe(true)
      expect(config.write_files).toBeUndefined()
      expect(text).not.toMatch(/tcp:\/\/|--tlsverify|2376/)
      expect(config.runcmd).toContainEqual(['sh', '-c', "getent group docker >/dev/null && id 'ubuntu' >/dev/null 2>&1 && usermod -aG docker 'ubuntu' || true"])
      expect(config.runcmd).toContainEqual(['systemctl', 'restart', 'docker'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
