// The deterministic simulation of one Raft group: members, disks, network, clients and faults,
// all driven by one seeded PRNG in virtual time. A run is a pure function of its seed, so every
// failure replays exactly. The world, its clients and the faults all simulations share are the
// kernel's (kernel/world.ts, with RAFT_FAULTS); a member is a bare Raft core (raft-node.ts), and
// membership changes, transfers, snapshots and quiescence are this simulation's own faults.
//
// A run has three phases: faults (everything below switched on at random), settle (faults stop,
// the network heals, crashed members restart), and check (every client operation must now succeed).
// Safety is checked continuously; liveness and convergence at the end; the client history is
// checked for linearizability.

import type { OpInput } from '../check/history.js';
import { exceptionText, type SimResult } from './kernel/sim-result.js';
import { isMember, isVoter } from '../raft/membership.js';
import { bootstrapState, DEFAULT_RAFT_CONFIG, type RaftConfig, type Ready } from '../raft/raft.js';
import { randomInt, seededRandom, type Random } from '../raft/random.js';
import { Role, type Entry, type Message, type NodeId } from '../raft/types.js';
import { EventQueue } from './kernel/event-queue.js';
import type { FaultModel } from './kernel/fault-model.js';
import { SimNetwork } from './kernel/network.js';
import { counterOp, registerOp } from './kernel/random-ops.js';
import { RetryingOp } from './kernel/retrying-op.js';
import { sameBytes } from './kernel/same-bytes.js';
import { TermLeaders } from './kernel/safety-ledgers.js';
import { SimWorld } from './kernel/world.js';
import { SimDisk } from './sim-disk.js';
import { SimRaftNode } from './raft-node.js';

export interface SimFaults {
  drop: boolean;
  duplicate: boolean;
  delay: boolean;
  partition: boolean;
  crash: boolean;
  membership: boolean;
  transfer: boolean;
  snapshot: boolean;
  /** Idle groups may quiesce, with a failure detector that wakes followers (late, sometimes wrongly). */
  quiesce: boolean;
}

export const ALL_FAULTS: SimFaults = {
  drop: true,
  duplicate: true,
  delay: true,
  partition: true,
  crash: true,
  membership: true,
  transfer: true,
  snapshot: true,
  quiesce: true,
};

export interface SimOptions {
  seed: number;
  faults: SimFaults;
  /** Virtual milliseconds of each phase. */
  faultMs: number;
  settleMs: number;
  checkMs: number;
  clients: number;
  /** Members in the pool; the group starts with 3 or 5 voters among them. */
  nodes: number;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, 'seed'> = {
  faults: ALL_FAULTS,
  faultMs: 6000,
  settleMs: 3000,
  checkMs: 2000,
  clients: 4,
  nodes: 5,
};

const TICK_MS = 10;
/** How often the simulated failure detector looks, and how long a leader must look dead to it. */
const DETECTOR_MS = 50;
const SUSPECT_AFTER_MS = 150;
const OP_TIMEOUT_MS = 600;
const REGISTERS = ['x', 'y', 'z', 'u', 'v'];
const COUNTERS = ['c1', 'c2', 'c3'];

const RAFT_FAULTS: FaultModel = {
  faultEveryMs: [50, 400],
  maxDropRate: 0.2,
  maxDuplicateRate: 0.1,
  maxDelayMs: [2, 60],
  isolateLeaderChance: 0.4,
  isolateCompanionChance: 0.2,
  partitionSideChance: 0.5,
  oneWayChance: 0.25,
  healAfterMs: [100, 1500],
  restartAfterMs: [50, 1500],
  pauseLeaderChance: 0.6,
  resumeAfterMs: [50, 1500],
  slowSyncMaxMs: 4,
  syncMs: 0.3,
};

export function runRaftSim(options: SimOptions): SimResult {
  return new RaftWorld(options).run();
}

/** One seed with the default options. */
export function runSeed(seed: number, faults: SimFaults = ALL_FAULTS): SimResult {
  return runRaftSim({ ...DEFAULT_SIM_OPTIONS, faults, seed });
}

class RaftWorld extends SimWorld<SimRaftNode> {
  protected readonly network: SimNetwork<Message>;
  private readonly nodes: SimRaftNode[] = [];
  /** Election safety: the one leader seen for each term (the group is 0). */
  private readonly leaders = new TermLeaders((what) => this.violate(what));
  /** Every entry any member applied, by index: all members must apply the same. */
  private readonly committed: Array<Entry | undefined> = [];
  /** Index of the configuration entry that removed a member (it may be wiped once that commits). */
  private readonly removedAt = new Map<NodeId, number>();
  private readonly clientsStopAt: number;
  private readonly checkQuorum: boolean;
  private readonly broadcastCommit: boolean;
  private rejoins = 0;
  /**
   * Quiescence decisions draw from their own PRNG, so seeds that run without it replay exactly as
   * they did before it existed (the regression seeds among them).
   */
  private readonly quiesce: { random: Random; afterTicks: number } | null;
  private readonly suspectSince = new Map<NodeId, number>();

