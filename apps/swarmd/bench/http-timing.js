// Timing Docker API calls over a unix socket with node:http, and the statistics of them.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'

/** A keep-alive agent per socket, so connection set-up is not what gets measured (the CLI keeps its connection too). */
export function agentFor () {
  return new Agent({ keepAlive: true, maxSockets: 1 })
}

/**
 * One request; resolves with status, body size (and text when `keepBody`) and the time
 * from sending to the last byte, in milliseconds.
 */
export function call (socketPath, agent, method, path, { body, keepBody = true, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
    const req = request({ socketPath, agent, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks = []
      let bytes = 0
      res.on('data', (chunk) => {
        bytes += chunk.length
        if (keepBody) chunks.push(chunk)
      })
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6
        resolve({ status: res.statusCode, bytes, ms, text: keepBody ? Buffer.concat(chunks).toString('utf8') : '' })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** Like {@link call}, but rejects unless the status is 2xx. */
export async function ok (socketPath, agent, method, path, options) {
  const result = await call(socketPath, agent, method, path, options)
  if (result.status < 200 || result.status > 299) throw new Error(`${method} ${path} on ${socketPath}: ${result.status} ${result.text.slice(0, 300)}`)
  return result
}

/** mean, p50, p99 of a list of milliseconds. */
export function summarise (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length
  return { n: sorted.length, mean, p50: at(0.5), p99: at(0.99) }
}

/** Resident memory of a process in kB, from /proc/<pid>/status. */
export function residentKb (pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1])
}

/**
 * Starts `node <cli> <specs…>` and resolves once `GET /_ping` on `socketPath` answers 200
 * (or, with `ready: 'socket'`, once the socket accepts connections).
 */
export async function startSwarmd (cli, specs, socketPath, { nodeArgs = [], timeoutMs = 20_000, ready = 'docker' } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, cli, ...specs], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk.toString()).slice(-20_000) })
  let exited = null
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited) }))
  const close = async () => {
    if (exited !== null) return exited
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    const result = await exit
    clearTimeout(timer)
    return result
  }
  const deadline = Date.now() + timeoutMs
  const agent = new Agent({ keepAlive: false })
  for (;;) {
    if (exited !== null) throw new Error(`swarmd exited (${exited.code ?? exited.signal}) before it was ready:\n${stderr}`)
    if (existsSync(socketPath)) {
      try {
        if (ready === 'socket') {
          await new Promise((resolve, reject) => {
            const probe = connect(socketPath, () => { probe.destroy(); resolve() })
            probe.on('error', reject)
          })
          return { pid: child.pid, close, stderr: () => stderr }
        }
        const ping = await call(socketPath, agent, 'GET', '/_ping', { timeoutMs: 2_000 })
        if (ping.status === 200) return { pid: child.pid, close, stderr: () => stderr }
      } catch {}
    }
    if (Date.now() > deadline) {
      await close()
      throw new Error(`swarmd not ready on ${socketPath} after ${timeoutMs} ms:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
