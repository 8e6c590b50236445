// The deterministic simulation of the real runtime: 3-5 hosts, each a HostLoop (src/loop/host-loop.ts)
// driving real Groups (src/group/group.ts) of a key-value machine, on a MemoryDisk whose syncs take
// virtual time, wired with wireLoopToTransport to a SimTransport on the simulated network. One
// seeded PRNG decides everything, and virtual time (SimClock) orders it, so a run is a pure
// function of its seed and every failure replays. The world, its clients and the faults all
// simulations share are the kernel's (kernel/world.ts, with LOOP_FAULTS); stalled links, write
// failures and transfers are this simulation's own.
//
// The phases are those of raft-sim.ts: faults (drop, duplicate, delay, partitions, stalled links,
// host crashes that lose unsynced writes, pauses, leadership transfers), settle (faults stop, the
// network heals, crashed hosts restart), check (every client operation, and one probe command per
// group, must now succeed). Checked: at most one leader per term in every group (after every
// event), every replica applies the same command at each index (GroupOptions.onApply), no replica
// reports another's state hash differing from its own at a snapshot (group/state-hash.ts, over the
// wiring: a false alarm or a real divergence both fail the run), no live host's loop fails, the
// replicas converge, and the client history is linearizable per key.

import type { OpInput } from '../check/history.js';
import { pino, type Logger } from 'pino';
import { isFlotillaError } from '../common/errors.js';
import { Group, type GroupOptions } from '../group/group.js';
import { HostLoop } from '../loop/host-loop.js';
import { IDENTITY_MEMBERS, wireLoopToTransport, type RaftWiring } from '../loop/raft-wiring.js';
import { DEFAULT_RAFT_CONFIG, type RaftConfig } from '../raft/raft.js';
import { randomInt, seededRandom, type Random } from '../raft/random.js';
import { Role, type NodeId } from '../raft/types.js';
import type { LogStore } from '../storage/log-store.js';
import { MemoryDisk, MemoryLogStore } from '../storage/memory-store.js';
import type { HostId } from '../transport/items.js';
import type { KvCommand, KvMachine } from './kv-machine.js';
import { kvStateMachine, type KvQuery, type KvReply, type KvStateMachine } from './loop-kv.js';
import { SimLogStore } from './loop-store.js';
import type { FaultModel } from './kernel/fault-model.js';
import { counterOp, registerOp } from './kernel/random-ops.js';
import { RetryingOp } from './kernel/retrying-op.js';
import { AppliedOutcomes, TermLeaders } from './kernel/safety-ledgers.js';
import { sameBytes } from './kernel/same-bytes.js';
import { exceptionText, type SimResult } from './kernel/sim-result.js';
import { SimClock, SimScheduler } from './kernel/sim-scheduler.js';
import { SimWorld } from './kernel/world.js';
import { SimHub, type SimTransport } from './sim-transport.js';

export interface LoopFaults {
  drop: boolean;
  duplicate: boolean;
  delay: boolean;
  partition: boolean;
  crash: boolean;
  pause: boolean;
  transfer: boolean;
  /** Frequent snapshots, so lagging followers are sent them. */
  snapshot: boolean;
  /** A disk write fails: the loop must stop at once (fail-stop), and the host restarts. */
  diskFailure: boolean;
}

export const ALL_LOOP_FAULTS: LoopFaults = {
  drop: true,
  duplicate: true,
  delay: true,
  partition: true,
  crash: true,
  pause: true,
  transfer: true,
  snapshot: true,
  diskFailure: true,
};

export interface LoopSimOptions {
  seed: number;
  faults: LoopFaults;
  /** Virtual milliseconds of each phase. */
  faultMs: number;
  settleMs: number;
  checkMs: number;
  clients: number;
  /** Test hook: wraps a replica's state machine, to plant a bug the checks must catch. */
  wrapMachine?: (host: HostId, groupId: number, machine: KvStateMachine) => KvStateMachine;
  /** Test hook: wraps the store a host incarnation runs on (crashes still hit the disk below). */
  wrapStore?: (host: HostId, store: LogStore) => LogStore;
}

