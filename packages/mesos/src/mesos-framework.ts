import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ErrorCode, SwarmError, silentLogger, type Logger } from '@libswarm/core'
import type { ContainerRecord } from './container-record.js'
import { MesosErrorCode } from './errors.js'
import type { EventFeed } from './event-feed.js'
import type { MesosAttribute, MesosOffer, MesosResource, MesosTaskInfo, MesosTaskStatus } from './mesos-types.js'
import { TERMINAL_STATES } from './mesos-types.js'
import type { MesosOptions } from './mesos-options.js'
import { SchedulerClient } from './scheduler-client.js'
import { describeSpec, fitTask, offerSpace } from './task-spec.js'

/** An agent as the offers and updates showed it. */
export interface AgentView {
  id: string
  hostname: string
  attributes: MesosAttribute[]
  /** Resources of its last offer, plus those of the framework's tasks on it. */
  offered: MesosResource[]
  lost: boolean
  seen: Date
}

interface Waiter {
  resolve: () => void
  reject: (error: Error) => void
}

const WEEK = 7 * 24 * 3600
const LAUNCH_TIMEOUT_MS = 120_000

/**
 * The framework: subscribed through a {@link SchedulerClient}, it places containers on
 * offers (ACCEPT with LAUNCH, DECLINE of the rest with refuse_seconds, REVIVE when work
 * arrives, SUPPRESS when there is none), turns status updates into container states and
 * Docker events, kills tasks, and reconciles after every (re-)subscription.
 */
export class MesosFramework {
  readonly scheduler: SchedulerClient
  readonly records = new Map<string, ContainerRecord>()
  readonly agents = new Map<string, AgentView>()
  private readonly byTask = new Map<string, ContainerRecord>()
  private readonly queue: ContainerRecord[] = []
  private readonly launchWaiters = new Map<ContainerRecord, Waiter>()
  private readonly endWaiters = new Map<ContainerRecord, Array<() => void>>()
  private readonly deadlines = new Map<ContainerRecord, ReturnType<typeof setTimeout>>()
  private suppressed = false
  private declinedSinceRevive = false
  private readonly log: Logger
  /** Milliseconds between a run's start and its ACCEPT (its wait for an offer), last 1,000 launches. */
  readonly offerWaits: number[] = []
  /** Called after a container's task ended (`--rm` removes it). */
  onEnded: ((record: ContainerRecord) => void) | undefined
  /** Called for a status update of a task this process does not know (a restarted swarmd takes it back). */
  onUnknownTask: ((status: MesosTaskStatus) => Promise<void>) | undefined

  constructor (private readonly options: MesosOptions, private readonly feed: EventFeed, log?: Logger) {
    this.log = log ?? silentLogger
    const frameworkId = options.frameworkIdFile === undefined ? undefined : readFrameworkId(options.frameworkIdFile)
    this.scheduler = new SchedulerClient({
      master: options.master,
      framework: {
        user: options.user ?? 'root',
        name: options.name ?? 'libswarm',
        ...(frameworkId === undefined ? {} : { id: { value: frameworkId } }),
        failover_timeout: options.failoverTimeout ?? WEEK,
        checkpoint: true,
        roles: [options.role ?? '*'],
        capabilities: [{ type: 'MULTI_ROLE' }, { type: 'TASK_KILLING_STATE' }],
        ...(options.principal === undefined ? {} : { principal: options.principal })
      },
      principal: options.principal,
      secret: options.secret,
      tls: { ca: options.masterCa, cert: options.masterCert, key: options.masterKey },
      heartbeatMisses: options.heartbeatMisses,
      log: this.log
    }, {
      subscribed: async (id) => { await this.subscribed(id) },
      offers: async (offers) => { await this.offers(offers) },
      rescind: () => {},
      update: async (status) => { await this.update(status) },
      agentLost: (agentId) => { this.agentLost(agentId) },
      disconnected: () => {}
    })
  }

