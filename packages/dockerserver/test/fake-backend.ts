import { ErrorCode, SwarmError, createServer, type ByteStream, type Sender } from '@libswarm/core'
import { decodeDockerRequest, encodeDockerReply, type DockerReply, type DockerRequest } from '@libswarm/docker-api'

/** A request as the fake backend decoded it, with its verb. */
export interface RecordedRequest extends DockerRequest {
  readonly verb: string
}

/** Answers one decoded request; throw a SwarmError to answer `Error [code, message]`. */
export type FakeHandler = (request: RecordedRequest) => DockerReply | undefined | Promise<DockerReply | undefined>

/** The canned engine: API 1.41, one running container, stdin echoed back on attach and exec. */
export interface FakeBackend {
  readonly sender: Sender
  readonly requests: RecordedRequest[]
  /** Answers before the canned ones; return undefined to fall through. */
  override: FakeHandler | undefined
  /** The request bytes of the stream bodies, by operation (they are read to the end). */
  readonly bodies: Map<string, Buffer>
}

export const CANNED_CONTAINER = {
  Id: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00',
  Names: ['/canned-container'],
  Image: 'busybox',
  ImageID: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
  Command: 'sleep 3600',
  Created: 1700000000,
  Ports: [],
  Labels: {},
  State: 'running',
  Status: 'Up 5 minutes',
  HostConfig: { NetworkMode: 'default' },
  NetworkSettings: { Networks: {} },
  Mounts: []
}

