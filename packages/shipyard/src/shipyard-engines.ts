import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError, silentLogger, type Logger, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { waitForEngine } from '@libswarm/provision'
import { serveHostEngines, type HostEngine } from './host-engines.js'
import type { ShipyardApi, ShipyardEngine } from './shipyard-api.js'

/**
 * `shipyard --engines`: Shipyard as a registry of engines only. Each engine it holds
 * (`GET /api/engines`) becomes a `dockerclient` at its address, over TLS with the CA,
 * certificate and key Shipyard keeps for it, so that the whole Docker API works there;
 * the result is a provisioning service (under `aggregate`, one node per engine). An engine
 * that does not answer within `timeoutMs` is left out with a warning; none answering fails.
 */
export async function startShipyardEngines (api: ShipyardApi, options: { timeoutMs: number, log?: Logger }): Promise<ServiceInstance> {
  const log = options.log ?? silentLogger
  const engines = await api.json<ShipyardEngine[] | null>('GET', '/api/engines') ?? []
  if (engines.length === 0) throw new SwarmError(ErrorCode.Unavailable, `shipyard: ${api.url} holds no engine`)
  const secrets = await mkdtemp(join(tmpdir(), 'libswarm-shipyard-'))
  await chmod(secrets, 0o700)
  const hosts: HostEngine[] = []
  const release = async (): Promise<void> => { await rm(secrets, { recursive: true, force: true }) }
  try {
    await Promise.all(engines.map(async (record, index) => {
      const name = record.engine?.id ?? record.id ?? `engine-${index}`
      const url = new URL(record.engine?.addr ?? '')
      const secure = url.protocol === 'https:'
      const file = async (suffix: string, text: string | undefined): Promise<string | undefined> => {
        if (text === undefined || text === '') return undefined
        const path = join(secrets, `${index}-${suffix}.pem`)
        await writeFile(path, text, { mode: 0o600 })
        return path
      }
      const tlsCaCert = secure ? await file('ca', record.ca_cert) : undefined
      const engine = createDockerClient({
        address: `tcp://${url.host}`,
        tls: secure,
        tlsVerify: tlsCaCert !== undefined,
        tlsCaCert,
        tlsCert: secure ? await file('cert', record.ssl_cert) : undefined,
        tlsKey: secure ? await file('key', record.ssl_key) : undefined,
        env: {}
      })
      try {
        await waitForEngine(engine, `shipyard engine ${name} (${url.host})`, { timeoutMs: options.timeoutMs })
      } catch (error) {
        log.warn('a shipyard engine does not answer; left out', { engine: name, error: (error as Error).message })
        await engine.close()
        return
      }
      hosts.push({ name, address: url.host, engine })
    }))
    if (hosts.length === 0) throw new SwarmError(ErrorCode.Unavailable, `shipyard: none of the ${engines.length} engines of ${api.url} answers`)
  } catch (error) {
    await Promise.allSettled(hosts.map(async (host) => { await host.engine.close() }))
    await release()
    throw error
  }
  hosts.sort((a, b) => a.name.localeCompare(b.name))
  return serveHostEngines('shipyard', hosts, release)
}
