/**
 * @packageDocumentation
 * Private Docker engines for libswarm's own e2e tests: each {@link startEngine} call runs a
 * dockerd 20.10 with its own data-root, exec-root, unix socket, bridge, address pool and
 * hostname, with a `busybox:latest` image loaded, and removes all of it on `close()`.
 */
export { startEngine, freePort } from './engine.js'
export type { Engine, EngineOptions, EngineTls, DockerCommandOptions } from './engine.js'
export { busyboxImageTar } from './busybox-image.js'
export { writeComposeProject } from './compose-project.js'
export { startRegistry } from './registry.js'
export type { Registry } from './registry.js'
export { ensureDockerTools, DOCKER_TOOL_PACKAGES } from './docker-tools.js'
export type { EnsureDockerToolsOptions } from './docker-tools.js'
export { DOCKER28, DOCKER20, ENGINES_ROOT } from './paths.js'
export type { CommandResult } from './run-command.js'
export { dockerCliOutput, runDockerCli, startSwarmd } from './docker-cli.js'
export type { DockerCliOptions, Swarmd, SwarmdOptions } from './docker-cli.js'
export { rejectionOf } from './rejection.js'
export { eventually } from './eventually.js'
export type { EventuallyOptions } from './eventually.js'
export { startSshd, generateSshKey, SSHD } from './sshd.js'
export type { Sshd, SshdOptions } from './sshd.js'
export { TestEngineError } from './errors.js'
export { canRunTests, skipReason, NO_SKIP_VARIABLE } from './test-needs.js'
export type { TestNeed } from './test-needs.js'
