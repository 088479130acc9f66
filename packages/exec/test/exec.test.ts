import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { endOfChain, silentLogger } from '@libswarm/core'
import { exec } from '../src/index.js'

const context = { next: endOfChain, log: silentLogger, spawn: async () => endOfChain }

describe('exec arguments', () => {
  it('needs a PROGRAM', async () => {
    await expect(Promise.resolve().then(async () => await exec.spawn([], context))).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: 'exec: missing PROGRAM; usage: exec PROGRAM [ARGS...]' })
  })

  it('says so in one line when the program does not exist or cannot run', async () => {
    await expect(exec.spawn(['/nonexistent/program'], context)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: 'exec: cannot run /nonexistent/program: no such program' })
    const directory = await mkdtemp(join(tmpdir(), 'exec-test-'))
    try {
      const notExecutable = join(directory, 'data.txt')
      await writeFile(notExecutable, 'not a program\n', { mode: 0o644 })
      await expect(exec.spawn([notExecutable], context)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: `exec: cannot run ${notExecutable}: permission denied` })
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })

  it('has a usage line that starts with its name', () => {
    expect(exec).toMatchObject({ name: 'exec', usage: 'exec PROGRAM [ARGS...]' })
  })
})
