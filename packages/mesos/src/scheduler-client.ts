import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { SwarmError, silentLogger, type Logger } from '@libswarm/core'
import { MesosErrorCode, protocolError } from './errors.js'
import type { MesosCall, MesosEvent, MesosFrameworkInfo, MesosOffer, MesosTaskStatus } from './mesos-types.js'
import { RecordIoDecoder } from './record-io.js'

/** What the scheduler client tells its owner. Each call is awaited before the next event is read. */
export interface SchedulerEvents {
  /** Subscribed (again): `resubscribed` is true when the framework id was kept. */
  subscribed: (frameworkId: string, resubscribed: boolean) => Promise<void> | void
  offers: (offers: MesosOffer[]) => Promise<void> | void
  rescind: (offerId: string) => Promise<void> | void
  /** A status update; it is acknowledged once this returns (if it carries a uuid). */
  update: (status: MesosTaskStatus) => Promise<void> | void
  /** An agent was removed (FAILURE without an executor). */
  agentLost: (agentId: string) => Promise<void> | void
  /** The subscription ended (stream broke, heartbeats stopped, master restarted, ERROR event). */
  disconnected: (reason: string) => Promise<void> | void
}

/** TLS settings for an `https://` master. */
export interface MasterTlsOptions {
  ca?: string | Buffer | undefined
  cert?: string | Buffer | undefined
  key?: string | Buffer | undefined
  /** Default true. */
  rejectUnauthorized?: boolean | undefined
}

/** Options of {@link SchedulerClient}. */
export interface SchedulerClientOptions {
  /** `http://host:5050` or `https://host:5050`; the client posts to `/api/v1/scheduler`. */
  master: string
  framework: MesosFrameworkInfo
  /** Credentials for the master's HTTP authentication (Basic). */
  principal?: string | undefined
  secret?: string | undefined
  tls?: MasterTlsOptions | undefined
  /** The subscription is dropped after this many heartbeat intervals without an event. Default 5. */
  heartbeatMisses?: number | undefined
  /** Reconnection backoff, doubled from min to max. Defaults 100 ms and 15 s. */
  backoffMinMs?: number | undefined
  backoffMaxMs?: number | undefined
  /** A call that gets no answer in this time fails with TIMEOUT. Default 15 s. */
  callTimeoutMs?: number | undefined
  log?: Logger | undefined
}

const decoder = new TextDecoder()

/**
 * A client of the Mesos v1 scheduler HTTP API (JSON): SUBSCRIBE on a long-lived streaming
 * POST whose RecordIO events it reads, calls on other connections with the `Mesos-Stream-Id`
 * it was given, heartbeat tracking (the stream is dropped and subscribed again with the same
 * framework id when heartbeats stop), reconnection with exponential backoff, and ACKNOWLEDGE
 * of every status update carrying a uuid.
 */
export class SchedulerClient {
  private frameworkIdValue: string | undefined
  private streamId: string | undefined
  private current: ClientRequest | undefined
  private watchdog: ReturnType<typeof setTimeout> | undefined
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeatMs = 15_000
  private backoffMs: number
  private closed = false
  private readyWaiters: Array<() => void> = []
  private readonly log: Logger
  /** Times the client subscribed; the first is 1. */
  subscriptions = 0
  /** The last reason a subscription ended or failed. */
  lastError: string | undefined

  constructor (private readonly options: SchedulerClientOptions, private readonly events: SchedulerEvents) {
    this.frameworkIdValue = options.framework.id?.value
    this.backoffMs = options.backoffMinMs ?? 100
    this.log = options.log ?? silentLogger
  }

  /** The framework id the master gave (or the one it was started with). */
  get frameworkId (): string | undefined {
    return this.frameworkIdValue
  }

  /** True while subscribed. */
  get connected (): boolean {
    return this.streamId !== undefined
  }

  /** Starts subscribing; returns at once (see {@link ready}). */
  start (): void {
    this.subscribe()
  }

