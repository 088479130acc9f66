/**
 * @packageDocumentation
 * `@libswarm/provision` is what every libswarm cloud provisioner shares: the provisioning
 * contract as a service over any {@link HostSource} (`Ls`/`Watch` list its hosts, `Attach NAME`
 * gives one host's engine, alone with one host it forwards every Docker message there), the host set that reconciles a
 * swarm's hosts with `--count`, the state directory with its CA and client certificate, the
 * cloud-init user data that starts dockerd with `--tlsverify`, and the mutual-TLS connection
 * to each host's engine.
 */
export { HOST_TAGS, HostSet } from './host-set.js'
export type { CloudHost, CloudHostState, HostChange, HostProvider, HostSetOptions, HostSsh, LaunchPlan, LaunchRequest, ReadyHost, UnreachablePolicy } from './host-set.js'
export { createProvisioningService, startProvisioningService } from './provisioning-service.js'
export type { HostSource, ServedHost, ServedHostChange } from './host-source.js'
export { PROVISION_USAGE, parseProvisionArgs } from './provision-arguments.js'
export type { ProviderOptions, ProvisionArguments } from './provision-arguments.js'
export { defaultStateDirectory, openStateDirectory } from './state-directory.js'
export type { ServerCertificate, StateDirectory } from './state-directory.js'
export { HOST_TLS_DIR, dockerUserData, sshDockerUserData } from './cloud-init.js'
export type { DockerUserDataOptions, SshDockerUserDataOptions } from './cloud-init.js'
export { issueSshHostKey, knownHostsFile } from './host-keys.js'
export type { SshHostKey } from './host-keys.js'
export { connectHostEngine, waitForEngine } from './host-engine.js'
export type { HostEngineAddress, WaitForEngineOptions } from './host-engine.js'