  constructor(private readonly o: SimOptions) {
    super(new EventQueue(), o.seed, o.faults, RAFT_FAULTS, 'faults stopped');
    this.network = new SimNetwork(this.clock, this.random, (m) => this.byHost(hostOf(m.to))?.receive(m), hostOf);
    this.clients.checkStart = o.faultMs + o.settleMs;
    this.clientsStopAt = this.clients.checkStart + o.checkMs;
    const voters = this.random() < 0.5 ? 3 : Math.min(5, o.nodes);
    const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    const membership = { voters: ids.slice(0, voters), learners: [] };
    const snapshots = o.faults.snapshot;
    // Without CheckQuorum a deposed leader keeps believing it leads: reads must still be safe.
    this.checkQuorum = this.random() < 0.75;
    const q = seededRandom(o.seed ^ 0x51e5ce);
    this.quiesce = o.faults.quiesce && q() < 0.5 ? { random: q, afterTicks: randomInt(q, 2, 30) } : null;
    // Half the seeds let followers learn commits with the next append or heartbeat (a PRNG of its
    // own, so the other draws stay what they were).
    this.broadcastCommit = seededRandom(o.seed ^ 0xc0117)() < 0.5;
    for (const [i, id] of ids.entries()) {
      const disk = i < voters ? new SimDisk(bootstrapState(membership)) : SimDisk.empty();
      const config = (member: NodeId) => this.raftConfig(member);
      const node = new SimRaftNode(id, disk, config, this.nodeEnv(), snapshots ? 20 : 1e9, randomInt(this.random, 0, 6));
      this.nodes.push(node);
    }
  }

  run(): SimResult {
    for (const n of this.nodes) n.start();
    for (const n of this.nodes) this.scheduleTicks(n);
    if (this.quiesce !== null) this.clock.after(DETECTOR_MS, () => this.detectFailures());
    for (let c = 1; c <= this.o.clients; c++) this.clock.after(randomInt(this.random, 0, 50), () => this.startOp(c));
    this.scheduleFault();
    this.clock.after(this.o.faultMs, () => this.stopFaults());
    this.clock.after(this.o.faultMs + 250, () => this.checkLogMatching());
    const end = this.clientsStopAt + 1000;
    try {
      this.clock.runUntil(end, () => this.violations.length > 0);
      if (this.violations.length === 0) this.checkEnd();
    } catch (err) {
      this.violate(exceptionText(err));
    }
    return this.result({ elections: this.leaders.terms, messages: this.network.sent, virtualMs: this.clock.now });
  }

  // -------------------------------------------------------------------------------------------
  // Members

  private raftConfig(id: NodeId): RaftConfig {
    return {
      ...DEFAULT_RAFT_CONFIG,
      id,
      checkQuorum: this.checkQuorum,
      // Quiescence needs PreVote (see RaftConfig.quiesceAfterTicks); the draw is made either way so
      // seeds without quiescence replay as before.
      preVote: this.random() < 0.8 || this.quiesce !== null,
      maxInflight: 4,
      maxAppendBytes: 512,
      snapshotChunkBytes: 96,
      quiesceAfterTicks: this.quiesce?.afterTicks ?? 0,
      broadcastCommit: this.broadcastCommit,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
    };
  }

  private nodeEnv() {
    return {
      send: (m: Message) => this.network.send(m),
      after: (ms: number, run: () => void) => this.clock.after(ms, run),
      syncDelayMs: () => this.syncDelayMs(),
      observeReady: (n: SimRaftNode, rd: Ready) => this.observeReady(n, rd),
      observeApply: (n: SimRaftNode, e: Entry) => this.observeApply(n, e),
    };
  }

