// A flotilla host: what a user starts on every machine of the fleet. It holds replicas of many
// consensus groups (one HostLoop drives them all over one store and one transport), keeps a copy of
// the fleet's metadata (its replica of the cluster group), serves and routes command/query by group
// name, and runs the fleet's housekeeping on the groups it leads. This class is the public API
// over the fleet parts (src/fleet/): it wires them together in its constructor, owns start, stop
// and the timers' schedule, and delegates everything else to them. Everything that waits goes
// through the Scheduler, so the simulation runs this class unchanged on virtual time.

import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import { realScheduler, type Scheduler, type Timer } from '../common/scheduler.js';
import { encodeAdmin, decodeAdminReply } from '../fleet/admin.js';
import { ClusterCalls, accepted } from '../fleet/cluster-calls.js';
import { decodeClusterReply } from '../fleet/cluster-protocol.js';
import { CLUSTER_GROUP, CLUSTER_GROUP_ID, activeHosts, type GroupRecord, type HostState } from '../fleet/cluster-machine.js';
import { FailureDetector, PING_MS } from '../fleet/failure-detector.js';
import { FleetView, type LocalState } from '../fleet/fleet-view.js';
import { GENERATION_ADVANCE_MS } from '../fleet/generation.js';
import { GenerationGate } from '../fleet/generation-gate.js';
import type { GenerationKeeper } from '../fleet/generation-keeper.js';
import { HostCounters, type HostMetrics } from '../fleet/host-counters.js';
import { Housekeeping } from '../fleet/housekeeping.js';
import { dataDirectoryJudged, joinFleet } from '../fleet/join.js';
import { fleetLimits } from '../fleet/limits.js';
import { Liveness } from '../fleet/liveness.js';
import { LocalMembers } from '../fleet/local-members.js';
import { FLEET_MEMBERS, hostOfMember } from '../fleet/member-id.js';
import { MetadataChanges, watchedClusterMachine } from '../fleet/metadata-changes.js';
import { MetadataFollower } from '../fleet/metadata-follower.js';
import { validateName } from '../fleet/names.js';
import { HostEvents } from '../fleet/fleet-events.js';
import { OpsService, type LeaderReport } from '../fleet/ops-service.js';
import { checkMachineRuns, place } from '../fleet/placement.js';
import { ReconcileDriver } from '../fleet/reconcile-driver.js';
import { ReplicaGc } from '../fleet/replica-gc.js';
import { DEFAULT_ELECTION_TICKS, replicaFactory } from '../fleet/replica-factory.js';
import { RequestServer } from '../fleet/request-server.js';
import { RequestWindow, windowLimits } from '../fleet/request-window.js';
import { Router } from '../fleet/router.js';
import { waitFor } from '../fleet/wait-for.js';
import { jsonCodec, type StateMachine } from '../group/state-machine.js';
import { HostLoop } from '../loop/host-loop.js';
import { wireLoopToTransport } from '../loop/raft-wiring.js';
import { seededRandom, type Random } from '../raft/random.js';
import { coalescedFlush } from '../transport/coalesced-flush.js';
import { groupHandle, type GroupHandle } from './group-handle.js';
import { openHost, type OpenedHost } from './open.js';
import { StaleRefusal } from './stale-refusal.js';
import { checkGroupConfig, checkReplicas, type AddGroupOptions, type AnyMachine, type CallOptions, type DeactivateOptions, type HostOptions, type QueryOptions } from './options.js';
import { NOT_REPLICATING_ELECTION_TIMEOUTS, hostStatus, replicaWarnings, type HostStatus, type StatusSources } from './status.js';

/** Passes between looks for leaderless groups (status() reports those leaderless for 5 s). */
const LEADERLESS_PASSES = 4;

const decoder = new TextDecoder();

