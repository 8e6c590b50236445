// The cluster group's messages: the commands and queries hosts and clients send it, its replies,
// and its state (a snapshot, or the whole metadata a 'state' query answers), with one validator
// each. The machine (cluster-machine.ts) checks every command and query it applies or answers;
// whoever gets a reply over the wire checks it with decodeClusterReply.

import type { ErrorCode } from '../common/errors.js';
import { Decode } from '../common/decode.js';

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
  /**
   * The user machines this host runs, sorted, as it registered them when it last activated.
   * Absent in what older hosts wrote: unknown, so placement treats the host as running anything.
   */
  machines?: string[];
}

/** Per-group settings a user may choose at addGroup. */
export interface GroupConfig {
  snapshotEvery?: number;
  /** Snapshot also once the log since the last snapshot reaches this many bytes (group/snapshot-schedule.ts). */
  maxLogBytes?: number;
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
  | { op: 'activateHost'; id: string; zone: string; address: string; incarnation: string; activation: string; machines?: string[] }
  /** With `from`, only if the host is still in that state (a failure marking decided on an older view). */
  | { op: 'setHostState'; id: string; state: HostState; incarnation: string; from?: HostState }
  | { op: 'addGroup'; name: string; machine: string; replicas: number; config: GroupConfig }
  | { op: 'removeGroup'; name: string };

export type ClusterReply =
  | { ok: true; group?: GroupRecord; host?: HostRecord; state?: ClusterState }
  | { ok: false; code: ErrorCode; message: string };

/** 'state': the whole metadata, for a host that holds no replica of the cluster group (a draining one). */
export type ClusterQuery = { op: 'group'; name: string } | { op: 'state' };

const HOST_STATES: readonly HostState[] = ['active', 'deactivating', 'inactive', 'failed'];

/** A command for the cluster group, as a client or host sent it (BAD_ARGUMENT if malformed). */
export function decodeClusterCommand(value: unknown): ClusterCommand {
  return clusterCommand(new Decode('BAD_ARGUMENT', 'a cluster command'), value, '');
}

/** A query of the cluster group (BAD_ARGUMENT if malformed). */
export function decodeClusterQuery(value: unknown): ClusterQuery {
  const d = new Decode('BAD_ARGUMENT', 'a cluster query');
  const o = d.object(value, '');
  if (d.oneOf(o.op, 'op', ['group', 'state']) === 'group') d.string(o.name, 'name');
  return value as ClusterQuery;
}

/** The cluster group's answer to a command or query, as a host relayed it (TRANSPORT_PROTOCOL if malformed). */
export function decodeClusterReply(bytes: Uint8Array): ClusterReply {
  const d = new Decode('TRANSPORT_PROTOCOL', 'a cluster reply');
  return clusterReply(d, d.json(bytes), '');
}

/** The cluster group's state from a snapshot (STORAGE_CORRUPT if it is not one). */
export function decodeClusterState(bytes: Uint8Array): ClusterState {
  const d = new Decode('STORAGE_CORRUPT', "the cluster group's snapshot");
  return clusterState(d, d.json(bytes), '');
}

/** The checks of a cluster command at `path` of a payload (also inside an admin request). */
export function clusterCommand(d: Decode, value: unknown, path: string): ClusterCommand {
  const o = d.object(value, path);
  const at = (key: string) => d.at(path, key);
  switch (d.oneOf(o.op, at('op'), ['activateHost', 'setHostState', 'addGroup', 'removeGroup'])) {
    case 'activateHost':
      for (const key of ['id', 'zone', 'address', 'incarnation'] as const) d.string(o[key], at(key));
      // Absent in what hosts sent before activations were named (fleet-sim seed 780).
      d.optional(o.activation, at('activation'), d.string);
      // Absent in what hosts sent before they registered their machines.
      d.optional(o.machines, at('machines'), (v, p) => d.array(v, p, d.string));
      break;
    case 'setHostState':
      d.string(o.id, at('id'));
      d.oneOf(o.state, at('state'), HOST_STATES);
      d.string(o.incarnation, at('incarnation'));
      d.optional(o.from, at('from'), (v, p) => d.oneOf(v, p, HOST_STATES));
      break;
    case 'addGroup':
      d.string(o.name, at('name'));
      d.string(o.machine, at('machine'));
      d.int(o.replicas, at('replicas'));
      groupConfig(d, o.config, at('config'));
      break;
    case 'removeGroup':
      d.string(o.name, at('name'));
      break;
  }
  return value as ClusterCommand;
}

/** The checks of a cluster reply at `path` of a payload (also inside an admin 'cluster' reply). */
export function clusterReply(d: Decode, value: unknown, path: string): ClusterReply {
  const o = d.object(value, path);
  const at = (key: string) => d.at(path, key);
  if (d.boolean(o.ok, at('ok'))) {
    d.optional(o.group, at('group'), (v, p) => groupRecord(d, v, p));
    d.optional(o.host, at('host'), (v, p) => hostRecord(d, v, p));
    d.optional(o.state, at('state'), (v, p) => clusterState(d, v, p));
  } else {
    // Any code: one a newer host knows is passed on as it came.
    d.string(o.code, at('code'));
    d.string(o.message, at('message'));
  }
  return value as ClusterReply;
}

function clusterState(d: Decode, value: unknown, path: string): ClusterState {
  const o = d.object(value, path);
  const at = (key: string) => d.at(path, key);
  d.int(o.version, at('version'));
  d.record(o.hosts, at('hosts'), (v, p) => hostRecord(d, v, p));
  d.record(o.groups, at('groups'), (v, p) => groupRecord(d, v, p));
  d.int(o.nextGroupId, at('nextGroupId'));
  return value as ClusterState;
}

function hostRecord(d: Decode, value: unknown, path: string): HostRecord {
  const o = d.object(value, path);
  const at = (key: string) => d.at(path, key);
  for (const key of ['id', 'zone', 'address', 'incarnation'] as const) d.string(o[key], at(key));
  d.oneOf(o.state, at('state'), HOST_STATES);
  d.int(o.registeredAt, at('registeredAt'));
  d.optional(o.resumeState, at('resumeState'), (v, p) => d.oneOf(v, p, ['active', 'deactivating']));
  // Absent in what hosts wrote before activations were named (fleet-sim seed 780).
  d.optional(o.activation, at('activation'), d.string);
  d.optional(o.machines, at('machines'), (v, p) => d.array(v, p, d.string));
  return value as HostRecord;
}

function groupRecord(d: Decode, value: unknown, path: string): GroupRecord {
  const o = d.object(value, path);
  const at = (key: string) => d.at(path, key);
  d.string(o.name, at('name'));
  d.int(o.id, at('id'));
  d.string(o.machine, at('machine'));
  d.int(o.replicas, at('replicas'));
  groupConfig(d, o.config, at('config'));
  d.int(o.createdAt, at('createdAt'));
  d.array(o.founders, at('founders'), d.string);
  return value as GroupRecord;
}

function groupConfig(d: Decode, value: unknown, path: string): GroupConfig {
  const o = d.object(value, path);
  d.optional(o.snapshotEvery, d.at(path, 'snapshotEvery'), d.number);
  d.optional(o.maxLogBytes, d.at(path, 'maxLogBytes'), d.number);
  d.optional(o.maxPendingCommands, d.at(path, 'maxPendingCommands'), d.number);
  return value as GroupConfig;
}