  /**
   * The host-level failure detector a real host runs: a quiesced follower whose leader's host has
   * looked dead (down, paused, cut off) for SUSPECT_AFTER_MS is woken, so it campaigns; now and
   * then one is woken for no reason, as a detector on a slow network would.
   */
  private detectFailures(): void {
    const q = this.quiesce!;
    for (const n of this.nodes) {
      const raft = n.raft;
      if (!n.up || n.isPaused || raft === null || !raft.isQuiesced || raft.currentRole === Role.Leader) {
        this.suspectSince.delete(n.id);
        continue;
      }
      const leader = this.byId(raft.leader);
      const dead = leader === undefined || !leader.up || leader.isPaused || !this.network.linked(leader.host, n.host) || !this.network.linked(n.host, leader.host);
      if (!dead) this.suspectSince.delete(n.id);
      else if (!this.suspectSince.has(n.id)) this.suspectSince.set(n.id, this.clock.now);
      const suspected = dead && this.clock.now - this.suspectSince.get(n.id)! >= SUSPECT_AFTER_MS;
      // False suspicions are a fault too: they stop with the others.
      if (suspected || (this.faultsOn && q.random() < 0.01)) {
        raft.wake();
        this.log(`wake ${n.id}${suspected ? '' : ' (false suspicion)'}`);
      }
    }
    this.clock.after(DETECTOR_MS, () => this.detectFailures());
  }

  private scheduleTicks(n: SimRaftNode): void {
    const phase = this.random() * TICK_MS;
    const tick = () => {
      n.tick();
      this.clock.after(TICK_MS, tick);
    };
    this.clock.after(phase, tick);
  }

  private byId(id: NodeId): SimRaftNode | undefined {
    return this.nodes.find((n) => n.id === id);
  }

  private byHost(host: string): SimRaftNode | undefined {
    return this.nodes.find((n) => n.host === host);
  }

  private leader(): SimRaftNode | undefined {
    let best: SimRaftNode | undefined;
    for (const n of this.nodes) {
      const r = n.raft;
      if (r?.currentRole === Role.Leader && (best === undefined || r.currentTerm > best.raft!.currentTerm)) best = n;
    }
    return best;
  }

  // -------------------------------------------------------------------------------------------
  // Clients: each runs one operation at a time, retrying on "not leader" until its deadline.

  private startOp(client: number): void {
    if (this.clock.now >= this.clientsStopAt) return;
    const input = this.randomOp(client);
    const op = this.clients.call(client, input, () => {
      // With quiescence on, clients sometimes go quiet long enough for the group to quiesce.
      const idle = this.quiesce !== null && this.quiesce.random() < 0.15 ? this.quiesce.random() * 600 : 0;
      this.clock.after(randomInt(this.random, 0, 20) + idle, () => this.startOp(client));
    });
    const retrying = new RetryingOp(op, this.clock, this.random, OP_TIMEOUT_MS, () => this.randomHost());
    retrying.start((target) => this.attempt(retrying, target));
  }

  /** One attempt at the member on `target`; a certain "no" retries, at the leader it names if any. */
  private attempt(retrying: RetryingOp, target: string): void {
    const { op } = retrying;
    const input = op.input;
    const node = this.byHost(target)!;
    const retry = (leader: NodeId) => retrying.retry(leader === '' ? undefined : hostOf(leader));
    if (input.op === 'get') {
      node.read(input.key, this.random() < 0.3, (r) => {
        if (r.kind === 'ok') op.finish('ok', r.value);
        else retry(r.leader);
      });
      return;
    }
    // Until the member answers, the command may be in its log.
    retrying.mayHaveApplied = true;
    node.propose(op.id, input, (r) => {
      if (r.kind === 'ok') op.finish('ok', r.output);
      else if (r.kind === 'error') op.finish('fail');
      else {
        // Certainly not applied (refused, or its entry was overwritten): safe to propose again.
        retrying.mayHaveApplied = false;
        retry(r.kind === 'notLeader' ? r.leader : '');
      }
    });
  }

  private randomHost(): string {
    return this.nodes[randomInt(this.random, 0, this.nodes.length)]!.host;
  }