  start (): void {
    this.scheduler.start()
  }

  async close (): Promise<void> {
    for (const timer of this.deadlines.values()) clearTimeout(timer)
    for (const [record, waiter] of this.launchWaiters) waiter.reject(new SwarmError(ErrorCode.ChannelClosed, `mesos is closing; ${record.name} was not launched`))
    this.launchWaiters.clear()
    await this.scheduler.close()
  }

  /** The record of a Mesos task id. */
  recordOfTask (taskId: string): ContainerRecord | undefined {
    return this.byTask.get(taskId)
  }

  /** Adds a container recovered from an agent (after swarmd restarted). */
  adopt (record: ContainerRecord): void {
    this.records.set(record.id, record)
    if (record.taskId !== undefined) this.byTask.set(record.taskId, record)
  }

  /**
   * Launches a container as a task: waits for a fitting offer (within the offer timeout),
   * ACCEPTs it with a LAUNCH, and resolves once the task is RUNNING.
   */
  async launch (record: ContainerRecord): Promise<void> {
    if (record.phase === 'running') return
    if (record.phase === 'waiting-offer' || record.phase === 'launching') throw new SwarmError(ErrorCode.Conflict, `container ${record.name} is already being started`)
    record.launches++
    record.taskId = `${record.id}.${record.launches}`
    record.task = undefined
    record.agentId = undefined
    record.hostname = undefined
    record.agentContainerId = undefined
    record.state = undefined
    record.error = undefined
    this.byTask.set(record.taskId, record)
    const done = new Promise<void>((resolve, reject) => { this.launchWaiters.set(record, { resolve, reject }) })
    this.enqueue(record, Date.now())
    const timeoutMs = (this.options.offerTimeout ?? 30) * 1000
    this.deadlines.set(record, setTimeout(() => { this.offerTimedOut(record, timeoutMs) }, timeoutMs))
    try {
      await done
    } finally {
      clearTimeout(this.deadlines.get(record))
      this.deadlines.delete(record)
    }
  }

  private enqueued = new Map<ContainerRecord, number>()

  private enqueue (record: ContainerRecord, since: number): void {
    record.phase = 'waiting-offer'
    this.queue.push(record)
    this.enqueued.set(record, since)
    if (this.suppressed || this.declinedSinceRevive) {
      this.suppressed = false
      this.declinedSinceRevive = false
      this.scheduler.call({ type: 'REVIVE', revive: { roles: [this.options.role ?? '*'] } }).catch((error: unknown) => { this.log.warn('revive failed', { error: (error as Error).message }) })
    }
  }

  private offerTimedOut (record: ContainerRecord, timeoutMs: number): void {
    if (record.phase === 'waiting-offer') {
      this.dequeue(record)
      record.phase = 'created'
      const agents = [...this.agents.values()].filter((agent) => !agent.lost).length
      this.settleLaunch(record, new SwarmError(MesosErrorCode.NoFittingOffer,
        `mesos: no Mesos offer fitted ${record.name} (${describeSpec(record.spec)}) within ${timeoutMs / 1000} s; ${agents} agent(s) seen${this.scheduler.connected ? '' : `; not subscribed to the master (${this.scheduler.lastError ?? 'connecting'})`}`))
      return
    }
    if (record.phase === 'launching') {
      this.deadlines.set(record, setTimeout(() => {
        if (record.phase !== 'launching') return
        void this.kill(record).catch(() => {})
        this.settleLaunch(record, new SwarmError(ErrorCode.Timeout, `mesos: task ${record.taskId ?? ''} of ${record.name} did not reach TASK_RUNNING within ${LAUNCH_TIMEOUT_MS / 1000} s (last state ${record.state ?? 'none'})`))
      }, LAUNCH_TIMEOUT_MS))
    }
  }

  private dequeue (record: ContainerRecord): void {
    const index = this.queue.indexOf(record)
    if (index >= 0) this.queue.splice(index, 1)
  }

