import { request, type Message, type Sender, type ServiceInstance } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, type DockerRequest } from '@libswarm/docker-api'
import { createAggregate, type AggregateOptions } from '../src/index.js'
import { fakeEngine, type FakeEngine, type FakeEngineOptions } from './fake-engine.js'

export interface Answer {
  status: number
  json: any
  text: string
  message: Message
}

/** Sends one Docker request to a service and decodes the reply (Error replies throw). */
export async function docker (service: Sender, operation: string, target = '', extra: Partial<DockerRequest> = {}): Promise<Answer> {
  const encoded = encodeDockerRequest({ operation, target, ...extra })
  const message = await request(service, encoded.verb, encoded.args, { stream: encoded.stream, caller: encoded.caller })
  const reply = decodeDockerReply(message)
  let text = reply.body ?? ''
  if (reply.stream !== undefined && !['SystemEvents'].includes(operation)) {
    const decoder = new TextDecoder()
    for await (const chunk of reply.stream) text += decoder.decode(chunk, { stream: true })
  }
  let json: any
  try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
  return { status: reply.status, json, text, message }
}

/** The error a request fails with. */
export async function failure (promise: Promise<unknown>): Promise<{ code: string, message: string }> {
  try {
    await promise
  } catch (error) {
    return error as { code: string, message: string }
  }
  throw new Error('expected the request to fail')
}

export interface Cluster extends AsyncDisposable {
  service: ServiceInstance
  engines: FakeEngine[]
}

/** An aggregate over fake engines named node-0, node-1, ... */
export async function fakeCluster (engines: Array<Partial<FakeEngineOptions>>, options: Partial<AggregateOptions> = {}, setup?: (engines: FakeEngine[]) => void): Promise<Cluster> {
  const fakes = engines.map((engine, index) => fakeEngine({ name: `node-${index}`, ...engine }))
  setup?.(fakes)
  const service = await createAggregate({
    healthTimeoutMs: 500,
    healthIntervalMs: 200,
    maxBackoffMs: 400,
    ...options,
    children: fakes.map((fake, index) => ({ service: fake.service, addr: `127.0.0.1:${2401 + index}` }))
  }, { spawn: async () => { throw new Error('no spawning in this test') } })
  return { service, engines: fakes, [Symbol.asyncDispose]: async () => { await service.close() } }
}

/** Waits until `check` holds (polling), or fails after `ms`. */
export async function eventually (check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Creates (and optionally starts) a container through aggregate; returns its id and node. */
export async function run (service: Sender, name: string | undefined, body: Record<string, unknown> = {}, start = true): Promise<{ id: string, node: string }> {
  const created = await docker(service, 'ContainerCreate', '', { query: name === undefined ? {} : { name }, body: { Image: 'busybox', ...body } })
  const id = created.json.Id as string
  if (start) await docker(service, 'ContainerStart', id)
  const inspect = await docker(service, 'ContainerInspect', id)
  return { id, node: inspect.json.Node.Name }
}
