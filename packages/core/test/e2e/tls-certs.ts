import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

function openssl (dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

function key (dir: string, name: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}-key.pem`])
}

function signed (dir: string, name: string, ca: string, subject: string, extensions: string): void {
  key(dir, name)
  openssl(dir, ['req', '-new', '-key', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject])
  writeFileSync(join(dir, `${name}.ext`), extensions)
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`])
}

function authority (dir: string, name: string): void {
  key(dir, name)
  openssl(dir, ['req', '-x509', '-new', '-key', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`])
}

/**
 * Writes into `dir`: ca.pem, server.pem/server-key.pem (127.0.0.1, localhost),
 * client.pem/client-key.pem signed by ca, and rogue-client.pem/rogue-client-key.pem
 * signed by another CA, with the openssl CLI.
 */
export function generateCertificates (dir: string): void {
  authority(dir, 'ca')
  authority(dir, 'rogue-ca')
  signed(dir, 'server', 'ca', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  signed(dir, 'client', 'ca', '/CN=client', 'extendedKeyUsage=clientAuth\n')
  signed(dir, 'rogue-client', 'rogue-ca', '/CN=rogue', 'extendedKeyUsage=clientAuth\n')
}
