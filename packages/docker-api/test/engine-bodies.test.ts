import { describe, expect, it } from 'vitest'
import { decodeEngineBody, goDecodeError, CONTAINER_CREATE_BODY } from '../src/index.js'

function refusal (operation: string, body: unknown): unknown {
  try {
    decodeEngineBody(operation, body)
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message }
  }
  return undefined
}

describe('engine bodies', () => {
  it('refuses what Go would not decode, with its message and dockerd\'s status', () => {
    expect(refusal('ContainerCreate', { Image: 'busybox', Entrypoint: 0 })).toEqual({
      code: 'INTERNAL', message: 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Entrypoint of type string'
    })
    expect(refusal('NetworkCreate', { Name: 5 })).toEqual({
      code: 'BAD_REQUEST', message: 'json: cannot unmarshal number into Go struct field NetworkCreateRequest.Name of type string'
    })
    expect(refusal('ContainerCreate', [1])).toMatchObject({ message: 'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper' })
  })

  it('follows Go: null fits anything, unknown fields pass, names fold case, a strslice error stops at once', () => {
    expect(refusal('ContainerCreate', { Image: null, Bogus: { deep: [1] }, HostConfig: null, Entrypoint: 'sh', Cmd: ['a', null] })).toBeUndefined()
    expect(goDecodeError({ hostconfig: { MEMORY: 'x' } }, CONTAINER_CREATE_BODY)).toBe('json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64')
    expect(goDecodeError({ Tty: 'x', Env: 0 }, CONTAINER_CREATE_BODY)).toMatch(/ContainerConfigWrapper\.Tty of type bool$/)
    expect(goDecodeError({ Tty: 'x', Entrypoint: 0 }, CONTAINER_CREATE_BODY)).toMatch(/ContainerConfigWrapper\.Entrypoint of type string$/)
    expect(goDecodeError({ HostConfig: { ConsoleSize: [1, 2, 'ignored'] } }, CONTAINER_CREATE_BODY)).toBeUndefined()
    expect(goDecodeError({ HostConfig: { BlkioWeight: 65536 } }, CONTAINER_CREATE_BODY)).toMatch(/number 65536 into .* of type uint16$/)
  })

  it('gives the nulls in lists and maps Go\'s zero values, and keeps nil pointers', () => {
    const body = { Image: 'busybox', Cmd: [null, 'x'], Env: [null], Labels: { a: null }, HostConfig: { PortBindings: { '80/tcp': [null] }, Ulimits: [null] }, NetworkingConfig: { EndpointsConfig: { bridge: null } } }
    decodeEngineBody('ContainerCreate', body)
    expect(body).toEqual({ Image: 'busybox', Cmd: ['', 'x'], Env: [''], Labels: { a: '' }, HostConfig: { PortBindings: { '80/tcp': [{}] }, Ulimits: [null] }, NetworkingConfig: { EndpointsConfig: { bridge: null } } })
  })

  it('decodes in time linear in the body', () => {
    const volumes: Record<string, object> = {}
    for (let index = 0; index < 30_000; index++) volumes[`/v${index}`] = {}
    const start = performance.now()
    decodeEngineBody('ContainerCreate', { Image: 'busybox', Volumes: volumes, Env: new Array(30_000).fill('A=1') })
    expect(performance.now() - start).toBeLessThan(1000)
  })
})

describe('port bindings', () => {
  it('are checked as dockerd 20.10 checks them', async () => {
    const { checkPortBindings } = await import('../src/index.js')
    const refused = (bindings: unknown): string | undefined => {
      try {
        checkPortBindings(bindings)
      } catch (error) {
        return (error as Error).message
      }
      return undefined
    }
    expect(refused({ '80/tcp': [{ HostPort: '' }, { HostPort: '8080' }, { HostPort: '1000-60000' }, { HostPort: '8081/udp' }, null, {}] })).toBeUndefined()
    expect(refused({ '80/tcp': null, '': [], '/udp': [] })).toBeUndefined()
    for (const hostPort of ['1-99999999', 'x', '9000-8000', '70000', '-5', '+80']) expect(refused({ '80/tcp': [{ HostPort: hostPort }] })).toBe(`invalid port specification: "${hostPort}"`)
    expect(refused({ 'abc/tcp': [] })).toBe('invalid port specification: "abc"')
    expect(refused({ '80-81/tcp': [] })).toBe('invalid port specification: "80-81"')
  })
})
