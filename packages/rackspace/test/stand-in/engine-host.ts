import { parse } from 'yaml'
import { startEngine } from '@libswarm/test-engine'
import type { LaunchedHost } from './openstack-stand-in.js'

let next = 0
// one loopback address per server, so each engine listens on the port its user data names (2376), as on a real host
const octet = 10 + (process.pid % 200)

/**
 * Boots the "machine" behind a stand-in server: reads the `#cloud-config` user data the client
 * sent as cloud-init would (its `write_files` and the dockerd command line of the systemd
 * drop-in), and starts a real private dockerd with that CA, server certificate and key, with
 * `--tlsverify` on the port the drop-in names, at an address of its own on 127.0.0.0/8.
 */
export async function bootEngineFromUserData (server: { name: string, userData: string }): Promise<LaunchedHost> {
  if (!server.userData.startsWith('#cloud-config')) throw new Error('user data is not a #cloud-config document')
  const config = parse(server.userData) as { write_files?: Array<{ path: string, content: string }> }
  const file = (suffix: string): string => {
    const found = config.write_files?.find((entry) => entry.path.endsWith(suffix))
    if (found === undefined) throw new Error(`user data writes no ${suffix}`)
    return found.content
  }
  const dropIn = file('.service.d/libswarm-tls.conf')
  const port = /-H tcp:\/\/0\.0\.0\.0:(\d+)/.exec(dropIn)?.[1]
  if (port === undefined || !dropIn.includes('--tlsverify')) throw new Error('the dockerd command line in the user data has no TLS listener')
  const address = `127.88.${octet}.${1 + (next++ % 250)}`
  const engine = await startEngine({ name: server.name.slice(0, 60), tls: { caCert: file('/ca.pem'), cert: file('/server-cert.pem'), key: file('/server-key.pem'), host: address, port: Number(port) } })
  return { address, close: async () => { await engine.close() } }
}
