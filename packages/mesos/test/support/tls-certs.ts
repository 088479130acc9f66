import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A CA and a server certificate for 127.0.0.1, made with the openssl CLI in `dir`. */
export function serverCertificates (dir: string): { ca: string, cert: string, key: string } {
  const openssl = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'ca-key.pem'])
  openssl(['req', '-x509', '-new', '-key', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=stand-in-ca'])
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'master-key.pem'])
  openssl(['req', '-new', '-key', 'master-key.pem', '-out', 'master.csr', '-subj', '/CN=localhost'])
  writeFileSync(join(dir, 'master.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  openssl(['x509', '-req', '-in', 'master.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'master.pem', '-days', '1', '-extfile', 'master.ext'])
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'master.pem'), 'utf8'), key: readFileSync(join(dir, 'master-key.pem'), 'utf8') }
}
