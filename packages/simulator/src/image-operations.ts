import { jsonReply, parseFilters, queryFlag, queryValue } from '@libswarm/docker-api'
import { ByteQueue } from './byte-queue.js'
import { now, parseClientTime, rfc3339 } from './clock.js'
import type { Engine, SimImage } from './engine.js'
import { engineErrors } from './errors.js'
import { labelMatches } from './event-log.js'
import { familiarName, globMatcher, parseReference } from './image-reference.js'
import { emptyReply, streamReply, type Operation } from './operation.js'
import { readTar, writeTar } from './tar.js'

const encoder = new TextEncoder()
const LIST_FILTERS = new Set(['before', 'dangling', 'label', 'reference', 'since'])

function imageLabels (image: SimImage): Record<string, string> {
  return (image.config.Labels as Record<string, string> | null | undefined) ?? {}
}

/** One entry of `GET /images/json`. */
export function imageSummary (engine: Engine, image: SimImage, containers = -1): Record<string, unknown> {
  return {
    Containers: containers,
    Created: Math.floor(image.created / 1000),
    Id: image.id,
    Labels: image.config.Labels ?? null,
    ParentId: '',
    RepoDigests: image.digests.length === 0 ? ['<none>@<none>'] : image.digests,
    RepoTags: image.tags.length === 0 ? ['<none>:<none>'] : image.tags,
    SharedSize: -1,
    Size: image.size,
    VirtualSize: image.size
  }
}

function imageInspect (image: SimImage): Record<string, unknown> {
  const config = { Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null, ...image.config }
  return {
    Id: image.id,
    RepoTags: image.tags,
    RepoDigests: image.digests,
    Parent: '',
    Comment: '',
    Created: rfc3339(image.created),
    Container: '',
    ContainerConfig: { ...config, Cmd: ['/bin/sh', '-c', '#(nop) ', ...(((image.config.Cmd as string[] | undefined) ?? []).length === 0 ? [] : [`CMD ${JSON.stringify(image.config.Cmd)}`])] },
    DockerVersion: '20.10.24',
    Author: '',
    Config: config,
    Architecture: 'amd64',
    Os: 'linux',
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: { Data: { MergedDir: `/var/lib/docker/overlay2/${image.id.slice(7)}/merged`, UpperDir: `/var/lib/docker/overlay2/${image.id.slice(7)}/diff`, WorkDir: `/var/lib/docker/overlay2/${image.id.slice(7)}/work` }, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: image.layers },
    Metadata: { LastTagTime: image.lastTagTime === 0 ? '0001-01-01T00:00:00Z' : rfc3339(image.lastTagTime) }
  }
}

const list: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const dangling = filters.dangling?.[0]
  if (dangling !== undefined && dangling !== 'true' && dangling !== 'false' && dangling !== '1' && dangling !== '0') throw engineErrors.badRequest(`Invalid filter 'dangling=${dangling}'`)
  const before = filters.before?.[0] === undefined ? undefined : engine.getImage(filters.before[0]).created
  const since = filters.since?.[0] === undefined ? undefined : engine.getImage(filters.since[0]).created
  const references = filters.reference?.map(globMatcher)
  const result: Array<Record<string, unknown>> = []
  for (const image of engine.images.values()) {
    if (dangling !== undefined && (image.tags.length === 0) !== (dangling === 'true' || dangling === '1')) continue
    if (before !== undefined && image.created >= before) continue
    if (since !== undefined && image.created <= since) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, imageLabels(image)))) continue
    let tags = image.tags
    if (references !== undefined) {
      tags = image.tags.filter((tag) => references.some((matches) => matches(tag) || matches(tag.slice(0, tag.lastIndexOf(':')))))
      if (tags.length === 0) continue
    }
    const summary = imageSummary(engine, image)
    if (tags !== image.tags) summary.RepoTags = tags
    result.push(summary)
  }
  result.sort((a, b) => (b.Created as number) - (a.Created as number))
  return jsonReply(result)
}

