/**
 * @packageDocumentation
 * `@libswarm/mesos` is a Mesos framework on the v1 scheduler HTTP API (JSON): `docker run`
 * becomes a task that Apache Mesos places with its resource offers on one of its agents, whose
 * Docker engines are the service's children. `docker ps`, stop, kill and rm work on the
 * framework's tasks; logs, exec, attach, cp and inspect reach the task's container on its agent.
 */
export { mesos, createMesos, MESOS_VERSION } from './mesos-service.js'
export type { MesosContext } from './mesos-service.js'
export { MESOS_USAGE, parseMesosArgs } from './mesos-options.js'
export type { MesosOptions } from './mesos-options.js'
export { MesosErrorCode } from './errors.js'
export { SchedulerClient } from './scheduler-client.js'
export type { MasterTlsOptions, SchedulerClientOptions, SchedulerEvents } from './scheduler-client.js'
export { RecordIoDecoder, encodeRecord } from './record-io.js'
export type * from './mesos-types.js'
