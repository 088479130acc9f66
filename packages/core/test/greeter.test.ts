/**
 * The README's third-party service example, tested as a user would install it: the package
 * is copied into a project's node_modules next to a built @libswarm/core.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { complianceTests } from '../src/compliance.js'
import { createServer, isService, message, request, spawnChain, type Service } from '../src/index.js'

const fixture = fileURLToPath(new URL('./fixtures/libswarm-greeter/', import.meta.url))
const core = fileURLToPath(new URL('..', import.meta.url))
const project = await mkdtemp(join(tmpdir(), 'libswarm-greeter-'))
await mkdir(join(project, 'node_modules', '@libswarm'), { recursive: true })
await symlink(core, join(project, 'node_modules', '@libswarm', 'core'))
await cp(fixture, join(project, 'node_modules', 'libswarm-greeter'), { recursive: true })
const { service: greeter } = await import(pathToFileURL(join(project, 'node_modules', 'libswarm-greeter', 'index.js')).href) as { service: Service }

afterAll(async () => { await rm(project, { recursive: true, force: true }) })

describe('the README example service', () => {
  it('is the code the README shows', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const [file, fence] of [['package.json', 'json'], ['index.js', 'js']] as const) {
      const text = await readFile(join(fixture, file), 'utf8')
      expect(readme).toContain('```' + fence + '\n' + text + '```')
    }
    const lines = (await readFile(join(fixture, 'package.json'), 'utf8')).split('\n').length + (await readFile(join(fixture, 'index.js'), 'utf8')).split('\n').length
    expect(lines).toBeLessThan(40)
  })

  it('declares @libswarm/core as a peer dependency', async () => {
    const manifest = JSON.parse(await readFile(join(fixture, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string>, dependencies?: unknown }
    expect(Object.keys(manifest.peerDependencies)).toEqual(['@libswarm/core'])
    expect(manifest.dependencies).toBeUndefined()
  })

  it('answers Get greeting and forwards the rest down a chain', async () => {
    expect(isService(greeter)).toBe(true)
    const back = { name: 'back', usage: 'back', spawn: () => createServer({ default: (m) => message('Ack', ['back', m.verb, ...m.args]) }) }
    const chain = await spawnChain(['greeter swarm', 'back'], { resolve: (name) => name === 'greeter' ? greeter : back })
    expect((await request(chain.head, 'Get', ['greeting'])).args).toEqual(['hello, swarm'])
    expect((await request(chain.head, 'Get', ['other'])).args).toEqual(['back', 'Get', 'other'])
    expect((await request(chain.head, 'Ls')).args).toEqual(['back', 'Ls'])
    await chain.close()
  })

  it('rejects extra arguments with INVALID_ARGUMENTS', async () => {
    await expect(spawnChain(['greeter a b'], { resolve: () => greeter })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: 'usage: greeter [NAME]' })
  })

  describe('compliance', () => {
    for (const test of complianceTests({ service: greeter, args: ['swarm'] })) it(test.name, test.run)
  })
})