const inspect: Operation = (engine, request) => jsonReply(imageInspect(engine.getImage(request.target)))

const history: Operation = (engine, request) => {
  const image = engine.getImage(request.target)
  const created = Math.floor(image.created / 1000)
  return jsonReply([
    { Id: image.id, Created: created, CreatedBy: `/bin/sh -c #(nop)  CMD ${JSON.stringify(image.config.Cmd ?? [])}`, Tags: image.tags.length === 0 ? null : image.tags, Size: 0, Comment: '' },
    { Id: '<missing>', Created: created, CreatedBy: '/bin/sh -c #(nop) ADD file:0123456789abcdef in / ', Tags: null, Size: image.size, Comment: '' }
  ])
}

const tag: Operation = (engine, request) => {
  const image = engine.getImage(request.target)
  const repo = queryValue(request.query, 'repo') ?? ''
  if (repo === '') throw engineErrors.badRequest('repository name must have at least one component')
  const reference = parseReference(repo)
  if (reference.digest !== undefined) throw engineErrors.badRequest('refusing to create a tag with a digest reference')
  const tagName = queryValue(request.query, 'tag')
  const name = familiarName({ repository: reference.repository, tag: tagName === undefined || tagName === '' ? reference.tag : tagName, digest: undefined })
  parseReference(name)
  engine.tagImage(image, name)
  engine.emit({ time: now(), type: 'image', action: 'tag', id: image.id, attributes: { name } })
  return emptyReply(201)
}

const remove: Operation = (engine, request) => {
  const reference = request.target
  const image = engine.getImage(reference)
  const force = queryFlag(request.query, 'force')
  const result: Array<Record<string, string>> = []
  let named: string | undefined
  try {
    named = familiarName(parseReference(reference))
  } catch {}
  const byTag = named !== undefined && image.tags.includes(named) && !image.id.startsWith('sha256:' + reference.replace(/^sha256:/, ''))
  const users = engine.containersUsing(image)
  const runningUser = users.find((container) => container.running)
  const untag = (name: string): void => {
    engine.untagImage(image, name)
    result.push({ Untagged: name })
    engine.emit({ time: now(), type: 'image', action: 'untag', id: image.id, attributes: { name: image.id } })
  }
  if (byTag && named !== undefined) {
    if (image.tags.length === 1 && users[0] !== undefined && !force) {
      throw engineErrors.conflict(`conflict: unable to remove repository reference "${reference}" (must force) - container ${users[0].id.slice(0, 12)} is using its referenced image ${image.id.slice(7, 19)}`)
    }
    untag(named)
    if (image.tags.length > 0 || runningUser !== undefined) return jsonReply(result)
  } else {
    if (runningUser !== undefined) {
      throw engineErrors.conflict(`conflict: unable to delete ${image.id.slice(7, 19)} (cannot be forced) - image is being used by running container ${runningUser.id.slice(0, 12)}`)
    }
    if (users[0] !== undefined && !force) {
      throw engineErrors.conflict(`conflict: unable to delete ${image.id.slice(7, 19)} (must be forced) - image is being used by stopped container ${users[0].id.slice(0, 12)}`)
    }
    if (image.tags.length > 1 && !force) {
      throw engineErrors.conflict(`conflict: unable to delete ${image.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`)
    }
    for (const name of [...image.tags]) untag(name)
  }
  for (const digest of image.digests) result.push({ Untagged: digest })
  engine.deleteImage(image)
  result.push({ Deleted: image.id })
  for (const layer of image.layers) result.push({ Deleted: layer })
  engine.emit({ time: now(), type: 'image', action: 'delete', id: image.id, attributes: { name: image.id } })
  return jsonReply(result)
}

function progressLine (value: Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(value) + '\r\n')
}

