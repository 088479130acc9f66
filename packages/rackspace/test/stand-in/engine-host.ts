import { parse } from 'yaml'
import { startEngine, startSshd } from '@libswarm/test-engine'
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

/** What the image of {@link sshHostBooter}'s servers has: its sshd's port and the login keys baked into it. */
export interface SshImage {
  sshPort: number
  authorizedKeys: string[]
}

/**
 * Boots servers whose user data asks for a Docker host reached over ssh (cloud-init's
 * `ssh_keys`): a real private dockerd on its unix socket only, and a real OpenSSH sshd with the
 * host key from the user data on the server's own loopback address, letting in the image's keys.
 */
export function sshHostBooter (image: SshImage): (server: { name: string, userData: string }) => Promise<LaunchedHost> {
  return async (server) => {
    if (!server.userData.startsWith('#cloud-config')) throw new Error('user data is not a #cloud-config document')
    const config = parse(server.userData) as { ssh_keys?: Record<string, string>, write_files?: unknown[], runcmd?: unknown[] }
    const hostKey = config.ssh_keys?.['ed25519_private']
    if (hostKey === undefined) throw new Error('user data sets no ed25519 host key (ssh_keys)')
    if (config.write_files !== undefined) throw new Error('an ssh host needs no files written (no TLS material, no dockerd drop-in)')
    if (!JSON.stringify(config.runcmd ?? []).includes('"restart","docker"')) throw new Error('the user data does not start docker')
    const address = `127.88.${octet}.${1 + (next++ % 250)}`
    const engine = await startEngine({ name: server.name.slice(0, 60) })
    try {
      const sshd = await startSshd({ dockerHost: engine.host, host: address, port: image.sshPort, hostKey, authorizedKeys: image.authorizedKeys })
      return { address, close: async () => { await sshd.close(); await engine.close() } }
    } catch (error) {
      await engine.close()
      throw error
    }
  }
}
