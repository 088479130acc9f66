import { describe, expect, it } from 'vitest'
import {
  ErrorCode, SwarmError, createServer, defineService, endOfChain, isService, jsonLogger, message, parseServiceSpec, request, spawnChain,
  type Service, type ServiceInstance
} from '../src/index.js'

describe('parseServiceSpec', () => {
  it('splits a spec like a shell', () => {
    expect(parseServiceSpec('dockerclient tcp://a:2375')).toEqual({ name: 'dockerclient', args: ['tcp://a:2375'] })
    expect(parseServiceSpec('  debug   --max-arg-length  80 ')).toEqual({ name: 'debug', args: ['--max-arg-length', '80'] })
  })

  it('keeps quoted children whole, as the seed nests them', () => {
    expect(parseServiceSpec('aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375"')).toEqual({
      name: 'aggregate', args: ['dockerclient tcp://a:2375', 'dockerclient tcp://b:2375']
    })
    // Two levels: the inner spec keeps its own quotes for the child to parse.
    const outer = parseServiceSpec(`aggregate 'aggregate "simulator --name a" "simulator --name b"' "simulator --name 'c d'"`)
    expect(outer.args).toEqual(['aggregate "simulator --name a" "simulator --name b"', "simulator --name 'c d'"])
    expect(parseServiceSpec(outer.args[0]!).args.map(parseServiceSpec)).toEqual([
      { name: 'simulator', args: ['--name', 'a'] },
      { name: 'simulator', args: ['--name', 'b'] }
    ])
    expect(parseServiceSpec(outer.args[1]!)).toEqual({ name: 'simulator', args: ['--name', 'c d'] })
  })

  it('handles escapes, adjacent quotes, empty strings and $ literally', () => {
    expect(parseServiceSpec(`x a\\ b 'it'"'"'s' "" '$HOME' "$PATH"`).args).toEqual(['a b', "it's", '', '$HOME', '$PATH'])
    expect(parseServiceSpec('x *.sock').args).toEqual(['*.sock'])
    expect(parseServiceSpec('x a # a comment').args).toEqual(['a'])
  })

  it('rejects shell operators and empty specs with INVALID_ARGUMENTS', () => {
    for (const spec of ['a | b', 'a > f', 'a; b', 'a && b']) {
      expect(() => parseServiceSpec(spec)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    }
    expect(() => parseServiceSpec('   ')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS', message: 'empty service spec' }))
  })
})

/** A service that answers `Get` with its label, forwards the rest, and records spawn/close. */
function recording (events: string[]): (name: string) => Service {
  return (name) => defineService({
    name,
    usage: name,
    spawn: (args, context) => {
      const label = [name, ...args].join(' ')
      events.push(`spawn ${label}`)
      return createServer({
        Get: (m) => m.args[0] === name ? message('Ack', [label]) : undefined,
        default: async (m) => { await context.next.send(m) }
      }, { onClose: () => { events.push(`close ${label}`) } })
    }
  })
}

describe('spawnChain', () => {
  it('spawns back to front and connects each service to the next', async () => {
    const events: string[] = []
    const make = recording(events)
    const chain = await spawnChain(['a 1', { name: 'b', args: ['2'] }, 'c'], { resolve: make })
    expect(events).toEqual(['spawn c', 'spawn b 2', 'spawn a 1'])
    expect(chain.instances).toHaveLength(3)
    // Ls is forwarded by every service and reaches the end of the chain.
    await expect(request(chain.head, 'Ls')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED', message: 'no service in the chain handles Ls' })
    await chain.close()
    expect(events.slice(3)).toEqual(['close a 1', 'close b 2', 'close c'])
  })

  it('forwards along the chain to the service that answers', async () => {
    const forwarding = (name: string): Service => defineService({
      name, usage: name, spawn: (_args, context) => createServer({ default: async (m) => { await context.next.send(m) } })
    })
    const chain = await spawnChain(['f1', 'f2', 'answer'], {
      resolve: (name) => name === 'answer' ? defineService({ name, usage: name, spawn: () => createServer({ Get: () => message('Ack', ['here']) }) }) : forwarding(name)
    })
    expect((await request(chain.head, 'Get')).args).toEqual(['here'])
    await chain.close()
  })

  it('ends at the given tail', async () => {
    const tail = createServer({ default: (m) => message('Ack', ['tail', m.verb]) })
    const chain = await spawnChain(['a'], { resolve: recording([]), tail })
    expect((await request(chain.head, 'Spawn')).args).toEqual(['tail', 'Spawn'])
    await chain.close()
  })

  it('closes the services already spawned when one fails, and rethrows', async () => {
    const events: string[] = []
    const make = recording(events)
    const resolve = (name: string): Service => name === 'bad'
      ? defineService({ name, usage: name, spawn: () => { throw new SwarmError(ErrorCode.InvalidArguments, 'bad arguments') } })
      : make(name)
    await expect(spawnChain(['front', 'bad', 'x', 'y'], { resolve })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' })
    expect(events).toEqual(['spawn y', 'spawn x', 'close x', 'close y'])
  })

  it('rejects an unknown service from the resolver without spawning the front', async () => {
    const events: string[] = []
    const make = recording(events)
    const resolve = (name: string): Service => {
      if (name === 'nope') throw new SwarmError(ErrorCode.UnknownService, 'unknown service nope')
      return make(name)
    }
    await expect(spawnChain(['front', 'nope', 'back'], { resolve })).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE' })
    expect(events).toEqual(['spawn back', 'close back'])
  })

  it('closes once, even when asked twice, and supports await using', async () => {
    const events: string[] = []
    {
      await using chain = await spawnChain(['a'], { resolve: recording(events) })
      await chain.close()
    }
    expect(events.filter((e) => e.startsWith('close'))).toEqual(['close a'])
  })

  it('gives each service a logger naming it and its position', async () => {
    const lines: string[] = []
    const logged = defineService({ name: 'logged', usage: 'logged', spawn: (_args, context) => { context.log.info('hi'); return createServer({}) } })
    const chain = await spawnChain(['logged', 'logged'], { resolve: () => logged, log: jsonLogger({ write: (line) => lines.push(line) }) })
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { msg: 'hi', service: 'logged', position: 1 },
      { msg: 'hi', service: 'logged', position: 0 }
    ])
    await chain.close()
  })

  it('lets a service spawn children from spec strings, each ending at the end of a chain', async () => {
    const events: string[] = []
    const make = recording(events)
    const children: ServiceInstance[] = []
    const parent = defineService({
      name: 'parent',
      usage: 'parent CHILD...',
      spawn: async (args, context) => {
        for (const spec of args) children.push(await context.spawn(spec))
        return createServer({
          Ls: async () => message('Ack', await Promise.all(children.map(async (child, n) => (await request(child, 'Get', [`c${n + 1}`])).args[0] as string))),
          Spawn: async () => await request(children[0]!, 'Spawn')
        }, { onClose: async () => { for (const child of children) await child.close() } })
      }
    })
    const chain = await spawnChain([`parent "c1 --x 'y z'" c2`], { resolve: (name) => name === 'parent' ? parent : make(name) })
    expect(events).toEqual(['spawn c1 --x y z', 'spawn c2'])
    expect((await request(chain.head, 'Ls')).args).toEqual(['c1 --x y z', 'c2'])
    // A child forwards what it does not answer to the end of a chain, not to the parent's next.
    await expect(request(chain.head, 'Spawn')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    await chain.close()
    expect(events).toContain('close c2')
  })
})

describe('services', () => {
  it('defineService checks the name and spawn; isService recognises the shape', () => {
    expect(() => defineService({ name: 'Bad Name', usage: 'x', spawn: () => endOfChain })).toThrow(/invalid service name/)
    expect(() => defineService({ name: 'ok', usage: 'ok', spawn: undefined as unknown as Service['spawn'] })).toThrow(/no spawn function/)
    expect(isService(defineService({ name: 'ok', usage: 'ok', spawn: () => endOfChain }))).toBe(true)
    expect(isService({ name: 'x', spawn: () => endOfChain })).toBe(false)
    expect(isService(null)).toBe(false)
  })
})
