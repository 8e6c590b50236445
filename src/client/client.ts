// A client of a running fleet for processes that are not hosts (a web server, a script, the
// `flotilla` command). It dials hosts over the hosts' own transport (authenticated with the cluster
// secret, under a random client id no host will mistake for a peer), routes by group name with the
// fleet's Router (its own leader cache, following `not leader, try X` hints), and carries a session
// on every command, so a retry after a lost answer or a leader change applies once: the same
// errors and session semantics as host.command / host.query. Its commands and queries go through a
// window (fleet/request-window.ts): a burst waits its turn in a bounded queue instead of failing.

import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import { encodeAdmin } from '../fleet/admin.js';
import { CLUSTER_GROUP, type ClusterCommand, type GroupRecord } from '../fleet/cluster-machine.js';
import { decodeClusterReply } from '../fleet/cluster-protocol.js';
import { hostOfMember } from '../fleet/member-id.js';
import { fleetLimits } from '../fleet/limits.js';
import { validateName } from '../fleet/names.js';
import { RequestWindow, checkWindowLimits, windowLimits, type WindowStats } from '../fleet/request-window.js';
import { Router } from '../fleet/router.js';
import { jsonCodec, type StateMachine } from '../group/state-machine.js';
import { groupHandle, type GroupHandle } from '../host/group-handle.js';
import { checkOptions, is, type OptionCheck } from '../host/options.js';
import { realScheduler } from '../common/scheduler.js';
import { CloseCode } from '../transport/connection.js';
import type { Consistency, HostId } from '../transport/items.js';
import { WsTransport, loadTls, type TlsOptions } from '../transport/ws-transport.js';
import { OPS_GROUP, decodeOpsReply, encodeOps, groupsShortWithout, type FleetView, type OpsReply, type OpsRequest } from '../fleet/ops-protocol.js';

export interface ConnectOptions {
  /** Hosts of the fleet to dial, 'host:port' or 'id@host:port'; one reachable host is enough. */
  hosts: string[];
  /** The cluster secret the hosts share. */
  secret: string;
  /**
   * Dial the hosts with wss://: `ca` (or `caFile`) is who signed their certificates (default: the
   * system's CAs); `cert` and `key` (or the files) are this client's, for hosts that require
   * client certificates (mutual TLS).
   */
  tls?: TlsOptions;
  /** Deadline of connect() and default deadline of each call (default 5000 ms). */
  timeoutMs?: number;
  /** Where connection problems are reported (default: silent). */
  logger?: Logger;
  /**
   * Commands and queries this client has running at once, at most (default 1,024: a group's
   * default maxPendingCommands, so one client alone never overflows a group). The others wait.
   */
  maxInFlight?: number;
  /**
   * Calls waiting for one of the maxInFlight slots, at most (default 100,000); one more is refused
   * BUSY at once. A waiting call keeps its deadline: past it, it fails TIMEOUT, never sent. Each
   * costs about 2 KB of memory besides its value while it waits.
   */
  maxQueued?: number;
}

export interface ClientStats extends WindowStats {
  /** Requests the client put on the wire (every attempt of every call, fleet operations included). */
  requestsSent: number;
}

export interface ClientCallOptions {
  timeoutMs?: number;
}

export interface ClientQueryOptions extends ClientCallOptions {
  /** linearizable (default), lease, or local (the answering replica's state, maybe stale). */
  consistency?: Consistency;
}