const VERSION = {
  Platform: { Name: 'Fake Engine' },
  Components: [{ Name: 'Engine', Version: '20.10.24', Details: { ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' } }],
  Version: '20.10.24',
  ApiVersion: '1.41',
  MinAPIVersion: '1.12',
  GitCommit: 'fake',
  GoVersion: 'go1.19',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.0.0',
  BuildTime: '2023-01-01T00:00:00.000000000+00:00'
}

const ENGINE_HEADERS = { 'Api-Version': '1.41', Ostype: 'linux', 'Docker-Experimental': 'false', Server: 'Docker/20.10.24 (linux)' }

function json (value: unknown, status = 200): DockerReply {
  return { status, body: JSON.stringify(value) + '\n', headers: { ...ENGINE_HEADERS, 'Content-Type': 'application/json' } }
}

/** Docker's multiplexed frame: 8-byte header (stream, 0, 0, 0, size) then the payload. */
export function frame (streamType: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8)
  header[0] = streamType
  header.writeUInt32BE(payload.byteLength, 4)
  return Buffer.concat([header, payload])
}

/**
 * Echoes stdin back. With a TTY (raw stream) it echoes upper case, so that tests tell
 * it from the local terminal's echo, and Ctrl-D ends it as a terminal would.
 */
async function * echo (input: ByteStream | undefined, multiplexed: boolean, onEnd: () => void): AsyncGenerator<Uint8Array> {
  try {
    if (input === undefined) return
    for await (const chunk of input) {
      if (multiplexed) {
        yield frame(1, chunk)
        continue
      }
      const bytes = Buffer.from(chunk)
      const eof = bytes.indexOf(4)
      if (eof < 0) {
        yield Buffer.from(bytes.toString('latin1').toUpperCase(), 'latin1')
        continue
      }
      if (eof > 0) yield Buffer.from(bytes.subarray(0, eof).toString('latin1').toUpperCase(), 'latin1')
      return
    }
  } finally {
    onEnd()
  }
}

/** Starts the fake backend: a core `createServer` that decodes each Docker request and answers canned replies. */
export function createFakeBackend (): FakeBackend {
  const requests: RecordedRequest[] = []
  const bodies = new Map<string, Buffer>()
  const containers = new Map<string, { tty: boolean, exited: Promise<void>, exit: () => void }>()
  const execs = new Map<string, { tty: boolean }>()
  let counter = 0
  const backend: FakeBackend = {
    requests,
    bodies,
    override: undefined,
    sender: createServer({
      default: async (message) => {
        const request: RecordedRequest = { ...decodeDockerRequest(message), verb: message.verb }
        requests.push(request)
        const overridden = await backend.override?.(request)
        const reply = overridden ?? await canned(request)
        return encodeDockerReply(reply)
      }
    })
  }

  const canned = async (request: RecordedRequest): Promise<DockerReply> => {
    switch (request.operation) {
      case 'SystemPing': return { status: 200, body: 'OK', headers: { ...ENGINE_HEADERS, 'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Type': 'text/plain; charset=utf-8' } }
      case 'SystemPingHead': return { status: 200, headers: { ...ENGINE_HEADERS, 'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' } }
      case 'SystemVersion': return json(VERSION)
      case 'SystemInfo': return json({ ID: 'fake', Containers: 1, OSType: 'linux', ServerVersion: '20.10.24', Swarm: { LocalNodeState: 'inactive', ControlAvailable: false }, Name: 'fake-engine' })
      case 'ContainerList': return json([CANNED_CONTAINER])
      case 'ContainerInspect':
      case 'ImageInspect':
        if (request.target === 'nosuch') throw new SwarmError(ErrorCode.NotFound, `No such ${request.operation === 'ImageInspect' ? 'image' : 'container'}: ${request.target}`)
        return json({ Id: CANNED_CONTAINER.Id, Name: request.target, Config: { Tty: containers.get(request.target)?.tty ?? false } })
      case 'ContainerCreate': {
        const id = `fake${++counter}`.padEnd(64, '0')
        let exit = (): void => {}
        const exited = new Promise<void>((resolve) => { exit = resolve })
        containers.set(id, { tty: (request.body as { Tty?: boolean } | undefined)?.Tty === true, exited, exit })
        return json({ Id: id, Warnings: [] }, 201)
      }
      case 'ContainerAttach': {
        const container = containers.get(request.target)
        if (container === undefined) throw new SwarmError(ErrorCode.NotFound, `No such container: ${request.target}`)
        const multiplexed = !container.tty
        return {
          status: 101,
          headers: { ...ENGINE_HEADERS, 'Content-Type': multiplexed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream' },
          stream: echo(request.stream, multiplexed, container.exit)
        }
      }
      case 'ContainerWait': {
        const container = containers.get(request.target)
        if (container === undefined) throw new SwarmError(ErrorCode.NotFound, `No such container: ${request.target}`)
        return { status: 200, headers: { ...ENGINE_HEADERS, 'Content-Type': 'application/json' }, stream: (async function * () { await container.exited; yield Buffer.from('{"StatusCode":0}\n') })() }
      }
      case 'ContainerStart': return { status: 204, headers: ENGINE_HEADERS }
      case 'ContainerResize': return { status: 200, headers: ENGINE_HEADERS }
      case 'ContainerExec': {
        const id = `exec${++counter}`
        execs.set(id, { tty: (request.body as { Tty?: boolean } | undefined)?.Tty === true })
        return json({ Id: id }, 201)
      }
      case 'ExecStart': {
        const tty = (request.body as { Tty?: boolean } | undefined)?.Tty === true
        return {
          status: 101,
          headers: { ...ENGINE_HEADERS, 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' },
          stream: echo(request.stream, !tty, () => {})
        }
      }
      case 'ExecInspect': return json({ ID: request.target, Running: false, ExitCode: 0 })
      case 'ImageBuild':
      case 'PutContainerArchive':
      case 'ImageLoad': {
        const chunks: Buffer[] = []
        for await (const chunk of request.stream ?? []) chunks.push(Buffer.from(chunk))
        bodies.set(request.operation, Buffer.concat(chunks))
        return json({ stream: `received ${Buffer.concat(chunks).length} bytes\n` })
      }
      case 'SystemEvents':
        return { status: 200, headers: { ...ENGINE_HEADERS, 'Content-Type': 'application/json' }, stream: ticker() }
      default:
        if (request.operation.endsWith('Inspect') && request.target === 'nosuch') {
          throw new SwarmError(ErrorCode.NotFound, `${request.operation.replace(/Inspect$/, '').toLowerCase()} nosuch not found`)
        }
        throw new SwarmError(ErrorCode.NotFound, 'page not found')
    }
  }
  return backend
}

async function * ticker (): AsyncGenerator<Uint8Array> {
  for (let index = 0; ; index++) {
    yield Buffer.from(JSON.stringify({ Type: 'container', Action: 'tick', id: String(index), time: 1700000000 + index }) + '\n')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
