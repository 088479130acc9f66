import { ErrorCode, SwarmError } from './errors.js'
import type { Sender } from './message.js'
import { createServer } from './server.js'

/**
 * Named services under one channel: `Attach NAME` answers an Ack whose `ret` is the
 * child, and `Ls` answers the names. Closing the tree closes the children.
 */
export function createTree (children: ReadonlyMap<string, Sender> | Record<string, Sender>): Sender {
  const entries = children instanceof Map ? children : new Map(Object.entries(children))
  return createServer({
    Attach: (message) => {
      const name = message.args[0] ?? ''
      const child = entries.get(name)
      if (child === undefined) throw new SwarmError(ErrorCode.NotFound, `no such child: ${name}`)
      return { verb: 'Ack', args: [name], ret: child }
    },
    Ls: () => ({ verb: 'Ack', args: [...entries.keys()] })
  }, {
    onClose: async () => {
      for (const child of entries.values()) await child.close().catch(() => {})
    }
  })
}