const create: Operation = (engine, request) => {
  const fromImage = queryValue(request.query, 'fromImage') ?? ''
  if (fromImage === '') {
    if ((queryValue(request.query, 'fromSrc') ?? '') !== '') throw engineErrors.notImplemented('image import (fromSrc)')
    throw engineErrors.badRequest('invalid reference format')
  }
  const tagName = queryValue(request.query, 'tag')
  const parsed = parseReference(fromImage)
  const digestOrTag = tagName === undefined || tagName === '' ? undefined : tagName
  const reference = {
    repository: parsed.repository,
    tag: digestOrTag !== undefined && !digestOrTag.includes(':') ? digestOrTag : parsed.tag,
    digest: digestOrTag?.includes(':') === true ? digestOrTag : parsed.digest
  }
  const name = familiarName(reference)
  const { image, created } = engine.pullImage(name)
  const queue = new ByteQueue()
  const shownTag = reference.digest ?? reference.tag ?? 'latest'
  const layer = (image.layers[0] ?? 'sha256:0').slice(7, 19)
  queue.push(progressLine({ status: `Pulling from ${reference.repository.includes('/') ? reference.repository : 'library/' + reference.repository}`, id: shownTag }))
  if (created) {
    queue.push(progressLine({ status: 'Pulling fs layer', progressDetail: {}, id: layer }))
    queue.push(progressLine({ status: 'Downloading', progressDetail: { current: image.size, total: image.size }, progress: `[==================================================>]  ${(image.size / 1e6).toFixed(2)}MB/${(image.size / 1e6).toFixed(2)}MB`, id: layer }))
    queue.push(progressLine({ status: 'Download complete', progressDetail: {}, id: layer }))
    queue.push(progressLine({ status: 'Extracting', progressDetail: { current: image.size, total: image.size }, id: layer }))
    queue.push(progressLine({ status: 'Pull complete', progressDetail: {}, id: layer }))
  }
  const digest = (image.digests[0] ?? '').split('@')[1] ?? ''
  queue.push(progressLine({ status: `Digest: ${digest}` }))
  queue.push(progressLine({ status: created ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` }))
  queue.end()
  engine.emit({ time: now(), type: 'image', action: 'pull', id: name, attributes: { name: reference.repository } })
  return streamReply(queue, 'application/json')
}

const prune: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (key !== 'until' && key !== 'label' && key !== 'label!' && key !== 'dangling') throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const danglingOnly = (filters.dangling?.[0] ?? 'true') !== 'false' && filters.dangling?.[0] !== '0'
  const until = parseClientTime(filters.until?.[0])
  const used = new Set<string>()
  for (const container of engine.containers.values()) used.add(container.imageId)
  const deleted: Array<Record<string, string>> = []
  let reclaimed = 0
  for (const image of [...engine.images.values()]) {
    if (used.has(image.id)) continue
    if (danglingOnly && image.tags.length > 0) continue
    if (until !== undefined && image.created > until) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, imageLabels(image)))) continue
    for (const name of image.tags) deleted.push({ Untagged: name })
    engine.deleteImage(image)
    deleted.push({ Deleted: image.id })
    reclaimed += image.size
    engine.emit({ time: now(), type: 'image', action: 'delete', id: image.id, attributes: { name: image.id } })
  }
  engine.emit({ time: now(), type: 'image', action: 'prune', id: '', attributes: { reclaimed: String(reclaimed) } })
  return jsonReply({ ImagesDeleted: deleted.length === 0 ? null : deleted, SpaceReclaimed: reclaimed })
}

/** A `docker save` archive of the simulator's images: manifest.json, repositories and each image's config. */
function saveImages (engine: Engine, images: SimImage[]): Uint8Array {
  const manifest = images.map((image) => ({ Config: `${image.id.slice(7)}.json`, RepoTags: image.tags, Layers: [] as string[] }))
  const repositories: Record<string, Record<string, string>> = {}
  for (const image of images) {
    for (const name of image.tags) {
      const colon = name.lastIndexOf(':')
      ;(repositories[name.slice(0, colon)] ??= {})[name.slice(colon + 1)] = image.id.slice(7)
    }
  }
  return writeTar([
    ...images.map((image) => ({
      name: `${image.id.slice(7)}.json`,
      data: encoder.encode(JSON.stringify({ architecture: 'amd64', os: 'linux', created: rfc3339(image.created), config: image.config, rootfs: { type: 'layers', diff_ids: image.layers }, 'x-libswarm-simulator': { size: image.size, digests: image.digests } }))
    })),
    { name: 'manifest.json', data: encoder.encode(JSON.stringify(manifest)) },
    { name: 'repositories', data: encoder.encode(JSON.stringify(repositories)) }
  ])
}

function tarReply (archive: Uint8Array) {
  const queue = new ByteQueue(archive.byteLength + 1)
  queue.push(archive)
  queue.end()
  return streamReply(queue, 'application/x-tar')
}

const get: Operation = (engine, request) => tarReply(saveImages(engine, [engine.getImage(request.target)]))

const getAll: Operation = (engine, request) => {
  const names = request.query?.names
  const list = names === undefined ? [...engine.images.values()] : (Array.isArray(names) ? names : [names]).map((name) => engine.getImage(name))
  return tarReply(saveImages(engine, list))
}

const load: Operation = async (engine, request) => {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.stream ?? []) {
    chunks.push(chunk)
    size += chunk.byteLength
    if (size > 64 * 1024 * 1024) throw engineErrors.badRequest('the simulator loads archives of at most 64 MiB')
  }
  const archive = Buffer.concat(chunks, size)
  let entries
  try {
    entries = readTar(archive)
  } catch (error) {
    throw engineErrors.internal(`Error processing tar file(exit status 1): ${(error as Error).message}`)
  }
  const files = new Map(entries.map((entry) => [entry.name, entry.data]))
  const manifestBytes = files.get('manifest.json')
  if (manifestBytes === undefined) throw engineErrors.internal('open /var/lib/docker/tmp/docker-import/repositories: no such file or directory')
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as Array<{ Config: string, RepoTags?: string[] | null, Layers?: string[] }>
  const queue = new ByteQueue()
  for (const item of manifest) {
    const configBytes = files.get(item.Config)
    const configText = configBytes === undefined ? '{}' : new TextDecoder().decode(configBytes)
    const config = JSON.parse(configText) as { created?: string, config?: Record<string, unknown>, rootfs?: { diff_ids?: string[] }, 'x-libswarm-simulator'?: { size?: number, digests?: string[] } }
    const hex = item.Config.replace(/\.json$/, '').replace(/^blobs\/sha256\//, '')
    const id = /^[0-9a-f]{64}$/.test(hex) ? 'sha256:' + hex : 'sha256:' + (await import('node:crypto')).createHash('sha256').update(configText).digest('hex')
    const tags = (item.RepoTags ?? []).map((name) => familiarName(parseReference(name)))
    const image = engine.addImage({
      id,
      tags,
      digests: config['x-libswarm-simulator']?.digests ?? [],
      created: config.created === undefined ? Date.now() : Date.parse(config.created),
      size: config['x-libswarm-simulator']?.size ?? archive.byteLength,
      config: config.config ?? { Cmd: ['sh'] },
      layers: config.rootfs?.diff_ids ?? [],
      lastTagTime: 0
    })
    for (const name of tags) {
      queue.push(encoder.encode(JSON.stringify({ stream: `Loaded image: ${name}\n` }) + '\r\n'))
    }
    if (tags.length === 0) queue.push(encoder.encode(JSON.stringify({ stream: `Loaded image ID: ${image.id}\n` }) + '\r\n'))
    engine.emit({ time: now(), type: 'image', action: 'load', id: image.id, attributes: { name: image.id } })
  }
  queue.end()
  return streamReply(queue, 'application/json')
}

/** The image operations, by operationId. */
export const imageOperations: Record<string, Operation> = {
  ImageList: list,
  ImageInspect: inspect,
  ImageHistory: history,
  ImageTag: tag,
  ImageDelete: remove,
  ImageCreate: create,
  ImagePrune: prune,
  ImageGet: get,
  ImageGetAll: getAll,
  ImageLoad: load
}