export const DEFAULT_LOOP_OPTIONS: Omit<LoopSimOptions, 'seed'> = {
  faults: ALL_LOOP_FAULTS,
  faultMs: 5000,
  settleMs: 2500,
  checkMs: 1500,
  clients: 5,
};

export function runLoopSim(options: LoopSimOptions): Promise<SimResult> {
  return new LoopWorld(options).run();
}

/** One seed with the default options. */
export function runLoopSeed(seed: number, faults: LoopFaults = ALL_LOOP_FAULTS): Promise<SimResult> {
  return runLoopSim({ ...DEFAULT_LOOP_OPTIONS, faults, seed });
}

type KvGroup = Group<KvMachine, KvCommand, KvReply, KvQuery>;

interface GroupSpec {
  id: number;
  /** Keys of the group are `name/key` in the history. */
  name: string;
  replicas: HostId[];
}

/** A simulated host: its disk outlives its incarnations; the rest is rebuilt on every start. */
interface SimHost {
  id: HostId;
  disk: MemoryDisk;
  up: boolean;
  scheduler: SimScheduler;
  store: SimLogStore | null;
  transport: SimTransport | null;
  loop: HostLoop | null;
  detach: () => void;
  groups: Map<number, KvGroup>;
  /** A write failure was injected into its disk and has not stopped a loop yet. */
  writeFailurePending: boolean;
}

const TICK_MS = 10;
const OP_TIMEOUT_MS = 600;
const REGISTERS = ['x', 'y'];
const COUNTER = 'c';
const MAX_EVENTS_AT_ONE_INSTANT = 100_000;
/** Clients 1..N run random operations; the probe of group g is client PROBE_CLIENT + g. */
const PROBE_CLIENT = 1000;

const LOOP_FAULTS: FaultModel = {
  faultEveryMs: [50, 400],
  maxDropRate: 0.2,
  maxDuplicateRate: 0.1,
  maxDelayMs: [2, 60],
  isolateLeaderChance: 0,
  isolateCompanionChance: 0,
  partitionSideChance: 0.4,
  oneWayChance: 0.3,
  healAfterMs: [100, 1500],
  restartAfterMs: [50, 1500],
  pauseLeaderChance: 0.6,
  resumeAfterMs: [50, 1500],
  slowSyncMaxMs: 4,
  syncMs: 0,
};

class LoopWorld extends SimWorld<SimHost, SimClock> {
  protected readonly network: SimHub;
  private readonly hosts: SimHost[] = [];
  private readonly groups: GroupSpec[] = [];
  private readonly leaders = new TermLeaders((what) => this.violate(what));
  private readonly applied = new AppliedOutcomes((what) => this.violate(what));
  private readonly raftTuning: Omit<RaftConfig, 'id' | 'random'>;
  private readonly snapshotEvery: number;
  /** Raft releases durable, applied entries from memory and reads them back from the store (LogReader). */
  private readonly releaseLog: boolean;
  /** The byte bound on the log behind a snapshot (undefined: the default, 512 KiB, which a sim never reaches). */
  private readonly maxLogBytes: number | undefined;
  private readonly keepEntries: number;
  private readonly maxQueueItems: number;
  /** The host loops' apply budget in entries per turn (virtual time does not move while code runs, so the time budget never ends a turn here). */
  private readonly maxAppliesPerTurn: number;
  private readonly clientsStopAt: number;
  private instant = 0;
  private eventsAtInstant = 0;

