import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CANNED_CONTAINER } from './fake-backend.js'
import { CLI_20, CLI_28, runCli, startHarness, type Harness } from './harness.js'

describe.each([['CLI 28', CLI_28], ['CLI 20.10', CLI_20]])('%s against dockerserver and the fake backend', (_name, cli) => {
  let harness: Harness
  const run = async (args: string[], input?: string, terminal = false, typed?: string) => terminal
    ? await runCli('/usr/bin/script', `unix://${harness.socket}`, ['-qec', [cli, ...args].join(' '), '/dev/null'], { configDir: harness.dir, input: typed })
    : await runCli(cli, `unix://${harness.socket}`, args, { configDir: harness.dir, input })
  beforeAll(async () => { harness = await startHarness() })
  afterAll(async () => { await harness.close() })

  it('docker version shows the engine behind the chain', async () => {
    const result = await run(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}'])
    expect(result.stderr).toBe('')
    expect(result.stdout.trim()).toBe('20.10.24 1.41 1.41')
    expect(result.code).toBe(0)
  })

  it('docker ps shows the canned container', async () => {
    const result = await run(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(`${CANNED_CONTAINER.Id.slice(0, 12)} canned-container Up 5 minutes`)
  })

  it('docker container inspect nosuch prints the backend error and exits 1', async () => {
    const result = await run(['container', 'inspect', 'nosuch'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('No such container: nosuch')
  })

  it('docker inspect --type container nosuch prints the backend error', async () => {
    const result = await run(['inspect', '--type', 'container', 'nosuch'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('No such container: nosuch')
  })

  it('docker inspect nosuch exits 1 naming the object', async () => {
    const result = await run(['inspect', 'nosuch'])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('Error: No such object: nosuch\n')
  })

  it('echo hi | docker run -i attaches stdin and stdout through the chain', async () => {
    const result = await run(['run', '-i', 'busybox', 'cat'], 'hi\n')
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('hi\n')
    expect(result.code).toBe(0)
  })

  it('docker run -it under a terminal gets the raw TTY stream', async () => {
    const result = await run(['run', '-t', '-i', 'busybox', 'cat'], undefined, true, 'hi\r\x04')
    expect(result.stdout).toContain('HI')
    expect(result.code).toBe(0)
    const attach = harness.backend.requests.filter((request) => request.operation === 'ContainerAttach').at(-1)
    expect(attach?.headers?.Upgrade).toBe('tcp')
  })

  it('echo hi | docker exec -i goes through exec create, the hijacked start and exec inspect', async () => {
    const result = await run(['exec', '-i', 'canned-container', 'cat'], 'hi\n')
    expect(result.stdout).toBe('hi\n')
    expect(result.code).toBe(0)
    const operations = harness.backend.requests.map((request) => request.operation)
    expect(operations).toEqual(expect.arrayContaining(['ContainerExec', 'ExecStart', 'ExecInspect']))
  })
})
