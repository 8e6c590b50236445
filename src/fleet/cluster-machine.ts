// The fleet's metadata, replicated by the cluster group (group id 0) like any user machine: which
// hosts exist (zone, address, state) and which groups exist (id, machine, replicas, founders).
// Every active host holds a replica of it (a voter on the hosts placement picks, a learner on the
// others), so each host reads the fleet from its own applied copy.
//
// Expected refusals (a group that exists, a host id taken by another data directory) are replies
// with a code rather than throws: the caller gets the exact FlotillaError code back. State is
// mutated in place: commands check everything before they change anything.

import type { ErrorCode } from '../common/errors.js';
import type { StateMachine } from '../group/state-machine.js';
import { memberId } from './member-id.js';
import { place, type HostInfo } from './placement.js';

/** The cluster group's id and (reserved, not a valid user group name) name. */
export const CLUSTER_GROUP_ID = 0;
export const CLUSTER_GROUP = '$cluster';

/**
 * active: takes members; deactivating: members move off, then it becomes inactive; failed:
 * silent past the failure timeout, members replaced; inactive: drained, holds nothing.
 */
export type HostState = 'active' | 'deactivating' | 'inactive' | 'failed';

export interface HostRecord {
  id: string;
  zone: string;
  address: string;
  /** Identifies the data directory: a host id cannot come back with a different one. */
  incarnation: string;
  state: HostState;
  /** Metadata version at which this incarnation first activated. */
  registeredAt: number;
  /** While failed: the state to go back to when it is heard again (a draining host keeps draining). */
  resumeState?: 'active' | 'deactivating';
  /** The activate() call that last made it active (see ClusterCommand activateHost). */
  activation: string;
}

/** Per-group settings a user may choose at addGroup. */
export interface GroupConfig {
  snapshotEvery?: number;
  maxPendingCommands?: number;
}

export interface GroupRecord {
  name: string;
  id: number;
  machine: string;
  replicas: number;
  config: GroupConfig;
  /** Metadata version at which the group was added. */
  createdAt: number;
  /** The founding members, placed when the group was added; each host creates its own. */
  founders: string[];
}

export interface ClusterState {
  /** Commands applied so far: a logical clock the same on every replica. */
  version: number;
  hosts: Record<string, HostRecord>;
  groups: Record<string, GroupRecord>;
  nextGroupId: number;
}

export type ClusterCommand =
  /**
   * `activation` names one activate() call: its attempts go through different seed hosts, each
   * with its own session, so a late attempt must be recognised as that call's and change nothing.
   */
  | { op: 'activateHost'; id: string; zone: string; address: string; incarnation: string; activation: string }
  /** With `from`, only if the host is still in that state (a failure marking decided on an older view). */
  | { op: 'setHostState'; id: string; state: HostState; incarnation: string; from?: HostState }
  | { op: 'addGroup'; name: string; machine: string; replicas: number; config: GroupConfig }
  | { op: 'removeGroup'; name: string };

export type ClusterReply =
  | { ok: true; group?: GroupRecord; host?: HostRecord; state?: ClusterState }
  | { ok: false; code: ErrorCode; message: string };

/** 'state': the whole metadata, for a host that holds no replica of the cluster group (a draining one). */
export type ClusterQuery = { op: 'group'; name: string } | { op: 'state' };

/** Active hosts, sorted by id: what placement distributes members over. */
export function activeHosts(state: ClusterState): HostInfo[] {
  return Object.values(state.hosts)
    .filter((h) => h.state === 'active')
    .map((h) => ({ id: h.id, zone: h.zone }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function refuse(code: ErrorCode, message: string): never {
  throw new Refusal(code, message);
}

class Refusal {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

function apply(state: ClusterState, cmd: ClusterCommand): ClusterReply {
  switch (cmd.op) {
    case 'activateHost': {
      const known = state.hosts[cmd.id];
      if (known !== undefined && known.incarnation !== cmd.incarnation) {
        refuse('BAD_ARGUMENT', `host id ${cmd.id} belongs to another data directory; start this one under a new host id`);
      }
      // A late attempt of an activation already applied: the host may be draining by now (seed 780).
      if (known !== undefined && known.activation === cmd.activation) return { ok: true, host: known };
      const host: HostRecord = {
        id: cmd.id,
        zone: cmd.zone,
        address: cmd.address,
        incarnation: cmd.incarnation,
        state: 'active',
        registeredAt: known?.registeredAt ?? state.version,
        activation: cmd.activation,
      };
      state.hosts[cmd.id] = host;
      return { ok: true, host };
    }
    case 'setHostState': {
      const host = state.hosts[cmd.id];
      if (host === undefined || host.incarnation !== cmd.incarnation) return refuse('BAD_ARGUMENT', `no host ${cmd.id} with that incarnation`);
      if (cmd.from !== undefined && host.state !== cmd.from) return refuse('BAD_ARGUMENT', `host ${cmd.id} is ${host.state}, not ${cmd.from}`);
      if (cmd.state === 'failed' && (host.state === 'active' || host.state === 'deactivating')) host.resumeState = host.state;
      if (cmd.state !== 'failed') delete host.resumeState;
      host.state = cmd.state;
      return { ok: true, host };
    }
    case 'addGroup': {
      if (state.groups[cmd.name] !== undefined) refuse('GROUP_EXISTS', `group ${cmd.name} already exists`);
      const hosts = activeHosts(state);
      if (hosts.length === 0) refuse('UNAVAILABLE', 'no active host to place the group on');
      const group: GroupRecord = {
        name: cmd.name,
        id: state.nextGroupId,
        machine: cmd.machine,
        replicas: cmd.replicas,
        config: cmd.config,
        createdAt: state.version,
        founders: place(cmd.name, cmd.replicas, hosts).map((h) => memberId(h, 1)),
      };
      state.nextGroupId++;
      state.groups[cmd.name] = group;
      return { ok: true, group };
    }
    case 'removeGroup': {
      if (state.groups[cmd.name] === undefined) refuse('NO_SUCH_GROUP', `no group named ${cmd.name}`);
      delete state.groups[cmd.name];
      return { ok: true };
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const clusterMachine: StateMachine<ClusterState, ClusterCommand, ClusterReply, ClusterQuery> = {
  init: () => ({ version: 0, hosts: {}, groups: {}, nextGroupId: 1 }),
  command(state, cmd) {
    state.version++;
    try {
      return { state, reply: apply(state, cmd) };
    } catch (err) {
      if (err instanceof Refusal) return { state, reply: { ok: false, code: err.code, message: err.message } };
      throw err;
    }
  },
  query(state, q) {
    if (q.op === 'group') {
      const group = state.groups[q.name];
      return group === undefined ? { ok: false, code: 'NO_SUCH_GROUP', message: `no group named ${q.name}` } : { ok: true, group };
    }
    return { ok: true, state };
  },
  snapshot: (state) => encoder.encode(JSON.stringify(state)),
  restore: (bytes) => JSON.parse(decoder.decode(bytes)) as ClusterState,
};
