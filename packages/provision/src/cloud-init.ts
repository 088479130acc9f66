import { stringify } from 'yaml'

/** Where the user data puts the engine's TLS material on the host. */
export const HOST_TLS_DIR = '/etc/docker/libswarm-tls'

/** What {@link dockerUserData} needs. */
export interface DockerUserDataOptions {
  /** PEM: the CA that signed the client certificate (the engine accepts only its clients). */
  caCert: string
  /** PEM: the host's server certificate and key. */
  serverCert: string
  serverKey: string
  /** The engine's TLS port. Default 2376. */
  port?: number
}

/**
 * The cloud-init user data (`#cloud-config`) that makes a fresh host a Docker host reached
 * over mutual TLS: it writes the CA, the server certificate and key (0600) under
 * {@link HOST_TLS_DIR}, installs Docker when the image has none (the distribution's package:
 * apt `docker.io`, else dnf/yum `docker`), and starts dockerd with
 * `-H fd:// -H tcp://0.0.0.0:PORT --tlsverify --tlscacert --tlscert --tlskey` through a
 * systemd drop-in.
 */
export function dockerUserData (options: DockerUserDataOptions): string {
  const port = options.port ?? 2376
  const dropIn = [
    '[Service]',
    'ExecStart=',
    `ExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:${port} --tlsverify --tlscacert=${HOST_TLS_DIR}/ca.pem --tlscert=${HOST_TLS_DIR}/server-cert.pem --tlskey=${HOST_TLS_DIR}/server-key.pem`,
    ''
  ].join('\n')
  const config = {
    write_files: [
      { path: `${HOST_TLS_DIR}/ca.pem`, permissions: '0644', owner: 'root:root', content: options.caCert },
      { path: `${HOST_TLS_DIR}/server-cert.pem`, permissions: '0644', owner: 'root:root', content: options.serverCert },
      { path: `${HOST_TLS_DIR}/server-key.pem`, permissions: '0600', owner: 'root:root', content: options.serverKey },
      { path: '/etc/systemd/system/docker.service.d/libswarm-tls.conf', permissions: '0644', owner: 'root:root', content: dropIn }
    ],
    runcmd: [
      ['sh', '-c', 'command -v dockerd >/dev/null || (command -v apt-get >/dev/null && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io) || dnf install -y docker || yum install -y docker'],
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'docker'],
      ['systemctl', 'restart', 'docker']
    ]
  }
  return `#cloud-config\n# libswarm: a Docker host reached over mutual TLS on port ${port}\n${stringify(config, { lineWidth: 0 })}`
}

/** What {@link sshDockerUserData} needs. */
export interface SshDockerUserDataOptions {
  /** The host's ssh host key (ed25519), made ahead so its public half is known before the host exists. */
  hostKey: { privateKey: string, publicKey: string }
  /** The user the provisioner logs in as: added to the `docker` group when it exists on the host. */
  user: string
}

/**
 * The cloud-init user data (`#cloud-config`) that makes a fresh host a Docker host reached
 * over ssh (`docker system dial-stdio`, as `docker -H ssh://` does): sshd's host key is the one
 * given (`ssh_keys`, no other generated), Docker is installed when the image has none and
 * started on its unix socket only (no TCP port opened), and `user` joins the `docker` group.
 * The user's login key is the image's or the cloud's key pair: this does not add one.
 */
export function sshDockerUserData (options: SshDockerUserDataOptions): string {
  const [type] = options.hostKey.publicKey.split(' ')
  if (type !== 'ssh-ed25519') throw new Error(`sshDockerUserData: an ed25519 host key is expected, got ${type ?? 'nothing'}`)
  const config = {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    ssh_keys: { ed25519_private: options.hostKey.privateKey, ed25519_public: options.hostKey.publicKey },
    runcmd: [
      ['sh', '-c', 'command -v dockerd >/dev/null || (command -v apt-get >/dev/null && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io) || dnf install -y docker || yum install -y docker'],
      ['sh', '-c', `getent group docker >/dev/null && id ${shellWord(options.user)} >/dev/null 2>&1 && usermod -aG docker ${shellWord(options.user)} || true`],
      ['systemctl', 'enable', 'docker'],
      ['systemctl', 'restart', 'docker']
    ]
  }
  return `#cloud-config\n# libswarm: a Docker host reached over ssh (docker system dial-stdio), its engine on its unix socket only\n${stringify(config, { lineWidth: 0 })}`
}

function shellWord (text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}