  constructor(private readonly o: LoopSimOptions) {
    super(new SimClock(), o.seed, o.faults, LOOP_FAULTS, 'faults stopped');
    this.network = new SimHub(this.clock, this.random, (host, err) => this.violate(`${host}: a transport handler threw: ${errorText(err)}`));
    this.clients.checkStart = o.faultMs + o.settleMs;
    this.clientsStopAt = this.clients.checkStart + o.checkMs;

    const hostCount = randomInt(this.random, 3, 6);
    const ids = Array.from({ length: hostCount }, (_, i) => `h${i + 1}`);
    for (const id of ids) {
      const scheduler = new SimScheduler(this.clock);
      this.hosts.push({ id, disk: new MemoryDisk(id), up: false, scheduler, store: null, transport: null, loop: null, detach: () => undefined, groups: new Map(), writeFailurePending: false });
    }
    const groupCount = randomInt(this.random, 3, 9);
    for (let g = 1; g <= groupCount; g++) {
      const replicas = shuffle(this.random, ids).slice(0, 3);
      this.groups.push({ id: g, name: `g${g}`, replicas });
    }
    this.raftTuning = {
      ...DEFAULT_RAFT_CONFIG,
      // Without CheckQuorum a deposed leader keeps believing it leads: reads must still be safe.
      checkQuorum: this.random() < 0.75,
      preVote: this.random() < 0.8,
      heartbeatTick: randomInt(this.random, 1, 4),
      maxInflight: randomInt(this.random, 2, 9),
      maxAppendBytes: randomInt(this.random, 128, 4096),
      snapshotChunkBytes: randomInt(this.random, 64, 1024),
      // From a PRNG of its own, so the seeds' other draws stay what they were before it existed.
      broadcastCommit: seededRandom(o.seed ^ 0xc0117)() < 0.5,
    };
    this.snapshotEvery = o.faults.snapshot ? randomInt(this.random, 8, 40) : 10_000;
    // Half the seeds keep only what is in flight in memory and read the rest back from the store
    // (as hosts do); the other half keep the whole log. From a PRNG of its own, like broadcastCommit.
    this.releaseLog = seededRandom(o.seed ^ 0x7e1ea5)() < 0.5;
    this.keepEntries = randomInt(this.random, 0, 8);
    // Small enough that a busy turn sometimes overflows a queue (send() answers busy).
    this.maxQueueItems = randomInt(this.random, 16, 129);
    // From a PRNG of its own, so the seeds' other draws stay what they were before it existed.
    const sliceRandom = seededRandom(o.seed ^ 0x5a11ce);
    this.maxAppliesPerTurn = sliceRandom() < 0.3 ? Infinity : randomInt(sliceRandom, 1, 6);
    // Snapshots by bytes too, under the snapshot fault, in half the seeds (a PRNG of its own, as above):
    // between the multiples, at indexes every replica must choose alike (state hashes compare them).
    const bytesRandom = seededRandom(o.seed ^ 0xb17e5);
    this.maxLogBytes = o.faults.snapshot && bytesRandom() < 0.5 ? randomInt(bytesRandom, 300, 3000) : undefined;
  }

  async run(): Promise<SimResult> {
    this.log(`${this.hosts.length} hosts, groups ${this.groups.map((g) => `${g.name}[${g.replicas}]`).join(' ')}, ${this.maxAppliesPerTurn} applies per turn`);
    for (const host of this.hosts) this.clock.at(0, () => this.start(host));
    for (let c = 1; c <= this.o.clients; c++) this.clock.after(randomInt(this.random, 0, 50), () => this.startOp(c));
    this.scheduleFault();
    this.clock.after(this.o.faultMs, () => this.stopFaults());
    this.clock.after(this.clients.checkStart, () => this.probeEveryGroup());
    const end = this.clientsStopAt + 1000;
    try {
      await this.clock.run(end, {
        stop: () => this.violations.length > 0,
        afterEvent: () => {
          this.checkProgress();
          this.checkLeaders();
        },
      });
      if (this.violations.length === 0) this.checkEnd();
      if (this.network.itemsTooLarge > 0) this.violate(`${this.network.itemsTooLarge} items refused as larger than a frame (the size limits let them in)`);
      this.logTotals();
    } catch (err) {
      this.violate(exceptionText(err));
    }
    return this.result({ elections: this.leaders.terms, messages: this.network.frames.sent, virtualMs: this.clock.now });
  }

