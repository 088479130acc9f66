import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import DockerModem from 'docker-modem'
import { invalidArguments } from './errors.js'
import type { SshTarget } from './ssh-connection.js'

/** Options of the dockerclient service: where the engine is and how to talk TLS to it. */
export interface DockerClientOptions {
  /**
   * `unix:///path/docker.sock`, `tcp://host:port` (or `host:port`). Default: `DOCKER_HOST`,
   * then `unix:///var/run/docker.sock`.
   */
  address?: string | undefined
  /** Use TLS (implied by `tlsVerify` and by any certificate option). */
  tls?: boolean | undefined
  /** Use TLS and verify the engine's certificate against `tlsCaCert`. Default: `DOCKER_TLS_VERIFY` set. */
  tlsVerify?: boolean | undefined
  /** PEM files; default `$DOCKER_CERT_PATH/{ca,cert,key}.pem` (or `~/.docker`) when TLS is on. */
  tlsCaCert?: string | undefined
  tlsCert?: string | undefined
  tlsKey?: string | undefined
  /**
   * The name the engine's certificate must be issued for, instead of the address's host: for
   * engines whose address is known only after their certificate was made (cloud hosts).
   */
  tlsServerName?: string | undefined
  /** For `ssh://` addresses: the private key to log in with (`ssh -i FILE`); default ssh's own (agent, `~/.ssh/id_*`, `~/.ssh/config`). */
  sshKey?: string | undefined
  /** For `ssh://` addresses: the known_hosts file the host key must be in; default `~/.ssh/known_hosts`. */
  sshKnownHosts?: string | undefined
  /** For `ssh://` addresses: the ssh config file to read instead of `~/.ssh/config`. */
  sshConfig?: string | undefined
  /** For `ssh://` addresses: more ssh options (`KEY=VALUE`, as `ssh -o`), such as `StrictHostKeyChecking=accept-new`. */
  sshOptions?: readonly string[] | undefined
  /** Environment to read DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH from. Default `process.env`. */
  env?: Record<string, string | undefined> | undefined
}

/**
 * The connection settings a docker-modem instance holds after its constructor normalised
 * them (the fields exist on every Modem, `@types/docker-modem` does not declare them).
 */
export interface ModemSettings {
  readonly socketPath?: string | undefined
  readonly host?: string | undefined
  readonly port?: number | string | undefined
  readonly protocol: 'http' | 'https' | 'ssh'
  readonly ca?: string | string[] | Buffer | Buffer[] | undefined
  readonly cert?: string | string[] | Buffer | Buffer[] | undefined
  readonly key?: string | string[] | Buffer | Buffer[] | undefined
  readonly headers: Record<string, string>
}

/** Where and how to connect: docker-modem's settings plus what modem does not keep. */
export interface EngineEndpoint {
  /** The engine as the user would write it: `unix:///run/docker.sock`, `tcp://10.0.0.2:2376`. */
  readonly address: string
  /** docker-modem configured for the engine (socketPath or host/port/protocol, ca/cert/key). */
  readonly modem: ModemSettings
  /** Verify the engine's certificate (false for `--tls` without `--tlsverify`). */
  readonly rejectUnauthorized: boolean
  /** The name the engine's certificate is checked against, when not the address's host. */
  readonly servername?: string | undefined
  /** Set for `ssh://` addresses: each connection is an ssh process running `docker system dial-stdio`. */
  readonly ssh?: SshTarget | undefined
}

/**
 * Parses the service's arguments: `[ADDRESS] [--tls] [--tlsverify] [--tlscacert F] [--tlscert F] [--tlskey F]
 * [--tlsservername NAME] [--ssh-key F] [--ssh-known-hosts F] [--ssh-config F] [--ssh-option KEY=VALUE]...`.
 */
export function parseDockerClientArgs (args: readonly string[]): DockerClientOptions {
  const options: DockerClientOptions = {}
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string => {
      const next = inline ?? args[++index]
      if (next === undefined || next === '') throw invalidArguments(`dockerclient: ${flag} needs a file`)
      return next
    }
    switch (flag) {
      case '--tls': options.tls = inline === undefined ? true : inline !== 'false'; break
      case '--tlsverify': options.tlsVerify = inline === undefined ? true : inline !== 'false'; break
      case '--tlscacert': options.tlsCaCert = value(); break
      case '--tlscert': options.tlsCert = value(); break
      case '--tlskey': options.tlsKey = value(); break
      case '--tlsservername': options.tlsServerName = value(); break
      case '--ssh-key': options.sshKey = value(); break
      case '--ssh-known-hosts': options.sshKnownHosts = value(); break
      case '--ssh-config': options.sshConfig = value(); break
      case '--ssh-option': {
        const option = value()
        if (!/^[A-Za-z]+[= ]./.test(option)) throw invalidArguments(`dockerclient: --ssh-option needs KEY=VALUE (got ${JSON.stringify(option)})`)
        options.sshOptions = [...(options.sshOptions ?? []), option]
        break
      }
      default:
        if (flag.startsWith('-')) throw invalidArguments(`dockerclient: unknown option ${flag}`)
        if (options.address !== undefined) throw invalidArguments(`dockerclient: one address only (got ${options.address} and ${arg})`)
        options.address = arg
    }
  }
  return options
}