export interface ClientAddGroupOptions extends ClientCallOptions {
  machine: string;
  replicas?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Fleet views asked to learn host addresses, at most this often. */
const REFRESH_MS = 1000;
/** One fleet operation's attempt: a host answers these from its own state. */
const OPS_ATTEMPT_MS = 2000;

/** Every ConnectOptions key with its check (host/options.ts checkOptions): a new option must be added here too. */
const CONNECT_OPTION_CHECKS: Record<keyof ConnectOptions, OptionCheck> = {
  hosts: is.strings,
  secret: is.nonEmptyString,
  tls: is.object,
  timeoutMs: is.int(1),
  logger: is.object,
  maxInFlight: is.int(1),
  maxQueued: is.int(1),
};

/**
 * Connects to a fleet; resolves once one host has accepted the client. Its options are checked
 * first: BAD_ARGUMENT naming the option for an unknown one, a wrong type or a number out of range.
 */
export async function connect(options: ConnectOptions): Promise<Client> {
  checkOptions('connect', options, CONNECT_OPTION_CHECKS);
  if (!Array.isArray(options.hosts) || options.hosts.length === 0) throw new FlotillaError('BAD_ARGUMENT', 'connect: option hosts needs at least one host address', { option: 'hosts' });
  if (typeof options.secret !== 'string' || options.secret === '') throw new FlotillaError('BAD_ARGUMENT', 'connect: option secret is required (the cluster secret the hosts share)', { option: 'secret' });
  checkWindowLimits(windowLimits(options));
  const timeoutMs = options.timeoutMs ?? 5000;
  const logger = options.logger ?? pino({ level: 'silent' });
  const id = `client-${randomBytes(6).toString('hex')}`;
  const tls = options.tls === undefined ? undefined : await loadTls(options.tls, { listens: false });
  const transport = await WsTransport.start({ hostId: id, secret: options.secret, logger, ...(tls ? { tls } : {}) });
  try {
    const seeds = await resolveSeeds(transport, options.hosts, timeoutMs);
    const client = new Client(transport, { ...options, timeoutMs, logger });
    for (const [host, address] of seeds) client.learn(host, address);
    await client.waitConnected([...seeds.keys()], timeoutMs);
    return client;
  } catch (err) {
    await transport.close();
    throw err;
  }
}

export class Client {
  /** This client's id: its transport identity and the session id of its commands. */
  readonly id: string;
  private readonly transport: WsTransport;
  private readonly router: Router;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  /** Every host address the client has learned (seeds, then fleet views). */
  private readonly addresses = new Map<HostId, string>();
  /** Groups known to exist, for their founders (where to look first). */
  private readonly groupRecords = new Map<string, GroupRecord>();
  /** Group records being fetched, by name: concurrent calls to a new group share one fetch. */
  private readonly recordFetches = new Map<string, Promise<GroupRecord>>();
  /** Bounds the commands and queries in flight. */
  private readonly window: RequestWindow;
  private lastRefresh = -Infinity;
  private closed = false;
  /** Rejects every call in flight when the client closes (the router would retry until its deadline). */
  private readonly closing: Promise<never>;
  private shutDown: (err: FlotillaError) => void = () => undefined;

  /** Use connect(). */
  constructor(transport: WsTransport, options: Pick<ConnectOptions, 'maxInFlight' | 'maxQueued'> & { timeoutMs: number; logger: Logger }) {
    this.id = transport.hostId;
    this.transport = transport;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    this.window = new RequestWindow(windowLimits(options), realScheduler);
    this.router = new Router({
      hostId: this.id,
      transport,
      scheduler: realScheduler,
      clientId: this.id,
      firstRequestId: Math.floor(Math.random() * 2 ** 52),
      // Only reached for a request addressed to the client itself, which no candidate list holds.
      serveLocal: () => Promise.reject(new FlotillaError('BAD_ARGUMENT', 'a client serves no group')),
      candidates: (group) => this.candidates(group),
      // The hosts' limits: they derive them from the same frame.
      limits: fleetLimits(transport.maxFrameBytes),
    });
    transport.onItem((from, item) => {
      if (item.kind !== 'clientResponse') return;
      if (item.leaderHint !== '' && !this.addresses.has(item.leaderHint)) this.refreshHosts();
      this.router.onResponse(from, item);
    });
    transport.onPeerDown((host) => this.router.peerDown(host));
    this.closing = new Promise<never>((_, reject) => (this.shutDown = reject));
    this.closing.catch(() => undefined);
  }

  /** Applies `cmd` to the group's state machine, once; resolves with its reply. */
  async command<R = unknown>(group: string, cmd: unknown, options: ClientCallOptions = {}): Promise<R> {
    return this.call<R>(group, 'command', cmd, options.timeoutMs ?? this.timeoutMs);
  }

  /**
   * A typed handle on `group`: its command and query take `machine`'s command and query types and
   * resolve with its reply type (the machine only gives the types; see host/group-handle.ts).
   */
  group<S, C, R, Q>(group: string, machine: StateMachine<S, C, R, Q>): GroupHandle<C, R, Q> {
    return groupHandle(this, group, machine);
  }

