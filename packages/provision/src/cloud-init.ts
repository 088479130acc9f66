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
