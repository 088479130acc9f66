import { describe, expect, expectTypeOf, it } from 'vitest'
import { parseServiceArgs } from '../src/index.js'

const usage = 'greeter [--loud] [--name NAME] [--tag T]... WORD...'
const options = { loud: { type: 'boolean' }, name: { type: 'string' }, tag: { type: 'string', multiple: true } } as const

describe('parseServiceArgs', () => {
  it('returns the flags, typed by their kind, and the positionals', () => {
    const { values, positionals } = parseServiceArgs('greeter', ['hi', '--loud', '--name=ann', '--tag', 'a', 'there', '--tag', 'b'], options, usage)
    expect(values).toEqual({ loud: true, name: 'ann', tag: ['a', 'b'] })
    expect(positionals).toEqual(['hi', 'there'])
    expectTypeOf(values.loud).toEqualTypeOf<boolean | undefined>()
    expectTypeOf(values.name).toEqualTypeOf<string | undefined>()
    expectTypeOf(values.tag).toEqualTypeOf<string[] | undefined>()
    expectTypeOf(positionals).toEqualTypeOf<string[]>()
  })

  it('leaves the arguments it was given as they were', () => {
    const args = ['--loud', 'hi']
    parseServiceArgs('greeter', args, options, usage)
    expect(args).toEqual(['--loud', 'hi'])
  })

  it.each([
    [['--bogus'], "greeter: Unknown option '--bogus'"],
    [['--name'], "greeter: Option '--name <value>' argument missing"],
    [['--loud=yes'], "greeter: Option '--loud' does not take an argument"]
  ])('refuses %j with INVALID_ARGUMENTS, the service name, what was wrong and the usage', (args, start) => {
    let caught: unknown
    try {
      parseServiceArgs('greeter', args, options, usage)
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ name: 'SwarmError', code: 'INVALID_ARGUMENTS', cause: expect.objectContaining({ code: expect.stringMatching(/^ERR_PARSE_ARGS_/) }) })
    const message = (caught as Error).message
    expect(message.startsWith(start)).toBe(true)
    expect(message.endsWith(`; usage: ${usage}`)).toBe(true)
  })
})
