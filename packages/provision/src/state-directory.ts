import { X509Certificate, createHash, createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ErrorCode, SwarmError } from '@libswarm/core'
import type { Extension, Name } from '@peculiar/asn1-x509'

/**
 * The ASN.1 modules take 150-250 ms to load (asn1js above all): loaded at the first certificate
 * made, which a start does while the cloud answers its first calls, not before swarmd's first call.
 */
type Asn1 = typeof import('@peculiar/asn1-schema') & typeof import('@peculiar/asn1-x509')
let asn1Modules: Promise<Asn1> | undefined
async function loadAsn1 (): Promise<Asn1> {
  asn1Modules ??= Promise.all([import('@peculiar/asn1-schema'), import('@peculiar/asn1-x509')]).then(([schema, x509]) => ({ ...schema, ...x509 }))
  return await asn1Modules
}

const generateKeys = promisify(generateKeyPair)
const DAY_MS = 86_400_000
/** Certificates are valid from a little before now, so a host whose clock lags still accepts them. */
const CLOCK_SKEW_MS = 3_600_000
const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11'
}

/** A server certificate and its key, PEM text, for one host. */
export interface ServerCertificate {
  cert: string
  key: string
}

/**
 * A provisioner's state directory: its CA (which signs every host's server certificate and
 * the client certificate) and the client certificate it presents to its hosts' engines.
 * Created 0700, with private keys 0600; new keys are ECDSA P-256 made by Node's crypto (a
 * directory made with RSA keys by an older version is used as it is).
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
    const [asn1, keys] = await Promise.all([loadAsn1(), newKeys()])
    const subject = distinguishedName(asn1, `libswarm CA (${dir})`)
    const pem = newCertificate(asn1, { publicKey: keys.publicKey, subject, issuer: subject, signingKey: keys.privateKey, extensions: caExtensions(asn1, keys.publicKey), days: 10 * 365 })
    await writePair(files.caCert, files.caKey, pem, keys.privateKey)
    ca = { pem, key: keys.privateKey }
  }
  const { pem: caCert, key: caKey } = ca
  // the issuer of what the CA signs is its subject, byte for byte (as read, whatever wrote it)
  let issuer: Name | undefined
  const issue = async (subject: string, extensions: (asn1: Asn1) => Extension[], days: number): Promise<{ cert: string, key: KeyObject }> => {
    const [asn1, keys] = await Promise.all([loadAsn1(), newKeys()])
    issuer ??= asn1.AsnConvert.parse(new X509Certificate(caCert).raw, asn1.Certificate).tbsCertificate.subject
    const cert = newCertificate(asn1, { publicKey: keys.publicKey, subject: distinguishedName(asn1, subject), issuer, signingKey: caKey, extensions: extensions(asn1), days })
    return { cert, key: keys.privateKey }
  }
  if (await readPair(files.clientCert, files.clientKey) === undefined) {
    const client = await issue('libswarm client', (asn1) => leafExtensions(asn1, asn1.id_kp_clientAuth), 5 * 365)
    await writePair(files.clientCert, files.clientKey, client.cert, client.key)
  }
  return {
    dir,
    caCertFile: files.caCert,
    clientCertFile: files.clientCert,
    clientKeyFile: files.clientKey,
    caCert,
    issueServerCertificate: async (name, altNames = []) => {
      const server = await issue(name, (asn1) => [...leafExtensions(asn1, asn1.id_kp_serverAuth), subjectAltName(asn1, [name, ...altNames])], 5 * 365)
      return { cert: server.cert, key: server.key.export({ type: 'pkcs8', format: 'pem' }).toString() }
    }
  }
}

interface KeyPair { publicKey: KeyObject, privateKey: KeyObject }

/** A P-256 key pair: made in microseconds off the event loop, where RSA 2048 takes a prime search of 0.1-1 s. */
async function newKeys (): Promise<KeyPair> {
  return await generateKeys('ec', { namedCurve: 'P-256' })
}

async function readPair (certFile: string, keyFile: string): Promise<{ pem: string, key: KeyObject } | undefined> {
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
    // PKCS#1 (`RSA PRIVATE KEY`, as node-forge wrote them) and PKCS#8 (`PRIVATE KEY`) both read here
    const key = createPrivateKey(keyText)
    if (!new X509Certificate(certText).checkPrivateKey(key)) throw new Error('the key is not the certificate\'s')
    return { pem: certText, key }
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `cannot read ${certFile} / ${keyFile}: ${(error as Error).message}`, { cause: error })
  }
}