  private randomOp(client: number): OpInput {
    if (this.random() < 0.5) {
      const key = REGISTERS[randomInt(this.random, 0, REGISTERS.length)]!;
      return registerOp(this.random, client, this.clients.lastOpId + 1, key, () => this.leader()?.kv.read(key) ?? null);
    }
    return counterOp(this.random, COUNTERS[randomInt(this.random, 0, COUNTERS.length)]!);
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  protected faultKinds(): Array<() => void> {
    const f = this.o.faults;
    const kinds: Array<() => void> = [];
    if (f.crash) kinds.push(() => this.crashSomeone(), () => this.crashSomeone(true), () => this.pauseSomeone());
    if (f.partition) kinds.push(() => this.partitionSomehow(this.nodes.map((n) => n.host), this.leader()?.host));
    if (f.drop || f.duplicate || f.delay) kinds.push(() => this.changeNetwork());
    if (f.membership) kinds.push(() => this.changeMembership(), () => this.changeMembership());
    if (f.transfer) kinds.push(() => this.transfer());
    return kinds;
  }

  private crashSomeone(leader = false): void {
    const down = this.nodes.filter((n) => !n.up).length;
    if (down >= 2) return;
    const up = this.nodes.filter((n) => n.up);
    this.crashForAWhile(leader ? this.leader() : up[randomInt(this.random, 0, up.length)]);
  }

  /** A pause (GC, SIGSTOP): the leader is the interesting victim, it may wake up deposed. */
  private pauseSomeone(): void {
    const up = this.nodes.filter((n) => n.up && !n.isPaused);
    const victim = this.pauseVictim(up, () => this.leader());
    if (victim !== undefined && !victim.isPaused) this.pauseForAWhile(victim);
  }

  protected crash(n: SimRaftNode): void {
    n.crash();
    this.log(`crash ${n.id}`);
  }

  protected restart(n: SimRaftNode): void {
    if (n.up) return;
    n.start();
    this.log(`restart ${n.id} term=${n.raft!.currentTerm} last=${n.raft!.lastIndex} commit=${n.raft!.committed}`);
  }

  protected pausable(n: SimRaftNode): SimRaftNode {
    return n;
  }

  private changeMembership(): void {
    const leader = this.leader();
    const raft = leader?.raft;
    if (leader === undefined || raft === undefined || raft === null) return;
    const m = raft.currentMembership;
    const outsiders = this.nodes.filter((n) => !isMember(m, n.id));
    const options: Array<() => void> = [];
    for (const n of outsiders) {
      // The host's old member must be out for good before the host gets a new one.
      const removed = this.removedAt.get(n.id) ?? 0;
      if (n !== leader && raft.committed >= removed) options.push(() => this.addLearner(leader, n));
    }
    for (const id of m.learners) options.push(() => this.propose(leader, { type: 'promote', node: id }));
    for (const id of m.learners) options.push(() => this.propose(leader, { type: 'remove', node: id }));
    if (m.voters.length > 3) for (const id of m.voters) options.push(() => this.propose(leader, { type: 'remove', node: id }));
    if (options.length > 0) options[randomInt(this.random, 0, options.length)]!();
  }

  /**
   * A host gets a new member with an empty disk and a new id. Reusing the old id would be unsafe:
   * a stale candidate whose log predates the removal could win with the wiped member's vote
   * (found by this simulation, seed 9 with the vote guard off).
   */
  private addLearner(leader: SimRaftNode, n: SimRaftNode): void {
    // A stale leader (an older term) may not know that the host's member joined a newer
    // configuration: wiping it would destroy a voter (seed 5249). The fleet's prepare refuses the
    // same way (fleet/request-server.ts: a replica is replaced only by a request from its term or a newer one).
    const memberTerm = n.raft?.currentTerm ?? n.disk.load().hardState.term;
    if (memberTerm > leader.raft!.currentTerm) return;
    const id = `${n.host}~${++this.rejoins}`;
    const index = this.propose(leader, { type: 'addLearner', node: id });
    if (index === undefined) return;
    n.rejoinAs(id);
  }

  private propose(leader: SimRaftNode, change: Parameters<NonNullable<SimRaftNode['raft']>['changeMembership']>[0]): number | undefined {
    try {
      const index = leader.raft!.changeMembership(change);
      if (change.type === 'remove') this.removedAt.set(change.node, index);
      this.log(`${leader.id} proposes ${change.type} ${change.node} at ${index}`);
      return index;
    } catch (err) {
      this.log(`${leader.id} refuses ${change.type} ${change.node}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  private transfer(): void {
    const leader = this.leader();
    const raft = leader?.raft;
    if (raft === undefined || raft === null) return;
    const voters = raft.currentMembership.voters.filter((v) => v !== leader!.id);
    const to = voters[randomInt(this.random, 0, voters.length)];
    if (to === undefined) return;
    this.log(`${leader!.id} transfers leadership to ${to}`);
    raft.transferLeadership(to);
  }

  private stopFaults(): void {
    this.stopNetworkFaults();
    for (const n of this.nodes) {
      n.resume();
      if (!n.up) this.restart(n);
    }
    this.log('faults stop');
  }

  // -------------------------------------------------------------------------------------------
  // Invariants

  private observeReady(n: SimRaftNode, rd: Ready): void {
    if (rd.role !== Role.Leader || !this.leaders.see(0, rd.term, n.id)) return;
    this.log(`${n.id} leads term ${rd.term}`);
    this.checkLeaderCompleteness(n);
  }

  /** A new leader's log holds every entry any member has applied (Leader Completeness). */
  private checkLeaderCompleteness(n: SimRaftNode): void {
    const raft = n.raft!;
    for (let i = raft.compactedTo + 1; i < this.committed.length; i++) {
      const e = this.committed[i];
      // The rule binds leaders of later terms only. An entry of a later term was committed after
      // this leader was elected: it is seen leading late, as when paused the moment it won (seed 1769).
      if (e !== undefined && e.term <= raft.currentTerm && raft.termAt(i) !== e.term) {
        this.violate(`leader completeness: ${n.id} leads term ${raft.currentTerm} without committed entry ${i} (term ${e.term}); has term ${raft.termAt(i)}`);
        return;
      }
    }
  }

  private observeApply(n: SimRaftNode, e: Entry): void {
    const known = this.committed[e.index];
    if (known === undefined) {
      this.committed[e.index] = e;
    } else if (known.term !== e.term || !sameBytes(known.data, e.data)) {
      this.violate(`state machine safety: ${n.id} applied ${e.index}@${e.term}, others applied ${known.index}@${known.term}`);
    }
  }

  /** Log Matching: two logs that agree on an entry's term agree on every entry before it. */
  private checkLogMatching(): void {
    const up = this.nodes.filter((n) => n.up);
    for (let i = 0; i < up.length; i++) {
      for (let j = i + 1; j < up.length; j++) {
        const a = up[i]!.raft!;
        const b = up[j]!.raft!;
        const lo = Math.max(a.compactedTo, b.compactedTo) + 1;
        let hi = Math.min(a.lastIndex, b.lastIndex);
        while (hi >= lo && a.termAt(hi) !== b.termAt(hi)) hi--;
        for (let k = lo; k <= hi; k++) {
          const ea = a.entryAt(k)!;
          const eb = b.entryAt(k)!;
          if (ea.term !== eb.term || !sameBytes(ea.data, eb.data)) {
            this.violate(`log matching: ${a.id} and ${b.id} agree at ${hi} but differ at ${k}`);
            return;
          }
        }
      }
    }
    this.clock.after(250, () => this.checkLogMatching());
  }

  /** After the run: one leader, and every member of its configuration converged on its state. */
  private checkEnd(): void {
    this.checkLogMatching();
    const leader = this.leader();
    if (leader === undefined) {
      const states = this.nodes.map((n) => `${n.id}:${n.up ? (n.raft?.currentRole ?? '-') : 'down'}/t${n.raft?.currentTerm ?? '-'}/lead=${n.raft?.leader ?? ''}${n.raft?.isQuiesced ? '/q' : ''}`);
      this.violate(`liveness: no leader after faults stopped (${states.join(' ')})`);
      return;
    }
    const raft = leader.raft!;
    const expected = leader.kv.snapshot();
    for (const id of raft.currentMembership.voters) {
      const n = this.byId(id)!;
      if (!isVoter(raft.currentMembership, id) || n.raft === null) continue;
      if (n.applied !== leader.applied || !sameBytes(n.kv.snapshot(), expected)) {
        this.violate(`convergence: ${id} applied ${n.applied}, leader ${leader.id} applied ${leader.applied}; states differ`);
      }
    }
  }
}

/** Member ids are `host` or `host~N`. */
function hostOf(member: NodeId): string {
  const i = member.indexOf('~');
  return i < 0 ? member : member.slice(0, i);
}
