import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineService, endOfChain, request, spawnChain } from '@libswarm/core'
import { debug } from '@libswarm/debug'
import { createResolver, listServices, packageEntry, pickService } from '../src/index.js'

// The third-party package of @libswarm/core's README, kept (and tested) there.
const fixture = fileURLToPath(new URL('../../../packages/core/test/fixtures/libswarm-greeter', import.meta.url))
let project: string

beforeAll(async () => {
  // A project that installed the third-party package, as npm would.
  project = await mkdtemp(join(tmpdir(), 'swarmd-resolve-'))
  await mkdir(join(project, 'node_modules', '@libswarm'), { recursive: true })
  await symlink(fileURLToPath(new URL('../node_modules/@libswarm/core', import.meta.url)), join(project, 'node_modules', '@libswarm', 'core'))
  await cp(fixture, join(project, 'node_modules', 'libswarm-greeter'), { recursive: true })
  await cp(fixture, join(project, 'node_modules', '@libswarm', 'greeter'), { recursive: true })
  await mkdir(join(project, 'node_modules', '@acme', 'not-a-service'), { recursive: true })
  await writeFile(join(project, 'node_modules', '@acme', 'not-a-service', 'package.json'), JSON.stringify({ name: '@acme/not-a-service', type: 'module', main: 'main.js' }))
  await writeFile(join(project, 'node_modules', '@acme', 'not-a-service', 'main.js'), 'export const answer = 42\n')
  await writeFile(join(project, 'local-service.js'), `export default { name: 'local', usage: 'local', spawn: () => ({ send: async () => {}, close: async () => {} }) }\n`)
})

afterAll(async () => { await rm(project, { recursive: true, force: true }) })

describe('createResolver', () => {
  it('maps a built-in name to its @libswarm package', async () => {
    expect(await createResolver()('debug')).toBe(debug)
  })

  it('finds an installed package from the working directory', async () => {
    const service = await createResolver({ cwd: project })('libswarm-greeter')
    expect(service).toMatchObject({ name: 'greeter', usage: 'greeter [NAME]' })
    const chain = await spawnChain(['libswarm-greeter swarm'], { resolve: createResolver({ cwd: project }) })
    expect((await request(chain.head, 'Get', ['greeting'])).args).toEqual(['hello, swarm'])
    await expect(request(chain.head, 'Get', ['other'])).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    await chain.close()
  })

  it('takes a bare name for its @libswarm package when one is installed (aws, policy, mesos, ...)', async () => {
    expect(await createResolver({ cwd: project })('greeter')).toMatchObject({ name: 'greeter' })
    const notFound = (specifier: string): Error => Object.assign(new Error(`Cannot find package '${specifier}' imported from /x`), { code: 'ERR_MODULE_NOT_FOUND' })
    const resolve = createResolver({ cwd: project, load: async (specifier) => { if (specifier === '@libswarm/relay') return { service: debug }; throw notFound(specifier) } })
    expect(await resolve('relay')).toBe(debug)
    await expect(resolve('nothing-here')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE', message: expect.stringMatching(/^unknown service "nothing-here"/) })
  })

  it('loads a path relative to the working directory, an absolute path and a file URL', async () => {
    const resolve = createResolver({ cwd: project })
    expect((await resolve('./local-service.js')).name).toBe('local')
    expect((await resolve(join(project, 'local-service.js'))).name).toBe('local')
    expect((await resolve(pathToFileURL(join(project, 'node_modules', 'libswarm-greeter', 'index.js')).href)).name).toBe('greeter')
  })

  it('says UNKNOWN_SERVICE for a name nothing provides', async () => {
    const resolve = createResolver({ cwd: project })
    await expect(resolve('no-such-service-xyz')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE', message: expect.stringMatching(/^unknown service "no-such-service-xyz"/) })
    await expect(resolve('./missing.js')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE', message: expect.stringMatching(/no such file/) })
    await expect(resolve('Bad Name!')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE' })
    await expect(resolve('@acme/not-a-service')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE', message: expect.stringMatching(/exports no service/) })
  })

  it('resolves each name once', async () => {
    let loads = 0
    const resolve = createResolver({ load: async () => { loads++; return { service: debug } } })
    await resolve('debug')
    await resolve('debug')
    expect(loads).toBe(1)
  })
})

describe('pickService', () => {
  const a = defineService({ name: 'a', usage: 'a', spawn: () => endOfChain })
  const b = defineService({ name: 'b', usage: 'b', spawn: () => endOfChain })
  it('prefers the export named service, then the default, then the only service', () => {
    expect(pickService({ service: a, default: b }, 'x', 'm')).toBe(a)
    expect(pickService({ default: b, other: a }, 'x', 'm')).toBe(b)
    expect(pickService({ helper: 42, a }, 'x', 'm')).toBe(a)
    expect(pickService({ a, b }, 'b', 'm')).toBe(b)
    expect(() => pickService({ a, b }, 'c', 'm')).toThrow(/several services \(a, b\)/)
    expect(() => pickService({ x: 1 }, 'c', 'm')).toThrow(/exports no service/)
  })
})

describe('packageEntry', () => {
  it('follows exports conditions, then main', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'swarmd-entry-'))
    try {
      await writeFile(join(directory, 'package.json'), JSON.stringify({ exports: { '.': { types: './x.d.ts', import: './esm.js', require: './cjs.cjs' } } }))
      expect(await packageEntry(directory)).toBe(join(directory, 'esm.js'))
      await writeFile(join(directory, 'package.json'), JSON.stringify({ main: 'lib/main.js' }))
      expect(await packageEntry(directory)).toBe(join(directory, 'lib/main.js'))
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})

describe('listServices', () => {
  it('lists the built-in services and installed packages with the libswarm-service keyword', async () => {
    const listings = await listServices({ cwd: project })
    expect(listings.map((listing) => listing.name).slice(0, 8)).toEqual(['dockerserver', 'dockerclient', 'debug', 'exec', 'serve', 'remote', 'simulator', 'aggregate'])
    expect(listings.find((listing) => listing.name === 'debug')?.usage).toBe('debug [--max-arg-length N]')
    expect(listings.find((listing) => listing.source === 'libswarm-greeter')).toMatchObject({ name: 'greeter', usage: 'greeter [NAME]' })
    expect(listings.some((listing) => listing.source === '@acme/not-a-service')).toBe(false)
  })
})
