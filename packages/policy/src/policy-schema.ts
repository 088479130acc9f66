/** Who a client is: every field given must match the caller dockerserver saw. */
export interface ClientSpec {
  /** The dockerserver listener's name the request arrived on. */
  readonly listener?: string
  readonly uid?: number
  readonly gid?: number
  /** The verified client certificate's subject, exactly as `CN=ci,O=example`. */
  readonly subject?: string
  /** One of the certificate's subject alternative names, as `DNS:ci.example`. */
  readonly san?: string
  readonly fingerprint256?: string
}

/** What a container may ask for; a request asking for more is refused, naming the rule. */
export interface Limits {
  /** Image references allowed, as globs on `docker.io/library/busybox:latest` or `busybox:latest`. */
  readonly images?: readonly string[]
  /** `false`: no privileged containers or execs. */
  readonly privileged?: boolean
  /** Capabilities that may be added (`NET_ADMIN`); `[]` allows none. */
  readonly capabilities?: readonly string[]
  /** `false`: no devices, device cgroup rules or device requests (GPUs). */
  readonly devices?: boolean
  /** Security options allowed (globs, `seccomp=*`); `[]` allows none except `no-new-privileges`. */
  readonly securityOptions?: readonly string[]
  /** `false`: no host pid, ipc, network, user, uts or cgroup namespace. */
  readonly hostNamespaces?: boolean
  /** Host paths a bind mount may use (directories, with what is below them), and whether they must be read-only; `false`: none. */
  readonly hostPaths?: false | { readonly allow?: readonly string[], readonly readOnly?: boolean }
  /** `false`: no `--volumes-from`. */
  readonly volumesFrom?: boolean
  /** Volume drivers allowed; driver options that bind a host path (`o=bind`, `type=none`) are checked as host paths. */
  readonly volumeDrivers?: readonly string[]
  /** `false`: no container or exec user 0/root. */
  readonly rootUser?: boolean
  /** `required`: a memory limit must be set; `max`: at most this (`512m`, `2g`, bytes). */
  readonly memory?: { readonly required?: boolean, readonly max?: string | number }
  /** At most this many CPUs (`--cpus`, or `--cpu-quota`/`--cpu-period`). */
  readonly cpus?: { readonly max?: number, readonly required?: boolean }
  /** `publish: false`: no published ports; `allow`: host ports or ranges (`8000-8999`) allowed. */
  readonly ports?: { readonly publish?: boolean, readonly allow?: readonly string[] }
  /** Labels a create must carry (`required`) or must not set (`forbidden`, globs on the key). */
  readonly labels?: { readonly required?: readonly string[], readonly forbidden?: readonly string[] }
  /** Restart policies allowed (`no`, `on-failure`, `always`, `unless-stopped`). */
  readonly restartPolicies?: readonly string[]
  /** Network modes a build may use (`default`, `bridge`, `none`, `host`). */
  readonly buildNetworks?: readonly string[]
}

/** What an allowed create is changed into before it goes on. */
export interface Rewrites {
  /** Labels added to every container, network and volume created (over the request's own). */
  readonly labels?: Readonly<Record<string, string>>
  /** Every host path a create mounts (`-v`, `--mount type=bind`, a bind volume) is made read-only. */
  readonly readOnlyHostPaths?: boolean
  /** A memory limit for containers that set none (`512m`). */
  readonly memory?: string | number
  /** Adds `no-new-privileges` to every container. */
  readonly noNewPrivileges?: boolean
  /** Capabilities dropped from every container (`ALL`, `NET_RAW`). */
  readonly dropCapabilities?: readonly string[]
}

/** Request features a deny rule may be limited to; all given must hold. */
export interface When {
  readonly privileged?: boolean
  readonly hostNamespaces?: boolean
  readonly hostPaths?: boolean
  readonly devices?: boolean
  readonly capabilities?: boolean
  readonly images?: readonly string[]
}