  /** Forgets a container that never launched (`docker rm` of a created container). */
  forget (record: ContainerRecord): void {
    this.dequeue(record)
    this.settleLaunch(record, new SwarmError(ErrorCode.Aborted, `container ${record.name} was removed`))
    this.records.delete(record.id)
    if (record.taskId !== undefined) this.byTask.delete(record.taskId)
  }

  /** KILLs a container's task and waits (bounded) for its terminal update. */
  async kill (record: ContainerRecord, timeoutMs = 20_000): Promise<void> {
    if (record.phase === 'waiting-offer') {
      this.dequeue(record)
      record.phase = 'created'
      this.settleLaunch(record, new SwarmError(ErrorCode.Aborted, `container ${record.name} was stopped before it was placed`))
      return
    }
    if (record.phase !== 'running' && record.phase !== 'launching') return
    const ended = this.ended(record)
    await this.scheduler.call({ type: 'KILL', kill: { task_id: { value: record.taskId as string }, ...(record.agentId === undefined ? {} : { agent_id: { value: record.agentId } }) } })
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([ended, new Promise((_resolve, reject) => {
        timer = setTimeout(() => { reject(new SwarmError(ErrorCode.Timeout, `mesos: task ${record.taskId ?? ''} was not reported killed within ${timeoutMs / 1000} s`)) }, timeoutMs)
      })])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Resolves when the container's task reaches a terminal state (at once when it is not
   * running, unless `nextExit`: then it waits for the end of the next run, as `docker run` does).
   */
  async ended (record: ContainerRecord, signal?: AbortSignal, nextExit = false): Promise<void> {
    if (!nextExit && (record.phase === 'exited' || record.phase === 'lost' || record.phase === 'created')) return
    await new Promise<void>((resolve, reject) => {
      const list = this.endWaiters.get(record) ?? []
      const done = (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        this.endWaiters.set(record, (this.endWaiters.get(record) ?? []).filter((each) => each !== done))
        reject(signal?.reason as Error)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      list.push(done)
      this.endWaiters.set(record, list)
    })
  }

  /** Resolves once the container runs; resolves false when its launch failed or it ended first. */
  async running (record: ContainerRecord, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (record.phase === 'running') return true
      if (record.phase === 'exited' || record.phase === 'lost') return false
      await new Promise<void>((resolve) => {
        const done = (): void => { this.changed.delete(done); signal.removeEventListener('abort', done); resolve() }
        this.changed.add(done)
        signal.addEventListener('abort', done, { once: true })
      })
    }
    return false
  }

  private readonly changed = new Set<() => void>()

  private notify (): void {
    for (const done of [...this.changed]) done()
  }

  private settleLaunch (record: ContainerRecord, error?: Error): void {
    this.notify()
    if (error !== undefined) {
      // a launch that never ran ends a `docker run`'s wait for the next exit too
      for (const done of this.endWaiters.get(record) ?? []) done()
      this.endWaiters.delete(record)
    }
    const waiter = this.launchWaiters.get(record)
    if (waiter === undefined) return
    this.launchWaiters.delete(record)
    if (error === undefined) waiter.resolve()
    else waiter.reject(error)
  }

