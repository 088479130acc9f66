/**
 * What the kernel says about a process's sockets (through `ss`), for tests asserting that
 * swarmd lets go of connections whose other end left.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** One line of `ss -Haxtp`, split into its columns. */
export interface SocketLine {
  /** `u_str`, `tcp`, ... */
  netid: string
  /** `ESTAB`, `CLOSE-WAIT`, `LISTEN`, ... */
  state: string
  /** A unix socket's path (or `*`), or a TCP address:port. */
  local: string
  /** A unix socket's inode, or a TCP port (then empty). */
  localInode: string
  peer: string
  /** The inode of a unix socket's peer: `0` when the peer is gone. */
  peerInode: string
  /** The whole line. */
  line: string
}

/** Every socket `pid` holds (unix and TCP), one line each. */
export async function socketsOf (pid: number): Promise<SocketLine[]> {
  return (await allSockets()).filter(({ line }) => line.includes(`pid=${pid},`))
}

/**
 * Sockets of `pid` whose peer left while the process kept its end: TCP in CLOSE-WAIT, and
 * unix stream sockets with no peer any more (ss shows the peer's inode as 0).
 */
export async function abandonedSockets (pid: number): Promise<string[]> {
  return (await socketsOf(pid))
    .filter((socket) => socket.state === 'CLOSE-WAIT' || (socket.netid === 'u_str' && socket.state === 'ESTAB' && socket.peerInode === '0'))
    .map(({ line }) => line)
}

/** The connected unix sockets of `pid` whose peer is a connection accepted on the listening socket at `path`. */
export async function connectionsTo (pid: number, path: string): Promise<SocketLine[]> {
  const sockets = await allSockets()
  const accepted = new Set(sockets.filter((socket) => socket.netid === 'u_str' && socket.state === 'ESTAB' && socket.local === path).map((socket) => socket.localInode))
  return sockets.filter((socket) => socket.line.includes(`pid=${pid},`) && socket.netid === 'u_str' && accepted.has(socket.peerInode))
}

async function allSockets (): Promise<SocketLine[]> {
  const { stdout } = await execFileAsync('ss', ['-Haxtp'], { maxBuffer: 64 << 20 })
  return stdout.split('\n').filter((line) => line.trim() !== '').map(parseLine)
}

function parseLine (line: string): SocketLine {
  const [netid = '', state = '', , , ...rest] = line.trim().split(/\s+/)
  if (netid.startsWith('u_')) {
    const [local = '', localInode = '', peer = '', peerInode = ''] = rest
    return { netid, state, local, localInode, peer, peerInode, line }
  }
  const [local = '', peer = ''] = rest
  return { netid, state, local, localInode: '', peer, peerInode: '', line }
}
