/**
 * `swarmd 'dockerserver unix://…' 'dockerclient ssh://root@127.0.0.1:PORT …'` with the real
 * docker CLIs: the engine is a private dockerd behind a real OpenSSH sshd on loopback, reached
 * as `docker -H ssh://` reaches it (ssh running `docker system dial-stdio`). The same commands
 * through swarmd and through `docker -H ssh://` itself give the same answers.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, DOCKER20, DOCKER28, startEngine, startSshd, type Engine, type Sshd } from '@libswarm/test-engine'
import { runDocker, startSwarmd, type SwarmdProcess } from './docker-cli-harness.js'

const needs = canRunTests(['engine', 'docker-cli', 'sshd'])

let engine: Engine
let sshd: Sshd
let swarmd: SwarmdProcess
let dir: string
let front: string
/** PATH for `docker -H ssh://`: its `ssh` is the real one with this test's key, known_hosts and no user config. */
let sshPath: string

beforeAll(async () => {
  if (!needs) return
  dir = await mkdtemp(join(tmpdir(), 'swarmd-ssh-'))
  engine = await startEngine({ name: 'swarmd-ssh' })
  sshd = await startSshd({ dockerHost: engine.host })
  const socket = join(dir, 'swarm.sock')
  front = `unix://${socket}`
  swarmd = await startSwarmd([`dockerserver ${front}`, `dockerclient ${sshd.address} --ssh-key ${sshd.clientKeyFile} --ssh-known-hosts ${sshd.knownHostsFile} --ssh-config /dev/null`], { ready: { kind: 'docker', socket } })
  const bin = join(dir, 'bin')
  await mkdir(bin)
  await writeFile(join(bin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F /dev/null -i ${sshd.clientKeyFile} -o IdentitiesOnly=yes -o UserKnownHostsFile=${sshd.knownHostsFile} "$@"\n`)
  await chmod(join(bin, 'ssh'), 0o755)
  sshPath = `${bin}:${process.env.PATH ?? ''}`
  await mkdir(join(dir, 'context'))
  await writeFile(join(dir, 'context', 'Dockerfile'), 'FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt\n')
  await writeFile(join(dir, 'context', 'greeting.txt'), 'built through ssh\n')
}, 120_000)

afterAll(async () => {
  await swarmd?.close()
  await sshd?.close()
  await engine?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}, 120_000)

async function viaSwarmd (cli: string, args: string[], options: { stdin?: string, env?: Record<string, string> } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runDocker(cli, front, join(dir, 'cli'), args, { ...options, timeoutMs: 60_000 })
}

async function viaDockerSsh (cli: string, args: string[], options: { stdin?: string, env?: Record<string, string> } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runDocker(cli, sshd.address, join(dir, 'cli'), args, { ...options, env: { PATH: sshPath, ...options.env }, timeoutMs: 60_000 })
}

describe.runIf(needs)('swarmd in front of an engine reached over ssh://', () => {
  for (const cli of [DOCKER28, DOCKER20]) {
    const name = cli === DOCKER28 ? 'docker 28' : 'docker 20.10'

    it(`${name}: info and ps answer as docker -H ssh:// answers`, async () => {
      const through = await viaSwarmd(cli, ['info', '--format', '{{.Name}} {{.ServerVersion}}'])
      const direct = await viaDockerSsh(cli, ['info', '--format', '{{.Name}} {{.ServerVersion}}'])
      expect(through.code, through.stderr).toBe(0)
      expect(direct.code, direct.stderr).toBe(0)
      expect(through.stdout).toMatch(/^swarmd-ssh 20\.10/)
      expect(through.stdout).toBe(direct.stdout)
      const ps = await viaSwarmd(cli, ['ps', '-a', '--format', '{{.ID}} {{.Image}} {{.Status}}'])
      const psDirect = await viaDockerSsh(cli, ['ps', '-a', '--format', '{{.ID}} {{.Image}} {{.Status}}'])
      expect(ps.code, ps.stderr).toBe(0)
      expect(ps.stdout).toBe(psDirect.stdout)
    })

    it(`${name}: run, run -i (attach with stdin) and logs -f`, async () => {
      const run = await viaSwarmd(cli, ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2'])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toBe('out\n')
      expect(run.stderr).toContain('err')
      const interactive = await viaSwarmd(cli, ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done'], { stdin: 'piped through ssh\n' })
      expect(interactive.code, interactive.stderr).toBe(0)
      expect(interactive.stdout).toBe('piped through ssh\ndone\n')
      const started = await viaSwarmd(cli, ['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done'])
      expect(started.code, started.stderr).toBe(0)
      const id = started.stdout.trim()
      const logs = await viaSwarmd(cli, ['logs', '-f', id])
      expect(logs.code, logs.stderr).toBe(0)
      expect(logs.stdout).toBe('tick 1\ntick 2\ntick 3\n')
      const direct = await viaDockerSsh(cli, ['logs', id])
      expect(direct.stdout).toBe(logs.stdout)
      expect((await viaSwarmd(cli, ['rm', id])).code).toBe(0)
    })

    it(`${name}: build sends its context through ssh`, async () => {
      const tag = `ssh-built-${cli === DOCKER28 ? 28 : 20}:1`
      const build = await viaSwarmd(cli, ['build', '-t', tag, join(dir, 'context')], { env: { DOCKER_BUILDKIT: '0' } })
      expect(build.code, build.stderr).toBe(0)
      expect(build.stdout).toContain('built through ssh')
      const inspected = await viaDockerSsh(cli, ['image', 'inspect', '--format', '{{.Id}}', tag])
      expect(inspected.code, inspected.stderr).toBe(0)
      expect((await viaSwarmd(cli, ['image', 'inspect', '--format', '{{.Id}}', tag])).stdout).toBe(inspected.stdout)
    })
  }

  it('an engine error comes back as the docker CLI shows it over docker -H ssh://', async () => {
    const through = await viaSwarmd(DOCKER28, ['inspect', 'no-such-thing'])
    const direct = await viaDockerSsh(DOCKER28, ['inspect', 'no-such-thing'])
    expect(through.code).toBe(1)
    expect(through.stderr.trim()).toBe(direct.stderr.trim())
  })
})
