import { execFile } from 'node:child_process'
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ErrorCode, SwarmError } from '@libswarm/core'

const run = promisify(execFile)

/** A host's ssh host key, made before the host exists (OpenSSH text). */
export interface SshHostKey {
  /** The private key, `-----BEGIN OPENSSH PRIVATE KEY-----…`: given to the host in its user data. */
  privateKey: string
  /** The public key line, `ssh-ed25519 AAAA… NAME`. */
  publicKey: string
}

/** The state directory's known_hosts: one line per host, under the host's name (ssh's `HostKeyAlias`). */
export function knownHostsFile (stateDir: string): string {
  return join(stateDir, 'known_hosts')
}

/**
 * Makes an ed25519 host key for the host called `name` with OpenSSH's `ssh-keygen` and
 * records its public half in the state directory's known_hosts under that name. The host is
 * then checked by its key, not by an address the cloud only assigns later: ssh connects with
 * `HostKeyAlias=NAME`, as TLS checks a certificate against `tlsServerName`.
 */
export async function issueSshHostKey (stateDir: string, name: string): Promise<SshHostKey> {
  const work = await mkdtemp(join(stateDir, 'hostkey-'))
  try {
    const file = join(work, 'key')
    try {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file], { timeout: 30_000 })
    } catch (error) {
      throw new SwarmError(ErrorCode.Unavailable, `cannot make an ssh host key with ssh-keygen (Debian: openssh-client): ${(error as Error).message}`, { cause: error })
    }
    const key = { privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() }
    await appendFile(knownHostsFile(stateDir), `${name} ${key.publicKey}\n`, { mode: 0o600 })
    return key
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
