import { readFileSync } from 'node:fs'
import { parseServiceArgs } from '@libswarm/core'
import { invalidArguments } from './errors.js'

/** The usage line swarmd lists. */
export const MESOS_USAGE = 'mesos --master URL [--name NAME] [--role ROLE] [--user USER] [--principal P --secret S|--secret-file F] ' +
  '[--master-cacert F] [--master-cert F --master-key F] [--failover-timeout S] [--framework-id-file F] [--agent-attribute NAME] ' +
  '[--engine-port P] [--tlsverify] [--tlscacert F --tlscert F --tlskey F] [--offer-timeout S] [--refuse-seconds S] [--heartbeat-misses N] ' +
  '[--default-cpus N] [--default-mem MB] ["dockerclient ADDRESS" ...]'

/** Options of the mesos service. */
export interface MesosOptions {
  /** The master: `http://host:5050` or `https://host:5050`. */
  master: string
  /** FrameworkInfo.name. Default `libswarm`. */
  name?: string | undefined
  /** The role the framework subscribes with. Default `*`. */
  role?: string | undefined
  /** FrameworkInfo.user, the user tasks run as on the agents. Default `root`. */
  user?: string | undefined
  /** Credentials for the master's HTTP authentication (Basic). */
  principal?: string | undefined
  secret?: string | undefined
  /** PEM contents for an `https://` master. */
  masterCa?: string | undefined
  masterCert?: string | undefined
  masterKey?: string | undefined
  /** Seconds the master keeps the framework's tasks while swarmd is away. Default one week. */
  failoverTimeout?: number | undefined
  /** Where the framework id is kept, so that a restarted swarmd subscribes as the same framework. */
  frameworkIdFile?: string | undefined
  /** Agents are matched to children (or their engine is addressed) by this attribute instead of their hostname. */
  agentAttribute?: string | undefined
  /** Without children: each agent's engine is `tcp://HOSTNAME:PORT`. Default 2375 (2376 with TLS). */
  enginePort?: number | undefined
  /** TLS options passed on to the dockerclient of each agent engine (without children). */
  engineTls?: string[] | undefined
  /** Seconds a run waits for a fitting offer. Default 30. */
  offerTimeout?: number | undefined
  /** refuse_seconds of a DECLINE. Default 5. */
  refuseSeconds?: number | undefined
  /** Heartbeat intervals without an event before the stream is dropped. Default 5. */
  heartbeatMisses?: number | undefined
  /** Resources of a container that asks for none: cpus and MB. Defaults 0.1 and 64. */
  defaultCpus?: number | undefined
  defaultMem?: number | undefined
  /** Children: `dockerclient ADDRESS` specs of the agents' engines. */
  children?: string[] | undefined
}

function positive (flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text.replace(/s$/, ''))
  if (!Number.isFinite(value) || value < 0) throw invalidArguments(`--${flag} needs a non-negative number, got ${JSON.stringify(text)}`, MESOS_USAGE)
  return value
}

/** Parses `mesos`' arguments. */
export function parseMesosArgs (args: readonly string[]): MesosOptions {
  const parsed = parseServiceArgs('mesos', args, {
    master: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    user: { type: 'string' },
    principal: { type: 'string' },
    secret: { type: 'string' },
    'secret-file': { type: 'string' },
    'master-cacert': { type: 'string' },
    'master-cert': { type: 'string' },
    'master-key': { type: 'string' },
    'failover-timeout': { type: 'string' },
    'framework-id-file': { type: 'string' },
    'agent-attribute': { type: 'string' },
    'engine-port': { type: 'string' },
    tls: { type: 'boolean' },
    tlsverify: { type: 'boolean' },
    tlscacert: { type: 'string' },
    tlscert: { type: 'string' },
    tlskey: { type: 'string' },
    'offer-timeout': { type: 'string' },
    'refuse-seconds': { type: 'string' },
    'heartbeat-misses': { type: 'string' },
    'default-cpus': { type: 'string' },
    'default-mem': { type: 'string' }
  }, MESOS_USAGE)
  const values = parsed.values
  if (values.master === undefined) throw invalidArguments('--master URL is required', MESOS_USAGE)
  let master: URL
  try {
    master = new URL(values.master)
  } catch {
    throw invalidArguments(`--master ${JSON.stringify(values.master)} is not a URL`, MESOS_USAGE)
  }
  if (master.protocol !== 'http:' && master.protocol !== 'https:') throw invalidArguments(`--master must be http:// or https://, got ${JSON.stringify(values.master)}`, MESOS_USAGE)
  if (values.secret !== undefined && values['secret-file'] !== undefined) throw invalidArguments('give --secret or --secret-file, not both', MESOS_USAGE)
  const read = (flag: string, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined
    try {
      return readFileSync(file, 'utf8')
    } catch (error) {
      throw invalidArguments(`--${flag} ${file}: ${(error as Error).message}`, MESOS_USAGE)
    }
  }
  const secret = values.secret ?? read('secret-file', values['secret-file'])?.trim()
  if (secret !== undefined && values.principal === undefined) throw invalidArguments('--secret needs --principal', MESOS_USAGE)
  const engineTls = [
    ...(values.tls === true ? ['--tls'] : []), ...(values.tlsverify === true ? ['--tlsverify'] : []),
    ...(values.tlscacert === undefined ? [] : ['--tlscacert', values.tlscacert]),
    ...(values.tlscert === undefined ? [] : ['--tlscert', values.tlscert]),
    ...(values.tlskey === undefined ? [] : ['--tlskey', values.tlskey])
  ]
  const enginePort = positive('engine-port', values['engine-port'])
  if (enginePort !== undefined && (!Number.isInteger(enginePort) || enginePort < 1 || enginePort > 65535)) throw invalidArguments(`--engine-port needs a port, got ${values['engine-port'] ?? ''}`, MESOS_USAGE)
  const heartbeatMisses = positive('heartbeat-misses', values['heartbeat-misses'])
  if (heartbeatMisses !== undefined && (heartbeatMisses < 1 || !Number.isInteger(heartbeatMisses))) throw invalidArguments('--heartbeat-misses needs a whole number of at least 1', MESOS_USAGE)
  return {
    master: master.origin,
    name: values.name,
    role: values.role,
    user: values.user,
    principal: values.principal,
    secret,
    masterCa: read('master-cacert', values['master-cacert']),
    masterCert: read('master-cert', values['master-cert']),
    masterKey: read('master-key', values['master-key']),
    failoverTimeout: positive('failover-timeout', values['failover-timeout']),
    frameworkIdFile: values['framework-id-file'],
    agentAttribute: values['agent-attribute'],
    enginePort,
    engineTls,
    offerTimeout: positive('offer-timeout', values['offer-timeout']),
    refuseSeconds: positive('refuse-seconds', values['refuse-seconds']),
    heartbeatMisses,
    defaultCpus: positive('default-cpus', values['default-cpus']),
    defaultMem: positive('default-mem', values['default-mem']),
    children: parsed.positionals
  }
}
