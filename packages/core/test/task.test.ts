import { describe, expect, it } from 'vitest'
import { createTask, message, pipe } from '../src/index.js'

describe('createTask', () => {
  it('runs its body over the messages sent to it, in order', async () => {
    const [out, output] = pipe()
    const task = createTask(output, async ({ input, output }) => {
      for await (const m of input) await output.send({ ...m, args: m.args.map((a) => a.toUpperCase()) })
      await output.close()
    })
    await task.send(message('Log', ['a']))
    await task.send(message('Log', ['b']))
    await task.close()
    const seen: string[] = []
    for await (const m of out) seen.push(m.args[0] as string)
    expect(seen).toEqual(['A', 'B'])
  })

  it('applies backpressure: send waits while the body is behind', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const [, output] = pipe()
    const task = createTask(output, async ({ input }) => {
      await gate
      for await (const _ of input) { /* drain */ }
    }, { highWaterMark: 1 })
    await task.send(message('Log'))
    let second = false
    const pending = task.send(message('Log')).then(() => { second = true })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(second).toBe(false)
    release()
    await pending
    expect(second).toBe(true)
    await task.close()
  })

  it('aborts its signal on close and waits for the body to return', async () => {
    const [, output] = pipe()
    let aborted = false
    let finished = false
    const task = createTask(output, async ({ signal }) => {
      await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { aborted = true; resolve() }) })
      finished = true
    })
    await task.close()
    expect(aborted).toBe(true)
    expect(finished).toBe(true)
  })

  it('refuses sends once its body has failed', async () => {
    const [, output] = pipe()
    const task = createTask(output, async () => { throw new Error('body failed') })
    await new Promise((resolve) => setTimeout(resolve, 5))
    await expect(task.send(message('Log'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
    await task.close()
  })
})