  // -------------------------------------------------------------------------------------------
  // Hosts

  /** Starts a host as a process would: open the store, restore (or found) its groups, run the loop. */
  private start(host: SimHost): void {
    const scheduler = new SimScheduler(this.clock);
    const store = new SimLogStore(new MemoryLogStore(host.disk), scheduler, () => this.syncDelayMs());
    host.scheduler = scheduler;
    host.store = store;
    host.up = true;
    this.startAsync(host, store, scheduler).catch((err: unknown) => this.violate(`${host.id} failed to start: ${errorText(err)}`));
  }

  private async startAsync(host: SimHost, simStore: SimLogStore, scheduler: SimScheduler): Promise<void> {
    const store = this.o.wrapStore?.(host.id, simStore) ?? simStore;
    await store.open();
    const stored = new Set(await store.groupIds());
    const transport = this.network.endpoint(host.id, { scheduler, maxQueueItems: this.maxQueueItems });
    transport.setPeers(new Map(this.hosts.filter((h) => h !== host).map((h) => [h.id, h.id])));
    // Its virtual scheduler, so not even a message to a member on the same host waits for a real timer.
    const wiring = wireLoopToTransport(transport, IDENTITY_MEMBERS, scheduler);
    const loop = new HostLoop({ store, send: wiring.send, tickMs: TICK_MS, scheduler, maxAppliesPerTurn: this.maxAppliesPerTurn });
    const groups = new Map<number, KvGroup>();
    wiring.onStateHash((groupId, from, report) => groups.get(groupId)?.peerStateHash(from, report));
    for (const spec of this.groups) {
      if (!spec.replicas.includes(host.id)) continue;
      const options = this.groupOptions(host.id, spec, wiring, store);
      // A founding member whose first turn never became durable founds the group again.
      const group = stored.has(spec.id)
        ? Group.restore(options, await store.loadGroup(spec.id))
        : Group.create(options, { voters: spec.replicas, learners: [] });
      groups.set(spec.id, group);
      loop.addGroup(group);
    }
    host.transport = transport;
    host.loop = loop;
    host.groups = groups;
    host.detach = wiring.attach(loop);
    loop.start();
  }

  private groupOptions(host: HostId, spec: GroupSpec, wiring: RaftWiring, store: LogStore): GroupOptions<KvMachine, KvCommand, KvReply, KvQuery> {
    const machine = this.o.wrapMachine?.(host, spec.id, kvStateMachine) ?? kvStateMachine;
    const logReader = this.releaseLog ? { logReader: (from: number, to: number, maxBytes: number) => store.readEntries(spec.id, from, to, maxBytes) } : {};
    return {
      groupId: spec.id,
      raft: { ...this.raftTuning, id: host, random: seededRandom(Math.floor(this.random() * 2 ** 32)), ...logReader },
      machine,
      snapshotEvery: this.snapshotEvery,
      ...(this.maxLogBytes === undefined ? {} : { maxLogBytes: this.maxLogBytes }),
      keepEntries: this.keepEntries,
      onApply: (index, outcome) => this.applied.see(spec.id, spec.name, index, host, outcome),
      announceStateHash: (hash, to) => wiring.announceStateHash(spec.id, hash, to),
      logger: this.mismatchWatch(host, spec),
      now: () => this.clock.now,
    };
  }

  /** A group's logger that turns a state mismatch it reports into a violation (and drops the rest). */
  private mismatchWatch(host: HostId, spec: GroupSpec): Logger {
    const write = (line: string): void => {
      const l = JSON.parse(line) as { msg: string; index?: number; peer?: string; ours?: string; theirs?: string };
      if (l.msg.startsWith('state mismatch')) this.violate(`state mismatch: group ${spec.name} index ${l.index}: ${host} hashed ${l.ours}, ${l.peer} ${l.theirs}`);
    };
    return pino({ level: 'error', base: null, timestamp: false }, { write });
  }

