// A flotilla host: what a user starts on every machine of the fleet. It holds replicas of many
// consensus groups (one HostLoop drives them all over one store and one transport), keeps a copy of
// the fleet's metadata (its replica of the cluster group), serves and routes command/query by group
// name, and runs the fleet's housekeeping on the groups it leads: the reconciler (membership toward
// placement), failure marking (on the cluster leader) and the removal of replicas it no longer
// should hold. Everything that waits goes through the Scheduler, so the simulation runs this class
// unchanged on virtual time.

import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { HostCounters, type HostMetrics } from './fleet/host-counters.js';
import { FlotillaError } from './common/errors.js';
import { decodeAdminReply, decodeAdminRequest, encodeAdmin, type AdminReply, type AdminRequest } from './fleet/admin.js';
import {
  CLUSTER_GROUP,
  CLUSTER_GROUP_ID,
  activeHosts,
  type ClusterCommand,
  type ClusterReply,
  type ClusterState,
  type GroupConfig,
  type GroupRecord,
  type HostRecord,
  type HostState,
} from './fleet/cluster-machine.js';
import { Liveness } from './fleet/liveness.js';
import { LocalMembers, type LocalMember, type MemberInfo, type Replica } from './fleet/local-members.js';
import { MetadataChanges, watchedClusterMachine } from './fleet/metadata-changes.js';
import { GENERATION_ADVANCE_MS, staleDataDirError, type GenerationVerdict } from './fleet/generation.js';
import { GenerationGate } from './fleet/generation-gate.js';
import { GenerationKeeper, type GenerationStatus } from './fleet/generation-keeper.js';
import { FLEET_MEMBERS, hostOfMember, memberId, memberSerial } from './fleet/member-id.js';
import { validateName } from './fleet/names.js';
import { fleetLimits, truncateUtf8, type FleetLimits } from './fleet/limits.js';
import { OPS_GROUP, OpsService } from './fleet/ops-service.js';
import { checkRequest } from './fleet/request-check.js';
import { RequestWindow, checkWindowLimits, windowLimits } from './fleet/request-window.js';
import { place, type HostInfo } from './fleet/placement.js';
import { nextStep, type ReconcileStep } from './fleet/reconciler.js';
import { Router, toFlotilla } from './fleet/router.js';
import { Group, type Outcome, type StateHash } from './group/group.js';
import { jsonCodec, type StateMachine } from './group/state-machine.js';
import { HostLoop } from './loop/host-loop.js';
import { StallWatch } from './loop/stall-watch.js';
import { wireLoopToTransport, type RaftWiring } from './loop/raft-wiring.js';
import { realScheduler, type Scheduler, type Timer } from './common/scheduler.js';
import { isMember, isVoter } from './raft/membership.js';
import { DEFAULT_RAFT_CONFIG } from './raft/raft.js';
import { seededRandom, type Random } from './raft/random.js';
import { Role, type Membership } from './raft/types.js';
import type { GroupRecord as StoredGroup, LogStore } from './storage/log-store.js';
import { openLogStore, type StorageEngine } from './storage/open-store.js';
import type { ClientRequestItem, ClientResponseItem, Consistency, HostId } from './transport/items.js';
import { coalescedFlush } from './transport/coalesced-flush.js';
import type { Transport } from './transport/transport.js';
import { WsTransport } from './transport/ws-transport.js';

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

export type LocalState = 'inactive' | 'active' | 'deactivating' | 'stopped';

export interface MemberStatus {
  group: string;
  groupId: number;
  member: string;
  role: 'leader' | 'follower' | 'candidate' | 'learner';
  term: number;
  leader: string;
  commit: number;
  applied: number;
  /** Entries committed but not yet applied here. */
  lag: number;
  /** Idle: no heartbeats until there is work. */
  quiesced: boolean;
}

export interface HostStatus {
  id: string;
  state: LocalState;
  zone: string | null;
  members: MemberStatus[];
  leaders: number;
  quiesced: number;
  /**
   * Groups with a replica here that have had no leader for over LEADERLESS_REPORT_MS, with how
   * many of their voters' hosts this host hears from. Fewer than a quorum for good means the group
   * lost its quorum: flotilla never repairs that on its own (it would mean choosing which
   * acknowledged writes to lose); bring the hosts back, or recover from a replica's data by hand.
   */
  leaderless: Array<{ group: string; sinceMs: number; voters: number; votersReachable: number }>;
  /**
   * Groups this host leads that have entries waiting and have committed none of them for over
   * NOT_REPLICATING_ELECTION_TIMEOUTS election timeouts: the leader hears its followers (or
   * CheckQuorum would have stepped it down) but its appends do not get through. Commands to them
   * time out; see the host's warn log for when it began.
   */
  notReplicating: Array<{ group: string; sinceMs: number; commit: number; lastIndex: number }>;
  /** This data directory's generation, and what this host has recorded of its peers' (fleet/generation.ts). */
  generation: GenerationStatus;
  /**
   * Replicas here that run with a handicap, and why (`reason`): their machine's snapshot throws
   * (the group carries on from its log, which is not compacted until a snapshot works), or their
   * snapshot did not restore (the replica takes no part in its group until the host restarts).
   */
  degraded: Array<{ group: string; reason: string; sinceMs: number }>;
  /**
   * Groups whose replica on another host held a different state than the one here at the same
   * applied index (their snapshots' hashes differ: a machine that is not deterministic). The
   * latest per group and peer host, with each host's hash, until the two agree again.
   */
  stateMismatches: Array<{ group: string; index: number; hashes: Record<string, string>; sinceMs: number }>;
}

/** A group without a leader this long shows in status().leaderless. */
export const LEADERLESS_REPORT_MS = 5000;
/** A leader that commits nothing with entries waiting for this many election timeouts shows in status().notReplicating. */
export const NOT_REPLICATING_ELECTION_TIMEOUTS = 6;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_REPLICAS = 7;
const PEERS_KEY = 'fleet/peers';
/** Every host pings every other this often; one silent for SUSPECT_MS is suspected down. */
const PING_MS = 200;
const SUSPECT_MS = 1000;
/** Ticks between the campaigns of a lost leader's followers, in their rank order (see campaignRank). */
const CAMPAIGN_STAGGER_TICKS = 4;
/** Periodic passes between full metadata scans when nothing changed (retries of failed housekeeping). */
const RESCAN_PASSES = 20;
/** Passes between looks for leaderless groups (status() reports those leaderless for 5 s). */
const LEADERLESS_PASSES = 4;
/** Periodic passes between metadata fetches of a host without a cluster replica. */
const REFRESH_PASSES = 4;
/** A learner silent this long is removed, so a fresh one can be added. */
const LEARNER_GIVE_UP_MS = 10_000;

export class Host {
  readonly id: string;
  /** The address other hosts dial. */
  readonly address: string;
  private readonly options: HostOptions;
  private readonly store: LogStore;
  private readonly ownsStore: boolean;
  /** The host's transport behind the generation check: everything goes through it. */
  private readonly transport: GenerationGate;
  /** This data directory's generation and the peers' records (fleet/generation-keeper.ts). */
  private readonly generation: GenerationKeeper;
  /** A peer found this data directory stale: the host serves nothing and stops. */
  private staleError: FlotillaError | null = null;
  /** Rejects with staleError when it is set (it never resolves). */
  private readonly refusal: Promise<never>;
  private refuse: (err: FlotillaError) => void = () => undefined;
  /** Resolves once stop() has closed everything. */
  private stopped: Promise<void> = Promise.resolve();
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly loop: HostLoop;
  private readonly members: LocalMembers;
  private readonly router: Router;
  /** Bounds the caller's command/query calls in flight (the host's own housekeeping bypasses it). */
  private readonly calls: RequestWindow;
  private readonly liveness: Liveness;
  private readonly machines: Map<string, AnyMachine>;
  private readonly incarnation: string;
  private readonly timeoutMs: number;
  private readonly clusterReplicas: number;
  private readonly hostFailureTimeoutMs: number;
  private state: LocalState = 'inactive';
  /** The last metadata this host saw (kept after its cluster replica is gone). */
  private metadata: ClusterState | null = null;
  private metadataDirty = false;
  /** The groups the cluster machine changed since onMetadata() last looked (host changes: all). */
  private readonly metadataChanges = new MetadataChanges();
  /** The metadata (object and version) the last full scan looked at. */
  private scannedMetadata: ClusterState | null = null;
  private seenVersion = -1;
  private passesSinceScan = 0;
  private passesSinceRefresh = 0;
  private passes = 0;
  /** Active hosts as of the last metadata scan, and placements computed over them. */
  private active: HostInfo[] = [];
  private activeKey = '';
  private readonly placements = new Map<string, { replicas: number; hosts: string[] }>();
  private peersKey = '';
  private knownPeers = new Map<HostId, string>();
  private readonly timers: Timer[] = [];
  /** Housekeeping in flight, so a periodic pass does not repeat it. */
  private readonly inFlight = new Set<string>();
  /** Since when each learner of a group this host leads has not answered (see stuckLearners). */
  private readonly learnerSilentSince = new Map<string, number>();
  /** When each local replica last saw no leader (for status().leaderless). */
  private readonly leaderlessSince = new Map<number, number>();
  /** Leaders here whose commit index stands still with entries waiting (for status().notReplicating). */
  private readonly stallWatch: StallWatch;
  /** Per (group, host): the tombstone a prepare was refused with; the next id goes above it. */
  private readonly prepareFloor = new Map<string, number>();
  /** Replicas here that placement no longer wants (group ids), from the last full scan. */
  private readonly unwanted = new Set<number>();
  /** What metrics() reports; the groups count into it too. */
  private readonly counters = new HostCounters();
  /** Answers clients' fleet operations (status, add-group, deactivate). */
  private readonly ops: OpsService;
  /** Replies to clients that finish together (a turn applies many commands) share a frame. */
  private readonly flushReplies: () => void;
  /** Every size limit, derived from the transport's frame. */
  private readonly limits: FleetLimits;
  /** Tells the other replicas' hosts a replica's state hash (host/raft-wiring.ts). */
  private readonly announceStateHash: RaftWiring['announceStateHash'];

