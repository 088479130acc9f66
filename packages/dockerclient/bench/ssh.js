// `pnpm --filter @libswarm/dockerclient bench:ssh` (root, dockerd and OpenSSH's sshd needed): the cost of
// reaching an engine over ssh:// against the same engine over its unix socket, same run. A private dockerd
// from @libswarm/test-engine behind a private sshd on loopback; `docker ps` (ContainerList) through
// dockerclient, alternating rounds; then the first request of a fresh client (the ssh handshake), and
// the docker CLI's own `docker -H ssh://` for scale.
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { request } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { DOCKER28, startEngine, startSshd } from '@libswarm/test-engine'
import { createDockerClient } from '../dist/index.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6)
const PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 300)
const COLD = Number(process.env.BENCH_COLD ?? 10)

const engine = await startEngine({ name: 'bench-ssh' })
const sshd = await startSshd({ dockerHost: engine.host })
const sshOptions = { sshKey: sshd.clientKeyFile, sshKnownHosts: sshd.knownHostsFile, sshConfig: '/dev/null', env: {} }
const list = encodeDockerRequest({ operation: 'ContainerList', target: '', query: { all: '1' } })

async function ps (client) {
  const reply = decodeDockerReply(await request(client, list.verb, list.args))
  if (reply.status !== 200) throw new Error(`ContainerList answered ${reply.status}`)
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

try {
  for (let i = 0; i < 3; i++) await engine.docker(['create', 'busybox', 'true'])
  console.log(`node ${process.version}, ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}; ${ROUNDS} alternating rounds of ${PER_ROUND} ContainerList (3 containers), one at a time\n`)
  const clients = { unix: createDockerClient({ address: engine.host, env: {} }), ssh: createDockerClient({ address: sshd.address, ...sshOptions }) }
  const perRequest = { unix: [], ssh: [] }
  for (const client of Object.values(clients)) for (let i = 0; i < 50; i++) await ps(client)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, client] of Object.entries(clients)) {
      const started = process.hrtime.bigint()
      for (let i = 0; i < PER_ROUND; i++) await ps(client)
      perRequest[name].push(Number(process.hrtime.bigint() - started) / 1e3 / PER_ROUND)
    }
  }
  const unix = median(perRequest.unix)
  const ssh = median(perRequest.ssh)
  console.log(`docker ps through dockerclient, unix socket  ${unix.toFixed(0).padStart(6)} µs/request (median of rounds)`)
  console.log(`docker ps through dockerclient, ssh://       ${ssh.toFixed(0).padStart(6)} µs/request   ${(ssh / unix).toFixed(2)}x`)
  for (const client of Object.values(clients)) await client.close()

  const cold = { unix: [], ssh: [] }
  for (let i = 0; i < COLD; i++) {
    for (const [name, address] of [['unix', engine.host], ['ssh', sshd.address]]) {
      const started = process.hrtime.bigint()
      const client = createDockerClient({ address, ...(name === 'ssh' ? sshOptions : { env: {} }) })
      await ps(client)
      cold[name].push(Number(process.hrtime.bigint() - started) / 1e6)
      await client.close()
    }
  }
  console.log(`first docker ps of a new client, unix socket ${median(cold.unix).toFixed(1).padStart(6)} ms (median of ${COLD})`)
  console.log(`first docker ps of a new client, ssh://      ${median(cold.ssh).toFixed(1).padStart(6)} ms (ssh logs in)`)

  // a hijacked request always opens a connection of its own: over ssh, a new ssh process, session and dial-stdio
  const id = (await engine.docker(['create', 'busybox', 'echo', 'attached'])).stdout.trim()
  await engine.docker(['start', '-a', id])
  const attach = encodeDockerRequest({ operation: 'ContainerAttach', target: id, query: { logs: '1', stdout: '1' } })
  const hijackClients = {
    unix: createDockerClient({ address: engine.host, env: {} }),
    'ssh (shared login)': createDockerClient({ address: sshd.address, ...sshOptions }),
    'ssh, ControlMaster=no': createDockerClient({ address: sshd.address, ...sshOptions, sshOptions: ['ControlMaster=no'] })
  }
  const hijack = Object.fromEntries(Object.keys(hijackClients).map((name) => [name, []]))
  for (const client of Object.values(hijackClients)) await ps(client)
  for (let i = 0; i < COLD; i++) {
    for (const [name, client] of Object.entries(hijackClients)) {
      const started = process.hrtime.bigint()
      const reply = decodeDockerReply(await request(client, attach.verb, attach.args))
      for await (const chunk of reply.stream ?? []) void chunk
      hijack[name].push(Number(process.hrtime.bigint() - started) / 1e6)
    }
  }
  for (const [name, times] of Object.entries(hijack)) console.log(`attach (a connection of its own), ${name.padEnd(22)} ${median(times).toFixed(1).padStart(6)} ms (median of ${COLD})`)
  for (const client of Object.values(hijackClients)) await client.close()

  const cli = []
  const env = { PATH: process.env.PATH, HOME: engine.dir, DOCKER_CONFIG: `${engine.dir}/cli-config` }
  const sshFlags = `-F /dev/null -i ${sshd.clientKeyFile} -o IdentitiesOnly=yes -o UserKnownHostsFile=${sshd.knownHostsFile}`
  for (let i = 0; i < COLD; i++) {
    const started = process.hrtime.bigint()
    execFileSync('sh', ['-c', `mkdir -p ${engine.dir}/bin && printf '#!/bin/sh\\nexec /usr/bin/ssh ${sshFlags} "$@"\\n' > ${engine.dir}/bin/ssh && chmod +x ${engine.dir}/bin/ssh && PATH=${engine.dir}/bin:$PATH ${DOCKER28} -H ${sshd.address} ps -a -q >/dev/null`], { env })
    cli.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  console.log(`docker -H ssh:// ps (the CLI, for scale)     ${median(cli).toFixed(1).padStart(6)} ms (median of ${COLD}, a process and an ssh connection each)`)
} finally {
  await sshd.close()
  await engine.close()
}