  /** Power loss: the loop stops without finishing its turn, unsynced writes are lost. */
  protected crash(host: SimHost): void {
    host.up = false;
    void host.loop?.stop();
    host.detach();
    this.network.crash(host.id);
    host.scheduler.halt();
    host.store?.crash();
    host.loop = null;
    host.transport = null;
    host.store = null;
    host.groups = new Map();
    this.log(`crash ${host.id}`);
  }

  protected restart(host: SimHost): void {
    if (host.up) return;
    this.start(host);
    this.log(`restart ${host.id}`);
  }

  /** A pause (GC, SIGSTOP) stops the host's scheduler: a leader may wake up deposed, with its timers and frames all late. */
  protected pausable(host: SimHost): SimScheduler {
    return host.scheduler;
  }

  // -------------------------------------------------------------------------------------------
  // Clients: one operation at a time each, at the group's leader as far as they can tell,
  // retried while it certainly did not take effect, until its deadline.

  private startOp(client: number): void {
    if (this.clock.now >= this.clientsStopAt) return;
    const spec = this.groups[randomInt(this.random, 0, this.groups.length)]!;
    this.runOp(client, spec, this.randomOp(client, spec), () => {
      this.clock.after(randomInt(this.random, 0, 20), () => this.startOp(client));
    });
  }

  /** Once the faults are over, every group must take a command. */
  private probeEveryGroup(): void {
    for (const spec of this.groups) {
      this.runOp(PROBE_CLIENT + spec.id, spec, { op: 'put', key: `${spec.name}/probe`, value: 'p' }, () => undefined);
    }
  }

  private runOp(client: number, spec: GroupSpec, input: OpInput, then: () => void): void {
    const op = this.clients.call(client, input, then);
    const retrying = new RetryingOp(op, this.clock, this.random, OP_TIMEOUT_MS, () => this.randomReplica(spec));
    // Most gets are queries (ReadIndex, or within the leader's lease); the others go through the
    // log as commands.
    const query = input.op === 'get' && this.random() < 0.75;
    const consistency = this.raftTuning.checkQuorum && this.random() < 0.3 ? 'lease' : 'linearizable';
    retrying.start((target) => this.attempt(retrying, spec, target, query ? consistency : null));
  }

  /** One attempt at the replica on `target`: a query if `consistency` is given, else a command. */
  private attempt(retrying: RetryingOp, spec: GroupSpec, target: HostId, consistency: 'lease' | 'linearizable' | null): void {
    const { op } = retrying;
    const retry = (hint: NodeId): void => retrying.retry(spec.replicas.includes(hint) ? hint : undefined);
    const host = this.host(target);
    if (!host.up) return retry('');
    host.scheduler.runNow(() => {
      const group = host.groups.get(spec.id);
      if (op.finished || group === undefined) return;
      if (consistency !== null) {
        group.query({ key: op.input.key }, { consistency }).then(
          (r) => op.finish('ok', r.output),
          (err: unknown) => retry(leaderHint(err)),
        );
        return;
      }
      retrying.mayHaveApplied = true;
      group.command({ id: op.id, input: op.input }).then(
        (r) => op.finish('ok', r.output),
        (err: unknown) => {
          if (isFlotillaError(err, 'NOT_LEADER') || isFlotillaError(err, 'BUSY')) {
            retrying.mayHaveApplied = false;
            retry(leaderHint(err));
          } else if (isFlotillaError(err, 'COMMAND_FAILED')) {
            op.finish('fail');
          } else {
            // The host stopped or crashed, or a snapshot replaced the entry: it may have applied.
            op.finish('unknown');
          }
        },
      );
    });
  }

  private randomOp(client: number, spec: GroupSpec): OpInput {
    if (this.random() < 0.65) {
      const key = `${spec.name}/${REGISTERS[randomInt(this.random, 0, REGISTERS.length)]!}`;
      return registerOp(this.random, client, this.clients.lastOpId + 1, key, () => this.leaderOf(spec)?.state.read(key) ?? null);
    }
    return counterOp(this.random, `${spec.name}/${COUNTER}`);
  }