  private constructor(options: HostOptions, parts: { store: LogStore; ownsStore: boolean; transport: Transport; address: string; incarnation: string; generation: GenerationKeeper }) {
    this.options = options;
    this.id = options.id;
    this.address = parts.address;
    this.store = parts.store;
    this.ownsStore = parts.ownsStore;
    this.incarnation = parts.incarnation;
    this.scheduler = options.scheduler ?? realScheduler;
    this.random = options.random ?? seededRandom(randomBytes(4).readUInt32LE(0));
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ host: options.id });
    this.generation = parts.generation;
    this.refusal = new Promise<never>((_, reject) => (this.refuse = reject));
    this.refusal.catch(() => undefined);
    this.transport = new GenerationGate(parts.transport, {
      keeper: this.generation,
      now: () => this.scheduler.now(),
      onStale: (peer, verdict) => this.refusedAsStale(peer, verdict),
      logger: this.logger,
    });
    this.ops = new OpsService(this, this.logger);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.clusterReplicas = options.clusterReplicas ?? 3;
    this.hostFailureTimeoutMs = options.hostFailureTimeoutMs ?? 5000;
    this.stallWatch = new StallWatch(NOT_REPLICATING_ELECTION_TIMEOUTS * (options.electionTicks ?? 10) * (options.tickMs ?? 50));
    this.machines = new Map(Object.entries(options.machines));
    this.machines.set(CLUSTER_GROUP, watchedClusterMachine(this.metadataChanges));
    this.liveness = new Liveness(this.scheduler);
    this.flushReplies = coalescedFlush(this.transport, this.scheduler);
    this.limits = fleetLimits(this.transport.maxFrameBytes);
    this.calls = new RequestWindow(windowLimits(options), this.scheduler);

    const wiring = wireLoopToTransport(this.transport, FLEET_MEMBERS);
    this.announceStateHash = wiring.announceStateHash;
    wiring.onStateHash((groupId, from, report) => this.members.get(groupId)?.replica.peerStateHash(from, report));
    this.loop = new HostLoop({
      store: this.store,
      send: wiring.send,
      tickMs: options.tickMs ?? 50,
      scheduler: this.scheduler,
      logger: this.logger,
      onQuiesced: (groupId) => this.quiesced(groupId),
    });
    wiring.attach({
      step: (groupId, message) => {
        // Only the replica the message is addressed to: an older replica of the group is gone.
        if (this.members.get(groupId)?.member === message.to) this.loop.step(groupId, message);
      },
      unreachable: (groupId, to) => this.loop.unreachable(groupId, to),
    });
    this.members = new LocalMembers(this.store, this.loop, (info, from) => this.makeReplica(info, from));
    this.router = new Router({
      hostId: this.id,
      transport: this.transport,
      scheduler: this.scheduler,
      clientId: `${this.id}.${Math.floor(this.random() * 2 ** 48).toString(36)}`,
      firstRequestId: Math.floor(this.random() * 2 ** 52),
      serveLocal: (item) => this.serve(item),
      candidates: (group) => this.candidates(group),
      limits: this.limits,
    });
    // A lost connection is the fastest sign of a dead host; a new one, of a restarted peer.
    this.transport.onPeerDown((host) => {
      this.router.peerDown(host);
      if (this.knownPeers.has(host)) this.suspect(host);
    });
    this.transport.onPeerUp((host) => this.peerUp(host));
    this.transport.onItem((from, item) => {
      // Hosts only: clients (connect()) come and go and are not watched.
      if (this.knownPeers.has(from)) this.liveness.heard(from);
      switch (item.kind) {
        case 'clientRequest':
          void this.serve(item).then((response) => {
            this.transport.send(from, { ...response, requestId: item.requestId });
            this.flushReplies();
          });
          return;
        case 'clientResponse':
          this.router.onResponse(from, item);
          return;
        case 'ping':
          this.transport.send(from, { kind: 'pong', sentAt: item.sentAt, liveness: 'up' });
          return;
        default:
          return;
      }
    });
  }

  /** Opens the store, restores every member this host had, and starts serving. */
  static async start(options: HostOptions): Promise<Host> {
    validateName('host', options.id);
    for (const name of Object.keys(options.machines)) validateName('group', name);
    checkWindowLimits(windowLimits(options));
    const connectionLimits = {
      maxConnections: options.maxConnections,
      maxUnauthenticated: options.maxUnauthenticatedConnections,
      maxUnauthenticatedPerAddress: options.maxUnauthenticatedPerAddress,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
    };
    if (options.transport !== undefined && Object.values(connectionLimits).some((v) => v !== undefined)) {
      throw new FlotillaError('BAD_ARGUMENT', 'connection limits are options of the transport a host starts itself, not of one it is given');
    }
    if (options.transport === undefined && (options.secret === undefined || options.secret === '')) throw new FlotillaError('BAD_ARGUMENT', 'a host needs the cluster secret');
    let store = options.store;
    const ownsStore = store === undefined;
    if (store === undefined) {
      const engine = options.storage ?? 'rocksdb';
      if (engine === 'memory') store = await openLogStore({ engine });
      else {
        if (options.dataDir === undefined) throw new FlotillaError('BAD_ARGUMENT', `storage '${engine}' needs a dataDir`);
        store = await openLogStore({ engine, dir: options.dataDir });
      }
    }
    let incarnation: string;
    let generation: GenerationKeeper;
    try {
      incarnation = await loadIdentity(store, options.id);
      generation = await loadGeneration(store, options, incarnation);
    } catch (err) {
      // Another host's directory, or a stale one: the store this call opened must not stay open (and locked).
      if (ownsStore) await store.close();
      throw err;
    }
    let transport = options.transport;
    let address = options.advertise ?? '';
    if (transport === undefined) {
      const logger = (options.logger ?? pino({ level: 'silent' })).child({ host: options.id, layer: 'transport' });
      let ws: WsTransport;
      try {
        ws = await WsTransport.start({ hostId: options.id, listen: options.listen ?? '127.0.0.1:0', secret: options.secret!, logger, ...connectionLimits });
      } catch (err) {
        // Bad limits or a taken port: the store this call opened must not stay open (and locked).
        if (ownsStore) await store.close();
        throw err;
      }
      transport = ws;
      if (address === '') address = ws.address;
    }
    if (address === '') address = options.listen ?? options.id;
    const host = new Host(options, { store, ownsStore, transport, address, incarnation, generation });
    const peers = await store.getMeta(PEERS_KEY);
    if (peers !== undefined) host.setPeers(new Map(JSON.parse(decoder.decode(peers)) as Array<[HostId, string]>));
    await host.members.load();
    host.loop.start();
    host.startTimers();
    host.metadataChanged();
    return host;
  }

  // ---------------------------------------------------------------------------------------------
  // The fleet API

  /** Joins the fleet in `zone` (the first host without `join` founds it); resolves once active. */
  async activate(zone: string, options: CallOptions = {}): Promise<void> {
    const joining = this.join(zone, options);
    joining.catch(() => undefined); // after a refusal, how the join ends tells nothing more
    try {
      // Refused as stale meanwhile: that is the answer, at once, not the timeout the refusal causes.
      await Promise.race([joining, this.refusal]);
    } catch (err) {
      throw this.staleError ?? err;
    }
  }

  private async join(zone: string, options: CallOptions): Promise<void> {
    validateName('zone', zone);
    this.checkNotStopped();
    // Locally active is not enough: a deactivate that timed out may still have been applied.
    if (this.state === 'active' && this.metadata?.hosts[this.id]?.state === 'active') return;
    const timeoutMs = options.timeoutMs ?? Math.max(this.timeoutMs, 15_000);
    const activation = Math.floor(this.random() * 2 ** 48).toString(36);
    const command: ClusterCommand = { op: 'activateHost', id: this.id, zone, address: this.address, incarnation: this.incarnation, activation };
    // A host that was in a fleet before (deactivated, then activated again) rejoins through the
    // hosts it knew rather than founding a second fleet.
    const known = [...this.knownPeers].map(([id, address]) => `${id}@${address}`);
    const seeds = [...(this.options.join ?? []), ...known];
    if (this.members.get(CLUSTER_GROUP_ID) === undefined && seeds.length === 0) {
      if (this.members.tombstone(CLUSTER_GROUP_ID) > 0) {
        throw new FlotillaError('BAD_ARGUMENT', `host ${this.id} left a fleet before: give it 'join' addresses to rejoin (it will not found a second fleet)`);
      }
      const founder = memberId(this.id, 1);
      await this.members.create({ groupId: CLUSTER_GROUP_ID, group: CLUSTER_GROUP, machine: CLUSTER_GROUP, member: founder }, { voters: [founder], learners: [] });
    }
    // A cluster replica that never received the metadata (added, then the host stopped) is no way in.
    const hasCluster = this.members.get(CLUSTER_GROUP_ID) !== undefined;
    if (hasCluster && (this.metadata !== null || seeds.length === 0)) await this.clusterCommand(command, timeoutMs);
    else await this.joinVia(seeds, command, timeoutMs);
    await this.waitFor('this host to be active', timeoutMs, () => {
      const me = this.metadata?.hosts[this.id];
      return me !== undefined && me.state === 'active' && me.incarnation === this.incarnation && this.members.get(CLUSTER_GROUP_ID) !== undefined;
    });
    this.state = 'active';
  }

  /**
   * Moves every member off this host: marks it deactivating, hands its leaderships away at once,
   * and resolves when it holds no replica; then stop() loses nothing.
   */
  async deactivate(options: DeactivateOptions = {}): Promise<void> {
    this.checkNotStopped();
    // Already deactivating (a deactivate that timed out, or one the metadata shows): wait for it again.
    if (this.state !== 'active' && this.state !== 'deactivating') throw new FlotillaError('NOT_ACTIVE', `host ${this.id} is not active`);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = this.scheduler.now() + timeoutMs;
    await this.untilDone('mark this host deactivating', deadline, () => this.setMyState('deactivating', this.timeoutMs));
    this.state = 'deactivating';
    this.findUnwanted(false);
    this.reconcile({ quiesced: true });
    let reported = -1;
    await this.waitFor('every member to leave', timeoutMs, () => {
      if (this.members.size !== reported) {
        reported = this.members.size;
        options.onProgress?.(reported);
      }
      return this.members.size === 0;
    });
    await this.untilDone('mark this host inactive', deadline, () => this.setMyState('inactive', this.timeoutMs));
    this.state = 'inactive';
  }

  /**
   * Retries an idempotent fleet change whose answer was lost (TIMEOUT, UNAVAILABLE) until
   * `deadline`: giving up after one lost answer would leave this host unsure of its own state.
   */
  private async untilDone(what: string, deadline: number, change: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        return await change();
      } catch (err) {
        const retry = err instanceof FlotillaError && (err.code === 'TIMEOUT' || err.code === 'UNAVAILABLE');
        if (!retry || this.scheduler.now() >= deadline || this.state === 'stopped') throw err;
        this.logger.info({ err, what }, 'retrying');
      }
    }
  }

  /** Stops serving (without moving members: deactivate first for that) and closes the store. */
  async stop(): Promise<void> {
    // A second call (the host stopped itself: fail-stop, a stale data directory) waits for the first.
    if (this.state === 'stopped') return this.stopped;
    this.state = 'stopped';
    this.stopped = this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.calls.close(new FlotillaError('SHUTTING_DOWN', `host ${this.id} is stopped`));
    for (const t of this.timers) t.cancel();
    await this.loop.stop();
    await this.transport.close();
    if (this.ownsStore) await this.store.close();
  }

  async addGroup(name: string, options: AddGroupOptions): Promise<void> {
    validateName('group', name);
    this.checkActive();
    if (!this.machines.has(options.machine) || options.machine === CLUSTER_GROUP) {
      throw new FlotillaError('NO_SUCH_MACHINE', `no state machine registered as ${JSON.stringify(options.machine)}`);
    }
    const replicas = options.replicas ?? 3;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
      throw new FlotillaError('BAD_ARGUMENT', `replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${replicas}`);
    }
    const config = checkGroupConfig(options.config ?? {});
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = this.scheduler.now() + timeoutMs;
    await this.clusterCommand({ op: 'addGroup', name, machine: options.machine, replicas, config }, timeoutMs);
    // Usable once a leader of the new group has committed in its term.
    await this.router.call(name, 'admin', encodeAdmin({ op: 'leaderCheck' }), { timeoutMs: Math.max(1, deadline - this.scheduler.now()) });
  }

  /** Deletes a group and, on every host, its replicas and their data. */
  async removeGroup(name: string, options: CallOptions = {}): Promise<void> {
    validateName('group', name);
    this.checkActive();
    await this.clusterCommand({ op: 'removeGroup', name }, options.timeoutMs ?? this.timeoutMs);
  }

  /** Applies `cmd` to the group's state machine, once, on every replica; resolves with its reply. */
  async command<R = unknown>(name: string, cmd: unknown, options: CallOptions = {}): Promise<R> {
    validateName('group', name);
    return this.calls.run(options.timeoutMs ?? this.timeoutMs, async (timeoutMs) => {
      const record = await this.groupForCall(name);
      const payload = jsonCodec<unknown>(`group ${name}: the command`).encode(cmd);
      const reply = await this.router.call(name, 'command', payload, { timeoutMs });
      return decodeReply<R>(reply, record);
    });
  }

  /** Runs `q` against the group's state: linearizable by default, or 'lease' / 'local'. */
  async query<R = unknown>(name: string, q: unknown, options: QueryOptions = {}): Promise<R> {
    validateName('group', name);
    return this.calls.run(options.timeoutMs ?? this.timeoutMs, async (timeoutMs) => {
      const record = await this.groupForCall(name);
      const payload = jsonCodec<unknown>(`group ${name}: the query`).encode(q);
      const consistency = options.consistency ?? 'linearizable';
      if (consistency === 'local' && this.members.get(record.id) !== undefined) {
        const reply = await this.members.get(record.id)!.replica.queryBytes(payload, { consistency });
        return decodeReply<R>(reply, record);
      }
      const reply = await this.router.call(name, 'query', payload, { timeoutMs, consistency });
      return decodeReply<R>(reply, record);
    });
  }

  groups(): Array<Pick<GroupRecord, 'name' | 'id' | 'machine' | 'replicas' | 'config'>> {
    const meta = this.requireMetadata();
    return Object.values(meta.groups)
      .map(({ name, id, machine, replicas, config }) => ({ name, id, machine, replicas, config }))
      .sort((a, b) => a.id - b.id);
  }

  /** Every host the fleet knows, by zone. */
  hosts(): Record<string, Array<{ id: string; address: string; state: HostState }>> {
    const meta = this.requireMetadata();
    const byZone: Record<string, Array<{ id: string; address: string; state: HostState }>> = {};
    for (const h of Object.values(meta.hosts).sort((a, b) => (a.id < b.id ? -1 : 1))) {
      (byZone[h.zone] ??= []).push({ id: h.id, address: h.address, state: h.state });
    }
    return byZone;
  }

  /** Where placement wants the group (voters in order; the first is the preferred leader). */
  placement(name: string): string[] {
    const meta = this.requireMetadata();
    const record = meta.groups[name];
    if (record === undefined) throw new FlotillaError('NO_SUCH_GROUP', `no group named ${name}`);
    return [...place(name, record.replicas, activeHosts(meta))];
  }

  /** The host leading the group, asked of the group itself; null if it has no leader right now. */
  async whereIsLeader(name: string, options: CallOptions = {}): Promise<string | null> {
    return (await this.leaderReport(name, options)).leader;
  }

  /** whereIsLeader, with what the leader's replica reports wrong with the group (replicaWarnings). */
  async leaderReport(name: string, options: CallOptions = {}): Promise<{ leader: string | null; warnings: string[] }> {
    await this.groupForCall(name);
    try {
      const reply = await this.router.call(name, 'admin', encodeAdmin({ op: 'leaderCheck' }), { timeoutMs: options.timeoutMs ?? 1000 });
      const check = decodeAdminReply(reply, 'leaderCheck');
      return { leader: check.leader, warnings: Array.isArray(check.warnings) ? check.warnings.filter((w) => typeof w === 'string') : [] };
    } catch (err) {
      if (err instanceof FlotillaError && (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT')) return { leader: null, warnings: [] };
      throw err;
    }
  }

  /**
   * One line per thing wrong with the replicas here (of `group`, or all): degraded ones, state
   * mismatches, leaders that cannot replicate.
   */
  replicaWarnings(group?: string): string[] {
    // One group's alone when asked for one: the fleet view asks every group's leader.
    const member = group === undefined ? undefined : this.memberFor(group);
    const members = group === undefined ? [...this.members.all()] : member === undefined ? [] : [member];
    const now = this.scheduler.now();
    const { degraded, stateMismatches } = this.replicaHealth(now, members);
    const lines = degraded.map((d) => `group ${d.group} on ${this.id}: ${d.reason}`);
    const names = new Map(members.map((m) => [m.groupId, m.group]));
    for (const stall of this.stallWatch.stalled(now)) {
      const name = names.get(stall.groupId);
      if (name === undefined) continue;
      lines.push(`group ${name}: its leader on ${this.id} has committed nothing for ${(stall.sinceMs / 1000).toFixed(1)} s (commit ${stall.commit}, last index ${stall.lastIndex})`);
    }
    for (const x of stateMismatches) {
      const hashes = Object.entries(x.hashes).map(([host, hash]) => `${host} ${hash}`).join(', ');
      lines.push(`group ${x.group}: replicas hold different states at index ${x.index} (${hashes})`);
    }
    return lines;
  }

  /**
   * UNSAFE, for an operator, once a group lost its quorum for good (see status().leaderless) and
   * its hosts will not come back: this host's replica becomes the group's only voter and leader.
   * Writes the lost majority acknowledged that this replica lacks are lost. The reconciler then
   * adds fresh members on the placed hosts; old members whose hosts return are no members any more
   * and are deleted. Refused while the group has a leader.
   */
  async unsafeRecoverGroup(name: string, options: CallOptions = {}): Promise<void> {
    validateName('group', name);
    this.checkActive();
    const member = this.memberFor(name);
    if (member === undefined) throw new FlotillaError('BAD_ARGUMENT', `host ${this.id} holds no replica of ${name} to recover from`);
    if (member.replica.leader !== '') {
      throw new FlotillaError('BAD_ARGUMENT', `group ${name} has a leader (${hostOfMember(member.replica.leader)}): nothing to recover`);
    }
    this.logger.warn({ group: name, member: member.member }, 'unsafe recovery: this replica becomes the only voter');
    member.replica.unsafeForceSingleVoter();
    await this.waitFor(`${name} to commit as a single voter`, options.timeoutMs ?? this.timeoutMs, () => this.leadsCommitted(member));
  }

  /** This host: its members, their roles and lag. */
  status(): HostStatus {
    const members: MemberStatus[] = [];
    let leaders = 0;
    for (const m of this.members.all()) {
      const replica = m.replica;
      const role = isVoter(replica.membership, m.member) ? roleName(replica.role) : 'learner';
      if (role === 'leader') leaders++;
      members.push({
        group: m.group,
        groupId: m.groupId,
        member: m.member,
        role,
        term: replica.term,
        leader: replica.leader === '' ? '' : hostOfMember(replica.leader),
        commit: replica.committed,
        applied: m.replica.appliedIndex,
        lag: replica.committed - m.replica.appliedIndex,
        quiesced: replica.isQuiesced,
      });
    }
    members.sort((a, b) => a.groupId - b.groupId);
    const leaderless: HostStatus['leaderless'] = [];
    const now = this.scheduler.now();
    for (const [groupId, since] of this.leaderlessSince) {
      const m = this.members.get(groupId);
      if (m === undefined || now - since < LEADERLESS_REPORT_MS) continue;
      const voters = m.replica.membership.voters;
      const reachable = voters.filter((v) => hostOfMember(v) === this.id || this.liveness.silentFor(hostOfMember(v)) < SUSPECT_MS).length;
      leaderless.push({ group: m.group, sinceMs: Math.round(now - since), voters: voters.length, votersReachable: reachable });
    }
    const quiesced = members.filter((m) => m.quiesced).length;
    const notReplicating = this.stallWatch.stalled(now).flatMap(({ groupId, ...rest }) => {
      const m = this.members.get(groupId);
      return m === undefined ? [] : [{ group: m.group, ...rest }];
    });
    return {
      id: this.id,
      state: this.state,
      zone: this.metadata?.hosts[this.id]?.zone ?? null,
      members,
      leaders,
      quiesced,
      leaderless,
      notReplicating,
      generation: this.generation.status(),
      ...this.replicaHealth(now),
    };
  }

  /** status()'s degraded replicas and state mismatches, from each replica's health(). */
  private replicaHealth(now: number, members: Iterable<LocalMember> = this.members.all()): Pick<HostStatus, 'degraded' | 'stateMismatches'> {
    const degraded: HostStatus['degraded'] = [];
    const stateMismatches: HostStatus['stateMismatches'] = [];
    for (const m of members) {
      const health = m.replica.health();
      if (health.degraded !== null) degraded.push({ group: m.group, reason: health.degraded.reason, sinceMs: Math.round(now - health.degraded.since) });
      for (const x of health.mismatches) {
        stateMismatches.push({ group: m.group, index: x.index, hashes: { [this.id]: x.ours, [x.peer]: x.theirs }, sinceMs: Math.round(now - x.at) });
      }
    }
    return { degraded, stateMismatches };
  }

  get localState(): LocalState {
    return this.state;
  }

  /** Counters for monitoring (what /metrics shows): proposals, commit latency, fsyncs, frames, elections, errors. */
  metrics(): HostMetrics {
    const { turns, writes, syncs, applyCutShort } = this.loop.stats;
    const connections = this.transport.inner instanceof WsTransport ? this.transport.inner.connectionStats() : null;
    return { ...this.counters.snapshot(), loop: { turns, writes, syncs, applyCutShort }, transport: this.transport.stats(), connections, fleetOps: { ...this.ops.served } };
  }

  // ---------------------------------------------------------------------------------------------
  // Replicas

  private makeReplica(info: MemberInfo, from: { founding: Membership } | { record: StoredGroup }): Replica {
    const machine = this.machines.get(info.machine);
    if (machine === undefined) {
      throw new FlotillaError('NO_SUCH_MACHINE', `group ${info.group} runs machine ${JSON.stringify(info.machine)}, which this host does not register`);
    }
    const config = this.metadata?.groups[info.group]?.config ?? {};
    const isCluster = info.groupId === CLUSTER_GROUP_ID;
    const options = {
      groupId: info.groupId,
      raft: {
        ...DEFAULT_RAFT_CONFIG,
        id: info.member,
        electionTick: this.options.electionTicks ?? 10,
        heartbeatTick: this.options.heartbeatTicks ?? 2,
        quiesceAfterTicks: this.options.quiesceAfterTicks ?? 3 * (this.options.electionTicks ?? 10),
        // Sizes from the frame: every Append and snapshot chunk fits one, no entry is too large for an Append.
        maxAppendBytes: this.limits.maxAppendBytes,
        appendEntryOverheadBytes: this.limits.entryOverheadBytes,
        maxEntryBytes: this.limits.maxEntryBytes,
        snapshotChunkBytes: this.limits.snapshotChunkBytes,
        random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      },
      machine,
      snapshotEvery: config.snapshotEvery ?? (isCluster ? 1000 : undefined),
      maxPendingCommands: config.maxPendingCommands,
      counters: this.counters,
      logger: this.logger.child({ group: info.group, member: info.member }),
      now: () => this.scheduler.now(),
      announceStateHash: (hash: StateHash, to: string[]) => this.announceStateHash(info.groupId, hash, to),
      onApply: (index: number, outcome: Outcome<unknown>) => {
        if (isCluster) this.metadataChanged();
        this.options.onApply?.({ group: info.group, groupId: info.groupId, member: info.member, index, outcome });
      },
    };
    if (!('founding' in from)) return Group.restore(options, from.record);
    const replica = Group.create(options, from.founding);
    // The preferred leader of a new group campaigns at once: the group is usable in one round trip.
    if (from.founding.voters[0] === info.member) replica.campaignNow();
    return replica;
  }

  // ---------------------------------------------------------------------------------------------
  // Metadata

  /** Coalesces every apply of the cluster group in a turn into one look at the new metadata. */
  private metadataChanged(): void {
    if (this.metadataDirty) return;
    this.metadataDirty = true;
    this.scheduler.soon(() => {
      this.metadataDirty = false;
      this.onMetadata();
    });
  }

  /**
   * Acts on the metadata: after the cluster group applied something (soon after), and on every
   * periodic `pass`. A full scan costs O(groups), so it runs only when the hosts changed, on a
   * whole new state, and now and then to retry; an added or removed group is looked at alone.
   * Between scans only groups with something in motion can need a step: a quiesced group's
   * membership and placement change only with the metadata (idle cost, bench: 3,000 groups).
   */
  private onMetadata(pass = false): void {
    if (this.state === 'stopped') return;
    const cluster = this.members.get(CLUSTER_GROUP_ID);
    if (cluster !== undefined && cluster.replica.appliedIndex > 0) {
      const state = cluster.replica.state as ClusterState;
      if (state.version > 0) this.metadata = state;
    }
    const meta = this.metadata;
    if (meta === null) return;
    const changedGroups = this.metadataChanges.take();
    const changed = meta.version !== this.seenVersion;
    this.seenVersion = meta.version;
    const newState = changed && meta !== this.scannedMetadata;
    if (changedGroups === null || newState || (pass && ++this.passesSinceScan >= RESCAN_PASSES)) {
      this.scanAll(meta, !changed);
      return;
    }
    for (const name of changedGroups) this.scanGroup(meta, name);
    // Groups in motion take their next step at once, not at the next pass: the cluster group
    // itself grows to its voters while the fleet forms, and a new leader's change commits.
    this.reconcile({ quiesced: false });
  }

  /** Everything placement and the metadata ask of this host, for every group. `rescan`: a periodic retry. */
  private scanAll(meta: ClusterState, rescan: boolean): void {
    this.scannedMetadata = meta;
    this.passesSinceScan = 0;
    this.updatePeers(meta);
    this.updateActiveHosts(meta);
    const me = meta.hosts[this.id];
    // The fleet has this host draining (a deactivate whose answer was lost): so does the host.
    if (me?.state === 'deactivating' && me.incarnation === this.incarnation && this.state === 'active') this.state = 'deactivating';
    for (const group of Object.values(meta.groups)) this.foundIfFounder(meta, group);
    for (const m of [...this.members.all()]) this.deleteIfRemoved(meta, m);
    this.reconcile({ quiesced: true });
    this.findUnwanted(rescan);
  }

  /** What an added or removed group asks of this host: found it, delete it, or move it. */
  private scanGroup(meta: ClusterState, name: string): void {
    const group = meta.groups[name];
    if (group !== undefined) this.foundIfFounder(meta, group);
    const leaving = this.leaving(meta);
    const here = this.placesHere(meta);
    for (const m of this.members.named(name)) {
      if (this.deleteIfRemoved(meta, m)) continue;
      this.reconcileMember(meta, m, leaving);
      if (this.wanted(meta, m, here)) this.unwanted.delete(m.groupId);
      else this.unwanted.add(m.groupId);
    }
  }

  /** A group this host founds (it was active when the group was added): its replica starts here. */
  private foundIfFounder(meta: ClusterState, group: GroupRecord): void {
    const me = meta.hosts[this.id];
    const founder = memberId(this.id, 1);
    if (
      me !== undefined &&
      me.incarnation === this.incarnation &&
      me.registeredAt <= group.createdAt &&
      group.founders.includes(founder) &&
      this.members.get(group.id) === undefined &&
      this.members.tombstone(group.id) === 0
    ) {
      const info = { groupId: group.id, group: group.name, machine: group.machine, member: founder };
      this.housekeeping(`found/${group.id}`, () => this.members.create(info, { voters: group.founders, learners: [] }));
    }
  }

  /** Deletes the replica of a group the fleet removed; true if it is going. */
  private deleteIfRemoved(meta: ClusterState, m: LocalMember): boolean {
    if (m.groupId === CLUSTER_GROUP_ID || m.groupId >= meta.nextGroupId || meta.groups[m.group]?.id === m.groupId) return false;
    this.housekeeping(`delete/${m.groupId}`, () => this.members.delete(m.groupId));
    return true;
  }

  private updateActiveHosts(meta: ClusterState): void {
    const active = activeHosts(meta);
    const key = active.map((h) => `${h.id}@${h.zone}`).join(',');
    if (key === this.activeKey) return;
    this.activeKey = key;
    this.active = active;
    this.placements.clear();
  }

  /**
   * Placement over the active hosts, cached until they change (the periodic passes ask often).
   * A deactivating host never places anything on itself, whatever its copy of the metadata says.
   */
  private placementFor(name: string, replicas: number): string[] {
    const cached = this.placements.get(name);
    const hosts = cached !== undefined && cached.replicas === replicas ? cached.hosts : place(name, replicas, this.active);
    if (cached === undefined || cached.hosts !== hosts) this.placements.set(name, { replicas, hosts });
    if (this.state === 'deactivating' && hosts.includes(this.id)) return place(name, replicas, this.active.filter((h) => h.id !== this.id));
    return hosts;
  }

  private updatePeers(meta: ClusterState): void {
    const peers = new Map<HostId, string>();
    for (const h of Object.values(meta.hosts)) if (h.id !== this.id) peers.set(h.id, h.address);
    this.setPeers(peers);
  }

  /**
   * The fleet's other hosts, also kept in the store: a host restarting with no usable copy of the
   * metadata (its cluster replica was still empty) can still reach the fleet through them.
   */
  private setPeers(peers: Map<HostId, string>): void {
    const key = [...peers].map(([id, a]) => `${id}@${a}`).sort().join(',');
    if (key === this.peersKey) return;
    this.peersKey = key;
    // A host learned of just now (a new one whose join came before it was a peer) has been silent
    // only since now: judged from this process's start, it would be marked failed as it joins.
    for (const id of peers.keys()) if (!this.knownPeers.has(id)) this.liveness.heard(id);
    this.knownPeers = peers;
    this.transport.setPeers(peers);
    const batch = this.store.newBatch();
    batch.setMeta(PEERS_KEY, encoder.encode(JSON.stringify([...peers])));
    this.housekeeping('save-peers', () => this.store.write(batch, { sync: false }));
  }

  private async clusterCommand(command: ClusterCommand, timeoutMs: number): Promise<ClusterReply & { ok: true }> {
    const payload = jsonCodec<ClusterCommand>().encode(command);
    const bytes = await this.router.call(CLUSTER_GROUP, 'command', payload, { timeoutMs });
    const reply = JSON.parse(decoder.decode(bytes)) as ClusterReply;
    if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
    return reply;
  }

  private async setMyState(state: HostState, timeoutMs: number): Promise<void> {
    await this.clusterCommand({ op: 'setHostState', id: this.id, state, incarnation: this.incarnation }, timeoutMs);
  }

  private async joinVia(seeds: string[], command: ClusterCommand & { op: 'activateHost' }, timeoutMs: number): Promise<void> {
    const deadline = this.scheduler.now() + timeoutMs;
    let lastError: unknown = new FlotillaError('UNAVAILABLE', 'no seed to join through');
    while (this.scheduler.now() < deadline) {
      for (const seed of seeds) {
        try {
          const seedId = await this.resolveSeed(seed);
          this.checkNotRefused(seedId);
          const remaining = Math.max(1, deadline - this.scheduler.now());
          const bytes = await this.router.call(CLUSTER_GROUP, 'admin', encodeAdmin({ op: 'join', command }), { timeoutMs: Math.min(remaining, 3000), via: seedId });
          const reply = decodeAdminReply(bytes, 'cluster').reply as ClusterReply;
          if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
          return;
        } catch (err) {
          lastError = err;
          if (err instanceof FlotillaError && (err.code === 'BAD_ARGUMENT' || err.code === 'TRANSPORT_AUTH')) throw err;
        }
      }
      await new Promise<void>((resolve) => this.scheduler.after(200, resolve));
    }
    throw lastError;
  }

  /** A seed that refused this host's handshake: a wrong cluster secret is not cured by retrying. */
  private checkNotRefused(seedId: HostId): void {
    const refusal = this.transport.inner.seeds?.authRefusal(seedId) ?? null;
    if (refusal !== null) throw new FlotillaError('TRANSPORT_AUTH', `host ${seedId} refused this host: ${refusal}`, { host: seedId });
  }

  /** A seed is 'id@host:port', or 'host:port' whose id the host's listener tells. */
  private async resolveSeed(seed: string): Promise<HostId> {
    const at = seed.indexOf('@');
    if (at > 0) {
      const id = seed.slice(0, at);
      this.transport.addPeer(id, seed.slice(at + 1));
      return id;
    }
    const lookup = this.transport.inner.seeds;
    if (lookup === undefined) throw new FlotillaError('BAD_ARGUMENT', `seed ${seed}: give it as id@address`);
    const id = await lookup.identify(seed);
    this.transport.addPeer(id, seed);
    return id;
  }

  // ---------------------------------------------------------------------------------------------
  // Serving requests from routers (this host's own and other hosts')

  private async serve(item: ClientRequestItem): Promise<ClientResponseItem> {
    const started = this.scheduler.now();
    try {
      if (this.state === 'stopped') throw new FlotillaError('SHUTTING_DOWN', `host ${this.id} is stopping`);
      checkRequest(item, this.limits);
      if (item.requestKind === 'admin') return this.answer(item, encodeAdmin(await this.serveAdmin(item)));
      if (item.group === OPS_GROUP) return this.answer(item, await this.ops.serve(item.payload));
      const member = this.memberFor(item.group);
      if (member === undefined) throw new FlotillaError('NOT_LEADER', `host ${this.id} holds no replica of ${item.group}`, { leader: '' });
      const replica = member.replica;
      if (item.requestKind === 'query' && item.consistency === 'local') {
        return this.answer(item, await replica.queryBytes(item.payload, { consistency: 'local' }));
      }
      if (replica.role !== Role.Leader) {
        throw new FlotillaError('NOT_LEADER', `host ${this.id} does not lead ${item.group}`, { leader: replica.leader });
      }
      const work =
        item.requestKind === 'command'
          ? replica.commandBytes(item.payload, item.clientId === '' ? {} : { session: { clientId: item.clientId, seq: item.seq, ackedBelow: item.ackedBelow } })
          : replica.queryBytes(item.payload, { consistency: item.consistency });
      const reply = await this.withDeadline(work, item.timeoutMs, item.group);
      const response = this.answer(item, reply);
      if (item.requestKind === 'command') this.counters.committed(this.scheduler.now() - started);
      return response;
    } catch (err) {
      let error = toFlotilla(err);
      if (item.requestKind !== 'admin' && item.group !== OPS_GROUP) {
        this.counters.failed(error.code);
        // The machine threw: the command was committed and applied all the same.
        if (item.requestKind === 'command' && error.code === 'COMMAND_FAILED') this.counters.committed(this.scheduler.now() - started);
      }
      if (error.code === 'BUSY' && error.details.retry === true && typeof error.details.leader === 'string') {
        // Leadership is moving: point the caller at the next leader rather than failing it.
        error = new FlotillaError('NOT_LEADER', `${item.group}: leadership is moving`, { leader: error.details.leader });
      }
      const leader = typeof error.details.leader === 'string' && error.details.leader !== '' ? hostOfMember(error.details.leader) : '';
      return {
        kind: 'clientResponse',
        requestId: item.requestId,
        error: { code: error.code, message: truncateUtf8(error.message, this.limits.maxErrorMessageBytes) },
        payload: new Uint8Array(0),
        leaderHint: leader === this.id ? '' : leader,
        leaderTerm: 0,
      };
    }
  }

  /** The response carrying `payload`; a reply larger than a response carries fails (the command applied all the same). */
  private answer(item: ClientRequestItem, payload: Uint8Array): ClientResponseItem {
    const limit = this.limits.maxReplyBytes;
    if (payload.length > limit) {
      const what = item.requestKind === 'command' ? 'the command applied, but its reply' : `the ${item.requestKind}'s reply`;
      throw new FlotillaError('COMMAND_FAILED', `group ${item.group}: ${what} is ${payload.length} bytes, more than maxReplyBytes (${limit} bytes)`, {
        bytes: payload.length,
        limit,
      });
    }
    return { kind: 'clientResponse', requestId: item.requestId, error: null, payload, leaderHint: this.id, leaderTerm: 0 };
  }

  private async serveAdmin(item: ClientRequestItem): Promise<AdminReply> {
    const request: AdminRequest = decodeAdminRequest(item.payload);
    switch (request.op) {
      case 'join':
      case 'cluster': {
        if (this.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.id} is not in a fleet yet`);
        const payload = jsonCodec<ClusterCommand>().encode(request.command);
        const bytes = await this.router.call(CLUSTER_GROUP, 'command', payload, { timeoutMs: item.timeoutMs });
        return { op: 'cluster', reply: JSON.parse(decoder.decode(bytes)) };
      }
      case 'prepare': {
        validateName('group', request.group.replace(/^\$/, ''));
        if (!this.machines.has(request.machine)) throw new FlotillaError('NO_SUCH_MACHINE', `host ${this.id} does not register machine ${request.machine}`);
        if (hostOfMember(request.member) !== this.id) throw new FlotillaError('BAD_ARGUMENT', `member ${request.member} is not on host ${this.id}`);
        if (this.state === 'stopped' || this.state === 'deactivating') throw new FlotillaError('NOT_ACTIVE', `host ${this.id} takes no new members`);
        // A leader that was paused or deposed may ask late: it must not replace a newer replica
        // (one a later leader added, which may vote by now).
        const newer = (existing: LocalMember): boolean => {
          const term = existing.replica.term;
          return request.term < term || (request.term === term && memberSerial(request.member) <= memberSerial(existing.member));
        };
        try {
          const info = { groupId: request.groupId, group: request.group, machine: request.machine, member: request.member };
          await this.members.create(info, null, (existing) => !newer(existing));
          return { op: 'prepare', ok: true };
        } catch (err) {
          if (err instanceof FlotillaError && typeof err.details.tombstone === 'number') return { op: 'prepare', ok: false, tombstone: err.details.tombstone };
          throw err;
        }
      }
      case 'memberStatus': {
        const member = this.members.get(request.groupId);
        const replica = member?.replica;
        if (replica === undefined || !this.leadsCommitted(member!)) throw new FlotillaError('NOT_LEADER', 'not the leader', { leader: replica?.leader ?? '' });
        // A replica prepared for a learner that is not added yet is a member-to-be: keep it.
        const preparing = this.inFlight.has(`prepare/${request.groupId}/${hostOfMember(request.member)}`);
        return { op: 'memberStatus', member: isMember(replica.membership, request.member) || replica.configChangePending || preparing };
      }
      case 'leaderCheck': {
        const member = this.memberFor(item.group);
        if (member === undefined || !this.leadsCommitted(member)) {
          throw new FlotillaError('NOT_LEADER', `host ${this.id} does not lead ${item.group}`, { leader: member?.replica.leader ?? '' });
        }
        return { op: 'leaderCheck', leader: this.id, warnings: this.replicaWarnings(item.group) };
      }
    }
  }

  private withDeadline<T>(work: Promise<T>, timeoutMs: number, group: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.scheduler.after(timeoutMs, () =>
        reject(new FlotillaError('TIMEOUT', `group ${group}: not done within ${timeoutMs} ms here; it may still apply`)),
      );
      work.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  private memberFor(group: string): LocalMember | undefined {
    if (group === CLUSTER_GROUP) return this.members.get(CLUSTER_GROUP_ID);
    const id = this.metadata?.groups[group]?.id;
    if (id !== undefined) return this.members.get(id);
    return this.members.named(group).at(-1);
  }

  private leadsCommitted(member: LocalMember): boolean {
    return member.replica.leadsCommittedTerm;
  }

  /** Hosts to ask for a group: the leader this host's replica knows, placement, then the rest. */
  private candidates(group: string): HostId[] {
    const out: HostId[] = [];
    const add = (h: string) => {
      if (h !== '' && !out.includes(h)) out.push(h);
    };
    const local = this.memberFor(group);
    if (local !== undefined && local.replica.leader !== '') add(hostOfMember(local.replica.leader));
    const meta = this.metadata;
    if (meta !== null) {
      const record = meta.groups[group];
      if (group === CLUSTER_GROUP) for (const h of this.placementFor(CLUSTER_GROUP, this.clusterReplicas)) add(h);
      else if (record !== undefined) for (const h of this.placementFor(group, record.replicas)) add(h);
      if (local !== undefined) for (const m of [...local.replica.membership.voters]) add(hostOfMember(m));
      for (const h of Object.values(meta.hosts)) if (h.state === 'active' || h.state === 'deactivating') add(h.id);
    } else {
      for (const id of this.knownPeers.keys()) add(id);
    }
    return out;
  }

  private async groupForCall(name: string): Promise<GroupRecord> {
    validateName('group', name);
    this.checkActive();
    const known = this.metadata?.groups[name];
    if (known !== undefined) return known;
    // This host's copy of the metadata may lag: ask the cluster group itself.
    const bytes = await this.router.call(CLUSTER_GROUP, 'query', jsonCodec<unknown>().encode({ op: 'group', name }), { timeoutMs: this.timeoutMs });
    const reply = JSON.parse(decoder.decode(bytes)) as ClusterReply;
    if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
    if (reply.group === undefined) throw new FlotillaError('NO_SUCH_GROUP', `no group named ${name}`);
    return reply.group;
  }

  // ---------------------------------------------------------------------------------------------
  // Housekeeping: reconciler, failure marking, removal of replicas this host should not hold

  private startTimers(): void {
    const period = this.options.reconcileMs ?? 250;
    // Both judge peers by what was heard from them: only after the event loop has read the sockets
    // (Node runs due timers first), or a pause of this process would make every peer look silent.
    this.timers.push(this.scheduler.every(period, () => this.scheduler.soon(() => this.periodic())));
    this.timers.push(this.scheduler.every(PING_MS, () => this.scheduler.soon(() => this.ping())));
    this.timers.push(this.scheduler.every(GENERATION_ADVANCE_MS, () => this.housekeeping('generation', () => this.generation.advance(this.countedPeers()))));
  }

  /** The fleet's other hosts that count for advancing the generation: those not inactive or failed. */
  private countedPeers(): HostId[] {
    const meta = this.metadata;
    if (meta === null) return [...this.knownPeers.keys()];
    return Object.values(meta.hosts)
      .filter((h) => h.id !== this.id && (h.state === 'active' || h.state === 'deactivating'))
      .map((h) => h.id);
  }

  /**
   * `peer` found this data directory older than it has seen (fleet/generation.ts). Nothing more is
   * taken in; the mark makes every later start refuse; then the host stops. With
   * acceptStaleDataDir, it adopts the generation the peer recorded instead, and carries on.
   */
  private refusedAsStale(peer: HostId, verdict: GenerationVerdict): void {
    if (this.staleError !== null || this.state === 'stopped') return;
    const found = this.generation.presented().floor;
    if (this.options.acceptStaleDataDir === true) {
      if (verdict.recorded <= found) return;
      this.logger.warn({ peer, recorded: verdict.recorded, found }, 'UNSAFE: serving from a data directory found stale (acceptStaleDataDir): taking the generation the peer recorded; writes acknowledged after the copy may be lost');
      this.housekeeping(`rebase/${verdict.recorded}`, () => this.generation.rebase(verdict.recorded));
      return;
    }
    const err = staleDataDirError(this.id, peer, verdict.recorded, found);
    this.staleError = err;
    this.refuse(err);
    this.transport.fence();
    this.logger.error({ err, peer, recorded: verdict.recorded, found }, 'refused as stale: this host serves nothing and stops');
    void this.generation
      .markStale(peer, verdict.recorded)
      .catch((markErr: unknown) => this.logger.error({ err: markErr }, 'could not mark the data directory stale'))
      .finally(() => this.stop());
  }

  private periodic(): void {
    if (this.state === 'stopped') return;
    const failure = this.loop.failed;
    if (failure !== null) {
      // Fail-stop (a full disk, an I/O error): a host that can write nothing must not look alive,
      // or the fleet would keep its members in place and hand it leaderships it cannot take.
      this.logger.error({ err: failure }, 'the host loop failed: stopping this host; the fleet will mark it failed and replace its members');
      void this.stop();
      return;
    }
    this.passes++;
    this.refreshMetadata();
    this.onMetadata(true);
    this.markFailures();
    this.collectGarbage();
    if (this.passes % LEADERLESS_PASSES === 0) {
      this.trackLeaderless();
      this.trackNotReplicating();
    }
  }

  /**
   * A host that holds no replica of the cluster group any more (a draining one: its learner is
   * removed first; or one whose deactivate timed out but was applied) asks the cluster group for
   * the metadata, about once a second.
   */
  private refreshMetadata(): void {
    if (this.members.get(CLUSTER_GROUP_ID) !== undefined || this.metadata === null || this.state === 'inactive') return;
    if (++this.passesSinceRefresh < REFRESH_PASSES) return;
    this.passesSinceRefresh = 0;
    this.housekeeping('refresh-metadata', async () => {
      const bytes = await this.router.call(CLUSTER_GROUP, 'query', jsonCodec<unknown>().encode({ op: 'state' }), { timeoutMs: 2000 });
      const reply = JSON.parse(decoder.decode(bytes)) as ClusterReply;
      if (reply.ok && reply.state !== undefined && this.members.get(CLUSTER_GROUP_ID) === undefined) this.metadata = reply.state;
    });
  }

  private trackLeaderless(): void {
    const now = this.scheduler.now();
    // A quiesced replica always knows its leader: only awake ones can be leaderless.
    for (const m of this.awakeMembers()) {
      if (m.replica.leader === '' && !this.leaderlessSince.has(m.groupId)) this.leaderlessSince.set(m.groupId, now);
    }
    for (const groupId of this.leaderlessSince.keys()) {
      if (this.members.get(groupId)?.replica.leader === '') continue;
      this.leaderlessSince.delete(groupId);
    }
  }

  /** Leaders here that commit nothing with entries waiting: a warn log once per streak, status().notReplicating. */
  private trackNotReplicating(): void {
    const now = this.scheduler.now();
    const awake = new Set<number>();
    // A quiesced leader has everything committed: only awake ones can stall.
    for (const m of this.awakeMembers()) {
      awake.add(m.groupId);
      const replica = m.replica;
      const view = { leading: replica.role === Role.Leader, commit: replica.committed, lastIndex: replica.lastIndex };
      if (this.stallWatch.observe(m.groupId, view, now)) {
        this.logger.warn({ group: m.group, commit: view.commit, lastIndex: view.lastIndex }, 'group leader commits nothing: its followers answer heartbeats but none of its appends gets through');
      }
    }
    this.stallWatch.retain(awake);
  }

  /**
   * A group just quiesced: the passes between metadata changes skip it from now on, so a leader
   * that quiesced in the middle of a move (a learner caught up, not yet promoted) is woken again
   * at once; it would otherwise wait for the next full scan, seconds later, at every step.
   */
  private quiesced(groupId: number): void {
    const member = this.members.get(groupId);
    const meta = this.metadata;
    if (member === undefined || meta === null || this.state === 'stopped') return;
    this.reconcileMember(meta, member, this.leaving(meta));
  }

  /** The replicas here that are not quiesced (the host loop keeps them apart). */
  private *awakeMembers(): IterableIterator<LocalMember> {
    for (const groupId of this.loop.awakeGroupIds()) {
      const member = this.members.get(groupId);
      if (member !== undefined) yield member;
    }
  }

  /** Quiesced followers whose leader is on `host` stop waiting for it: they campaign if it stays silent. */
  private suspect(host: HostId): void {
    for (const m of this.members.all()) {
      const replica = m.replica;
      if (replica.isQuiesced && replica.role !== Role.Leader && replica.leader !== '' && hostOfMember(replica.leader) === host) {
        m.replica.endQuiescence(1 + this.campaignRank(m, host) * CAMPAIGN_STAGGER_TICKS);
      }
    }
  }

  /**
   * Where this host stands among the group's other voters to take over from `lost`: by the group's
   * placement, which every survivor computes alike, so the first campaigns at once and the others
   * only if it has not won meanwhile (the first is also the preferred leader: nothing moves later).
   */
  private campaignRank(member: LocalMember, lost: HostId): number {
    const record = this.metadata?.groups[member.group];
    const placed = member.groupId === CLUSTER_GROUP_ID ? this.placementFor(CLUSTER_GROUP, this.clusterReplicas) : record === undefined ? [] : this.placementFor(record.name, record.replicas);
    const position = (h: string): number => {
      const i = placed.indexOf(h);
      return i === -1 ? placed.length : i;
    };
    const survivors = member.replica.membership.voters.map(hostOfMember).filter((h) => h !== lost);
    survivors.sort((a, b) => position(a) - position(b) || (a < b ? -1 : a > b ? 1 : 0));
    return Math.max(0, survivors.indexOf(this.id));
  }

  /** Quiesced leaders with a member on `host` heartbeat it, so a restarted member finds its leader at once. */
  private peerUp(host: HostId): void {
    for (const m of this.members.all()) {
      const replica = m.replica;
      if (!replica.isQuiesced || replica.role !== Role.Leader) continue;
      const { voters, learners } = replica.membership;
      if ([...voters, ...learners].some((id) => hostOfMember(id) === host)) m.replica.endQuiescence();
    }
  }

  private ping(): void {
    const meta = this.metadata;
    if (meta !== null) {
      for (const h of Object.values(meta.hosts)) if (h.id !== this.id && this.liveness.silentFor(h.id) > SUSPECT_MS) this.suspect(h.id);
    }
    this.sendPings();
  }

  private sendPings(): void {
    const meta = this.metadata;
    if (meta === null) return;
    for (const h of Object.values(meta.hosts)) {
      if (h.id !== this.id && h.state !== 'inactive') this.transport.send(h.id, { kind: 'ping', sentAt: Math.floor(this.scheduler.now()), liveness: 'up' });
    }
    this.transport.flush();
  }

  /** Moves every group this host leads (quiesced ones too, unless told not to) one step toward its placement. */
  private reconcile(which: { quiesced: boolean }): void {
    const meta = this.metadata;
    if (meta === null || this.state === 'stopped') return;
    const leaving = this.leaving(meta);
    for (const member of which.quiesced ? this.members.all() : this.awakeMembers()) {
      if (!which.quiesced && member.replica.isQuiesced) continue;
      this.reconcileMember(meta, member, leaving);
    }
  }

  /** Members leave this host: it drains, or the fleet does not have it active. */
  private leaving(meta: ClusterState): boolean {
    return this.state === 'deactivating' || meta.hosts[this.id]?.state !== 'active';
  }

  /** If this host leads the group and it is not where placement wants it, one step toward that. */
  private reconcileMember(meta: ClusterState, member: LocalMember, leaving: boolean): void {
    if (this.state === 'stopped' || !this.leadsCommitted(member) || member.replica.configChangePending) return;
    let voterHosts: string[];
    let learnerHosts: string[] = [];
    if (member.groupId === CLUSTER_GROUP_ID) {
      voterHosts = this.placementFor(CLUSTER_GROUP, this.clusterReplicas);
      learnerHosts = this.active.map((h) => h.id);
    } else {
      const record = meta.groups[member.group];
      if (record === undefined || record.id !== member.groupId) return;
      voterHosts = this.placementFor(record.name, record.replicas);
    }
    if (!leaving && inPlace(member, voterHosts, learnerHosts)) return;
    if (member.replica.isQuiesced) {
      // A quiesced leader's view of who answers is frozen: wake it, and act once it has heard back.
      member.replica.endQuiescence();
      return;
    }
    const status = member.replica.status();
    const stuck = this.stuckLearners(member, status.membership.learners, status.progress);
    const step = nextStep({
      stuck,
      self: member.member,
      membership: status.membership,
      progress: new Map(status.progress.map((p) => [p.id, { match: p.match, active: p.active }])),
      lastIndex: status.lastIndex,
      committed: status.commit,
      voterHosts,
      learnerHosts,
      leaving,
    });
    if (step === null) return;
    // A host joining gets its cluster replica before any group's: with hundreds of groups to move
    // onto it, their prepares would otherwise queue ahead of the cluster's on the new host (one
    // synced write each), and its activate, which waits for the cluster replica, time out.
    if (step.kind === 'addLearner' && member.groupId !== CLUSTER_GROUP_ID && !this.holdsClusterReplica(step.host)) return;
    this.takeStep(member, step);
  }

  /** Whether `host` has a member of the cluster group, as this host's cluster replica knows (true when this host has none to ask). */
  private holdsClusterReplica(host: HostId): boolean {
    const cluster = this.members.get(CLUSTER_GROUP_ID);
    if (cluster === undefined) return true;
    const { voters, learners } = cluster.replica.membership;
    return [...voters, ...learners].some((m) => hostOfMember(m) === host);
  }

  /**
   * Learners that have not answered for LEARNER_GIVE_UP_MS: their replica may be gone (deleted by
   * a host that thought it was not needed, or lost with a data directory). Removing them lets the
   * reconciler add a fresh one.
   */
  private stuckLearners(member: LocalMember, learners: readonly string[], progress: ReadonlyArray<{ id: string; active: boolean; match: number }>): Set<string> {
    const now = this.scheduler.now();
    const stuck = new Set<string>();
    for (const id of learners) {
      const key = `${member.groupId}/${id}`;
      const p = progress.find((x) => x.id === id);
      if (p !== undefined && p.active) {
        this.learnerSilentSince.delete(key);
        continue;
      }
      const since = this.learnerSilentSince.get(key) ?? now;
      this.learnerSilentSince.set(key, since);
      if (now - since >= LEARNER_GIVE_UP_MS) stuck.add(id);
    }
    return stuck;
  }

  private takeStep(member: LocalMember, step: ReconcileStep): void {
    const replica = member.replica;
    try {
      switch (step.kind) {
        case 'addLearner':
          this.housekeeping(`prepare/${member.groupId}/${step.host}`, () => this.addLearner(member, step.host));
          return;
        case 'promote':
          replica.changeMembership({ type: 'promote', node: step.member });
          return;
        case 'remove':
          replica.changeMembership({ type: 'remove', node: step.member });
          return;
        case 'transfer':
          replica.transferLeadership(step.to);
          return;
      }
    } catch (err) {
      // BUSY (a change still committing, a learner not caught up) or a lost leadership: next pass.
      this.logger.debug({ err, group: member.group, step }, 'reconcile step refused');
    }
  }

  private async addLearner(member: LocalMember, host: string): Promise<void> {
    const key = `${member.groupId}/${host}`;
    const replica = member.replica;
    const serial = Math.max(replica.lastIndex + 1, (this.prepareFloor.get(key) ?? 0) + 1);
    const id = memberId(host, serial);
    const request: AdminRequest = { op: 'prepare', groupId: member.groupId, group: member.group, machine: member.machine, member: id, term: replica.term };
    const bytes = await this.router.call(member.group, 'admin', encodeAdmin(request), { timeoutMs: 2000, via: host, only: true });
    const reply = decodeAdminReply(bytes, 'prepare');
    if (!reply.ok) {
      this.prepareFloor.set(key, reply.tombstone);
      return;
    }
    // Still the leader, and still no member on that host?
    if (this.members.get(member.groupId) !== member || !this.leadsCommitted(member)) return;
    const membership = replica.membership;
    if ([...membership.voters, ...membership.learners].some((m) => hostOfMember(m) === host)) return;
    member.replica.changeMembership({ type: 'addLearner', node: id });
  }

  /** On the cluster leader: hosts silent too long are marked failed, and back to active when heard again. */
  private markFailures(): void {
    const cluster = this.members.get(CLUSTER_GROUP_ID);
    const meta = this.metadata;
    if (cluster === undefined || meta === null || !this.leadsCommitted(cluster)) return;
    for (const h of Object.values(meta.hosts)) {
      if (h.id === this.id) continue;
      const silent = this.liveness.silentFor(h.id);
      let next: HostState | null = null;
      if ((h.state === 'active' || h.state === 'deactivating') && silent > this.hostFailureTimeoutMs) next = 'failed';
      if (h.state === 'failed' && silent < SUSPECT_MS) next = h.resumeState ?? 'active';
      if (next === null) continue;
      const command: ClusterCommand = { op: 'setHostState', id: h.id, state: next, incarnation: h.incarnation, from: h.state };
      this.logger.info({ peer: h.id, state: next, silentMs: Math.round(silent) }, 'host state change');
      this.housekeeping(`mark/${h.id}`, () => this.clusterCommand(command, this.timeoutMs));
    }
  }

  /**
   * Which replicas placement no longer puts here: a full scan, on a metadata change and on every
   * rescan; collectGarbage() then works through them each pass.
   */
  private findUnwanted(rescan: boolean): void {
    const meta = this.metadata;
    if (meta === null) return;
    const here = this.placesHere(meta);
    this.unwanted.clear();
    for (const member of this.members.all()) {
      if (!this.wanted(meta, member, here)) this.unwanted.add(member.groupId);
      // A cluster learner removed while this host's copy was behind never learns it: its metadata
      // would stay old for good. Ask the cluster leader now and then.
      else if (rescan && member.groupId === CLUSTER_GROUP_ID && !isVoter(member.replica.membership, member.member)) this.removeIfGone(member);
    }
  }

  /** The fleet has this host active, and it is not draining: placement may put replicas here. */
  private placesHere(meta: ClusterState): boolean {
    const me: HostRecord | undefined = meta.hosts[this.id];
    return me !== undefined && me.state === 'active' && this.state !== 'deactivating';
  }

  /** Placement keeps this replica here (a removed group's replica is for deleteIfRemoved, not for this). */
  private wanted(meta: ClusterState, member: LocalMember, here: boolean): boolean {
    if (!here || member.groupId === CLUSTER_GROUP_ID) return here;
    const record = meta.groups[member.group];
    return record === undefined || record.id !== member.groupId || this.placementFor(record.name, record.replicas).includes(this.id);
  }

  /** Replicas placement no longer puts here are deleted once their group's leader confirms they left. */
  private collectGarbage(): void {
    for (const groupId of this.unwanted) {
      const member = this.members.get(groupId);
      if (member === undefined) this.unwanted.delete(groupId);
      else this.removeIfGone(member);
    }
  }

  private removeIfGone(member: LocalMember): void {
    if (member.replica.role === Role.Leader) return; // a leader hands over first
    this.housekeeping(`gc/${member.groupId}`, async () => {
      const request: AdminRequest = { op: 'memberStatus', groupId: member.groupId, member: member.member };
      const bytes = await this.router.call(member.group, 'admin', encodeAdmin(request), { timeoutMs: 1000 });
      if (!decodeAdminReply(bytes, 'memberStatus').member && this.members.get(member.groupId) === member) {
        await this.members.delete(member.groupId);
      }
    });
  }

  /** Runs a housekeeping task unless the same one is already running; failures are retried by the next pass. */
  private housekeeping(key: string, task: () => Promise<unknown>): void {
    if (this.inFlight.has(key) || this.state === 'stopped') return;
    this.inFlight.add(key);
    task()
      .catch((err: unknown) => this.logger.debug({ err, task: key }, 'housekeeping failed; the next pass retries'))
      .finally(() => this.inFlight.delete(key));
  }

  // ---------------------------------------------------------------------------------------------

  private waitFor(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = this.scheduler.now() + timeoutMs;
      const check = () => {
        if (condition()) return resolve();
        if (this.state === 'stopped') return reject(this.staleError ?? new FlotillaError('SHUTTING_DOWN', `host ${this.id} stopped while waiting for ${what}`));
        if (this.scheduler.now() >= deadline) return reject(new FlotillaError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`));
        this.scheduler.after(10, check);
      };
      check();
    });
  }

  private requireMetadata(): ClusterState {
    if (this.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.id} has not joined a fleet`);
    return this.metadata;
  }

  private checkNotStopped(): void {
    if (this.staleError !== null) throw this.staleError;
    if (this.state === 'stopped') throw new FlotillaError('SHUTTING_DOWN', `host ${this.id} is stopped`);
  }

  private checkActive(): void {
    this.checkNotStopped();
    if (this.state === 'inactive' || this.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.id} is not active; call activate(zone) first`);
  }
}

