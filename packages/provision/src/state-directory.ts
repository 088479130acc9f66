import { generateKeyPair, randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ErrorCode, SwarmError } from '@libswarm/core'
import forge from 'node-forge'

const generateRsa = promisify(generateKeyPair)
const DAY_MS = 86_400_000
/** Certificates are valid from a little before now, so a host whose clock lags still accepts them. */
const CLOCK_SKEW_MS = 3_600_000

/** A server certificate and its key, PEM text, for one host. */
export interface ServerCertificate {
  cert: string
  key: string
}

/**
 * A provisioner's state directory: its CA (which signs every host's server certificate and
 * the client certificate) and the client certificate it presents to its hosts' engines.
 * Created 0700, with private keys 0600; keys are RSA 2048 made by Node's crypto.
 */
export interface StateDirectory {
  readonly dir: string
  /** `ca.pem`: the CA certificate, given to hosts to check the client. */
  readonly caCertFile: string
  /** `cert.pem` and `key.pem`: the client certificate presented to hosts' engines. */
  readonly clientCertFile: string
  readonly clientKeyFile: string
  /** The CA certificate, PEM text. */
  readonly caCert: string
  /** Issues a server certificate for `name` (a DNS name, or an IP address) and any `altNames`. */
  issueServerCertificate: (name: string, altNames?: readonly string[]) => Promise<ServerCertificate>
}

/** The default state directory of a provisioner: `$XDG_STATE_HOME/libswarm/<provider>/<swarm>` (else `~/.local/state/...`). */
export function defaultStateDirectory (provider: string, swarm: string, env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(base, 'libswarm', provider, swarm)
}

/**
 * Opens (creating when missing) a state directory with its CA and client certificate.
 * Refuses a directory or key file that others may read, as ssh refuses an unprotected key.
 *
 * @example
 * const state = await openStateDirectory(defaultStateDirectory('aws', 'web'))
 * const { cert, key } = await state.issueServerCertificate('h-1f2e3d4c.web.libswarm')
 */
export async function openStateDirectory (dir: string): Promise<StateDirectory> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const info = await stat(dir)
  if (!info.isDirectory()) throw new SwarmError(ErrorCode.InvalidArguments, `state directory ${dir} is not a directory`)
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700)
  const files = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    clientCert: join(dir, 'cert.pem'),
    clientKey: join(dir, 'key.pem')
  }
  let ca = await readPair(files.caCert, files.caKey)
  if (ca === undefined) {
    const keys = await newKeys()
    const cert = newCertificate(keys.publicKey, `libswarm CA (${dir})`, undefined, keys.privateKey, caExtensions(), 10 * 365)
    await writePair(files.caCert, files.caKey, cert, keys.privateKey)
    ca = { cert, key: keys.privateKey }
  }
  const signer = ca
  if (await readPair(files.clientCert, files.clientKey) === undefined) {
    const keys = await newKeys()
    const cert = newCertificate(keys.publicKey, 'libswarm client', signer.cert, signer.key, clientExtensions(), 5 * 365)
    await writePair(files.clientCert, files.clientKey, cert, keys.privateKey)
  }
  return {
    dir,
    caCertFile: files.caCert,
    clientCertFile: files.clientCert,
    clientKeyFile: files.clientKey,
    caCert: forge.pki.certificateToPem(signer.cert),
    issueServerCertificate: async (name, altNames = []) => {
      const keys = await newKeys()
      const cert = newCertificate(keys.publicKey, name, signer.cert, signer.key, serverExtensions([name, ...altNames]), 5 * 365)
      return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) }
    }
  }
}

interface KeyPair { publicKey: forge.pki.rsa.PublicKey, privateKey: forge.pki.rsa.PrivateKey }

async function newKeys (): Promise<KeyPair> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  const key = forge.pki.privateKeyFromPem(privateKey)
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) }
}

async function readPair (certFile: string, keyFile: string): Promise<{ cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey } | undefined> {
  let certText: string
  let keyText: string
  try {
    certText = await readFile(certFile, 'utf8')
    const info = await stat(keyFile)
    if ((info.mode & 0o077) !== 0) throw new SwarmError(ErrorCode.InvalidArguments, `private key ${keyFile} may be read by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`)
    keyText = await readFile(keyFile, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    return { cert: forge.pki.certificateFromPem(certText), key: forge.pki.privateKeyFromPem(keyText) as forge.pki.rsa.PrivateKey }
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `cannot read ${certFile} / ${keyFile}: ${(error as Error).message}`, { cause: error })
  }
}

async function writePair (certFile: string, keyFile: string, cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): Promise<void> {
  await writeFile(keyFile, forge.pki.privateKeyToPem(key), { mode: 0o600 })
  await chmod(keyFile, 0o600)
  await writeFile(certFile, forge.pki.certificateToPem(cert), { mode: 0o644 })
}

function newCertificate (publicKey: forge.pki.PublicKey, commonName: string, issuer: forge.pki.Certificate | undefined, signingKey: forge.pki.rsa.PrivateKey, extensions: object[], days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.publicKey = publicKey
  // 16 random bytes, top bit clear so the serial is positive
  const serial = randomBytes(16)
  serial[0] = (serial[0] as number) & 0x7f
  cert.serialNumber = serial.toString('hex')
  const now = Date.now()
  cert.validity.notBefore = new Date(now - CLOCK_SKEW_MS)
  cert.validity.notAfter = new Date(now + days * DAY_MS)
  const subject = [{ name: 'commonName', value: commonName.slice(0, 64) }, { name: 'organizationName', value: 'libswarm' }]
  cert.setSubject(subject)
  cert.setIssuer(issuer === undefined ? subject : issuer.subject.attributes)
  cert.setExtensions(extensions)
  cert.sign(signingKey, forge.md.sha256.create())
  return cert
}

function caExtensions (): object[] {
  return [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' }
  ]
}

function clientExtensions (): object[] {
  return [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true }
  ]
}

function serverExtensions (names: readonly string[]): object[] {
  return [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((name) => isIP(name) === 0 ? { type: 2, value: name } : { type: 7, ip: name }) }
  ]
}
