import { describe, expect, it } from 'vitest'
import { parseArguments, parseDuration } from '../src/index.js'

describe('parseArguments', () => {
  it('keeps each argument as one service spec, in order', () => {
    const args = parseArguments(['dockerserver unix:///tmp/s.sock', 'debug', 'aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375"'])
    expect(args.specs).toEqual(['dockerserver unix:///tmp/s.sock', 'debug', 'aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375"'])
    expect(args).toMatchObject({ help: false, version: false, config: undefined, logLevel: undefined, shutdownTimeout: undefined })
  })

  it('reads options before, between and after specs, with a space or =', () => {
    const args = parseArguments(['--log-level', 'debug', 'debug', '--shutdown-timeout=500ms', 'serve unix:///x'])
    expect(args.specs).toEqual(['debug', 'serve unix:///x'])
    expect(args.logLevel).toBe('debug')
    expect(args.shutdownTimeout).toBe(500)
  })

  it('takes everything after -- as a spec', () => {
    expect(parseArguments(['--', '--odd']).specs).toEqual(['--odd'])
  })

  it('rejects unknown options, missing values, bad levels and both --config and specs', () => {
    expect(() => parseArguments(['--verbose'])).toThrow(/unknown option --verbose/)
    expect(() => parseArguments(['--log-level'])).toThrow(/needs a value/)
    expect(() => parseArguments(['--log-level', 'loud'])).toThrow(/invalid log level "loud"/)
    expect(() => parseArguments(['--config', 'a.yaml', 'debug'])).toThrow(/either as arguments or with --config/)
    expect(() => parseArguments([''])).toThrow(/empty service spec/)
    try {
      parseArguments(['--verbose'])
    } catch (error) {
      expect(error).toMatchObject({ name: 'SwarmError', code: 'INVALID_ARGUMENTS' })
    }
  })

  it('reads --help, --version and --config', () => {
    expect(parseArguments(['-h']).help).toBe(true)
    expect(parseArguments(['--version']).version).toBe(true)
    expect(parseArguments(['--config', 'swarmd.yaml']).config).toBe('swarmd.yaml')
  })
})

describe('parseDuration', () => {
  it('reads ms, s, m and bare seconds', () => {
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('10s')).toBe(10_000)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('3')).toBe(3000)
  })

  it('rejects anything else', () => {
    expect(() => parseDuration('soon')).toThrow(/invalid duration/)
    expect(() => parseDuration('-1s')).toThrow(/invalid duration/)
  })
})
