/**
 * The real swarmd, `dockerserver | aggregate "@libswarm/aws --count 3 --ssh-user root …"`: three
 * EC2 stand-in instances reached over ssh (each a real OpenSSH sshd, with the host key from its
 * user data, in front of a private dockerd on its unix socket only), driven by the docker CLI.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DOCKER28, canRunTests, freePort, generateSshKey, startSwarmd, type Swarmd } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useStandInCredentials } from '../aws-env.js'
import { startEc2StandIn, type Ec2StandIn } from '../ec2-stand-in.js'

const SWARMD = fileURLToPath(new URL('../../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))
const PACKAGE = fileURLToPath(new URL('../..', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

let dir = ''
let standIn: Ec2StandIn
let socket = ''
let swarmd: Swarmd | undefined
const log = (): string => swarmd?.log() ?? ''

async function cli (args: string[], options: { input?: string, timeoutMs?: number } = {}): Promise<Run> {
  return await new Promise((resolve) => {
    const child = execFile(DOCKER28, args, {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') },
      cwd: dir,
      timeout: options.timeoutMs ?? 60_000
    }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout: stdout.toString(), stderr: stderr.toString() })
    })
    child.stdin?.end(options.input)
  })
}

async function ok (args: string[], options: { input?: string, timeoutMs?: number } = {}): Promise<string> {
  const run = await cli(args, options)
  if (run.code !== 0) throw new Error(`${args.join(' ')} exited ${run.code}: ${run.stderr}\nswarmd:\n${log().slice(-3000)}`)
  return run.stdout
}

describe.runIf(canRunTests(['engine', 'docker-cli', 'sshd']))('swarmd: aggregate over 3 EC2 hosts reached over ssh, with the docker CLI', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lsw-aws-ssh-'))
    await useStandInCredentials(join(dir, 'aws'))
    const login = await generateSshKey(join(dir, 'login'))
    const sshPort = await freePort()
    standIn = await startEc2StandIn({ bootDelayMs: 300, busybox: true, sshPort, authorizedKeys: [login.publicKey] })
    socket = join(dir, 'swarm.sock')
    const aws = `@libswarm/aws --endpoint ${standIn.endpoint} --region us-east-1 --count 3 --ami-name 'ubuntu/images/*24.04*' --swarm e2essh --state-dir ${join(dir, 'state')} --poll-interval 100ms --boot-timeout 60s --terminate-on-stop --ssh-user root --ssh-key ${login.privateKeyFile} --ssh-port ${sshPort}`
    swarmd = await startSwarmd({
      bin: SWARMD,
      args: [`dockerserver unix://${socket}`, `aggregate --health-interval 1s --health-timeout 3s "${aws}"`],
      cwd: dir,
      packages: { '@libswarm/aws': PACKAGE },
      env: process.env
    })
    const deadline = Date.now() + 75_000
    while (!(await cli(['version'], { timeoutMs: 5000 })).stdout.includes('Server')) {
      if (Date.now() > deadline || swarmd.process.exitCode !== null) throw new Error(`swarmd did not serve within 75 s:\n${log()}`)
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
  }, 100_000)

  afterAll(async () => {
    await swarmd?.close()
    if (standIn !== undefined) {
      await standIn.settled()
      expect(standIn.alive()).toEqual([])
      await standIn.close()
    }
    await rm(dir, { recursive: true, force: true })
  }, 90_000)

  it('docker info shows the 3 hosts; run, run -i, logs -f and ps across them', async () => {
    const ids = [...standIn.instances.keys()]
    expect(ids.length).toBe(3)
    for (const instance of standIn.instances.values()) {
      expect(instance.sshd).toBeDefined()
      expect(instance.engine?.tcpHost).toBeUndefined()
    }
    const info = await ok(['info'])
    expect(info).toMatch(/Nodes: 3/)
    for (const id of ids) expect(info).toContain(id)
    expect((await ok(['run', '--rm', 'busybox', 'echo', 'hello over ssh'])).trim()).toBe('hello over ssh')
    expect(await ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'stdin over ssh\n' })).toBe('stdin over ssh\n')
    for (let index = 0; index < 3; index++) await ok(['run', '-d', '--name', `box${index}`, 'busybox', 'sh', '-c', `echo box ${index}; sleep 600`])
    const ps = await ok(['ps', '--format', '{{.Names}}'])
    const nodes = new Set(ps.trim().split('\n').map((name) => name.split('/')[0]))
    expect([...nodes].sort()).toEqual([...ids].sort())
    const logs = await cli(['logs', '-f', 'box1'], { timeoutMs: 3000 })
    expect(logs.stdout).toBe('box 1\n')
    await ok(['rm', '-f', 'box0', 'box1', 'box2'])
  }, 120_000)
})