  private randomReplica(spec: GroupSpec): HostId {
    return spec.replicas[randomInt(this.random, 0, spec.replicas.length)]!;
  }

  private host(id: HostId): SimHost {
    const host = this.hosts.find((h) => h.id === id);
    if (host === undefined) throw new Error(`no host ${id}`);
    return host;
  }

  /** The live replica that leads the group in the highest term, if any. */
  private leaderOf(spec: GroupSpec): KvGroup | undefined {
    let best: KvGroup | undefined;
    for (const id of spec.replicas) {
      const g = this.host(id).groups.get(spec.id);
      if (g === undefined || g.role !== Role.Leader) continue;
      if (best === undefined || g.term > best.term) best = g;
    }
    return best;
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  protected faultKinds(): Array<() => void> {
    const f = this.o.faults;
    const kinds: Array<() => void> = [];
    if (f.crash) kinds.push(() => this.crashSomeone(false), () => this.crashSomeone(true));
    if (f.pause) kinds.push(() => this.pauseSomeone());
    if (f.partition) kinds.push(() => this.partitionSomehow(this.hosts.map((h) => h.id)), () => this.stallSomeLink());
    if (f.drop || f.duplicate || f.delay) kinds.push(() => this.changeNetwork());
    if (f.transfer) kinds.push(() => this.transfer());
    if (f.diskFailure) kinds.push(() => this.failSomeWrite());
    return kinds;
  }

  /** The hosts that run (and those paused too, if `paused`). */
  private running(paused: boolean): SimHost[] {
    return this.hosts.filter((h) => h.up && (paused || !h.scheduler.isPaused));
  }

  /** The host of some group's leader (the interesting victim), if it is one of `among`. */
  private leaderHost(among: readonly SimHost[]): SimHost | undefined {
    const leaders = this.groups.map((g) => this.leaderOf(g)).filter((g): g is KvGroup => g !== undefined);
    const g = leaders[randomInt(this.random, 0, leaders.length)];
    return g === undefined ? undefined : among.find((h) => h.id === g.memberId);
  }

  private crashSomeone(leader: boolean): void {
    if (this.hosts.filter((h) => !h.up).length >= 2) return;
    const up = this.running(true);
    this.crashForAWhile(leader ? this.leaderHost(up) : up[randomInt(this.random, 0, up.length)]);
  }

  private pauseSomeone(): void {
    const running = this.running(false);
    this.pauseForAWhile(this.pauseVictim(running, () => this.leaderHost(running)));
  }

  private stallSomeLink(): void {
    const from = this.hosts[randomInt(this.random, 0, this.hosts.length)]!.id;
    const to = this.hosts[randomInt(this.random, 0, this.hosts.length)]!.id;
    if (from === to) return;
    const ms = randomInt(this.random, 20, 500);
    this.network.stall(from, to, ms);
    this.log(`stall ${from}->${to} ${ms}ms`);
  }

  private failSomeWrite(): void {
    const up = this.running(false);
    const host = up[randomInt(this.random, 0, up.length)];
    if (host === undefined || host.store === null) return;
    host.store.inner.failNextWrite(new Error(`injected write failure on ${host.id}`));
    host.writeFailurePending = true;
    this.log(`${host.id}: the next disk write fails`);
  }

  private transfer(): void {
    const spec = this.groups[randomInt(this.random, 0, this.groups.length)]!;
    const leader = this.leaderOf(spec);
    if (leader === undefined) return;
    const others = spec.replicas.filter((id) => id !== leader.memberId);
    const to = others[randomInt(this.random, 0, others.length)]!;
    this.log(`${spec.name}: ${leader.memberId} transfers leadership to ${to}`);
    // Through the host, so a paused leader acts on it only when it wakes.
    this.host(leader.memberId).scheduler.runNow(() => {
      try {
        leader.transferLeadership(to);
      } catch (err) {
        this.log(`${spec.name}: ${leader.memberId} refuses the transfer: ${errorText(err)}`);
      }
    });
  }

  private stopFaults(): void {
    this.stopNetworkFaults();
    for (const host of this.hosts) {
      if (host.writeFailurePending) {
        // Not hit yet (the host wrote nothing since): consume it, no write may fail from now on.
        host.writeFailurePending = false;
        try {
          host.disk.write([], false);
        } catch {
          this.log(`${host.id}: the injected write failure is withdrawn`);
        }
      }
      if (host.scheduler.resume()) this.log(`resume ${host.id}`);
      this.restart(host);
    }
    this.log('faults stop');
  }

  // -------------------------------------------------------------------------------------------
  // Invariants

  /** Virtual time must move on: work that keeps rescheduling itself at one instant is a livelock. */
  private checkProgress(): void {
    if (this.clock.now !== this.instant) {
      this.instant = this.clock.now;
      this.eventsAtInstant = 0;
    } else if (++this.eventsAtInstant === MAX_EVENTS_AT_ONE_INSTANT) {
      this.violate(`livelock: ${MAX_EVENTS_AT_ONE_INSTANT} events at ${this.clock.now} ms without time moving on`);
    }
  }

  /** After every event: at most one leader per term in every group; no live host's loop failed. */
  private checkLeaders(): void {
    for (const host of this.hosts) {
      if (!host.up) continue;
      const failure = host.loop?.failed ?? null;
      if (failure !== null) {
        if (!host.writeFailurePending || failure.code !== 'STORAGE_FAILED') {
          this.violate(`${host.id}: the host loop failed: ${failure.message}`);
          return;
        }
        // As a process that exits on a fail-stop error, to be restarted by its supervisor.
        host.writeFailurePending = false;
        this.log(`${host.id}: the loop stopped on the write failure`);
        this.crash(host);
        this.clock.after(randomInt(this.random, 20, 500), () => this.restart(host));
        continue;
      }
      for (const [groupId, g] of host.groups) {
        if (g.role !== Role.Leader) continue;
        const term = g.term;
        if (this.leaders.see(groupId, term, host.id, `group g${groupId} in `)) this.log(`g${groupId}: ${host.id} leads term ${term}`);
      }
    }
  }

  /** After the run: every group has a leader, and its replicas applied the same to the same state. */
  private checkEnd(): void {
    for (const spec of this.groups) {
      const leader = this.leaderOf(spec);
      if (leader === undefined) {
        this.violate(`liveness: group ${spec.name} has no leader after faults stopped`);
        continue;
      }
      const expected = leader.state.snapshot();
      for (const id of spec.replicas) {
        const g = this.host(id).groups.get(spec.id);
        if (g === undefined) {
          this.violate(`liveness: ${id} did not restart group ${spec.name}`);
          continue;
        }
        if (g.appliedIndex !== leader.appliedIndex || !sameBytes(g.state.snapshot(), expected)) {
          this.violate(`convergence: group ${spec.name} on ${id} applied ${g.appliedIndex}, its leader ${leader.memberId} ${leader.appliedIndex}; states differ`);
        }
      }
    }
  }

  /** What the network did to the run's traffic, for the trace. */
  private logTotals(): void {
    let refused = 0;
    let discarded = 0;
    for (const host of this.hosts) {
      const stats = host.transport?.stats();
      refused += stats?.itemsRefused ?? 0;
      discarded += stats?.itemsDiscarded ?? 0;
    }
    this.log(`end after ${this.clock.executed} events; ${this.network.frames.dropped} frames dropped, ${this.network.framesLost} lost with their connection; live hosts refused ${refused} items, discarded ${discarded}`);
  }

}

/** The leader a NOT_LEADER error names, or '' (unknown). */
function leaderHint(err: unknown): NodeId {
  if (!isFlotillaError(err, 'NOT_LEADER')) return '';
  const leader = err.details['leader'];
  return typeof leader === 'string' ? leader : '';
}

function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
