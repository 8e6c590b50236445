// What a user gives a Host: the options it starts with and those of its calls (host.ts), and the
// checks of those that the cluster group cannot make.

import type { Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import type { GroupConfig } from '../fleet/cluster-machine.js';
import type { Outcome } from '../group/group.js';
import type { StateMachine } from '../group/state-machine.js';
import type { Random } from '../raft/random.js';
import type { LogStore } from '../storage/log-store.js';
import type { StorageEngine } from '../storage/open-store.js';
import type { Consistency } from '../transport/items.js';
import type { Transport } from '../transport/transport.js';
import type { TlsOptions } from '../transport/ws-transport.js';

/** A state machine as a host registers it; commands, queries and replies cross the wire as JSON. */
export type AnyMachine = StateMachine<unknown, unknown, unknown, unknown>;

export interface HostOptions {
  /** This host's id: letters, digits, '.', '_', '-'. Stable across restarts. */
  id: string;
  /** 'host:port' to listen on (default 127.0.0.1:0, a free port). */
  listen?: string;
  /** The address other hosts dial (default: the address listened on). */
  advertise?: string;
  /** Addresses of hosts already in the fleet, 'host:port' or 'id@host:port'. Empty: this host founds a fleet. */
  join?: string[];
  /** Where the store lives (required for rocksdb and lmdb). */
  dataDir?: string;
  /** Storage engine (default rocksdb). */
  storage?: StorageEngine;
  /** The cluster secret every host shares. */
  secret?: string;
  /**
   * TLS for every connection (hosts dial each other and clients dial hosts with wss://; the
   * secret's handshake still runs inside it): this host's certificate and key, and the CA its
   * peers' certificates are signed by, as PEM (`cert`) or files (`certFile`). With
   * `requireClientCert`, mutual TLS: a peer or client without a certificate from the CA is refused.
   * Every host of a fleet uses TLS or none does.
   */
  tls?: TlsOptions;
  /** State machines by name; every host registers the same ones. */
  machines: Record<string, AnyMachine>;
  /** Milliseconds per Raft tick (default 50). */
  tickMs?: number;
  /** Ticks without a leader before an election (default 10; randomized up to twice that). */
  electionTicks?: number;
  /** Ticks between heartbeats (default 2). */
  heartbeatTicks?: number;
  /**
   * Ticks an idle group waits before it quiesces: its leader stops heartbeating and its followers
   * stop campaigning until there is work or the leader's host looks down (default 3 election
   * timeouts; 0 turns quiescence off).
   */
  quiesceAfterTicks?: number;
  /** A host silent this long is marked failed and its members replaced (default 5000 ms). */
  hostFailureTimeoutMs?: number;
  /** Period of the reconciler's safety pass (default 250 ms). */
  reconcileMs?: number;
  /** Voters of the cluster group (default 3). */
  clusterReplicas?: number;
  /** Default deadline of command/query/addGroup (default 5000 ms). */
  timeoutMs?: number;
  /** command/query calls of this host's own caller running at once, at most (default 1,024); the others wait... */
  maxInFlight?: number;
  /** ... in a queue of at most this many (default 100,000); one more is refused BUSY. */
  maxQueued?: number;
  /**
   * Connections this host holds at most, accepted and dialed; more are refused at accept (default:
   * what its soft file-descriptor limit allows with a quarter of it, at least 256, kept for the
   * store; logged at start). Above that: BAD_ARGUMENT.
   */
  maxConnections?: number;
  /** Accepted connections not yet authenticated, at most (default 128); more are refused at accept... */
  maxUnauthenticatedConnections?: number;
  /** ... and of those from one remote address (default 32). */
  maxUnauthenticatedPerAddress?: number;
  /** Time from a connection's TCP accept (or a dial's start) to its authentication; then it is closed (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /**
   * UNSAFE, for salvaging data no other replica has: serve from a data directory the fleet found
   * older than what it has seen (a backup or VM snapshot put back), instead of refusing with
   * STORAGE_STALE. Writes the fleet acknowledged after the copy may be lost. See fleet/generation.ts.
   */
  acceptStaleDataDir?: boolean;
  logger?: Logger;
  /** Injected instead of the defaults (the simulation, tests). */
  transport?: Transport;
  store?: LogStore;
  scheduler?: Scheduler;
  random?: Random;
  /** Sees every command a replica on this host applies (the simulation checks replicas agree). */
  onApply?: (event: { group: string; groupId: number; member: string; index: number; outcome: Outcome<unknown> }) => void;
}

export interface AddGroupOptions {
  machine: string;
  replicas?: number;
  config?: GroupConfig;
  timeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface QueryOptions extends CallOptions {
  consistency?: Consistency;
}

export interface DeactivateOptions {
  timeoutMs?: number;
  /** Called as members leave: how many are left on this host. */
  onProgress?: (membersLeft: number) => void;
}

/** A group has at most this many voters. */
export const MAX_REPLICAS = 7;

/** addGroup's replicas, checked. */
export function checkReplicas(replicas: number): number {
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new FlotillaError('BAD_ARGUMENT', `replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${replicas}`);
  }
  return replicas;
}

/** addGroup's config, checked: only known keys, positive integers. */
export function checkGroupConfig(config: GroupConfig): GroupConfig {
  const out: GroupConfig = {};
  for (const [key, value] of Object.entries(config)) {
    if (key !== 'snapshotEvery' && key !== 'maxPendingCommands') throw new FlotillaError('BAD_ARGUMENT', `unknown group config ${key}`);
    if (!Number.isInteger(value) || (value as number) < 1) throw new FlotillaError('BAD_ARGUMENT', `group config ${key} must be a positive integer`);
    out[key] = value as number;
  }
  return out;
}