  /** Resolves once subscribed; rejects with TIMEOUT after `timeoutMs`. */
  async ready (timeoutMs: number): Promise<void> {
    if (this.connected) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => { clearTimeout(timer); resolve() }
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((waiter) => waiter !== done)
        reject(new SwarmError('TIMEOUT', `mesos: not subscribed to ${this.options.master} after ${timeoutMs} ms${this.lastError === undefined ? '' : ` (${this.lastError})`}`))
      }, timeoutMs)
      this.readyWaiters.push(done)
    })
  }

  /** Sends a call (not SUBSCRIBE); resolves on the master's 202, throws with its answer otherwise. */
  async call (call: MesosCall): Promise<void> {
    if (this.streamId === undefined || this.frameworkIdValue === undefined) {
      throw new SwarmError('UNAVAILABLE', `mesos: not subscribed to the master (${this.lastError ?? 'connecting'}); ${call.type} not sent`)
    }
    const body = JSON.stringify({ ...call, framework_id: { value: this.frameworkIdValue } })
    const response = await this.post(body, { 'Mesos-Stream-Id': this.streamId }, this.options.callTimeoutMs ?? 15_000)
    const text = await readAll(response)
    if (response.statusCode !== 202 && response.statusCode !== 200) {
      throw new SwarmError(MesosErrorCode.Master, `mesos: master answered ${call.type} with ${response.statusCode ?? 0}: ${text.trim()}`)
    }
  }

  /** Stops: drops the subscription (the master keeps the framework for its failover timeout). */
  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.retryTimer)
    clearTimeout(this.watchdog)
    this.current?.destroy()
    this.current = undefined
    this.streamId = undefined
  }

  private url (): URL {
    return new URL('/api/v1/scheduler', this.options.master)
  }

  private async post (body: string, headers: Record<string, string>, timeoutMs?: number, onRequest?: (request: ClientRequest) => void): Promise<IncomingMessage> {
    const url = this.url()
    const auth = this.options.principal === undefined ? {} : { Authorization: `Basic ${Buffer.from(`${this.options.principal}:${this.options.secret ?? ''}`).toString('base64')}` }
    const options: RequestOptions & Record<string, unknown> = {
      method: 'POST',
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...auth, ...headers },
      ...(url.protocol === 'https:' ? { ca: this.options.tls?.ca, cert: this.options.tls?.cert, key: this.options.tls?.key, rejectUnauthorized: this.options.tls?.rejectUnauthorized ?? true } : {})
    }
    return await new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, resolve)
      onRequest?.(request)
      request.on('error', (error) => { reject(new SwarmError('UNAVAILABLE', `mesos: ${url.origin}: ${error.message}`, { cause: error })) })
      if (timeoutMs !== undefined) {
        request.setTimeout(timeoutMs, () => { request.destroy(new SwarmError('TIMEOUT', `mesos: no answer from ${url.origin} in ${timeoutMs} ms`)) })
      }
      request.end(body)
    })
  }

  private subscribe (): void {
    if (this.closed) return
    const framework: MesosFrameworkInfo = { ...this.options.framework, ...(this.frameworkIdValue === undefined ? {} : { id: { value: this.frameworkIdValue } }) }
    const body = JSON.stringify({ type: 'SUBSCRIBE', ...(this.frameworkIdValue === undefined ? {} : { framework_id: { value: this.frameworkIdValue } }), subscribe: { framework_info: framework } })
    let request: ClientRequest | undefined
    this.post(body, { Connection: 'close' }, undefined, (made) => { request = made; this.current = made })
      .then(async (response) => { await this.readStream(response, request) })
      .catch((error: unknown) => { this.ended(request, error instanceof Error ? error.message : String(error)) })
  }

  private async readStream (response: IncomingMessage, request: ClientRequest | undefined): Promise<void> {
    if (response.statusCode !== 200) {
      const text = (await readAll(response)).trim()
      throw new Error(`SUBSCRIBE answered ${response.statusCode ?? 0}${text === '' ? '' : `: ${text}`}`)
    }
    const streamId = response.headers['mesos-stream-id']
    if (typeof streamId !== 'string' || streamId === '') throw protocolError('SUBSCRIBE answered without a Mesos-Stream-Id')
    const recordIo = new RecordIoDecoder()
    this.armWatchdog(request)
    let subscribed = false
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (this.current !== request) return
      for (const record of recordIo.push(chunk)) {
        this.armWatchdog(request)
        let event: MesosEvent
        try {
          event = JSON.parse(decoder.decode(record)) as MesosEvent
        } catch (error) {
          throw protocolError(`an event is not JSON: ${(error as Error).message}`)
        }
        if (!subscribed) {
          if (event.type !== 'SUBSCRIBED' || event.subscribed?.framework_id?.value === undefined) throw protocolError(`the first event is ${event.type}, not SUBSCRIBED`)
          subscribed = true
          await this.onSubscribed(event, streamId, request)
          continue
        }
        await this.dispatch(event)
        if (this.current !== request) return
      }
    }
    throw new Error('the master closed the event stream')
  }

  private async onSubscribed (event: MesosEvent, streamId: string, request: ClientRequest | undefined): Promise<void> {
    const id = event.subscribed?.framework_id.value as string
    const resubscribed = id === this.frameworkIdValue
    this.frameworkIdValue = id
    this.streamId = streamId
    this.subscriptions++
    this.backoffMs = this.options.backoffMinMs ?? 100
    const seconds = event.subscribed?.heartbeat_interval_seconds
    this.heartbeatMs = seconds !== undefined && seconds > 0 ? seconds * 1000 : 15_000
    this.armWatchdog(request)
    this.log.info('subscribed', { master: this.options.master, frameworkId: id, resubscribed, heartbeatSeconds: this.heartbeatMs / 1000 })
    for (const waiter of this.readyWaiters.splice(0)) waiter()
    await this.events.subscribed(id, resubscribed)
  }

  private async dispatch (event: MesosEvent): Promise<void> {
    switch (event.type) {
      case 'HEARTBEAT': return
      case 'OFFERS': await this.events.offers(event.offers?.offers ?? []); return
      case 'RESCIND': if (event.rescind?.offer_id !== undefined) await this.events.rescind(event.rescind.offer_id.value); return
      case 'UPDATE': {
        const status = event.update?.status
        if (status === undefined) return
        await this.events.update(status)
        if (status.uuid !== undefined && status.agent_id !== undefined) {
          await this.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } })
            .catch((error: unknown) => { this.log.warn('acknowledge failed', { task: status.task_id.value, error: (error as Error).message }) })
        }
        return
      }
      case 'FAILURE':
        if (event.failure?.agent_id !== undefined && event.failure.executor_id === undefined) await this.events.agentLost(event.failure.agent_id.value)
        return
      case 'ERROR':
        // the master's advice: abort and subscribe again
        throw new Error(`master sent ERROR: ${event.error?.message ?? 'no message'}`)
      default:
        this.log.debug('event ignored', { type: event.type })
    }
  }

  private armWatchdog (request: ClientRequest | undefined): void {
    clearTimeout(this.watchdog)
    const misses = this.options.heartbeatMisses ?? 5
    this.watchdog = setTimeout(() => {
      const reason = `no heartbeat from the master in ${misses} intervals of ${this.heartbeatMs / 1000} s`
      this.ended(request, reason)
    }, this.heartbeatMs * misses)
    this.watchdog.unref?.()
  }

  private ended (request: ClientRequest | undefined, reason: string): void {
    if (this.current !== request) return
    clearTimeout(this.watchdog)
    request?.destroy()
    this.current = undefined
    const wasConnected = this.streamId !== undefined
    this.streamId = undefined
    this.lastError = reason
    if (this.closed) return
    this.log.warn('subscription ended', { master: this.options.master, reason, retryInMs: this.backoffMs })
    if (wasConnected) void Promise.resolve(this.events.disconnected(reason)).catch(() => {})
    this.retryTimer = setTimeout(() => { this.subscribe() }, this.backoffMs)
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.backoffMaxMs ?? 15_000)
  }
}

async function readAll (response: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (text.length < 65_536) text += chunk.toString('utf8')
  }
  return text
}
