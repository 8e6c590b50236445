// What a user gives a Host: the options it starts with and those of its calls (host.ts), and the
// checks of those that the cluster group cannot make.

import type { Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import type { GroupConfig } from '../fleet/cluster-machine.js';
import { DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS } from '../fleet/replica-factory.js';
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
  /** The cluster secret every host shares: required (BAD_ARGUMENT without it), unless `transport` is given. */
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
  /** Ticks without a leader before an election (default 20, 1 s; randomized up to twice that). */
  electionTicks?: number;
  /** Ticks between heartbeats (default 4). */
  heartbeatTicks?: number;
  /**
   * Ticks an idle group waits before it quiesces: its leader stops heartbeating and its followers
   * stop campaigning until there is work or the leader's host looks down (default 30, 1.5 s; 0
   * turns quiescence off).
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

/** One option's check: null if `value` is fine, else what it must be ("an integer of at least 1"). */
export type OptionCheck = (value: unknown) => string | null;

/** The checks options are made of (also connect()'s, client/client.ts). */
export const is = {
  any: (): null => null,
  string: (v: unknown) => (typeof v === 'string' ? null : 'a string'),
  nonEmptyString: (v: unknown) => (typeof v === 'string' && v !== '' ? null : 'a non-empty string'),
  strings: (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : 'an array of strings'),
  boolean: (v: unknown) => (typeof v === 'boolean' ? null : 'true or false'),
  object: (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? null : 'an object'),
  function: (v: unknown) => (typeof v === 'function' ? null : 'a function'),
  int:
    (min: number, max = Number.MAX_SAFE_INTEGER): OptionCheck =>
    (v) =>
      Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? null : max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`,
  oneOf:
    (...allowed: string[]): OptionCheck =>
    (v) =>
      allowed.includes(v as string) ? null : `one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
};

/**
 * BAD_ARGUMENT naming the option (`details.option`) for options that are not an object, an unknown
 * key, or a value of the wrong type or out of range. `what` names the call ("Host.start").
 * Undefined values pass: those options take their defaults. A value is described by its type and
 * never shown (it may be the secret), a number excepted.
 */
export function checkOptions(what: string, options: unknown, checks: Record<string, OptionCheck>): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new FlotillaError('BAD_ARGUMENT', `${what} takes an object of options, got ${describe(options)}`);
  }
  for (const [key, value] of Object.entries(options)) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    if (check === undefined) {
      throw new FlotillaError('BAD_ARGUMENT', `${what}: unknown option ${key} (the options are ${Object.keys(checks).join(', ')})`, { option: key });
    }
    if (value === undefined) continue;
    const expected = check(value);
    if (expected !== null) throw new FlotillaError('BAD_ARGUMENT', `${what}: option ${key} must be ${expected}, got ${describe(value)}`, { option: key });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const positive = is.int(1);

/** Every HostOptions key with its check: an option added to HostOptions must be added here too. */
const HOST_OPTION_CHECKS: Record<keyof HostOptions, OptionCheck> = {
  id: is.nonEmptyString,
  listen: is.string,
  advertise: is.string,
  join: is.strings,
  dataDir: is.nonEmptyString,
  storage: is.oneOf('rocksdb', 'lmdb', 'memory'),
  secret: is.nonEmptyString,
  tls: is.object,
  // Checked by open.ts's checkMachines, which says which machine lacks what.
  machines: is.any,
  tickMs: positive,
  electionTicks: positive,
  heartbeatTicks: positive,
  quiesceAfterTicks: is.int(0),
  hostFailureTimeoutMs: positive,
  reconcileMs: positive,
  clusterReplicas: is.int(1, MAX_REPLICAS),
  timeoutMs: positive,
  maxInFlight: positive,
  maxQueued: positive,
  maxConnections: positive,
  maxUnauthenticatedConnections: positive,
  maxUnauthenticatedPerAddress: positive,
  handshakeTimeoutMs: positive,
  acceptStaleDataDir: is.boolean,
  logger: is.object,
  transport: is.object,
  store: is.object,
  scheduler: is.object,
  random: is.function,
  onApply: is.function,
};

/**
 * Host.start's options, checked before anything opens: BAD_ARGUMENT naming the option for an
 * unknown key, a wrong type, a number out of range, heartbeatTicks not below electionTicks, or no
 * secret (required unless a transport is given: an injected transport brings its own
 * authentication).
 */
export function checkHostOptions(options: HostOptions): void {
  checkOptions('Host.start', options, HOST_OPTION_CHECKS);
  if (options.id === undefined) throw new FlotillaError('BAD_ARGUMENT', 'Host.start: option id is required (this host\'s id, stable across restarts)', { option: 'id' });
  if (options.transport === undefined && options.secret === undefined) {
    throw new FlotillaError('BAD_ARGUMENT', 'Host.start: option secret is required (the cluster secret every host shares), unless a transport is given', { option: 'secret' });
  }
  const electionTicks = options.electionTicks ?? DEFAULT_ELECTION_TICKS;
  const heartbeatTicks = options.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS;
  if (heartbeatTicks >= electionTicks) {
    throw new FlotillaError('BAD_ARGUMENT', `Host.start: option heartbeatTicks (${heartbeatTicks}) must be below electionTicks (${electionTicks}), or followers campaign between heartbeats`, { option: 'heartbeatTicks' });
  }
}

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
    if (key !== 'snapshotEvery' && key !== 'maxLogBytes' && key !== 'maxPendingCommands') throw new FlotillaError('BAD_ARGUMENT', `unknown group config ${key}`);
    if (!Number.isInteger(value) || (value as number) < 1) throw new FlotillaError('BAD_ARGUMENT', `group config ${key} must be a positive integer`);
    out[key] = value as number;
  }
  return out;
}