export class Host {
  readonly id: string;
  /** The address other hosts dial. */
  readonly address: string;
  private readonly options: HostOptions;
  private readonly opened: OpenedHost;
  /** The host's transport behind the generation check: everything goes through it. */
  private readonly transport: GenerationGate;
  /** This data directory's generation and the peers' records (fleet/generation-keeper.ts). */
  private readonly generation: GenerationKeeper;
  /** A peer found this data directory stale: the host serves nothing and stops. */
  private readonly stale: StaleRefusal;
  /** Resolves once stop() has closed everything. */
  private stopped: Promise<void> = Promise.resolve();
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly loop: HostLoop;
  private readonly router: Router;
  /** Bounds the caller's command/query calls in flight (the host's own housekeeping bypasses it). */
  private readonly calls: RequestWindow;
  private readonly machines: Map<string, AnyMachine>;
  private readonly timeoutMs: number;
  private readonly timers: Timer[] = [];
  private passes = 0;
  /** When the periodic pass last ran (health()). */
  private lastPassAt = 0;
  /** Since when the cluster replica here has had committed entries not yet applied, at every pass (null: caught up at the last). */
  private clusterBehindSince: number | null = null;
  /** The deactivate() calls running here; activate() cancels them (see drainHost). */
  private readonly drains = new Set<Drain>();
  /** What metrics() reports; the groups count into it too. */
  private readonly counters = new HostCounters();
  /** Answers clients' fleet operations (status, add-group, deactivate). */
  private readonly ops: OpsService;
  /** This host's own state, drain and links to other hosts, in the log (fleet-events.ts). */
  private readonly events: HostEvents;
  // The fleet parts (src/fleet/), over one shared view.
  private readonly view: FleetView;
  private readonly housekeeping: Housekeeping;
  private readonly cluster: ClusterCalls;
  private readonly follower: MetadataFollower;
  private readonly requests: RequestServer;
  private readonly reconciler: ReconcileDriver;
  private readonly detector: FailureDetector;
  private readonly gc: ReplicaGc;
  private readonly statusSources: StatusSources;