  /** Runs `q` against the group's state: linearizable by default, or 'lease' / 'local'. */
  async query<R = unknown>(group: string, q: unknown, options: ClientQueryOptions = {}): Promise<R> {
    const consistency = options.consistency ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'lease' && consistency !== 'local') {
      throw new FlotillaError('BAD_ARGUMENT', `consistency must be linearizable, lease or local, got ${JSON.stringify(consistency)}`);
    }
    return this.call<R>(group, 'query', q, options.timeoutMs ?? this.timeoutMs, consistency);
  }

  /**
   * Adds a group (through a host, which checks the machine is registered); resolves once the
   * group's leader has committed.
   */
  async addGroup(name: string, options: ClientAddGroupOptions): Promise<void> {
    validateName('group', name);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = performance.now() + timeoutMs;
    const request: OpsRequest = { op: 'addGroup', name, machine: options.machine, timeoutMs };
    if (options.replicas !== undefined) request.replicas = options.replicas;
    let timedOut = false;
    try {
      await this.ops(request, 'addGroup', this.anyHost());
    } catch (err) {
      // The host's answer may be late while the group is created: look for it below.
      if (!(err instanceof FlotillaError && err.code === 'TIMEOUT')) throw err;
      timedOut = true;
    }
    // Where it was placed tells the router whom to ask.
    try {
      await this.groupRecord(name, Math.max(1, deadline - performance.now()));
    } catch (err) {
      if (timedOut && err instanceof FlotillaError && err.code === 'NO_SUCH_GROUP') {
        throw new FlotillaError('TIMEOUT', `group ${name}: no answer in time; it may or may not be added`, { group: name });
      }
      throw err;
    }
    await this.route(name, 'admin', encodeAdmin({ op: 'leaderCheck' }), { timeoutMs: Math.max(1, deadline - performance.now()) });
  }

  /** Deletes a group and, on every host, its replicas and their data. */
  async removeGroup(name: string, options: ClientCallOptions = {}): Promise<void> {
    validateName('group', name);
    const command: ClusterCommand = { op: 'removeGroup', name };
    const bytes = await this.route(CLUSTER_GROUP, 'command', encoder.encode(JSON.stringify(command)), { timeoutMs: options.timeoutMs ?? this.timeoutMs });
    const reply = decodeClusterReply(bytes);
    if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
    this.groupRecords.delete(name);
  }

  /** The fleet as one of its hosts sees it: hosts by zone, groups with placement and leader. */
  async fleet(options: ClientCallOptions = {}): Promise<FleetView> {
    const reply = await this.ops({ op: 'fleet' }, 'fleet', this.anyHost(), options.timeoutMs);
    this.learnFleet(reply.fleet);
    return reply.fleet;
  }

