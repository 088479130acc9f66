import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { CLI_28, startPolicedChain, type PolicedChain } from './policed-chain.js'

/*
 * The README's recipe, run for real: swarmd's chain serves a policed socket under
 * examples/ci-job.yaml; a CI job container on a private dockerd 20.10 gets that socket at
 * /var/run/docker.sock and the static docker CLI 28 mounted in, and runs docker inside.
 */

const POLICY = new URL('../../examples/ci-job.yaml', import.meta.url).pathname

const JOB = `
step () { echo "== $1"; shift; "$@" 2>&1; echo "rc=$?"; }
export DOCKER_CONFIG=/tmp/docker-config DOCKER_BUILDKIT=0
mkdir -p /tmp/ctx && printf 'FROM busybox\\nRUN echo built-in-ci > /built\\n' > /tmp/ctx/Dockerfile
step ps docker ps -a --format '{{.Names}}'
step run docker run --name job-hello busybox echo hello-from-job
step logs docker logs job-hello
step build docker build -q -t job-image /tmp/ctx
step run-built docker run --rm job-image cat /built
step privileged docker run --rm --privileged busybox true
step host-root docker run --rm -v /:/host busybox ls /host
step pid-host docker run --rm --pid host busybox true
step others-inspect docker inspect --type container other-box
step others-logs docker logs other-box
step others-exec docker exec other-box id
`

let engine: Engine
let chain: PolicedChain
let output: string

function step (name: string): { text: string, rc: number } {
  const start = output.indexOf(`== ${name}\n`)
  if (start < 0) throw new Error(`no step ${name} in:\n${output}`)
  const body = output.slice(start + name.length + 4)
  const rc = /rc=(\d+)\n/.exec(body)
  if (rc === null) throw new Error(`step ${name} has no rc in:\n${output}`)
  return { text: body.slice(0, rc.index), rc: Number(rc[1]) }
}

beforeAll(async () => {
  engine = await startEngine({ name: 'policy-recipe' })
  chain = await startPolicedChain(engine, POLICY, ['ci', 'other'])
  const other = await chain.docker('other', ['run', '-d', '--name', 'other-box', 'busybox', 'sleep', '600'])
  expect(other.code, other.stderr).toBe(0)
  // the job container itself is started by the host's admin, on the engine directly
  const job = await engine.docker(['run', '--rm', '--network', 'none',
    '-v', `${chain.socket('ci')}:/var/run/docker.sock`, '-v', `${CLI_28}:/usr/local/bin/docker:ro`,
    'busybox', 'sh', '-c', JOB], { timeoutMs: 120_000 })
  output = job.stdout + job.stderr
}, 240_000)

afterAll(async () => {
  await chain?.[Symbol.asyncDispose]()
  await engine?.close()
}, 120_000)

describe.runIf(canRunTests())('the recipe: a CI job with the policed socket and the docker CLI inside its container', () => {
  it('sees none of the other client\'s containers in docker ps', () => {
    expect(step('ps')).toEqual({ text: '', rc: 0 })
  })

  it('runs busybox, reads its own logs, builds an image and runs it', () => {
    expect(step('run')).toEqual({ text: 'hello-from-job\n', rc: 0 })
    expect(step('logs')).toEqual({ text: 'hello-from-job\n', rc: 0 })
    expect(step('build').rc).toBe(0)
    expect(step('build').text).toMatch(/(^|\n)sha256:[0-9a-f]{64}\n$/)
    expect(step('run-built')).toEqual({ text: 'built-in-ci\n', rc: 0 })
  })

  it('is refused --privileged, -v /:/host and --pid host, naming the rule', () => {
    expect(step('privileged').text).toContain('policy: "ci-jobs" denies privileged containers')
    expect(step('host-root').text).toContain('policy: "ci-jobs" denies host path / (-v)')
    expect(step('pid-host').text).toContain('policy: "ci-jobs" denies --pid host')
    for (const name of ['privileged', 'host-root', 'pid-host']) expect(step(name).rc).not.toBe(0)
  })

  it('cannot look at a container it did not create', () => {
    for (const name of ['others-inspect', 'others-logs', 'others-exec']) {
      expect(step(name).text, name).toMatch(/No such container: other-box/)
      expect(step(name).rc).not.toBe(0)
    }
  })

  it('the other client, on its own socket, sees only its own', async () => {
    const ps = await chain.docker('other', ['ps', '-a', '--format', '{{.Names}}'])
    expect(ps.stdout.trim()).toBe('other-box')
    const all = await engine.docker(['ps', '-a', '--format', '{{.Names}} {{.Label "com.libswarm.policy.owner"}}'])
    expect(all.stdout).toContain('job-hello ci')
    expect(all.stdout).toContain('other-box other')
  })
})