/**
 * The group has exactly its placed voters, a learner on each of `learnerHosts` that is no voter
 * host (the cluster group's), and this (preferred) host leads: nothing to do.
 */
function inPlace(member: LocalMember, voterHosts: readonly string[], learnerHosts: readonly string[]): boolean {
  const { voters, learners } = member.replica.membership;
  const wantedLearners = learnerHosts.filter((h) => !voterHosts.includes(h));
  if (learners.length !== wantedLearners.length || voters.length !== voterHosts.length || hostOfMember(member.member) !== voterHosts[0]) return false;
  return voters.every((v) => voterHosts.includes(hostOfMember(v))) && learners.every((l) => wantedLearners.includes(hostOfMember(l)));
}

/** The data directory's generation (fleet/generation-keeper.ts): a directory a peer found stale is refused here. */
function loadGeneration(store: LogStore, options: HostOptions, incarnation: string): Promise<GenerationKeeper> {
  const random = options.random ?? (() => randomBytes(6).readUIntLE(0, 6) / 2 ** 48);
  return GenerationKeeper.load(store, { host: options.id, incarnation, acceptStale: options.acceptStaleDataDir === true, newProcess: () => Math.floor(random() * 2 ** 52) });
}

/** The host's identity in its store: a new data directory gets a fresh incarnation. */
async function loadIdentity(store: LogStore, id: string): Promise<string> {
  const saved = await store.getMeta('host');
  if (saved !== undefined) {
    const identity = JSON.parse(decoder.decode(saved)) as { id: string; incarnation: string };
    if (identity.id !== id) throw new FlotillaError('BAD_ARGUMENT', `this data directory belongs to host ${identity.id}, not ${id}`);
    return identity.incarnation;
  }
  const incarnation = randomBytes(8).toString('hex');
  const batch = store.newBatch();
  batch.setMeta('host', encoder.encode(JSON.stringify({ id, incarnation })));
  await store.write(batch, { sync: true });
  return incarnation;
}

function decodeReply<R>(bytes: Uint8Array, record: GroupRecord): R {
  try {
    return (bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes))) as R;
  } catch {
    throw new FlotillaError('BAD_ARGUMENT', `group ${record.name}: the reply is not JSON`);
  }
}

function checkGroupConfig(config: GroupConfig): GroupConfig {
  const out: GroupConfig = {};
  for (const [key, value] of Object.entries(config)) {
    if (key !== 'snapshotEvery' && key !== 'maxPendingCommands') throw new FlotillaError('BAD_ARGUMENT', `unknown group config ${key}`);
    if (!Number.isInteger(value) || (value as number) < 1) throw new FlotillaError('BAD_ARGUMENT', `group config ${key} must be a positive integer`);
    out[key] = value as number;
  }
  return out;
}

function roleName(role: Role): MemberStatus['role'] {
  switch (role) {
    case Role.Leader:
      return 'leader';
    case Role.Candidate:
    case Role.PreCandidate:
      return 'candidate';
    case Role.Follower:
      return 'follower';
  }
}