async function writePair (certFile: string, keyFile: string, cert: string, key: KeyObject): Promise<void> {
  await writeFile(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  await chmod(keyFile, 0o600)
  await writeFile(certFile, cert, { mode: 0o644 })
}

interface CertificateRequest {
  publicKey: KeyObject
  subject: Name
  issuer: Name
  signingKey: KeyObject
  extensions: Extension[]
  days: number
}

/** An X.509 v3 certificate, PEM: the structure encoded by `@peculiar/asn1-x509`, signed by Node's crypto. */
function newCertificate (asn1: Asn1, request: CertificateRequest): string {
  // 16 random bytes, positive and without a leading zero byte (Go refuses a non-minimal INTEGER)
  const serial = randomBytes(16)
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40
  const now = Date.now()
  const algorithm = signatureAlgorithm(asn1, request.signingKey)
  const tbsCertificate = new asn1.TBSCertificate({
    version: asn1.Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: algorithm,
    issuer: request.issuer,
    validity: new asn1.Validity({ notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + request.days * DAY_MS) }),
    subject: request.subject,
    subjectPublicKeyInfo: asn1.AsnConvert.parse(request.publicKey.export({ type: 'spki', format: 'der' }), asn1.SubjectPublicKeyInfo),
    extensions: new asn1.Extensions(request.extensions)
  })
  // ECDSA signatures come DER-encoded, as X.509 wants them; RSA ones PKCS#1 v1.5
  const signature = sign('sha256', Buffer.from(asn1.AsnConvert.serialize(tbsCertificate)), request.signingKey)
  const der = Buffer.from(asn1.AsnConvert.serialize(new asn1.Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signature) })))
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
}

function signatureAlgorithm (asn1: Asn1, key: KeyObject): InstanceType<Asn1['AlgorithmIdentifier']> {
  if (key.asymmetricKeyType === 'ec') return new asn1.AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 })
  if (key.asymmetricKeyType === 'rsa') return new asn1.AlgorithmIdentifier({ algorithm: OID.sha256WithRsa, parameters: null })
  throw new SwarmError(ErrorCode.InvalidArguments, `the CA key is ${key.asymmetricKeyType ?? 'of no known type'}: only EC and RSA keys sign here`)
}

function distinguishedName (asn1: Asn1, commonName: string): Name {
  const attribute = (type: string, value: string): InstanceType<Asn1['RelativeDistinguishedName']> =>
    new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type, value: new asn1.AttributeValue({ utf8String: value }) })])
  return new asn1.Name([attribute(OID.commonName, commonName.slice(0, 64)), attribute(OID.organizationName, 'libswarm')])
}

function extension (asn1: Asn1, extnID: string, value: object, critical = false): Extension {
  return new asn1.Extension({ extnID, critical, extnValue: new asn1.OctetString(asn1.AsnConvert.serialize(value)) })
}

function caExtensions (asn1: Asn1, publicKey: KeyObject): Extension[] {
  const spki = asn1.AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), asn1.SubjectPublicKeyInfo)
  return [
    extension(asn1, asn1.id_ce_basicConstraints, new asn1.BasicConstraints({ cA: true }), true),
    extension(asn1, asn1.id_ce_keyUsage, new asn1.KeyUsage(asn1.KeyUsageFlags.keyCertSign | asn1.KeyUsageFlags.cRLSign | asn1.KeyUsageFlags.digitalSignature), true),
    // RFC 5280's method 1: the SHA-1 of the public key's bits
    extension(asn1, asn1.id_ce_subjectKeyIdentifier, new asn1.SubjectKeyIdentifier(createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest()))
  ]
}

/** A client's or server's: an ECDSA key signs, it does not encipher. */
function leafExtensions (asn1: Asn1, purpose: string): Extension[] {
  return [
    extension(asn1, asn1.id_ce_basicConstraints, new asn1.BasicConstraints({ cA: false })),
    extension(asn1, asn1.id_ce_keyUsage, new asn1.KeyUsage(asn1.KeyUsageFlags.digitalSignature), true),
    extension(asn1, asn1.id_ce_extKeyUsage, new asn1.ExtendedKeyUsage([purpose]))
  ]
}

function subjectAltName (asn1: Asn1, names: readonly string[]): Extension {
  return extension(asn1, asn1.id_ce_subjectAltName, new asn1.SubjectAlternativeName(names.map((name) => new asn1.GeneralName(isIP(name) === 0 ? { dNSName: name } : { iPAddress: name }))))
}

function toArrayBuffer (bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}