  /**
   * Moves every member off host `hostId` (which keeps running, inactive); resolves once the fleet
   * lists it inactive. Groups left with fewer active hosts than replicas (so fewer voters until a
   * host is activated) do not stop it: they are logged at warn and given to `onWarning`.
   * `onProgress` gets, about 4 times a second, the fleet as another host sees it and the members
   * the host still holds (null: it did not answer). Rejects BAD_ARGUMENT if the host is activated
   * again meanwhile (the drain is cancelled), TIMEOUT past `timeoutMs` (default 120 s; the drain
   * goes on).
   */
  async deactivate(hostId: string, options: ClientCallOptions & { onProgress?: (fleet: FleetView, membersLeft: number | null) => void; onWarning?: (message: string) => void } = {}): Promise<void> {
    validateName('host', hostId);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = performance.now() + timeoutMs;
    const fleet = await this.fleet();
    const before = stateIn(fleet, hostId);
    if (before === undefined) throw new FlotillaError('BAD_ARGUMENT', `the fleet has no host ${hostId}`);
    if (before === 'failed') throw hostFailed(hostId, 'it cannot drain: bring it back first (it then goes on with what it was doing)');
    for (const g of before === 'active' ? groupsShortWithout(fleet, hostId) : []) {
      const message = `group ${g.name} has ${g.replicas} replicas but only ${g.hosts} active hosts will be left without ${hostId}: it runs with ${g.hosts} voters until a host is activated`;
      this.logger.warn({ group: g.name, replicas: g.replicas, hosts: g.hosts }, message);
      options.onWarning?.(message);
    }
    await this.ops({ op: 'deactivate', timeoutMs }, 'deactivate', [hostId]);
    let draining = false;
    for (;;) {
      // Asked of the other hosts: the drained host stops following the metadata once it holds nothing.
      const [view, local] = await Promise.all([this.ops({ op: 'fleet' }, 'fleet', this.anyHost().filter((h) => h !== hostId)), this.localState(hostId)]);
      options.onProgress?.(view.fleet, local?.members ?? null);
      const state = stateIn(view.fleet, hostId);
      if (state === 'inactive') return;
      // Seen draining, then active again: someone activated it, which cancels the drain.
      if (state === 'deactivating' || local?.state === 'deactivating') draining = true;
      else if (draining && state === 'active' && local?.state === 'active') {
        throw new FlotillaError('BAD_ARGUMENT', `host ${hostId} was activated again while draining: the drain is cancelled`, { host: hostId, cancelled: true });
      }
      // Dead (or silent) mid-drain: it cannot finish, and waiting out the deadline tells nobody anything.
      if (state === 'failed') throw hostFailed(hostId, 'while draining: its members are replaced on other hosts; if it comes back it goes on draining');
      if (performance.now() >= deadline) throw new FlotillaError('TIMEOUT', `host ${hostId} is still ${state ?? 'unknown'} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Activates host `hostId` again after a deactivate, without restarting it (or a host started
   * without activating): in `zone`, by default the one it was active in. While it still drains
   * only that zone is accepted, and the drain is cancelled (its members stay). Resolves with the
   * zone once the host is active; TIMEOUT past `timeoutMs` (default 30 s).
   */
  async activate(hostId: string, options: ClientCallOptions & { zone?: string } = {}): Promise<{ zone: string }> {
    validateName('host', hostId);
    if (options.zone !== undefined) validateName('zone', options.zone);
    const timeoutMs = options.timeoutMs ?? 30_000;
    // Learns the host's address (an inactive host is still in the fleet view).
    if (!this.addresses.has(hostId)) await this.fleet();
    if (!this.addresses.has(hostId)) throw new FlotillaError('BAD_ARGUMENT', `the fleet has no host ${hostId} (a host that never joined: give its address to connect())`, { host: hostId });
    const request: OpsRequest = options.zone === undefined ? { op: 'activate', timeoutMs } : { op: 'activate', zone: options.zone, timeoutMs };
    // The host answers once active: the attempt outlasts the host's own deadline, so its error arrives.
    const reply = await this.ops(request, 'activate', [hostId], timeoutMs + OPS_ATTEMPT_MS);
    return { zone: reply.zone };
  }

  /** What host `hostId` says of itself (state, members held); null if it did not answer. */
  private async localState(hostId: string): Promise<{ state: string; members: number } | null> {
    try {
      return await this.ops({ op: 'local' }, 'local', [hostId], 1000);
    } catch (err) {
      if (err instanceof FlotillaError) return null;
      throw err;
    }
  }

  /** The window's counts (calls running, waiting, refused, timed out waiting) and the requests sent. */
  stats(): ClientStats {
    return { ...this.window.stats(), requestsSent: this.router.stats.attempts };
  }

  /** Hosts this client holds an authenticated connection to. */
  connectedHosts(): HostId[] {
    return this.transport.connectedHosts();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = new FlotillaError('SHUTTING_DOWN', 'the client is closed');
    this.window.close(closed);
    this.router.close(closed);
    this.shutDown(closed);
    await this.transport.close();
  }

  // ---------------------------------------------------------------------------------------------

  /** Adds a host the client may dial (seeds, fleet views). */
  learn(host: HostId, address: string): void {
    if (this.addresses.get(host) === address) return;
    this.addresses.set(host, address);
    this.transport.addPeer(host, address);
  }

  /** Waits for one of `hosts` to accept the client; explains why none did. */
  async waitConnected(hosts: HostId[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.transport.connectedHosts().length > 0) return;
      const failures = hosts.map((h) => ({ host: h, failure: this.transport.dialFailure(h) }));
      const auth = failures.find((f) => f.failure?.code === CloseCode.Auth);
      const allFailedAuth = failures.every((f) => f.failure?.code === CloseCode.Auth);
      if (auth !== undefined && (allFailedAuth || performance.now() >= deadline)) {
        throw new FlotillaError('TRANSPORT_AUTH', `host ${auth.host} refused the client: ${auth.failure?.reason ?? 'authentication failed'}`, { host: auth.host });
      }
      if (performance.now() >= deadline) {
        const why = failures.map((f) => `${f.host} at ${this.addresses.get(f.host) ?? '?'}: ${f.failure?.reason || 'no answer'}`).join('; ');
        throw new FlotillaError('UNAVAILABLE', `could not connect to the fleet within ${timeoutMs} ms (${why})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async call<R>(group: string, kind: 'command' | 'query', value: unknown, timeoutMs: number, consistency?: Consistency): Promise<R> {
    if (this.closed) throw new FlotillaError('SHUTTING_DOWN', 'the client is closed');
    validateName('group', group);
    return this.window.run(timeoutMs, (remainingMs) => this.send<R>(group, kind, value, remainingMs, consistency));
  }

  /** A call that has its slot in the window: encoded now (not while it waited), then routed. */
  private async send<R>(group: string, kind: 'command' | 'query', value: unknown, timeoutMs: number, consistency?: Consistency): Promise<R> {
    const deadline = performance.now() + timeoutMs;
    // Named as host.command names it, so the error says which call it was.
    const payload = jsonCodec<unknown>(`group ${group}: the ${kind}`).encode(value);
    this.router.checkPayload(group, kind, payload);
    await this.groupRecord(group, timeoutMs);
    const remaining = Math.max(1, deadline - performance.now());
    try {
      const reply = await this.route(group, kind, payload, consistency === undefined ? { timeoutMs: remaining } : { timeoutMs: remaining, consistency });
      return (reply.length === 0 ? undefined : JSON.parse(decoder.decode(reply))) as R;
    } catch (err) {
      // No leader anywhere may mean the group was removed meanwhile: say so if it was. The record
      // stays otherwise: forgetting it would make the next call wait on the cluster group, which
      // may be the very thing moving (a drain made such calls time out).
      if (err instanceof FlotillaError && err.code === 'UNAVAILABLE') {
        await this.fetchGroupRecord(group, 1000).catch((check: unknown) => {
          if (!(check instanceof FlotillaError && check.code === 'NO_SUCH_GROUP')) return;
          this.groupRecords.delete(group);
          throw check;
        });
      }
      throw err;
    }
  }

  /** The group's metadata, asked of the cluster group once (NO_SUCH_GROUP if it does not exist). */
  private async groupRecord(name: string, timeoutMs: number): Promise<GroupRecord> {
    return this.groupRecords.get(name) ?? (await this.fetchGroupRecord(name, timeoutMs));
  }

  /** Asks the cluster group for the record; joins a fetch of the same name already under way. */
  private fetchGroupRecord(name: string, timeoutMs: number): Promise<GroupRecord> {
    const running = this.recordFetches.get(name);
    if (running !== undefined) return running;
    const fetching = this.askGroupRecord(name, timeoutMs).finally(() => this.recordFetches.delete(name));
    this.recordFetches.set(name, fetching);
    return fetching;
  }

  private async askGroupRecord(name: string, timeoutMs: number): Promise<GroupRecord> {
    const bytes = await this.route(CLUSTER_GROUP, 'query', encoder.encode(JSON.stringify({ op: 'group', name })), { timeoutMs });
    const reply = decodeClusterReply(bytes);
    if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
    if (reply.group === undefined) throw new FlotillaError('NO_SUCH_GROUP', `no group named ${name}`);
    this.groupRecords.set(name, reply.group);
    return reply.group;
  }

  /** Hosts to ask for a group: where it was founded, then every host the client is connected to or knows. */
  private candidates(group: string): HostId[] {
    const out: HostId[] = [];
    const add = (h: HostId) => {
      if (h !== '' && h !== this.id && !out.includes(h)) out.push(h);
    };
    const record = this.groupRecords.get(group);
    if (record !== undefined) {
      for (const m of record.founders) add(hostOfMember(m));
      if (record.founders.some((m) => !this.addresses.has(hostOfMember(m)))) this.refreshHosts();
    }
    for (const h of this.transport.connectedHosts()) add(h);
    for (const h of this.addresses.keys()) add(h);
    return out;
  }

  /** Connected hosts first, then the others known. */
  private anyHost(): HostId[] {
    return [...new Set([...this.transport.connectedHosts(), ...this.addresses.keys()])];
  }

  /** Sends a fleet operation to each of `targets` in turn until one serves it. */
  private async ops<T extends OpsReply['op']>(request: OpsRequest, op: T, targets: HostId[], timeoutMs = OPS_ATTEMPT_MS) {
    let lastError: FlotillaError = new FlotillaError('UNAVAILABLE', 'not connected to any host');
    for (const target of targets) {
      try {
        await this.dialed(target, timeoutMs);
        // Sent as a query: a host that does not serve them answers NOT_LEADER (it holds no replica of OPS_GROUP).
        const bytes = await this.route(OPS_GROUP, 'query', encodeOps(request), { timeoutMs, via: target, only: true });
        return decodeOpsReply(bytes, op);
      } catch (err) {
        if (!(err instanceof FlotillaError)) throw err;
        // NOT_LEADER: a host of a flotilla version that served fleet operations only under `flotilla host`.
        if (err.code === 'NOT_LEADER') lastError = new FlotillaError('UNAVAILABLE', `host ${target} serves no fleet operations (a host of an older flotilla run outside \`flotilla host\`)`, { host: target });
        // A timed-out addGroup or deactivate may have been done: never repeated on another host.
        else if (err.code === 'TIMEOUT' && request.op !== 'fleet') throw err;
        else if (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT' || err.code === 'SHUTTING_DOWN' || err.code === 'NOT_ACTIVE') lastError = err;
        else throw err;
      }
    }
    throw lastError;
  }

  private route(...args: Parameters<Router['call']>): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new FlotillaError('SHUTTING_DOWN', 'the client is closed'));
    return Promise.race([this.router.call(...args), this.closing]);
  }

  /** Waits up to `timeoutMs` for a connection to `host` (just learned, or reconnecting). */
  private async dialed(host: HostId, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.transport.connectedHosts().includes(host) && performance.now() < deadline && !this.closed) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private learnFleet(view: FleetView): void {
    // An address already known stays: it is the one that worked (an advertised one may not, from here).
    for (const zone of Object.values(view.hosts)) for (const h of zone) if (!this.addresses.has(h.id)) this.learn(h.id, h.address);
  }

  /** Learns host addresses from a fleet view, in the background, at most once per REFRESH_MS. */
  private refreshHosts(): void {
    const now = performance.now();
    if (this.closed || now - this.lastRefresh < REFRESH_MS) return;
    this.lastRefresh = now;
    this.fleet().catch((err: unknown) => this.logger.debug({ err }, 'could not refresh the fleet view'));
  }
}

/** The state the fleet view gives host `id` (undefined: no such host). */
function stateIn(view: FleetView, id: string): string | undefined {
  return Object.values(view.hosts).flat().find((h) => h.id === id)?.state;
}

/** deactivate of a host the fleet marked failed: it fails at once, saying so. */
function hostFailed(id: string, what: string): FlotillaError {
  return new FlotillaError('UNAVAILABLE', `host ${id} is failed (silent past the fleet's failure timeout): ${what}`, { host: id, state: 'failed' });
}

/** Host ids of the given addresses ('id@addr' as given, a bare address asked of its listener). */
async function resolveSeeds(transport: WsTransport, hosts: string[], timeoutMs: number): Promise<Map<HostId, string>> {
  const out = new Map<HostId, string>();
  const errors: string[] = [];
  await Promise.all(
    hosts.map(async (seed) => {
      if (typeof seed !== 'string' || seed === '') throw new FlotillaError('BAD_ARGUMENT', `bad host address ${JSON.stringify(seed)}`);
      const at = seed.indexOf('@');
      if (at > 0) {
        out.set(seed.slice(0, at), seed.slice(at + 1));
        return;
      }
      try {
        out.set(await transport.identify(seed, timeoutMs), seed);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }),
  );
  if (out.size === 0) throw new FlotillaError('UNAVAILABLE', `cannot reach any host of the fleet: ${errors.join('; ')}`);
  return out;
}
