import { describe, expect, it } from 'vitest'
import { TestEngineError, eventually, rejectionOf } from '../src/index.js'

describe('rejectionOf', () => {
  it('answers the code and message of a coded rejection', async () => {
    expect(await rejectionOf(Promise.reject(new TestEngineError('COMMAND_FAILED', 'docker exited 1')))).toEqual({ code: 'COMMAND_FAILED', message: 'docker exited 1' })
  })

  it('throws when the promise fulfils, and rethrows an error without a code', async () => {
    await expect(rejectionOf(Promise.resolve(1))).rejects.toThrow('expected a rejection, and the promise fulfilled')
    await expect(rejectionOf(Promise.reject(new Error('plain')))).rejects.toThrow('plain')
  })
})

describe('eventually', () => {
  it('stops at the first reading that is done, and answers the last one when none is', async () => {
    let reads = 0
    expect(await eventually(async () => ++reads, (value) => value === 3, { intervalMs: 1 })).toBe(3)
    expect(reads).toBe(3)
    reads = 0
    expect(await eventually(async () => ++reads, () => false, { attempts: 5, intervalMs: 1 })).toBe(5)
    expect(reads).toBe(5)
  })
})
