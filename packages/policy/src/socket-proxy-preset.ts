import { DOCKER_OPERATIONS } from '@libswarm/docker-api'
import type { Rule } from './policy-schema.js'

/**
 * Tecnativa's docker-socket-proxy, as switches: each section switch (`CONTAINERS`, `IMAGES`, ...)
 * allows every request whose path starts with its prefix; `POST` (and `DELETE`, `PUT`) must be on
 * for anything but GET and HEAD; `ALLOW_START`, `ALLOW_STOP`, `ALLOW_RESTARTS` (and
 * `ALLOW_PAUSE`, `ALLOW_UNPAUSE`) allow those container actions without `CONTAINERS`. Its defaults:
 * `EVENTS`, `PING` and `VERSION` on, everything else off.
 */
const SECTIONS: Record<string, string> = {
  AUTH: '/auth',
  BUILD: '/build',
  COMMIT: '/commit',
  CONFIGS: '/configs',
  CONTAINERS: '/containers',
  DISTRIBUTION: '/distribution',
  EVENTS: '/events',
  EXEC: '/exec',
  GRPC: '/grpc',
  IMAGES: '/images',
  INFO: '/info',
  NETWORKS: '/networks',
  NODES: '/nodes',
  PING: '/_ping',
  PLUGINS: '/plugins',
  SECRETS: '/secrets',
  SERVICES: '/services',
  SESSION: '/session',
  SWARM: '/swarm',
  SYSTEM: '/system',
  TASKS: '/tasks',
  VERSION: '/version',
  VOLUMES: '/volumes'
}

const CONTAINER_ACTIONS: Record<string, readonly string[]> = {
  ALLOW_START: ['ContainerStart'],
  ALLOW_STOP: ['ContainerStop'],
  ALLOW_RESTARTS: ['ContainerStop', 'ContainerRestart', 'ContainerKill'],
  ALLOW_PAUSE: ['ContainerPause'],
  ALLOW_UNPAUSE: ['ContainerUnpause']
}

const METHODS = ['POST', 'DELETE', 'PUT'] as const

const DEFAULTS: Record<string, boolean> = { EVENTS: true, PING: true, VERSION: true }

/** Switches the proxy has that mean nothing here (its own logging and listening). */
const IGNORED = new Set(['LOG_LEVEL', 'SOCKET_PATH', 'DISABLE_IPV6', 'BIND_CONFIG'])

function onOff (value: string | number | boolean): boolean | undefined {
  if (typeof value === 'boolean') return value
  const text = String(value).trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(text)) return true
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false
  return undefined
}

/** The operations of one section prefix. */
function sectionOperations (prefix: string): string[] {
  return [...DOCKER_OPERATIONS.values()].filter((spec) => spec.path === prefix || spec.path.startsWith(`${prefix}/`)).map((spec) => spec.operation)
}

/** The rules of the preset for these switches; `invalid(key, message)` makes the error for a bad one. */
export function presetRules (options: Readonly<Record<string, string | number | boolean>>, invalid: (key: string, message: string) => Error): Rule[] {
  const on = new Map<string, boolean>(Object.entries(DEFAULTS))
  for (const [key, value] of Object.entries(options)) {
    const known = Object.hasOwn(SECTIONS, key) || Object.hasOwn(CONTAINER_ACTIONS, key) || (METHODS as readonly string[]).includes(key)
    if (IGNORED.has(key)) continue
    if (!known) throw invalid(key, `unknown docker-socket-proxy switch "${key}"`)
    const flag = onOff(value)
    if (flag === undefined) throw invalid(key, `"${key}" must be 0 or 1, got ${JSON.stringify(value)}`)
    on.set(key, flag)
  }
  const rules: Rule[] = []
  const writes = METHODS.filter((method) => on.get(method) !== true && on.get('POST') !== true)
  const denied = [...DOCKER_OPERATIONS.values()].filter((spec) => (writes as readonly string[]).includes(spec.method)).map((spec) => spec.operation)
  if (denied.length > 0) rules.push({ name: 'socket-proxy:POST', deny: denied })
  for (const [key, operations] of Object.entries(CONTAINER_ACTIONS)) if (on.get(key) === true) rules.push({ name: `socket-proxy:${key}`, allow: operations })
  for (const [key, prefix] of Object.entries(SECTIONS)) {
    const operations = sectionOperations(prefix)
    if (on.get(key) === true && operations.length > 0) rules.push({ name: `socket-proxy:${key}`, allow: operations })
  }
  return rules
}
