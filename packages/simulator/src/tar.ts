/** The files of a tar archive, as much of the format as `docker save`/`docker load` of the simulator needs. */
export interface TarEntry {
  readonly name: string
  readonly data: Uint8Array
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A ustar archive of regular files. */
export function writeTar (entries: readonly TarEntry[], mtime = Math.floor(Date.now() / 1000)): Uint8Array {
  const blocks: Uint8Array[] = []
  for (const entry of entries) {
    const header = new Uint8Array(512)
    const put = (offset: number, length: number, text: string): void => { header.set(encoder.encode(text).subarray(0, length), offset) }
    put(0, 100, entry.name)
    put(100, 8, '0000644\0')
    put(108, 8, '0000000\0')
    put(116, 8, '0000000\0')
    put(124, 12, entry.data.byteLength.toString(8).padStart(11, '0') + '\0')
    put(136, 12, mtime.toString(8).padStart(11, '0') + '\0')
    put(148, 8, '        ')
    put(156, 1, '0')
    put(257, 6, 'ustar\0')
    put(263, 2, '00')
    let sum = 0
    for (const byte of header) sum += byte
    put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
    blocks.push(header, entry.data)
    const padding = (512 - (entry.data.byteLength % 512)) % 512
    if (padding > 0) blocks.push(new Uint8Array(padding))
  }
  blocks.push(new Uint8Array(1024))
  return Buffer.concat(blocks)
}

/** The regular files of a tar archive; throws on a truncated archive. */
export function readTar (archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = []
  let offset = 0
  while (offset + 512 <= archive.byteLength) {
    const header = archive.subarray(offset, offset + 512)
    if (header.every((byte) => byte === 0)) break
    const field = (start: number, length: number): string => decoder.decode(header.subarray(start, start + length)).replace(/\0.*$/s, '').trim()
    const prefix = field(345, 155)
    const name = (prefix === '' ? '' : prefix + '/') + field(0, 100)
    const size = Number.parseInt(field(124, 12) || '0', 8)
    const type = field(156, 1)
    const start = offset + 512
    if (start + size > archive.byteLength) throw new Error('unexpected EOF in tar archive')
    if (type === '' || type === '0') entries.push({ name, data: archive.slice(start, start + size) })
    offset = start + Math.ceil(size / 512) * 512
  }
  return entries
}
