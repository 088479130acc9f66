import { describe, expect, it } from 'vitest'
import { isSwarmError } from '@libswarm/core'
import { compileClientRegex, filterMatcher } from '../src/index.js'

const ID = 'f'.repeat(64)

/** Milliseconds `run` took. */
function timed (run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

describe('client regexes', () => {
  // each of these takes a backtracking engine minutes or more on these texts
  it.each([
    ['^([0-9a-f]+)+z$', ID],
    ['^/(a+)+$', '/' + 'a'.repeat(5000) + '-'],
    ['^(a|a)*$', 'a'.repeat(100_000) + '!'],
    ['(x+x+)+y', 'x'.repeat(50_000)],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', 'a'.repeat(10_000)]
  ])('answers %s in linear time', (pattern, text) => {
    let matched: boolean | undefined
    expect(timed(() => { matched = compileClientRegex(pattern).test(text) })).toBeLessThan(1000)
    expect(matched).toBe(false)
  })

  it('searches as Go regexp.MatchString: unanchored unless anchored, RE2 syntax', () => {
    const cases: Array<[string, string, boolean]> = [
      ['web', '/my-web-1', true],
      ['^web', '/web', false],
      ['^/web$', '/web', true],
      ['^/web$', '/web2', false],
      ['a|b', 'xbx', true],
      ['^(web|db)-[0-9]+$', 'db-12', true],
      ['^(web|db)-[0-9]+$', 'db-x', false],
      ['[[:digit:]]{3}', 'ab123', true],
      ['\\d\\s\\w', '1 a', true],
      ['\\pL+', '123', false],
      ['(?i)WEB', 'web', true],
      ['WEB', 'web', false],
      ['(?P<kind>web)', 'web', true],
      ['a.c', 'a\nc', false],
      ['(?s)a.c', 'a\nc', true],
      ['\\Aweb\\z', 'web', true],
      ['', 'anything', true]
    ]
    for (const [pattern, text, expected] of cases) expect([pattern, text, compileClientRegex(pattern).test(text)]).toEqual([pattern, text, expected])
    expect(compileClientRegex('WEB', { ignoreCase: true }).test('/web')).toBe(true)
  })

  it('refuses what RE2 does not know with Go\'s message: backreferences, lookarounds, bad repeats', () => {
    const cases: Array<[string, string]> = [
      ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
      ['(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
      ['(?!a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
      ['a{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
      ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
      ['[a', 'error parsing regexp: missing closing ]: `[a`'],
      ['(a', 'error parsing regexp: missing closing ): `(a`'],
      ['\\Z', 'error parsing regexp: invalid escape sequence: `\\Z`']
    ]
    for (const [pattern, message] of cases) {
      let thrown: unknown
      try {
        compileClientRegex(pattern)
      } catch (error) {
        thrown = error
      }
      expect(isSwarmError(thrown), pattern).toBe(true)
      expect(thrown, pattern).toMatchObject({ code: 'BAD_REQUEST', message })
    }
  })
})

describe('filter matchers', () => {
  it('matches a value exactly or as a regexp, as the engine\'s filters.Args.Match', () => {
    const names = filterMatcher(['^/web-[0-9]+$', 'db'])
    expect(names('/web-1')).toBe(true)
    expect(names('/my-db-1')).toBe(true)
    expect(names('/web-x')).toBe(false)
  })

  it('skips an invalid regexp, which then matches only itself, as dockerd does', () => {
    const names = filterMatcher(['(a)\\1', '[web'])
    expect(names('aa')).toBe(false)
    expect(names('[web')).toBe(true)
    expect(names('web')).toBe(false)
  })

  it('compiles each value once, so a thousand tests of a catastrophic pattern stay fast', () => {
    const ids = filterMatcher(['^([0-9a-f]+)+z$'])
    expect(timed(() => { for (let i = 0; i < 1000; i++) ids(ID) })).toBeLessThan(1000)
  })
})
