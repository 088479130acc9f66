/**
 * @packageDocumentation
 * `@libswarm/policy` is a Docker socket you can hand to a container: placed between
 * dockerserver and the engine, it decides every Docker request by a YAML policy (deny by
 * default, rules by client and operation), checks and rewrites request arguments, keeps each
 * client to the containers, networks, volumes and exec sessions it created, and audits every
 * decision.
 */
export { policy, createPolicy, parsePolicyArgs, POLICY_USAGE } from './policy-service.js'
export type { PolicyInstance, PolicyOptions } from './policy-service.js'
export { compilePolicy, loadPolicyFile, DEFAULT_OWNER_LABEL } from './policy-file.js'
export type { CompiledPolicy, CompiledRule } from './policy-file.js'
export { decide, identifyClient } from './decision.js'
export type { Decision } from './decision.js'
export { POLICY_SCHEMA } from './policy-schema.js'
export type { ClientSpec, Limits, PolicyDocument, Rewrites, Rule, When } from './policy-schema.js'
export { OPERATION_GROUPS } from './operation-groups.js'
export { InvalidPolicyError } from './errors.js'
export type { AuditRecord } from './audit.js'
