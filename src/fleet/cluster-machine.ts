// The fleet's metadata, replicated by the cluster group (group id 0) like any user machine: which
// hosts exist (zone, address, state) and which groups exist (id, machine, replicas, founders).
// Every active host holds a replica of it (a voter on the hosts placement picks, a learner on the
// others), so each host reads the fleet from its own applied copy.
//
// Expected refusals (a group that exists, a host id taken by another data directory) are replies
// with a code rather than throws: the caller gets the exact FlotillaError code back. State is
// mutated in place: commands check everything before they change anything. The messages and
// their validators are in cluster-protocol.ts: a malformed command or query (any peer that knows
// the secret may send one) is refused BAD_ARGUMENT, a snapshot that is no cluster state is
// STORAGE_CORRUPT.

import { FlotillaError, type ErrorCode } from '../common/errors.js';
import type { StateMachine } from '../group/state-machine.js';
import { decodeClusterCommand, decodeClusterQuery, decodeClusterState, type ClusterCommand, type ClusterQuery, type ClusterReply, type ClusterState, type HostRecord, type GroupRecord } from './cluster-protocol.js';
import { memberId } from './member-id.js';
import { machineShortfall, place, type HostInfo } from './placement.js';

export type { ClusterCommand, ClusterQuery, ClusterReply, ClusterState, GroupConfig, GroupRecord, HostRecord, HostState } from './cluster-protocol.js';

/** The cluster group's id and (reserved, not a valid user group name) name. */
export const CLUSTER_GROUP_ID = 0;
export const CLUSTER_GROUP = '$cluster';

/** Active hosts, sorted by id, with the machines they run: what placement distributes members over. */
export function activeHosts(state: ClusterState): HostInfo[] {
  return Object.values(state.hosts)
    .filter((h) => h.state === 'active')
    .map((h) => (h.machines === undefined ? { id: h.id, zone: h.zone } : { id: h.id, zone: h.zone, machines: h.machines }))
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
        // A restart with another set of machines registers the new set; an older host, none (unknown).
        ...(cmd.machines === undefined ? {} : { machines: [...new Set(cmd.machines)].sort() }),
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
      // The host that proposed it checked this on its copy; this is the same check on the state it applies to.
      const short = machineShortfall(cmd.machine, cmd.replicas, hosts);
      if (short !== null) refuse('NO_SUCH_MACHINE', short.message);
      const group: GroupRecord = {
        name: cmd.name,
        id: state.nextGroupId,
        machine: cmd.machine,
        replicas: cmd.replicas,
        config: cmd.config,
        createdAt: state.version,
        founders: place(cmd.name, cmd.replicas, hosts, cmd.machine).map((h) => memberId(h, 1)),
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

/**
 * A command or query as `decode` checks it: a malformed one (from any peer that knows the secret)
 * is refused BAD_ARGUMENT, alike on every replica, before it changes anything.
 */
function checked<T>(decode: (value: unknown) => T, value: unknown): T {
  try {
    return decode(value);
  } catch (err) {
    if (err instanceof FlotillaError) refuse(err.code, err.message);
    throw err;
  }
}

const encoder = new TextEncoder();

/** What `run` replies, or the refusal it threw as a reply; anything else thrown goes on. */
function orRefusal(run: () => ClusterReply): ClusterReply {
  try {
    return run();
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
}

function answer(state: ClusterState, q: ClusterQuery): ClusterReply {
  if (q.op === 'group') {
    const group = state.groups[q.name];
    return group === undefined ? { ok: false, code: 'NO_SUCH_GROUP', message: `no group named ${q.name}` } : { ok: true, group };
  }
  return { ok: true, state };
}

export const clusterMachine: StateMachine<ClusterState, ClusterCommand, ClusterReply, ClusterQuery> = {
  init: () => ({ version: 0, hosts: {}, groups: {}, nextGroupId: 1 }),
  command(state, cmd) {
    state.version++;
    return { state, reply: orRefusal(() => apply(state, checked(decodeClusterCommand, cmd))) };
  },
  query: (state, q) => orRefusal(() => answer(state, checked(decodeClusterQuery, q))),
  snapshot: (state) => encoder.encode(JSON.stringify(state)),
  restore: decodeClusterState,
};
