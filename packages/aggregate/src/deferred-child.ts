import { ErrorCode, errorMessage, isSwarmError, replyAndClose, type Message, type Sender } from '@libswarm/core'

/**
 * Spawns a child; when its engine cannot be reached yet (UNAVAILABLE at spawn), returns a
 * stand-in that tries the spawn again on each message and answers UNAVAILABLE meanwhile.
 * The node's health checks keep sending pings, so the child joins once its engine answers,
 * as classic Swarm's manager started with nodes down and picked them up later.
 */
export async function spawnDeferrable (spawn: () => Promise<Sender>): Promise<Sender> {
  try {
    return await spawn()
  } catch (error) {
    if (!isSwarmError(error) || error.code !== ErrorCode.Unavailable) throw error
    return deferredChild(spawn)
  }
}

const deferred = new WeakSet<Sender>()

/** True for the stand-in of a child whose engine could not be reached at spawn. */
export function isDeferred (child: Sender): boolean {
  return deferred.has(child)
}

function deferredChild (spawn: () => Promise<Sender>): Sender {
  let child: Sender | undefined
  let spawning: Promise<Sender> | undefined
  let closed = false
  const ready = async (): Promise<Sender> => {
    if (child !== undefined) return child
    spawning ??= spawn().finally(() => { spawning = undefined })
    const spawned = await spawning
    if (closed) {
      await spawned.close()
      throw new Error('closed')
    }
    child = spawned
    return spawned
  }
  const stand: Sender = {
    send: async (message: Message) => {
      let target: Sender
      try {
        target = await ready()
      } catch (error) {
        await replyAndClose(message.ret, errorMessage(error))
        return
      }
      await target.send(message)
    },
    close: async () => {
      closed = true
      await child?.close()
    }
  }
  deferred.add(stand)
  return stand
}
