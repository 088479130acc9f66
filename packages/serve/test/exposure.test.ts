// Safe defaults: no plain TCP beyond loopback unless asked (then a warning), and a unix
// socket that only its owner and group may connect to, whatever the umask.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createServer, dial, message, request, silentLogger, type Logger } from '@libswarm/core'
import { createServe, parseServeArgs } from '../src/index.js'

const next = createServer({ Ls: () => message('Ack', ['ok']) })
const dir = mkdtempSync(join(tmpdir(), 'libswarm-serve-exposure-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function recording (): { log: Logger, warnings: string[] } {
  const warnings: string[] = []
  const log: Logger = { ...silentLogger, warn: (text) => { warnings.push(text) }, child: () => log }
  return { log, warnings }
}

describe('serve: exposure', () => {
  it('refuses plain TCP beyond loopback with INSECURE_TCP, naming the way out', async () => {
    for (const address of ['tcp://0.0.0.0:0', 'tcp://[::]:0', 'tcp://10.1.2.3:4242']) {
      await expect(createServe(next, { address })).rejects.toMatchObject({ code: 'INSECURE_TCP', message: expect.stringMatching(/^refusing plain TCP on .*--allow-insecure-tcp$/) })
    }
  })

  it('listens on loopback TCP without a word', async () => {
    const { log, warnings } = recording()
    for (const address of ['tcp://127.0.0.1:0', 'tcp://localhost:0']) {
      const instance = await createServe(next, { address }, log)
      await instance.close()
    }
    expect(warnings).toEqual([])
  })

  it('listens beyond loopback with --allow-insecure-tcp, and warns', async () => {
    const { log, warnings } = recording()
    const options = parseServeArgs(['tcp://0.0.0.0:0', '--allow-insecure-tcp'])
    expect(options).toEqual({ address: 'tcp://0.0.0.0:0', allowInsecureTcp: true })
    const instance = await createServe(next, options, log)
    try {
      await using connection = await dial(instance.address.replace('0.0.0.0', '127.0.0.1'))
      expect((await request(connection.remote, 'Ls')).args).toEqual(['ok'])
      expect(warnings).toEqual([expect.stringMatching(/plain TCP beyond loopback/)])
    } finally { await instance.close() }
  })

  it('makes its unix socket 0660 even under umask 000', async () => {
    const socket = join(dir, 'open.sock')
    const previous = process.umask(0)
    let instance
    try {
      instance = await createServe(next, { address: `unix://${socket}` })
    } finally { process.umask(previous) }
    try {
      expect(statSync(socket).mode & 0o777).toBe(0o660)
      await using connection = await dial(instance.address)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['ok'])
    } finally { await instance.close() }
  })
})