/** One rule: the first rule whose clients, operations and `when` match decides. */
export interface Rule {
  readonly name: string
  /** Client names from `clients`; absent: any caller. */
  readonly clients?: readonly string[]
  /** Operations (names or groups) this rule allows, or denies. */
  readonly allow?: readonly string[]
  readonly deny?: readonly string[]
  readonly when?: When
  readonly limits?: Limits
  readonly rewrite?: Rewrites
  /** Limit the client to the containers, networks, volumes and exec sessions it created itself. */
  readonly ownOnly?: boolean
}

/** A policy file. */
export interface PolicyDocument {
  readonly version: 1
  /** The label carrying the owner on what a client creates (default `com.libswarm.policy.owner`). */
  readonly ownerLabel?: string
  /** Where the audit goes: `stdout`, `stderr` or a file path; absent: no audit. */
  readonly audit?: string
  readonly clients?: Readonly<Record<string, ClientSpec>>
  readonly rules?: readonly Rule[]
  /** A preset whose rules come after this file's own. */
  readonly preset?: 'docker-socket-proxy'
  /** The preset's switches, as its environment variables (`CONTAINERS: 1`, `POST: 0`). */
  readonly presetOptions?: Readonly<Record<string, string | number | boolean>>
}

const stringList = { type: 'array', items: { type: 'string', minLength: 1 } } as const
const operationList = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 } as const
const size = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*[bBkKmMgGtT]?[bB]?$' }] } as const

/** The JSON Schema of a policy file (draft-07), as ajv checks it. */
export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://libswarm.dev/schemas/policy.json',
  title: 'libswarm policy',
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    $schema: { type: 'string' },
    version: { const: 1 },
    ownerLabel: { type: 'string', minLength: 1 },
    audit: { type: 'string', minLength: 1 },
    preset: { enum: ['docker-socket-proxy'] },
    presetOptions: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    clients: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9_.:@-]+$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          listener: { type: 'string', minLength: 1 },
          uid: { type: 'integer', minimum: 0 },
          gid: { type: 'integer', minimum: 0 },
          subject: { type: 'string', minLength: 1 },
          san: { type: 'string', minLength: 1 },
          fingerprint256: { type: 'string', minLength: 1 }
        }
      }
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        oneOf: [{ required: ['allow'] }, { required: ['deny'] }],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$' },
          clients: stringList,
          allow: operationList,
          deny: operationList,
          ownOnly: { type: 'boolean' },
          when: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              privileged: { const: true },
              hostNamespaces: { const: true },
              hostPaths: { const: true },
              devices: { const: true },
              capabilities: { const: true },
              images: stringList
            }
          },
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: {
              images: stringList,
              privileged: { type: 'boolean' },
              capabilities: stringList,
              devices: { type: 'boolean' },
              securityOptions: stringList,
              hostNamespaces: { type: 'boolean' },
              hostPaths: {
                anyOf: [
                  { const: false },
                  {
                    type: 'object',
                    additionalProperties: false,
                    properties: { allow: { type: 'array', items: { type: 'string', pattern: '^/' } }, readOnly: { type: 'boolean' } }
                  }
                ]
              },
              volumesFrom: { type: 'boolean' },
              volumeDrivers: stringList,
              rootUser: { type: 'boolean' },
              memory: { type: 'object', additionalProperties: false, properties: { required: { type: 'boolean' }, max: size } },
              cpus: { type: 'object', additionalProperties: false, properties: { required: { type: 'boolean' }, max: { type: 'number', exclusiveMinimum: 0 } } },
              ports: {
                type: 'object',
                additionalProperties: false,
                properties: { publish: { type: 'boolean' }, allow: { type: 'array', items: { type: 'string', pattern: '^[0-9]+(-[0-9]+)?$' } } }
              },
              labels: { type: 'object', additionalProperties: false, properties: { required: stringList, forbidden: stringList } },
              restartPolicies: { type: 'array', items: { enum: ['no', '', 'on-failure', 'always', 'unless-stopped'] } },
              buildNetworks: stringList
            }
          },
          rewrite: {
            type: 'object',
            additionalProperties: false,
            properties: {
              labels: { type: 'object', additionalProperties: { type: 'string' } },
              readOnlyHostPaths: { type: 'boolean' },
              memory: size,
              noNewPrivileges: { type: 'boolean' },
              dropCapabilities: stringList
            }
          }
        }
      }
    }
  }
} as const
