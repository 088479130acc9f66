/** A Docker event, as `docker events` prints it. */
export interface DockerEvent {
  Type: string
  Action: string
  status?: string
  id?: string
  from?: string
  Actor: { ID: string, Attributes: Record<string, string> }
  scope: string
  time: number
  timeNano: number
}

const encoder = new TextEncoder()
const MAX_QUEUED = 10_000

/** The framework's container events, followed by `docker events` clients. */
export class EventFeed {
  private readonly listeners = new Set<(event: DockerEvent) => void>()

  /** Sends an event to every follower. */
  publish (type: string, action: string, id: string, attributes: Record<string, string>): void {
    const now = Date.now()
    const event: DockerEvent = { Type: type, Action: action, status: action, id, from: attributes.image, Actor: { ID: id, Attributes: attributes }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 }
    for (const listener of this.listeners) listener(event)
  }

  /** Events as JSON lines, from now until `signal` aborts; a follower that reads too slowly loses the oldest. */
  async * follow (signal: AbortSignal, accept: (event: DockerEvent) => boolean = () => true): AsyncGenerator<Uint8Array, void, undefined> {
    const queue: DockerEvent[] = []
    let wake: (() => void) | undefined
    const listener = (event: DockerEvent): void => {
      if (!accept(event)) return
      queue.push(event)
      if (queue.length > MAX_QUEUED) queue.shift()
      wake?.()
    }
    const onAbort = (): void => { wake?.() }
    this.listeners.add(listener)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      while (!signal.aborted) {
        const event = queue.shift()
        if (event !== undefined) {
          yield encoder.encode(JSON.stringify(event) + '\n')
          continue
        }
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
    } finally {
      this.listeners.delete(listener)
      signal.removeEventListener('abort', onAbort)
    }
  }
}
