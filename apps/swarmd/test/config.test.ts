import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseServiceSpec } from '@libswarm/core'
import { createResolver, loadConfig, parseArguments, parseConfig, quoteWord, renderSpec } from '../src/index.js'

const COMMAND_LINE = [
  'serve unix:///tmp/swarm.sock',
  'debug --max-arg-length 80',
  'aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375 --tls" "simulator --name \'sim 1\'"'
]

const YAML = `
# the same chain as COMMAND_LINE
chain:
  - serve unix:///tmp/swarm.sock
  - service: debug
    args: [--max-arg-length, 80]
  - service: aggregate
    children:
      - dockerclient tcp://a:2375
      - service: dockerclient
        args: [tcp://b:2375, --tls]
      - service: simulator
        args: [--name, sim 1]
logLevel: warn
shutdownTimeout: 2s
`

describe('config file', () => {
  it('gives the same chain as the command line', async () => {
    const fromArguments = parseArguments(COMMAND_LINE).specs.map(parseServiceSpec)
    const fromFile = parseConfig(YAML)
    expect(fromFile.chain).toEqual(fromArguments)
    // The children too: each child spec of aggregate parses to the same link.
    const childrenFromFile = fromFile.chain[2]?.args.map(parseServiceSpec)
    expect(childrenFromFile).toEqual([
      { name: 'dockerclient', args: ['tcp://a:2375'] },
      { name: 'dockerclient', args: ['tcp://b:2375', '--tls'] },
      { name: 'simulator', args: ['--name', 'sim 1'] }
    ])
    expect(childrenFromFile).toEqual(fromArguments[2]?.args.map(parseServiceSpec))
    expect(fromFile.logLevel).toBe('warn')
    expect(fromFile.shutdownTimeout).toBe(2000)
  })

  it('resolves both to the same services', async () => {
    const resolve = createResolver()
    const a = await resolve(parseConfig('chain: [debug]').chain[0]?.name ?? '')
    const b = await resolve(parseServiceSpec('debug').name)
    expect(a).toBe(b)
  })

  it('nests children of children', () => {
    const config = parseConfig(`
chain:
  - service: aggregate
    children:
      - service: aggregate
        children: ["simulator --name 'a b'", {service: simulator}]
`)
    const outer = config.chain[0]
    const inner = parseServiceSpec(outer?.args[0] ?? '')
    expect(inner.name).toBe('aggregate')
    expect(inner.args.map(parseServiceSpec)).toEqual([{ name: 'simulator', args: ['--name', 'a b'] }, { name: 'simulator', args: [] }])
  })

  it('says where a config is wrong', () => {
    expect(() => parseConfig('chain: []')).toThrow(/"chain" must be a non-empty list/)
    expect(() => parseConfig('services: [debug]')).toThrow(/unknown key "services"/)
    expect(() => parseConfig('chain: [{name: debug}]')).toThrow(/chain\[0\]: unknown key "name"/)
    expect(() => parseConfig('chain: [{service: debug, args: [{a: 1}]}]')).toThrow(/chain\[0\]\.args\[0\]: expected a string/)
    expect(() => parseConfig('chain: [{service: aggregate, children: [42]}]')).toThrow(/chain\[0\]\.children\[0\]: expected a service spec/)
    expect(() => parseConfig('chain: [debug]\nlogLevel: loud')).toThrow(/invalid log level/)
    expect(() => parseConfig('chain: [debug')).toThrow(/invalid YAML/)
  })

  it('reports a missing file in one line', async () => {
    await expect(loadConfig('/nonexistent/swarmd.yaml')).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: 'cannot read config /nonexistent/swarmd.yaml: no such file' })
  })

  it('quotes words so that the spec parser gives them back', () => {
    for (const word of ['plain', 'tcp://a:2375', 'with space', "it's", '"quoted"', '$HOME', 'a*b', '#hash', 'a;b', '', 'back\\slash']) {
      expect(parseServiceSpec(`x ${quoteWord(word)}`).args).toEqual([word])
    }
    expect(renderSpec({ name: 'dockerclient', args: ['tcp://a:2375'] })).toBe('dockerclient tcp://a:2375')
  })

  it('ships a JSON Schema that describes the keys the parser accepts', async () => {
    const schema = JSON.parse(await readFile(new URL('../swarmd.schema.json', import.meta.url), 'utf8')) as {
      properties: Record<string, unknown>, required: string[], $defs: { link: { oneOf: Array<{ properties?: Record<string, unknown> }> } }
    }
    expect(Object.keys(schema.properties).sort()).toEqual(['$schema', 'chain', 'logLevel', 'shutdownTimeout'])
    expect(schema.required).toEqual(['chain'])
    expect(Object.keys(schema.$defs.link.oneOf[1]?.properties ?? {}).sort()).toEqual(['args', 'children', 'service'])
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] }
    expect(manifest.files).toContain('swarmd.schema.json')
  })
})
