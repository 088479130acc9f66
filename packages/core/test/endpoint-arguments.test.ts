import { describe, expect, it } from 'vitest'
import { parseWireEndpointArgs } from '../src/index.js'

const usage = 'serve ADDRESS [--tlscacert F --tlscert F --tlskey F]'

describe('parseWireEndpointArgs', () => {
  it('takes one plain address', () => {
    expect(parseWireEndpointArgs('serve', usage, ['unix:///tmp/w.sock'])).toEqual({ address: 'unix:///tmp/w.sock' })
  })

  it('takes the three TLS files for a tls:// address', () => {
    expect(parseWireEndpointArgs('remote', usage, ['tls://127.0.0.1:7000', '--tlscacert', 'ca.pem', '--tlscert', 'c.pem', '--tlskey', 'k.pem']))
      .toEqual({ address: 'tls://127.0.0.1:7000', tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } })
  })

  it.each([
    [[], 'serve: expected one ADDRESS'],
    [['unix:///a', 'unix:///b'], 'serve: expected one ADDRESS'],
    [['tls://127.0.0.1:7000', '--tlscacert', 'ca.pem'], 'needs --tlscacert, --tlscert and --tlskey'],
    [['tcp://127.0.0.1:7000', '--tlskey', 'k.pem'], 'TLS flags need a tls:// address'],
    [['unix:///a', '--bogus'], "Unknown option '--bogus'"]
  ])('refuses %j with INVALID_ARGUMENTS', (args, text) => {
    expect(() => parseWireEndpointArgs('serve', usage, args)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining(text) }))
  })
})
