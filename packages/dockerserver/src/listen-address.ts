import { chmod, lstat, unlink } from 'node:fs/promises'
import net from 'node:net'
import { SwarmError } from '@libswarm/core'
import { DockerServerErrorCode } from './errors.js'

/** Where dockerserver listens, parsed from dockerd's `-H` syntax. */
export type ListenAddress =
  | { readonly kind: 'unix', readonly path: string }
  | { readonly kind: 'tcp', readonly host: string, readonly port: number }

const TCP = /^tcp:\/\/(\[[0-9a-fA-F:.]*\]|[^:/[\]]*)(?::(\d{1,5}))?\/?$/

/**
 * Parses `unix:///path/to.sock` or `tcp://HOST:PORT` (`tcp://[::1]:2375`; without a port,
 * 2375, or 2376 with TLS, as dockerd). An empty host means every interface.
 */
export function parseListenAddress (text: string, options: { tls?: boolean } = {}): ListenAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length)
    if (path === '' || path.includes('\0')) throw badAddress(text)
    return { kind: 'unix', path }
  }
  const match = TCP.exec(text)
  if (match === null) throw badAddress(text)
  const rawHost = match[1] ?? ''
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  const port = match[2] === undefined ? (options.tls === true ? 2376 : 2375) : Number(match[2])
  if (port > 65535) throw badAddress(text)
  if (host !== '' && net.isIP(host) === 0 && !/^[a-zA-Z0-9.-]+$/.test(host)) throw badAddress(text)
  return { kind: 'tcp', host: host === '' ? '0.0.0.0' : host, port }
}

function badAddress (text: string): SwarmError {
  return new SwarmError(DockerServerErrorCode.BadAddress, `bad address ${JSON.stringify(text)}: expected unix:///PATH or tcp://HOST:PORT`)
}

/** The address as a URL again, with the port actually bound (for `tcp://127.0.0.1:0`). */
export function formatListenAddress (address: ListenAddress, server?: net.Server): string {
  if (address.kind === 'unix') return `unix://${address.path}`
  const bound = server?.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return `tcp://${host}:${port}`
}

/**
 * Listens on one address. A unix socket left behind by a dead process is removed; one
 * that still answers is "in use"; the socket gets mode 0660, as dockerd's does.
 */
export async function listenOn (server: net.Server, address: ListenAddress): Promise<void> {
  const label = formatListenAddress(address)
  if (address.kind === 'unix') await removeStaleSocket(address.path, label)
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => { reject(listenError(error, label)) }
    server.once('error', onError)
    const done = (): void => { server.off('error', onError); resolve() }
    if (address.kind === 'unix') server.listen(address.path, done)
    else server.listen({ host: address.host, port: address.port }, done)
  })
  if (address.kind === 'unix') await chmod(address.path, 0o660)
}

/** Removes our unix socket file, if it is still there. */
export async function removeSocketFile (address: ListenAddress): Promise<void> {
  if (address.kind !== 'unix') return
  try {
    const stat = await lstat(address.path)
    if (stat.isSocket()) await unlink(address.path)
  } catch {}
}

async function removeStaleSocket (path: string, label: string): Promise<void> {
  let stat
  try {
    stat = await lstat(path)
  } catch {
    return
  }
  if (!stat.isSocket()) {
    throw new SwarmError(DockerServerErrorCode.AddressInUse, `${label}: ${path} exists and is not a socket`)
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => { resolve(false) })
  })
  if (alive) throw new SwarmError(DockerServerErrorCode.AddressInUse, `${label}: address already in use (another server answers on ${path})`)
  await unlink(path)
}

function listenError (error: NodeJS.ErrnoException, label: string): SwarmError {
  switch (error.code) {
    case 'EADDRINUSE': return new SwarmError(DockerServerErrorCode.AddressInUse, `${label}: address already in use`, { cause: error })
    case 'EADDRNOTAVAIL': return new SwarmError(DockerServerErrorCode.BadAddress, `${label}: cannot assign requested address`, { cause: error })
    case 'ENOTFOUND': case 'EAI_AGAIN': return new SwarmError(DockerServerErrorCode.BadAddress, `${label}: unknown host`, { cause: error })
    case 'EACCES': case 'EPERM': return new SwarmError(DockerServerErrorCode.BadAddress, `${label}: permission denied`, { cause: error })
    case 'ENOENT': return new SwarmError(DockerServerErrorCode.BadAddress, `${label}: no such directory`, { cause: error })
    default: return new SwarmError(DockerServerErrorCode.BadAddress, `${label}: ${error.message}`, { cause: error })
  }
}
