/**
 * @packageDocumentation
 * `@libswarm/simulator` plays a Docker engine in memory. It answers the Docker
 * vocabulary of `@libswarm/docker-api` with dockerd 20.10's shapes and texts (API
 * 1.41), runs a tiny process model (`echo`, `sleep`, `cat`, `sh -c 'exit 3'`), and
 * stays small enough to run a thousand of them in one process.
 */
export { simulator, createSimulator, parseSimulatorArgs, SIMULATOR_USAGE } from './simulator.js'
export type { Simulator, SimulatorOptions, SimulatorSnapshot } from './simulator.js'
