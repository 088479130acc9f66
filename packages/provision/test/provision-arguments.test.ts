import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { dockerUserData, parseProvisionArgs } from '../src/index.js'

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
