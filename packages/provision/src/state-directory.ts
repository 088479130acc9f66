import { X509Certificate, createHash, createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ErrorCode, SwarmError } from '@libswarm/core'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, BasicConstraints, Certificate, ExtendedKeyUsage, Extension, Extensions, GeneralName,
  KeyUsage, KeyUsageFlags, Name, RelativeDistinguishedName, SubjectAlternativeName, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate,
  Validity, Version, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName, id_ce_subjectKeyIdentifier, id_kp_clientAuth,
  id_kp_serverAuth
} from '@peculiar/asn1-x509'

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
    const keys = await newKeys()
    const subject = distinguishedName(`libswarm CA (${dir})`)
    const pem = newCertificate({ publicKey: keys.publicKey, subject, issuer: subject, signingKey: keys.privateKey, extensions: caExtensions(keys.publicKey), days: 10 * 365 })
    await writePair(files.caCert, files.caKey, pem, keys.privateKey)
    ca = { pem, key: keys.privateKey }
  }
  const signer = { key: ca.key, pem: ca.pem, subject: AsnConvert.parse(new X509Certificate(ca.pem).raw, Certificate).tbsCertificate.subject }
  if (await readPair(files.clientCert, files.clientKey) === undefined) {
    const keys = await newKeys()
    const pem = newCertificate({ publicKey: keys.publicKey, subject: distinguishedName('libswarm client'), issuer: signer.subject, signingKey: signer.key, extensions: leafExtensions(id_kp_clientAuth), days: 5 * 365 })
    await writePair(files.clientCert, files.clientKey, pem, keys.privateKey)
  }
  return {
    dir,
    caCertFile: files.caCert,
    clientCertFile: files.clientCert,
    clientKeyFile: files.clientKey,
    caCert: signer.pem,
    issueServerCertificate: async (name, altNames = []) => {
      const keys = await newKeys()
      const cert = newCertificate({ publicKey: keys.publicKey, subject: distinguishedName(name), issuer: signer.subject, signingKey: signer.key, extensions: [...leafExtensions(id_kp_serverAuth), subjectAltName([name, ...altNames])], days: 5 * 365 })
      return { cert, key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
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
    const cert = new X509Certificate(certText)
    if (!cert.checkPrivateKey(key)) throw new Error('the key is not the certificate\'s')
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
function newCertificate (request: CertificateRequest): string {
  // 16 random bytes, positive and without a leading zero byte (Go refuses a non-minimal INTEGER)
  const serial = randomBytes(16)
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40
  const now = Date.now()
  const algorithm = signatureAlgorithm(request.signingKey)
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: algorithm,
    issuer: request.issuer,
    validity: new Validity({ notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + request.days * DAY_MS) }),
    subject: request.subject,
    subjectPublicKeyInfo: AsnConvert.parse(request.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions(request.extensions)
  })
  // ECDSA signatures come DER-encoded, as X.509 wants them; RSA ones PKCS#1 v1.5
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertificate)), request.signingKey)
  const der = Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signature) })))
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
}

function signatureAlgorithm (key: KeyObject): AlgorithmIdentifier {
  if (key.asymmetricKeyType === 'ec') return new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 })
  if (key.asymmetricKeyType === 'rsa') return new AlgorithmIdentifier({ algorithm: OID.sha256WithRsa, parameters: null })
  throw new SwarmError(ErrorCode.InvalidArguments, `the CA key is ${key.asymmetricKeyType ?? 'of no known type'}: only EC and RSA keys sign here`)
}

function distinguishedName (commonName: string): Name {
  const attribute = (type: string, value: string): RelativeDistinguishedName => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })])
  return new Name([attribute(OID.commonName, commonName.slice(0, 64)), attribute(OID.organizationName, 'libswarm')])
}

function extension (extnID: string, value: object, critical = false): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })
}

function caExtensions (publicKey: KeyObject): Extension[] {
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo)
  return [
    extension(id_ce_basicConstraints, new BasicConstraints({ cA: true }), true),
    extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature), true),
    // RFC 5280's method 1: the SHA-1 of the public key's bits
    extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest()))
  ]
}

/** A client's or server's: an ECDSA key signs, it does not encipher. */
function leafExtensions (purpose: string): Extension[] {
  return [
    extension(id_ce_basicConstraints, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.digitalSignature), true),
    extension(id_ce_extKeyUsage, new ExtendedKeyUsage([purpose]))
  ]
}

function subjectAltName (names: readonly string[]): Extension {
  return extension(id_ce_subjectAltName, new SubjectAlternativeName(names.map((name) => new GeneralName(isIP(name) === 0 ? { dNSName: name } : { iPAddress: name }))))
}

function toArrayBuffer (bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}
