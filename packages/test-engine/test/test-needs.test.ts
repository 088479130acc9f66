import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'

const INDEX = new URL('../dist/index.js', import.meta.url).href

/** Runs `code` in a fresh node (the checks are cached per process) with `env`. */
async function node (code: string, env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', `import * as te from '${INDEX}'\n${code}`], { env, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

// PATH without dockerd (dockerd lives in /usr/sbin or /usr/bin on Debian, so point PATH elsewhere).
const NO_DOCKERD = { PATH: '/nonexistent' }

describe('skipping tests whose machine needs are missing', () => {
  it('says why in one line: not root, or no dockerd on PATH', async () => {
    const result = await node('console.log(te.skipReason(["engine"]))', NO_DOCKERD)
    expect(result.stdout).toMatch(process.getuid?.() === 0
      ? /^need dockerd on PATH \(Debian: apt-get install docker\.io\)\n$/
      : /^need root to start private Docker engines \(this is uid \d+\)\n$/)
  })

  it('canRunTests returns false and prints the reason once', async () => {
    const result = await node('console.log(te.canRunTests(), te.canRunTests())', NO_DOCKERD)
    expect(result.stdout).toBe('false false\n')
    expect(result.stderr.match(/^skipping tests that need /gm)).toHaveLength(1)
  })

  it('fails instead of skipping with LIBSWARM_TEST_NO_SKIP=1', async () => {
    const result = await node('try { te.canRunTests() } catch (error) { console.log(error.name, error.code) }', { ...NO_DOCKERD, LIBSWARM_TEST_NO_SKIP: '1' })
    expect(result.stdout).toBe('TestEngineError TOOLS_MISSING\n')
  })

  it('checks a need that is met without printing anything', async () => {
    const result = await node('console.log(te.skipReason([]), te.canRunTests([]))', {})
    expect(result).toMatchObject({ stdout: 'undefined true\n', stderr: '' })
  })
})
