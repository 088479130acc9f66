import { ErrorCode, SwarmError, createServer, defineService, errorMessage, isSwarmError, request, type Message, type Sender, type Service, type ServiceInstance } from '@libswarm/core'
import { decodeDockerRequest, encodeDockerReply, isDockerRequest, type DockerReply } from '@libswarm/docker-api'
import { parseDockerClientArgs, resolveEngineEndpoint, type DockerClientOptions } from './engine-address.js'
import { EngineForwarder } from './engine-forwarder.js'

/** The usage line swarmd lists. */
export const DOCKERCLIENT_USAGE = 'dockerclient [ADDRESS] [--tls] [--tlsverify] [--tlscacert FILE] [--tlscert FILE] [--tlskey FILE] [--tlsservername NAME] [--ssh-key FILE] [--ssh-known-hosts FILE] [--ssh-config FILE] [--ssh-option KEY=VALUE]...'

/**
 * Creates a running dockerclient: every Docker request it receives (an operation of
 * `DOCKER_OPERATIONS`, or `Unmapped`) goes to the engine as HTTP and comes back as
 * `Ack [status, body, headers]` (+ stream); anything else goes to `next`.
 *
 * @example
 * ```ts
 * const client = createDockerClient({ address: 'unix:///var/run/docker.sock' })
 * const reply = decodeDockerReply(await request(client, 'Get', ['SystemVersion', '', '{}']))
 * ```
 */
export function createDockerClient (options: DockerClientOptions = {}, next?: Sender): ServiceInstance {
  const forwarder = new EngineForwarder(resolveEngineEndpoint(options))
  const handle = async (message: Message): Promise<void> => {
    const ret = message.ret
    let reply: DockerReply
    try {
      // a requester that stops listening aborts the engine request, before the answer or while it streams
      reply = await forwarder.forward(decodeDockerRequest(message), { signal: ret?.abandoned })
    } catch (error) {
      await sendAndClose(ret, errorMessage(error))
      return
    }
    if (ret === undefined) {
      await abandon(reply)
      return
    }
    try {
      await ret.send(encodeDockerReply(reply))
    } catch {
      // the requester closed its return channel: stop the engine request
      await abandon(reply)
    }
    try { await ret.close() } catch {}
  }
  return createServer({
    default: async (message) => {
      if (!isDockerRequest(message)) {
        if (next === undefined) throw new SwarmError(ErrorCode.NotImplemented, `dockerclient handles Docker requests only, not ${message.verb} ${message.args[0] ?? ''}`.trim())
        await next.send(message)
        return
      }
      void handle(message)
    }
  }, { onClose: () => { forwarder.close() } })
}

async function sendAndClose (ret: Sender | undefined, message: Message): Promise<void> {
  if (ret === undefined) return
  try { await ret.send(message) } catch {}
  try { await ret.close() } catch {}
}

async function abandon (reply: DockerReply): Promise<void> {
  if (reply.stream === undefined) return
  await reply.stream[Symbol.asyncIterator]().return?.()
}

const STARTUP_PING_TIMEOUT_MS = 5000

/**
 * Pings the engine once, so that a chain in front of an engine that is not there fails at
 * start with one clear line ("cannot reach engine at unix:///x.sock: ECONNREFUSED") instead
 * of at the first request. An engine that answers with an HTTP error is there: that passes.
 */
async function pingAtStartup (client: ServiceInstance, address: string): Promise<void> {
  try {
    await request(client, 'Get', ['SystemPing', '', '{}'], { signal: AbortSignal.timeout(STARTUP_PING_TIMEOUT_MS) })
  } catch (error) {
    if (isSwarmError(error) && error.code !== ErrorCode.Unavailable && error.code !== ErrorCode.Aborted) return
    await client.close()
    if (isSwarmError(error) && error.code === ErrorCode.Unavailable) throw error
    throw new SwarmError(ErrorCode.Unavailable, `engine at ${address} did not answer within ${STARTUP_PING_TIMEOUT_MS / 1000} s`, { cause: error })
  }
}

/**
 * The dockerclient service: `dockerclient [ADDRESS] [--tlscacert F --tlscert F --tlskey F] [--tlsverify]`.
 * ADDRESS is `unix:///path` or `tcp://host:port`; defaults and TLS follow the docker CLI
 * (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, then `unix:///var/run/docker.sock`).
 * Spawning it pings the engine and fails with UNAVAILABLE when the engine cannot be reached;
 * once running, it reconnects by itself after an engine restart.
 */
export const dockerclient: Service = defineService({
  name: 'dockerclient',
  usage: DOCKERCLIENT_USAGE,
  spawn: async (args, context) => {
    const options = parseDockerClientArgs(args)
    const client = createDockerClient(options, context.next)
    await pingAtStartup(client, resolveEngineEndpoint(options).address)
    return client
  }
})
