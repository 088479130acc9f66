import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { compilePolicy, loadPolicyFile, DEFAULT_OWNER_LABEL } from '../src/index.js'

const valid = `version: 1
clients:
  ci:
    listener: ci
rules:
  - name: ci
    clients: [ci]
    allow: [containers:read, ContainerCreate]
`

describe('policy files', () => {
  it('compiles groups and names into operations', () => {
    const policy = compilePolicy(valid, 'p.yaml')
    expect(policy.ownerLabel).toBe(DEFAULT_OWNER_LABEL)
    const rule = policy.rules[0]
    expect(rule?.operations.has('ContainerList')).toBe(true)
    expect(rule?.operations.has('ContainerLogs')).toBe(true)
    expect(rule?.operations.has('ContainerCreate')).toBe(true)
    expect(rule?.operations.has('ContainerDelete')).toBe(false)
  })

  it('names the line of a key the schema does not know', () => {
    const text = valid.replace('    allow:', '    privileged: true\n    allow:')
    expect(() => compilePolicy(text, 'p.yaml')).toThrow(/^p\.yaml:8: rules\[0\]: unknown key "privileged"$/)
  })

  it('names the line of an unknown operation or group', () => {
    const text = valid.replace('ContainerCreate]', 'containerz]')
    expect(() => compilePolicy(text, 'p.yaml')).toThrow(/^p\.yaml:8: rules\[0\]\.allow\[1\]: unknown operation or group "containerz"$/)
  })

  it('names the line of a client no clients entry defines', () => {
    expect(() => compilePolicy(valid.replace('clients: [ci]', 'clients: [cj]'), 'p.yaml')).toThrow(/^p\.yaml:7: rules\[0\]\.clients\[0\]: no client named "cj"/)
  })

  it('names the line of a YAML syntax error and of a wrong type', () => {
    expect(() => compilePolicy('version: 1\nrules:\n  - name: [x\n', 'p.yaml')).toThrow(/^p\.yaml:\d+: /)
    expect(() => compilePolicy('version: 1\nrules:\n  - name: a\n    allow: [exec]\n    ownOnly: yes-please\n', 'p.yaml')).toThrow(/^p\.yaml:5: rules\[0\]\.ownOnly: must be boolean$/)
    expect(() => compilePolicy('version: 2\n', 'p.yaml')).toThrow(/^p\.yaml:1: version: must be 1$/)
  })

  it('refuses a rule with both allow and deny, and limits on a deny rule', () => {
    expect(() => compilePolicy('version: 1\nrules:\n  - name: a\n    allow: [exec]\n    deny: [exec]\n', 'p.yaml')).toThrow(/p\.yaml:3: rules\[0\]: a rule has either allow or deny/)
    expect(() => compilePolicy('version: 1\nrules:\n  - name: a\n    deny: [exec]\n    limits: { privileged: false }\n', 'p.yaml')).toThrow(/p\.yaml:4: rules\[0\]\.deny: a deny rule takes no limits/)
  })

  it('refuses two rules with one name, and a duplicate key', () => {
    expect(() => compilePolicy('version: 1\nrules:\n  - name: a\n    allow: [exec]\n  - name: a\n    allow: [build]\n', 'p.yaml')).toThrow(/p\.yaml:5: rules\[1\]\.name: a rule named "a" comes earlier/)
    expect(() => compilePolicy('version: 1\nversion: 1\n', 'p.yaml')).toThrow(/p\.yaml:2: .*[Mm]ap keys must be unique/)
  })

  it('loads the shipped example', async () => {
    const policy = await loadPolicyFile(new URL('../examples/ci-job.yaml', import.meta.url).pathname)
    expect(policy.rules.map((rule) => rule.name)).toEqual(['ci-jobs'])
    expect(await readFile(new URL('../examples/ci-job.yaml', import.meta.url), 'utf8')).toContain('ownOnly: true')
  })

  it('the docker-socket-proxy preset: switches become rules, unknown switches name their line', () => {
    const policy = compilePolicy('version: 1\npreset: docker-socket-proxy\npresetOptions:\n  CONTAINERS: 1\n  ALLOW_START: 1\n', 'p.yaml')
    expect(policy.rules.map((rule) => rule.name)).toEqual(['socket-proxy:POST', 'socket-proxy:ALLOW_START', 'socket-proxy:CONTAINERS', 'socket-proxy:EVENTS', 'socket-proxy:PING', 'socket-proxy:VERSION'])
    expect(() => compilePolicy('version: 1\npreset: docker-socket-proxy\npresetOptions:\n  CONTAINER: 1\n', 'p.yaml')).toThrow(/p\.yaml:4: presetOptions\.CONTAINER: unknown docker-socket-proxy switch "CONTAINER"/)
  })
})