  private async subscribed (frameworkId: string): Promise<void> {
    if (this.options.frameworkIdFile !== undefined) writeFrameworkId(this.options.frameworkIdFile, frameworkId, this.log)
    this.suppressed = false
    // offers made to an earlier subscription are gone: ask for offers again if work waits
    if (this.queue.length > 0) this.declinedSinceRevive = true
    const live = [...this.records.values()].filter((record) => record.taskId !== undefined && (record.phase === 'running' || record.phase === 'launching'))
    const reconcile = async (tasks: Array<{ task_id: { value: string }, agent_id?: { value: string } }>): Promise<void> => {
      await this.scheduler.call({ type: 'RECONCILE', reconcile: { tasks } }).catch((error: unknown) => { this.log.warn('reconcile failed', { error: (error as Error).message }) })
    }
    // explicit for the tasks we know, then implicit for the ones a restarted swarmd forgot
    if (live.length > 0) await reconcile(live.map((record) => ({ task_id: { value: record.taskId as string }, ...(record.agentId === undefined ? {} : { agent_id: { value: record.agentId } }) })))
    await reconcile([])
    if (this.queue.length > 0) {
      this.declinedSinceRevive = false
      await this.scheduler.call({ type: 'REVIVE', revive: { roles: [this.options.role ?? '*'] } }).catch(() => {})
    }
  }