  private constructor(options: HostOptions, opened: OpenedHost) {
    this.options = options;
    this.opened = opened;
    this.id = options.id;
    this.address = opened.address;
    this.scheduler = options.scheduler ?? realScheduler;
    this.random = options.random ?? seededRandom(randomBytes(4).readUInt32LE(0));
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ host: options.id });
    this.generation = opened.generation;
    this.transport = new GenerationGate(opened.transport, {
      keeper: this.generation,
      now: () => this.scheduler.now(),
      onStale: (peer, verdict) => this.stale.refused(peer, verdict),
      logger: this.logger,
    });
    this.timeoutMs = options.timeoutMs ?? 5000;
    const metadataChanges = new MetadataChanges();
    this.machines = new Map(Object.entries(options.machines));
    this.machines.set(CLUSTER_GROUP, watchedClusterMachine(metadataChanges));
    const liveness = new Liveness(this.scheduler);
    this.ops = new OpsService(this, this.logger, liveness);
    const flushReplies = coalescedFlush(this.transport, this.scheduler);
    const limits = fleetLimits(this.transport.maxFrameBytes);
    this.calls = new RequestWindow(windowLimits(options), this.scheduler);

    const wiring = wireLoopToTransport(this.transport, FLEET_MEMBERS, this.scheduler);
    wiring.onStateHash((groupId, from, report) => this.view.members.get(groupId)?.replica.peerStateHash(from, report));
    this.loop = new HostLoop({
      store: opened.store,
      send: wiring.send,
      tickMs: options.tickMs ?? 50,
      scheduler: this.scheduler,
      logger: this.logger,
      onQuiesced: (groupId) => this.reconciler.quiesced(groupId),
      // A copy put back must not elect its replicas by itself before a peer has judged it.
      mayTick: () => dataDirectoryJudged(this.view, this.generation),
    });
    wiring.attach({
      step: (groupId, message) => {
        // Only the replica the message is addressed to: an older replica of the group is gone.
        if (this.view.members.get(groupId)?.member === message.to) this.loop.step(groupId, message);
      },
      unreachable: (groupId, to) => this.loop.unreachable(groupId, to),
    });
    const makeReplica = replicaFactory({
      store: opened.store,
      machines: this.machines,
      tuning: options,
      limits,
      random: this.random,
      counters: this.counters,
      logger: this.logger,
      scheduler: this.scheduler,
      groupConfig: (group) => this.view.metadata?.groups[group]?.config,
      announceStateHash: wiring.announceStateHash,
      leaving: () => this.view.state === 'deactivating',
      onApply: (info, index, outcome) => {
        if (info.groupId === CLUSTER_GROUP_ID) this.follower.metadataChanged();
        this.options.onApply?.({ group: info.group, groupId: info.groupId, member: info.member, index, outcome });
      },
    });
    const members = new LocalMembers(opened.store, this.loop, makeReplica);
    this.router = new Router({
      hostId: this.id,
      transport: this.transport,
      scheduler: this.scheduler,
      clientId: `${this.id}.${Math.floor(this.random() * 2 ** 48).toString(36)}`,
      firstRequestId: Math.floor(this.random() * 2 ** 52),
      serveLocal: (item) => this.requests.serve(item),
      candidates: (group) => this.requests.candidates(group),
      limits,
    });

    const view = new FleetView({
      hostId: this.id,
      incarnation: opened.incarnation,
      clusterReplicas: options.clusterReplicas ?? 3,
      members,
      liveness,
      awakeGroupIds: () => this.loop.awakeGroupIds(),
    });
    this.view = view;
    const { scheduler, logger, router } = this;
    const housekeeping = new Housekeeping(() => view.stopped, logger);
    const cluster = new ClusterCalls(router);
    this.housekeeping = housekeeping;
    this.cluster = cluster;
    this.stale = new StaleRefusal({
      hostId: this.id,
      generation: this.generation,
      acceptStale: options.acceptStaleDataDir === true,
      housekeeping,
      logger,
      fence: () => this.transport.fence(),
      stopped: () => view.stopped,
      stop: () => this.stop(),
    });
    this.reconciler = new ReconcileDriver({ view, router, scheduler, housekeeping, logger });
    this.gc = new ReplicaGc({ view, router, housekeeping });
    this.detector = new FailureDetector({
      view,
      transport: this.transport,
      scheduler,
      housekeeping,
      cluster,
      logger,
      hostFailureTimeoutMs: options.hostFailureTimeoutMs ?? 5000,
      stallMs: NOT_REPLICATING_ELECTION_TIMEOUTS * (options.electionTicks ?? DEFAULT_ELECTION_TICKS) * (options.tickMs ?? 50),
      timeoutMs: this.timeoutMs,
    });
    this.follower = new MetadataFollower({
      view,
      store: opened.store,
      transport: this.transport,
      scheduler,
      housekeeping,
      cluster,
      changes: metadataChanges,
      hooks: {
        scanned: (_meta, rescan) => {
          this.reconciler.reconcile({ quiesced: true });
          this.gc.findUnwanted(rescan);
        },
        memberChanged: (meta, member) => {
          this.reconciler.reconcileOne(meta, member);
          this.gc.judge(meta, member);
        },
        groupsChanged: () => this.reconciler.reconcile({ quiesced: false }),
      },
    });
    this.events = new HostEvents({ view, logger, scheduler });
    this.statusSources = { view, detector: this.detector, generation: () => this.generation.status(), now: () => scheduler.now() };
    this.requests = new RequestServer({
      view,
      scheduler,
      limits,
      counters: this.counters,
      housekeeping,
      cluster,
      machines: this.machines,
      ops: this.ops,
      warnings: (group) => this.replicaWarnings(group),
      logger,
    });

    this.listen(flushReplies);
  }

  /** What the transport brings: peers going down and up, requests, responses, pings. */
  private listen(flushReplies: () => void): void {
    const view = this.view;
    // A lost connection is the fastest sign of a dead host; a new one, of a restarted peer.
    this.transport.onPeerDown((host) => {
      this.router.peerDown(host);
      this.events.linkDown(host);
      if (view.knownPeers.has(host)) this.detector.suspect(host);
    });
    this.transport.onPeerUp((host) => {
      this.events.linkUp(host);
      this.detector.peerUp(host);
    });
    this.transport.onItem((from, item) => {
      // Hosts only: clients (connect()) come and go and are not watched.
      if (view.knownPeers.has(from)) view.liveness.heard(from);
      switch (item.kind) {
        case 'clientRequest':
          void this.requests.serve(item, from).then((response) => {
            this.transport.send(from, { ...response, requestId: item.requestId });
            flushReplies();
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
    const host = new Host(options, await openHost(options));
    try {
      await host.follower.restorePeers();
      await host.view.members.load();
    } catch (err) {
      // A replica it cannot restore (its machine is not registered here): nothing stays open.
      await host.stop().catch(() => undefined);
      throw err;
    }
    host.loop.start();
    host.startTimers();
    host.follower.metadataChanged();
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
      await Promise.race([joining, this.stale.refusal]);
    } catch (err) {
      throw this.stale.error ?? err;
    }
  }

  private join(zone: string, options: CallOptions): Promise<void> {
    const timeoutMs = options.timeoutMs ?? Math.max(this.timeoutMs, 15_000);
    return joinFleet(
      {
        view: this.view,
        address: this.address,
        seeds: this.options.join ?? [],
        machines: [...this.machines.keys()].filter((m) => m !== CLUSTER_GROUP),
        random: this.random,
        cluster: this.cluster,
        generation: this.generation,
        router: this.router,
        transport: this.transport,
        lookup: this.transport.inner.seeds,
        scheduler: this.scheduler,
        cancelDrain: () => this.cancelDrains(),
        checkNotStopped: () => this.checkNotStopped(),
        waitFor: (what, ms, condition) => this.waitFor(what, ms, condition),
      },
      zone,
      timeoutMs,
    );
  }

  /**
   * Moves every member off this host: marks it deactivating, hands its leaderships away at once,
   * and resolves when it holds no replica; then stop() loses nothing. An activate() meanwhile (in
   * the same zone) cancels it: it then rejects BAD_ARGUMENT and the host stays active.
   */
  async deactivate(options: DeactivateOptions = {}): Promise<void> {
    this.checkNotStopped();
    // Already deactivating (a deactivate that timed out, or one the metadata shows): wait for it again.
    if (this.view.state !== 'active' && this.view.state !== 'deactivating') throw new FlotillaError('NOT_ACTIVE', `host ${this.id} is not active`);
    const drain: Drain = { cancelled: false, ended: Promise.resolve() };
    const drained = this.drainHost(drain, options);
    drain.ended = drained.catch(() => undefined);
    this.drains.add(drain);
    try {
      await drained;
    } finally {
      this.drains.delete(drain);
    }
  }

  private async drainHost(drain: Drain, options: DeactivateOptions): Promise<void> {
    const { view } = this;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = this.scheduler.now() + timeoutMs;
    await this.untilDone('mark this host deactivating', deadline, () => this.setMyState('deactivating', this.timeoutMs));
    view.state = 'deactivating';
    this.gc.findUnwanted(false);
    this.reconciler.reconcile({ quiesced: true });
    let reported = -1;
    await this.waitFor('every member to leave', timeoutMs, () => {
      if (drain.cancelled) return true;
      if (view.members.size !== reported) {
        reported = view.members.size;
        options.onProgress?.(reported);
      }
      return view.members.size === 0;
    });
    // Past this point the drain finishes: an activate() waits for it, then activates the host again.
    if (drain.cancelled) throw new FlotillaError('BAD_ARGUMENT', `the drain of host ${this.id} was cancelled: the host was activated again`, { host: this.id, cancelled: true });
    await this.untilDone('mark this host inactive', deadline, () => this.setMyState('inactive', this.timeoutMs));
    view.state = 'inactive';
  }

  /** Cancels every deactivate() running here and resolves once each has ended (activate() goes on from there). */
  private cancelDrains(): Promise<void> | undefined {
    if (this.drains.size === 0) return undefined;
    this.logger.info({ membersLeft: this.view.members.size }, 'activated again while draining: cancelling the drain');
    for (const d of this.drains) d.cancelled = true;
    return Promise.all([...this.drains].map((d) => d.ended)).then(() => undefined);
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
        if (!retry || this.scheduler.now() >= deadline || this.view.stopped) throw err;
        this.logger.info({ err, what }, 'retrying');
      }
    }
  }

  private async setMyState(state: HostState, timeoutMs: number): Promise<void> {
    await this.cluster.command({ op: 'setHostState', id: this.id, state, incarnation: this.view.incarnation }, timeoutMs);
  }

  /** Stops serving (without moving members: deactivate first for that) and closes the store. */
  async stop(): Promise<void> {
    // A second call (the host stopped itself: fail-stop, a stale data directory) waits for the first.
    if (this.view.stopped) return this.stopped;
    this.view.state = 'stopped';
    this.stopped = this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.calls.close(new FlotillaError('SHUTTING_DOWN', `host ${this.id} is stopped`));
    for (const t of this.timers) t.cancel();
    await this.loop.stop();
    await this.transport.close();
    if (this.opened.ownsStore) await this.opened.store.close();
  }

  async addGroup(name: string, options: AddGroupOptions): Promise<void> {
    validateName('group', name);
    this.checkActive();
    if (options.machine === CLUSTER_GROUP) throw new FlotillaError('NO_SUCH_MACHINE', `${CLUSTER_GROUP} is the fleet's own machine, not one a group can run`);
    const replicas = checkReplicas(options.replicas ?? 3);
    checkMachineRuns(activeHosts(this.requireMetadata()), options.machine, replicas, this.machines.has(options.machine));
    const config = checkGroupConfig(options.config ?? {});
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = this.scheduler.now() + timeoutMs;
    await this.cluster.command({ op: 'addGroup', name, machine: options.machine, replicas, config }, timeoutMs);
    // Usable once a leader of the new group has committed in its term.
    await this.router.call(name, 'admin', encodeAdmin({ op: 'leaderCheck' }), { timeoutMs: Math.max(1, deadline - this.scheduler.now()) });
  }

  /** Deletes a group and, on every host, its replicas and their data. */
  async removeGroup(name: string, options: CallOptions = {}): Promise<void> {
    validateName('group', name);
    this.checkActive();
    await this.cluster.command({ op: 'removeGroup', name }, options.timeoutMs ?? this.timeoutMs);
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

  /**
   * A typed handle on group `name`: its command and query take `machine`'s command and query
   * types and resolve with its reply type (the machine only gives the types; group-handle.ts).
   */
  group<S, C, R, Q>(name: string, machine: StateMachine<S, C, R, Q>): GroupHandle<C, R, Q> {
    return groupHandle(this, name, machine);
  }

  /** Runs `q` against the group's state: linearizable by default, or 'lease' / 'local'. */
  async query<R = unknown>(name: string, q: unknown, options: QueryOptions = {}): Promise<R> {
    validateName('group', name);
    return this.calls.run(options.timeoutMs ?? this.timeoutMs, async (timeoutMs) => {
      const record = await this.groupForCall(name);
      const payload = jsonCodec<unknown>(`group ${name}: the query`).encode(q);
      const consistency = options.consistency ?? 'linearizable';
      const local = this.view.members.get(record.id);
      if (consistency === 'local' && local !== undefined) {
        return decodeReply<R>(await local.replica.queryBytes(payload, { consistency }), record);
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

  /** Every host the fleet knows, by zone, with the machines it registered (absent: an older host, unknown). */
  hosts(): Record<string, Array<{ id: string; address: string; state: HostState; machines?: string[] }>> {
    const meta = this.requireMetadata();
    const byZone: Record<string, Array<{ id: string; address: string; state: HostState; machines?: string[] }>> = {};
    for (const h of Object.values(meta.hosts).sort((a, b) => (a.id < b.id ? -1 : 1))) {
      (byZone[h.zone] ??= []).push({ id: h.id, address: h.address, state: h.state, ...(h.machines === undefined ? {} : { machines: [...h.machines] }) });
    }
    return byZone;
  }

  /** Where placement wants the group (voters in order; the first is the preferred leader). */
  placement(name: string): string[] {
    const meta = this.requireMetadata();
    const record = meta.groups[name];
    if (record === undefined) throw new FlotillaError('NO_SUCH_GROUP', `no group named ${name}`);
    return [...place(name, record.replicas, activeHosts(meta), record.machine)];
  }

  /** The host leading the group, asked of the group itself; null if it has no leader right now. */
  async whereIsLeader(name: string, options: CallOptions = {}): Promise<string | null> {
    return (await this.leaderReport(name, options)).leader;
  }

  /**
   * whereIsLeader, with what the leader's replica reports wrong with the group (replicaWarnings)
   * and its voters and learners (absent if the leader predates them). Takes CLUSTER_GROUP too.
   */
  async leaderReport(name: string, options: CallOptions = {}): Promise<LeaderReport> {
    if (name === CLUSTER_GROUP) this.checkActive();
    else await this.groupForCall(name);
    try {
      const reply = await this.router.call(name, 'admin', encodeAdmin({ op: 'leaderCheck' }), { timeoutMs: options.timeoutMs ?? 1000 });
      const check = decodeAdminReply(reply, 'leaderCheck');
      const members = check.voters === undefined ? {} : { voters: check.voters, learners: check.learners ?? [] };
      return { leader: check.leader, warnings: check.warnings ?? [], ...members };
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
    return replicaWarnings(this.statusSources, group);
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
    const member = this.view.memberFor(name);
    if (member === undefined) throw new FlotillaError('BAD_ARGUMENT', `host ${this.id} holds no replica of ${name} to recover from`);
    if (member.replica.leader !== '') {
      throw new FlotillaError('BAD_ARGUMENT', `group ${name} has a leader (${hostOfMember(member.replica.leader)}): nothing to recover`);
    }
    this.logger.warn({ group: name, member: member.member }, 'unsafe recovery: this replica becomes the only voter');
    member.replica.unsafeForceSingleVoter();
    await this.waitFor(`${name} to commit as a single voter`, options.timeoutMs ?? this.timeoutMs, () => member.replica.leadsCommittedTerm);
  }

  /** This host: its members, their roles and lag. */
  status(): HostStatus {
    return hostStatus(this.statusSources);
  }

  /**
   * What the admin port's /healthz and /readyz read: the host loop's failure (fail-stop after a
   * write error), the periodic pass's period and ms since it last ran, and the cluster group as this host sees it
   * (its replica's lag, how long it has been behind at every pass, its leader, and how long that leader's host has been silent; null fields
   * when this host holds no replica of it or knows no leader).
   */
  health(): { loopFailed: string | null; passPeriodMs: number; sincePassMs: number; cluster: { lag: number; behindMs: number; leader: string | null; leaderSilentMs: number | null } | null; peerSilentMs: number | null } {
    const now = this.scheduler.now();
    const member = this.view.members.get(CLUSTER_GROUP_ID);
    const leader = member === undefined || member.replica.leader === '' ? null : hostOfMember(member.replica.leader);
    const behindMs = this.clusterBehindSince === null ? 0 : now - this.clusterBehindSince;
    const cluster = member === undefined ? null : { lag: member.replica.committed - member.replica.appliedIndex, behindMs, leader, leaderSilentMs: leader === null ? null : this.silentFor(leader) };
    const peers = Object.values(this.view.metadata?.hosts ?? {}).filter((h) => h.id !== this.id && h.state === 'active');
    const peerSilentMs = peers.length === 0 ? null : Math.min(...peers.map((h) => this.silentFor(h.id)));
    return { loopFailed: this.loop.failed?.message ?? null, passPeriodMs: this.passPeriodMs, sincePassMs: now - this.lastPassAt, cluster, peerSilentMs };
  }

  /** How often the periodic pass runs (HostOptions.reconcileMs). */
  private get passPeriodMs(): number {
    return this.options.reconcileMs ?? 250;
  }

  /** Milliseconds since this host last heard `host` (0 for itself): the failure detector's measure. */
  silentFor(host: string): number {
    return host === this.id ? 0 : this.view.liveness.silentFor(host);
  }

  get localState(): LocalState {
    return this.view.state;
  }

  /** The zone the metadata here records for this host (undefined: never active, or no metadata). */
  get recordedZone(): string | undefined {
    return this.view.metadata?.hosts[this.id]?.zone;
  }

  /** How many replicas this host holds now (what a drain has left here). */
  get memberCount(): number {
    return this.view.members.size;
  }

  /** Counters for monitoring (what /metrics shows): proposals, commit latency, fsyncs, frames, elections, errors. */
  metrics(): HostMetrics {
    const { turns, writes, syncs, applyCutShort } = this.loop.stats;
    const connections = this.transport.inner.connectionStats?.() ?? null;
    return { ...this.counters.snapshot(), loop: { turns, writes, syncs, applyCutShort }, transport: this.transport.stats(), connections, fleetOps: { ...this.ops.served } };
  }

  // ---------------------------------------------------------------------------------------------
  // The timers: the periodic pass, pings, the generation

  private startTimers(): void {
    this.lastPassAt = this.scheduler.now();
    // Both judge peers by what was heard from them: only after the event loop has read the sockets
    // (Node runs due timers first), or a pause of this process would make every peer look silent.
    this.timers.push(this.scheduler.every(this.passPeriodMs, () => this.scheduler.soon(() => this.periodic())));
    this.timers.push(this.scheduler.every(PING_MS, () => this.scheduler.soon(() => this.detector.ping())));
    this.timers.push(this.scheduler.every(GENERATION_ADVANCE_MS, () => this.housekeeping.run('generation', () => this.generation.advance(this.countedPeers()))));
  }

  private periodic(): void {
    if (this.view.stopped) return;
    const failure = this.loop.failed;
    if (failure !== null) {
      // Fail-stop (a full disk, an I/O error): a host that can write nothing must not look alive,
      // or the fleet would keep its members in place and hand it leaderships it cannot take.
      this.logger.error({ err: failure }, 'the host loop failed: stopping this host; the fleet will mark it failed and replace its members');
      void this.stop();
      return;
    }
    this.passes++;
    this.lastPassAt = this.scheduler.now();
    const cluster = this.view.members.get(CLUSTER_GROUP_ID)?.replica;
    const behind = cluster !== undefined && cluster.committed > cluster.appliedIndex;
    this.clusterBehindSince = behind ? (this.clusterBehindSince ?? this.lastPassAt) : null;
    this.follower.refreshMetadata();
    this.follower.onMetadata(true);
    this.detector.markFailures();
    this.gc.collectGarbage();
    this.events.observe();
    if (this.passes % LEADERLESS_PASSES === 0) {
      this.detector.trackLeaderless();
      this.detector.trackNotReplicating();
    }
  }

  /** The fleet's other hosts that count for advancing the generation: those not inactive or failed. */
  private countedPeers(): string[] {
    const meta = this.view.metadata;
    if (meta === null) return [...this.view.knownPeers.keys()];
    return Object.values(meta.hosts)
      .filter((h) => h.id !== this.id && (h.state === 'active' || h.state === 'deactivating'))
      .map((h) => h.id);
  }

  // ---------------------------------------------------------------------------------------------

  private waitFor(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
    const stopped = (waitingFor: string) =>
      this.view.stopped ? (this.stale.error ?? new FlotillaError('SHUTTING_DOWN', `host ${this.id} stopped while waiting for ${waitingFor}`)) : null;
    return waitFor(this.scheduler, what, timeoutMs, condition, stopped);
  }

  /** The group's record: from this host's metadata, or (it may lag) from the cluster group itself. */
  private async groupForCall(name: string): Promise<GroupRecord> {
    validateName('group', name);
    this.checkActive();
    const known = this.view.metadata?.groups[name];
    if (known !== undefined) return known;
    const reply = accepted(decodeClusterReply(await this.cluster.queryBytes({ op: 'group', name }, this.timeoutMs)));
    if (reply.group === undefined) throw new FlotillaError('NO_SUCH_GROUP', `no group named ${name}`);
    return reply.group;
  }

  private requireMetadata() {
    if (this.view.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.id} has not joined a fleet`);
    return this.view.metadata;
  }

  private checkNotStopped(): void {
    if (this.stale.error !== null) throw this.stale.error;
    if (this.view.stopped) throw new FlotillaError('SHUTTING_DOWN', `host ${this.id} is stopped`);
  }

  private checkActive(): void {
    this.checkNotStopped();
    if (this.view.state === 'inactive' || this.view.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.id} is not active; call activate(zone) first`);
  }
}

/** A deactivate() in progress: activate() sets `cancelled` and waits for `ended`. */
interface Drain {
  cancelled: boolean;
  ended: Promise<void>;
}

function decodeReply<R>(bytes: Uint8Array, record: GroupRecord): R {
  try {
    return (bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes))) as R;
  } catch {
    throw new FlotillaError('BAD_ARGUMENT', `group ${record.name}: the reply is not JSON`);
  }
}
