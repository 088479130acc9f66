/**
 * @packageDocumentation
 * `@libswarm/aggregate` makes many Docker engines look like one, as the seed's second
 * swarmd example and Docker's classic Swarm did: a merged `docker ps` answered from a
 * live state cache, containers placed by strategy (spread, binpack, random) and filters
 * (constraints, affinities, dependencies, ports, resources, health), every container
 * operation routed to the node that holds the container, and unhealthy nodes dropped
 * and taken back by themselves.
 */
export { aggregate, createAggregate, AGGREGATE_VERSION } from './aggregate.js'
export type { AggregateContext } from './aggregate.js'
export { AGGREGATE_USAGE, parseAggregateArgs } from './aggregate-options.js'
export type { AggregateChild, AggregateOptions } from './aggregate-options.js'
export { AggregateErrorCode } from './errors.js'
export type { Strategy, PlacementFilter } from './placement.js'
export type { NodeHealth } from './engine-node.js'