  private async offers (offers: MesosOffer[]): Promise<void> {
    const accepts: Array<{ offer: MesosOffer, tasks: MesosTaskInfo[], records: ContainerRecord[] }> = []
    const declines: MesosOffer[] = []
    for (const offer of offers) {
      this.agents.set(offer.agent_id.value, { id: offer.agent_id.value, hostname: offer.hostname, attributes: offer.attributes ?? [], offered: offer.resources ?? [], lost: false, seen: new Date() })
      const space = offerSpace(offer)
      const tasks: MesosTaskInfo[] = []
      const placed: ContainerRecord[] = []
      for (const record of [...this.queue]) {
        const task = fitTask(record.spec, space, record.taskId as string, record.name)
        if (task === undefined) continue
        this.dequeue(record)
        record.phase = 'launching'
        record.task = task
        record.agentId = offer.agent_id.value
        record.hostname = offer.hostname
        tasks.push(task)
        placed.push(record)
      }
      if (tasks.length > 0) accepts.push({ offer, tasks, records: placed })
      else declines.push(offer)
    }
    const refuse = this.options.refuseSeconds ?? 5
    const calls: Array<Promise<void>> = []
    for (const { offer, tasks, records } of accepts) {
      const now = Date.now()
      for (const record of records) {
        const offerWaitMs = now - (this.enqueued.get(record) ?? now)
        this.recordOfferWait(offerWaitMs)
        this.log.debug('placed', { container: record.name, task: record.taskId, agent: offer.hostname, offerWaitMs })
      }
      calls.push(this.scheduler.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: tasks } }], filters: { refuse_seconds: 0 } } })
        .catch((error: unknown) => {
          this.log.warn('accept failed', { offer: offer.id.value, error: (error as Error).message })
          for (const record of records) if (record.phase === 'launching' && record.state === undefined) this.enqueue(record, this.enqueued.get(record) ?? Date.now())
        }))
    }
    if (declines.length > 0) {
      this.declinedSinceRevive = true
      calls.push(this.scheduler.call({ type: 'DECLINE', decline: { offer_ids: declines.map((offer) => offer.id), filters: { refuse_seconds: refuse } } }).catch(() => {}))
      if (this.queue.length === 0 && !this.suppressed) {
        this.suppressed = true
        calls.push(this.scheduler.call({ type: 'SUPPRESS', suppress: { roles: [this.options.role ?? '*'] } }).catch(() => {}))
      }
    }
    await Promise.all(calls)
  }

  private recordOfferWait (ms: number): void {
    this.offerWaits.push(ms)
    if (this.offerWaits.length > 1000) this.offerWaits.shift()
  }

  private agentLost (agentId: string): void {
    const agent = this.agents.get(agentId)
    if (agent !== undefined) agent.lost = true
  }

  private async update (status: MesosTaskStatus): Promise<void> {
    const record = this.byTask.get(status.task_id.value)
    if (record === undefined) {
      // not awaited: taking a task back may wait for an offer naming its agent, and offers come on this same stream
      void this.onUnknownTask?.(status)
      return
    }
    if (record.taskId !== status.task_id.value) return
    const state = status.state
    this.log.debug('status update', { container: record.name, task: record.taskId, state, message: status.message, reason: status.reason })
    record.lastStatus = status
    if (status.agent_id !== undefined) record.agentId ??= status.agent_id.value
    const attributes = { name: record.name, image: record.spec.image, ...(record.hostname === undefined ? {} : { node: record.hostname }), 'mesos.state': state }
    if (state === 'TASK_RUNNING') {
      record.state = state
      const first = record.phase !== 'running'
      record.phase = 'running'
      record.agentContainerId = containerIdOf(status) ?? record.agentContainerId
      if (record.hostname === undefined && record.agentId !== undefined) record.hostname = this.agents.get(record.agentId)?.hostname
      if (first) {
        record.startedAt = new Date((status.timestamp ?? Date.now() / 1000) * 1000).toISOString()
        this.feed.publish('container', 'start', record.id, attributes)
      }
      this.settleLaunch(record)
      return
    }
    if (!TERMINAL_STATES.has(state) && state !== 'TASK_UNREACHABLE') {
      // STAGING, STARTING, KILLING: a reconciliation may repeat them
      record.state = state
      if (record.phase === 'created' || record.phase === 'waiting-offer') record.phase = 'launching'
      return
    }
    if (status.reason === 'REASON_INVALID_OFFERS' && record.phase === 'launching' && record.state === undefined) {
      // the offer was rescinded as we accepted it: the task never started, place it again
      this.log.info('offer was invalid, placing again', { container: record.name, task: record.taskId })
      record.task = undefined
      record.agentId = undefined
      record.hostname = undefined
      this.enqueue(record, this.enqueued.get(record) ?? Date.now())
      return
    }
    const wasLaunching = record.phase === 'launching'
    record.state = state
    record.finishedAt = new Date((status.timestamp ?? Date.now() / 1000) * 1000).toISOString()
    record.error = status.message
    if (state === 'TASK_LOST' || state === 'TASK_GONE' || state === 'TASK_UNREACHABLE' || state === 'TASK_DROPPED' || state === 'TASK_GONE_BY_OPERATOR') {
      record.phase = 'lost'
      record.exitCode = 255
    } else {
      record.phase = 'exited'
      record.exitCode = exitCodeOf(status)
    }
    if (wasLaunching) {
      this.settleLaunch(record, new SwarmError(MesosErrorCode.TaskFailed, `mesos: task ${record.taskId ?? ''} of ${record.name} ended ${state} on ${record.hostname ?? 'its agent'}: ${status.message ?? status.reason ?? 'no message'}`))
    }
    if (!wasLaunching || record.startedAt !== undefined) this.feed.publish('container', 'die', record.id, { ...attributes, exitCode: String(record.exitCode) })
    for (const done of this.endWaiters.get(record) ?? []) done()
    this.endWaiters.delete(record)
    this.notify()
    this.onEnded?.(record)
  }
}

function containerIdOf (status: MesosTaskStatus): string | undefined {
  if (status.data === undefined) return undefined
  try {
    const inspect = JSON.parse(Buffer.from(status.data, 'base64').toString('utf8')) as Array<{ Id?: string }> | { Id?: string }
    const first = Array.isArray(inspect) ? inspect[0] : inspect
    return typeof first?.Id === 'string' ? first.Id : undefined
  } catch {
    return undefined
  }
}

function exitCodeOf (status: MesosTaskStatus): number {
  const match = /exited with status (-?\d+)/.exec(status.message ?? '')
  if (match !== null) return Number(match[1])
  if (status.state === 'TASK_FINISHED') return 0
  if (status.state === 'TASK_KILLED') return 137
  return 1
}

function readFrameworkId (file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim()
    return text === '' ? undefined : text
  } catch {
    return undefined
  }
}

function writeFrameworkId (file: string, id: string, log: Logger): void {
  try {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, id + '\n')
  } catch (error) {
    log.warn('cannot keep the framework id', { file, error: (error as Error).message })
  }
}
