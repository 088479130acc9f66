/**
 * A service written in Python (test/fixtures/wire_service.py), speaking the wire from
 * PROTOCOL.md on its stdio, run by exec inside a chain.
 */
import { describe, expect, it } from 'vitest'
import { createServer, dial, message, request, spawnChain, type LogFields, type Logger, type Service, type WireConnection } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { canRunTests } from '@libswarm/test-engine'
import { exec, spawnExec } from '../../src/index.js'
import { PYTHON, WIRE_SERVICE } from '../python.js'

interface Line { level: string, text: string, fields: LogFields }
function memoryLogger (lines: Line[] = [], base: LogFields = {}): Logger & { lines: Line[] } {
  const at = (level: string) => (text: string, fields?: LogFields): void => { lines.push({ level, text, fields: { ...base, ...fields } }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (fields) => memoryLogger(lines, { ...base, ...fields }) }
}

/** The rest of the chain behind exec: answers Get, fails Stop, streams Watch. */
const back: Service = {
  name: 'back',
  usage: 'back',
  spawn: () => createServer({
    Get: (m) => message('Ack', ['back', ...m.args]),
    Stop: () => { throw Object.assign(new Error('already stopped'), { name: 'SwarmError', code: 'CONFLICT' }) },
    Watch: async (m) => {
      for (const n of ['1', '2', '3']) await m.ret?.send(message('Log', [n]))
      await m.ret?.close()
    }
  })
}

function alive (pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The child's pid, from the fields of its stderr log lines. */
function childPid (log: { lines: Line[] }): number | undefined {
  const pid = log.lines.find((line) => line.fields.stream === 'stderr')?.fields.pid
  return typeof pid === 'number' ? pid : undefined
}

async function until (condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const resolve = (name: string): Service => name === 'exec' ? exec : back

describe.runIf(canRunTests(['python3-h2']))('exec with a Python service', () => {
  it('answers Ls in Python and sends everything else back into the chain', async () => {
    const log = memoryLogger()
    await using chain = await spawnChain([`exec ${PYTHON} ${WIRE_SERVICE} snake`, 'back'], { resolve, log })
    expect((await request(chain.head, 'Ls')).args).toEqual(['snake', 'python'])
    expect((await request(chain.head, 'Get', ['a', 'b'])).args).toEqual(['back', 'a', 'b'])
    await expect(request(chain.head, 'Stop')).rejects.toMatchObject({ code: 'CONFLICT', message: 'already stopped' })
    await expect(request(chain.head, 'Spawn')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    const watched: string[] = []
    const [replies, ret] = (await import('@libswarm/core')).pipe()
    await chain.head.send(message('Watch', [], { ret }))
    for await (const reply of replies) watched.push(reply.args[0] as string)
    expect(watched).toEqual(['1', '2', '3'])
    // Its stderr lines are the service's log lines.
    const stderr = log.lines.filter((line) => line.fields.stream === 'stderr').map((line) => line.text)
    expect(stderr).toContain('wire_service: snake: control stream open')
    expect(stderr).toContain("wire_service: received Get ['a', 'b']")
    expect(stderr).toContain('wire_service: forwarded Get to the chain')
    expect(log.lines.find((line) => line.fields.stream === 'stderr')).toMatchObject({ level: 'info', fields: { service: 'exec', program: PYTHON } })
  })

  it('refuses an attachment with NOT_IMPLEMENTED, cancels its stream, and goes on', async () => {
    await using chain = await spawnChain([`exec ${PYTHON} ${WIRE_SERVICE}`, 'back'], { resolve })
    let pulled = 0
    let ended = false
    const stream = (async function * () {
      try {
        for (let n = 0; n < 10_000; n++) {
          pulled++
          yield new Uint8Array(64 * 1024)
        }
      } finally {
        ended = true
      }
    })()
    await expect(request(chain.head, 'File', ['upload'], { stream })).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED', message: 'wire_service.py does not take attachments' })
    await until(() => ended)
    // Cancelled long before 10,000 chunks (640 MB).
    expect(pulled).toBeLessThan(2000)
    expect((await request(chain.head, 'Ls')).args[1]).toBe('python')
  })

  it('keeps flow control working past a channel window: 3 MiB of requests', async () => {
    await using chain = await spawnChain([`exec ${PYTHON} ${WIRE_SERVICE}`, 'back'], { resolve })
    const big = 'x'.repeat(16 * 1024)
    const replies = await Promise.all(Array.from({ length: 192 }, async (_, n) => await request(chain.head, 'Get', [String(n), big])))
    expect(replies.map((reply) => reply.args[1])).toEqual(Array.from({ length: 192 }, (_, n) => String(n)))
    expect(replies.every((reply) => reply.args[2] === big)).toBe(true)
  })

  it('answers UNAVAILABLE once the child is gone, for pending and later requests', async () => {
    const log = memoryLogger()
    const instance = await spawnExec({ program: 'sh', args: ['-c', 'sleep 0.3; exit 3'] }, { next: back.spawn([], {} as never) as never, log })
    const pending = request(instance, 'Get', ['x'])
    await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'exec: sh exited with code 3' })
    await expect(request(instance, 'Ls')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'exec: sh exited with code 3' })
    expect(log.lines.some((line) => line.level === 'warn' && line.text === 'exec: sh exited with code 3')).toBe(true)
    await instance.close()
    await expect(request(instance, 'Ls')).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('answers UNAVAILABLE when the Python service is killed', async () => {
    const log = memoryLogger()
    await using chain = await spawnChain([`exec ${PYTHON} ${WIRE_SERVICE}`, 'back'], { resolve, log })
    expect((await request(chain.head, 'Ls')).args[1]).toBe('python')
    await until(() => childPid(log) !== undefined)
    const pid = childPid(log)
    expect(alive(pid)).toBe(true)
    process.kill(pid as number, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 200))
    await expect(request(chain.head, 'Ls')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/was killed by SIGKILL/) })
  })

  it('stops the child on close: SIGTERM, then SIGKILL for one that ignores it', async () => {
    const log = memoryLogger()
    const stubborn = await spawnExec({ program: 'sh', args: ['-c', 'echo started >&2; trap "" TERM; exec sleep 30'], killTimeout: 300 }, { next: back.spawn([], {} as never) as never, log })
    await until(() => log.lines.some((line) => line.text === 'started'))
    await until(() => childPid(log) !== undefined)
    const pid = childPid(log)
    expect(alive(pid)).toBe(true)
    const started = Date.now()
    await stubborn.close()
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(alive(pid)).toBe(false)
    expect(log.lines.some((line) => line.text.includes('did not stop on SIGTERM within 300 ms: SIGKILL'))).toBe(true)
    await stubborn.close()
  })

  it('the Python service leaves when the chain closes', async () => {
    const log = memoryLogger()
    const chain = await spawnChain([`exec ${PYTHON} ${WIRE_SERVICE} leaving`, 'back'], { resolve, log })
    await request(chain.head, 'Ls')
    await until(() => childPid(log) !== undefined)
    const pid = childPid(log)
    expect(alive(pid)).toBe(true)
    await chain.close()
    expect(alive(pid)).toBe(false)
  })

  describe('compliance', () => {
    for (const test of complianceTests({ service: exec, args: [PYTHON, WIRE_SERVICE], timeout: 5000 })) it(test.name, test.run)
  })
})

