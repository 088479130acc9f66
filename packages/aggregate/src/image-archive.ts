import { Readable } from 'node:stream'
import type { ByteStream } from '@libswarm/core'
import { extract, pack, type Header, type Pack } from 'tar-stream'

/** The two index files of a `docker save` archive; every other entry is a layer, a config or a directory. */
const MANIFEST = 'manifest.json'
const REPOSITORIES = 'repositories'

/**
 * One `docker save` archive made of several (each from the node that holds some of the images):
 * every entry once (a layer two nodes share is written once), `manifest.json` the union of the
 * manifests, `repositories` the union of the tags. Entries are copied as they are read, one archive
 * after the other, at the pace of the reader; only the two small index files are held.
 */
export function mergeImageArchives (archives: Array<() => Promise<ByteStream>>): ByteStream {
  const out = pack()
  void (async () => {
    const seen = new Set<string>()
    const manifests: unknown[] = []
    const repositories: Record<string, Record<string, string>> = {}
    for (const open of archives) {
      const reader = extract()
      Readable.from(await open()).on('error', (error) => { reader.destroy(error) }).pipe(reader)
      for await (const entry of reader) {
        const name = entry.header.name.replace(/^\.\//, '')
        if (name === MANIFEST || name === REPOSITORIES) {
          const chunks: Buffer[] = []
          for await (const chunk of entry) chunks.push(chunk as Buffer)
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
          if (name === MANIFEST && Array.isArray(parsed)) manifests.push(...parsed)
          else if (name === REPOSITORIES && typeof parsed === 'object' && parsed !== null) {
            for (const [repository, tags] of Object.entries(parsed as Record<string, Record<string, string>>)) repositories[repository] = { ...repositories[repository], ...tags }
          }
          continue
        }
        if (seen.has(name)) {
          entry.resume()
          continue
        }
        seen.add(name)
        await copyEntry(out, entry.header, entry as AsyncIterable<Buffer>)
      }
    }
    await addFile(out, MANIFEST, JSON.stringify(manifests))
    if (Object.keys(repositories).length > 0) await addFile(out, REPOSITORIES, JSON.stringify(repositories))
    out.finalize()
  })().catch((error: unknown) => { out.destroy(error instanceof Error ? error : new Error(String(error))) })
  return (async function * () {
    try {
      for await (const chunk of out) yield chunk as Uint8Array
    } finally {
      out.destroy()
    }
  })()
}

async function addFile (out: Pack, name: string, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.entry({ name, mode: 0o644, mtime: new Date(0) }, text, (error) => { if (error === null || error === undefined) resolve(); else reject(error) })
  })
}

/** Copies one entry into the archive, waiting for it to drain (the reader sets the pace). */
async function copyEntry (out: Pack, header: Header, body: AsyncIterable<Buffer>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = out.entry(header, (error) => { if (error === null || error === undefined) resolve(); else reject(error) })
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!sink.write(chunk)) await new Promise<void>((drained) => { sink.once('drain', () => { drained() }) })
        }
        sink.end(undefined)
      } catch (error) {
        sink.destroy(error instanceof Error ? error : new Error(String(error)))
        reject(error)
      }
    })()
  })
}
