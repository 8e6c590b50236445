// The package root: Host (the fleet API) first, then the layers it is built from, for users who
// want one of them on its own: the pure Raft core, the log stores, the group runtime and host
// loop, the host-to-host transport, placement, and the history checker.

export { Host } from './host/host.js';
export type { HostOptions, AddGroupOptions, CallOptions, QueryOptions, DeactivateOptions, AnyMachine } from './host/options.js';
export type { HostStatus, MemberStatus, LocalState } from './host/status.js';
export type { GroupHandle, CommandOf, QueryOf, ReplyOf } from './host/group-handle.js';
export type { GroupConfig, HostState } from './fleet/cluster-machine.js';
export { connect, Client, type ConnectOptions, type ClientCallOptions, type ClientQueryOptions, type ClientAddGroupOptions } from './client/client.js';
export type { FleetView, FleetHost, FleetGroup } from './fleet/ops-protocol.js';
export { startAdminServer, type AdminServer } from './admin/server.js';
export type { HostMetrics, Histogram } from './fleet/host-counters.js';

export { FlotillaError, MachineError, isFlotillaError, MAX_MACHINE_CODE_BYTES, MAX_MACHINE_DETAILS_BYTES, type ErrorCode, type MachineFault } from './common/errors.js';
export { Raft, bootstrapState, emptyState, DEFAULT_RAFT_CONFIG, type RaftConfig, type RaftState, type Ready, type RaftStatus } from './raft/raft.js';
export { type MembershipChange } from './raft/membership.js';
export { seededRandom } from './raft/random.js';
export * from './raft/types.js';
export { createLogStore, openLogStore, type LogStoreOptions, type StorageEngine } from './storage/open-store.js';
export type { LogStore, WriteBatch, GroupRecord } from './storage/log-store.js';
export { WsTransport, type WsTransportOptions } from './transport/ws-transport.js';
export { MemoryHub, MemoryTransport } from './transport/memory-transport.js';
export type { Transport, SendStatus } from './transport/transport.js';
export { Group, type GroupOptions, type Outcome, type Session, type GroupStatus, type CommandOptions, type Consistency } from './group/group.js';
export { jsonCodec, type Codec, type StateMachine } from './group/state-machine.js';
export { HostLoop, type HostLoopOptions, type LoopGroup, type Outgoing } from './loop/host-loop.js';
export { wireLoopToTransport, type RaftWiring, type RaftReceiver } from './loop/raft-wiring.js';
export { place, placementChanges, type HostInfo } from './fleet/placement.js';
export { validateName } from './fleet/names.js';
export { fleetLimits, type FleetLimits } from './fleet/limits.js';
export { checkLinearizability, type CheckResult } from './check/linearizability.js';
export { HistoryRecorder, parseHistory, readHistory, writeHistory, type HistoryOp } from './check/history.js';