describe.runIf(canRunTests(['python3-h2']))('the Python service listening on a unix socket', () => {
  async function dialPython (extra: string[], check: (connection: WireConnection, stderr: () => string) => Promise<void>): Promise<void> {
    const { spawn } = await import('node:child_process')
    const { mkdtempSync, rmSync, existsSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'libswarm-python-listen-'))
    const path = join(dir, 'python.sock')
    const child = spawn(PYTHON, [WIRE_SERVICE, 'listener', '--listen', path, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    try {
      await until(() => existsSync(path))
      // Messages the Python service does not answer itself come back to this end's service.
      await using connection = await dial(`unix://${path}`, { service: back.spawn([], {} as never) as never })
      await check(connection, () => stderr)
    } finally {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('accepts the return connection Node asks for: its frames come back on the second socket', async () => {
    await dialPython([], async (connection, stderr) => {
      expect((await request(connection.remote, 'Ls')).args).toEqual(['listener', 'python'])
      expect((await request(connection.remote, 'Get', ['x'])).args).toEqual(['back', 'x'])
      expect(stderr()).toContain('listener: control stream open (return connection asked for)')
      expect(stderr()).toContain('listener: return connection open')
      expect(stderr().match(/connection accepted/g)?.length).toBe(2)
    })
  })

  it('without return connections (--no-return), Node runs the connection as one', async () => {
    await dialPython(['--no-return'], async (connection, stderr) => {
      expect((await request(connection.remote, 'Ls')).args).toEqual(['listener', 'python'])
      expect((await request(connection.remote, 'Get', ['x'])).args).toEqual(['back', 'x'])
      // The first connection asked for a return connection and got no echo; the second ran as one.
      expect(stderr()).not.toContain('return connection open')
      expect(stderr().match(/connection accepted/g)?.length).toBe(2)
    })
  })
})