function readPem (file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    throw invalidArguments(`dockerclient: cannot read ${file}: ${(error as Error).message}`)
  }
}

/**
 * Resolves the options into an endpoint the way the docker CLI reads its flags and
 * environment: DOCKER_HOST for the address, DOCKER_TLS_VERIFY for verification,
 * DOCKER_CERT_PATH for the default certificate files.
 */
export function resolveEngineEndpoint (options: DockerClientOptions = {}): EngineEndpoint {
  const env = options.env ?? process.env
  const raw = options.address ?? (env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '' ? env.DOCKER_HOST : 'unix:///var/run/docker.sock')
  const tlsVerify = options.tlsVerify ?? (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '')
  const tls = tlsVerify || options.tls === true || options.tlsCaCert !== undefined || options.tlsCert !== undefined || options.tlsKey !== undefined
  const certDir = env.DOCKER_CERT_PATH !== undefined && env.DOCKER_CERT_PATH !== '' ? env.DOCKER_CERT_PATH : join(homedir(), '.docker')
  const pem = (given: string | undefined, name: string, required: boolean): Buffer | undefined => {
    if (given !== undefined) return readPem(given)
    const file = join(certDir, name)
    if (existsSync(file)) return readPem(file)
    if (required) throw invalidArguments(`dockerclient: --tlsverify needs a CA certificate (--tlscacert or ${file})`)
    return undefined
  }

  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length)
    if (socketPath === '') throw invalidArguments('dockerclient: unix:// needs a socket path')
    const modem = createModem({ socketPath, host: undefined, port: undefined, protocol: 'http' })
    return { address: `unix://${socketPath}`, modem, rejectUnauthorized: true }
  }
  if (raw.startsWith('/')) {
    const modem = createModem({ socketPath: raw, host: undefined, port: undefined, protocol: 'http' })
    return { address: `unix://${raw}`, modem, rejectUnauthorized: true }
  }
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `tcp://${raw}`)
  } catch {
    throw invalidArguments(`dockerclient: cannot parse address ${JSON.stringify(raw)} (expected unix:///path or tcp://host:port)`)
  }
  if (url.protocol === 'ssh:') return sshEndpoint(url, raw, options)
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol)) {
    throw invalidArguments(`dockerclient: unsupported address ${JSON.stringify(raw)} (expected unix:///path, tcp://host:port or ssh://[user@]host[:port])`)
  }
  const secure = tls || url.protocol === 'https:'
  const port = url.port !== '' ? Number(url.port) : (secure ? 2376 : 2375)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw invalidArguments(`dockerclient: address ${JSON.stringify(raw)} has no host`)
  const modem = createModem({
    socketPath: undefined,
    host,
    port,
    protocol: secure ? 'https' : 'http',
    ca: secure ? pem(options.tlsCaCert, 'ca.pem', tlsVerify) : undefined,
    cert: secure ? pem(options.tlsCert, 'cert.pem', false) : undefined,
    key: secure ? pem(options.tlsKey, 'key.pem', false) : undefined
  })
  return { address: `tcp://${url.host}${url.port === '' ? `:${port}` : ''}`, modem, rejectUnauthorized: tlsVerify, servername: secure ? options.tlsServerName : undefined }
}

/** `ssh://[user@]host[:port]`, as the docker CLI takes it: no path, no password. */
function sshEndpoint (url: URL, raw: string, options: DockerClientOptions): EngineEndpoint {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw invalidArguments(`dockerclient: address ${JSON.stringify(raw)} has no host`)
  if (url.password !== '') throw invalidArguments(`dockerclient: ${JSON.stringify(raw)}: ssh addresses take no password (use a key: --ssh-key or ssh-agent)`)
  if (url.pathname !== '' && url.pathname !== '/') throw invalidArguments(`dockerclient: ${JSON.stringify(raw)}: ssh addresses take no path`)
  if (options.tls === true || options.tlsVerify === true || options.tlsCaCert !== undefined || options.tlsCert !== undefined || options.tlsKey !== undefined) {
    throw invalidArguments('dockerclient: TLS options do not apply to ssh:// addresses (ssh encrypts and authenticates)')
  }
  const user = url.username !== '' ? decodeURIComponent(url.username) : undefined
  const port = url.port !== '' ? Number(url.port) : undefined
  const ssh: SshTarget = { host, user, port, keyFile: options.sshKey, knownHostsFile: options.sshKnownHosts, configFile: options.sshConfig, options: options.sshOptions }
  const modem = createModem({ socketPath: undefined, host: undefined, port: undefined, protocol: 'http' })
  return { address: `ssh://${user !== undefined ? `${user}@` : ''}${url.host}`, modem, rejectUnauthorized: true, ssh }
}

function createModem (options: DockerModem.ConstructorOptions): ModemSettings {
  // every key given explicitly: Modem merges its own DOCKER_HOST reading under ours
  return new DockerModem(options) as unknown as ModemSettings
}
