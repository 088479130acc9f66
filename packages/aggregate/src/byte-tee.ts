import type { ByteStream } from '@libswarm/core'

const HIGH_WATER = 16

/**
 * Splits one byte stream into `count` streams that each see every chunk. The source is
 * read only while every reader has fewer than 16 chunks waiting, so the slowest reader
 * sets the pace and memory stays bounded. A reader that stops early is dropped.
 */
export function teeStream (source: ByteStream, count: number): ByteStream[] {
  const iterator = source[Symbol.asyncIterator]()
  const queues: Array<Uint8Array[] | undefined> = Array.from({ length: count }, () => [])
  let done = false
  let failure: unknown
  let pulling: Promise<void> | undefined
  let waiters: Array<() => void> = []

  const wakeAll = (): void => {
    const woken = waiters
    waiters = []
    for (const wake of woken) wake()
  }
  const pull = (): Promise<void> => {
    pulling ??= (async () => {
      try {
        const next = await iterator.next()
        if (next.done === true) done = true
        else for (const queue of queues) queue?.push(next.value)
      } catch (error) {
        failure = error
        done = true
      } finally {
        pulling = undefined
        wakeAll()
      }
    })()
    return pulling
  }
  const roomForAll = (): boolean => queues.every((queue) => queue === undefined || queue.length < HIGH_WATER)

  const drop = (index: number): void => {
    if (queues[index] === undefined) return
    queues[index] = undefined
    wakeAll()
    if (queues.every((queue) => queue === undefined) && !done) void iterator.return?.()?.catch(() => {})
  }
  const read = async function * (index: number): AsyncGenerator<Uint8Array> {
    try {
      while (true) {
        const queue = queues[index]
        if (queue === undefined) return
        const chunk = queue.shift()
        if (chunk !== undefined) {
          wakeAll()
          yield chunk
          continue
        }
        if (done) {
          if (failure !== undefined) throw failure
          return
        }
        if (roomForAll()) await pull()
        else await new Promise<void>((resolve) => { waiters.push(resolve) })
      }
    } finally {
      drop(index)
    }
  }
  return queues.map((_queue, index): ByteStream => {
    const reader = read(index)
    // returning before the first read must drop the reader too, which a generator's finally alone would not
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => await reader.next(),
        return: async () => {
          drop(index)
          return await reader.return(undefined)
        }
      })
    }
  })
}
