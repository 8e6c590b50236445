// The deterministic simulation of one Raft group: members, disks, network, clients and faults,
// all driven by one seeded PRNG in virtual time. A run is a pure function of its seed, so every
// failure replays exactly.
//
// A run has three phases: faults (everything below switched on at random), settle (faults stop,
// the network heals, crashed members restart), and check (every client operation must now succeed).
// Safety is checked continuously; liveness and convergence at the end; the client history is
// checked for linearizability.

import { HistoryRecorder, type OpInput } from '../check/history.js';
import { exceptionText, finishRun, type SimResult } from './sim-result.js';
import { isMember, isVoter } from '../raft/membership.js';
import { bootstrapState, DEFAULT_RAFT_CONFIG, type RaftConfig, type Ready } from '../raft/raft.js';
import { randomInt, seededRandom, type Random } from '../raft/random.js';
import { Role, type Entry, type Message, type NodeId } from '../raft/types.js';
import { EventQueue } from './event-queue.js';
import { RELIABLE, SimNetwork } from './network.js';
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
const TRACE_LINES = 400;
const REGISTERS = ['x', 'y', 'z', 'u', 'v'];
const COUNTERS = ['c1', 'c2', 'c3'];

export function runRaftSim(options: SimOptions): SimResult {
  return new RaftWorld(options).run();
}

/** One seed with the default options. */
export function runSeed(seed: number, faults: SimFaults = ALL_FAULTS): SimResult {
  return runRaftSim({ ...DEFAULT_SIM_OPTIONS, faults, seed });
}

/** What a run reports back to the command line (without its history). */
export type RunSummary = Omit<SimResult, 'history'>;

class RaftWorld {
  private readonly queue = new EventQueue();
  private readonly random: Random;
  private readonly network: SimNetwork<Message>;
  private readonly nodes: SimRaftNode[] = [];
  private readonly recorder: HistoryRecorder;
  private readonly violations: string[] = [];
  private readonly trace: string[] = [];
  /** Election safety: the one leader seen for each term. */
  private readonly leaders = new Map<number, NodeId>();
  /** Every entry any member applied, by index: all members must apply the same. */
  private readonly committed: Array<Entry | undefined> = [];
  /** Index of the configuration entry that removed a member (it may be wiped once that commits). */
  private readonly removedAt = new Map<NodeId, number>();
  private opId = 0;
  private faultsOn = true;
  private clientsStopAt: number;
  private readonly checkStart: number;
  private okOps = 0;
  private readonly checkQuorum: boolean;
  private rejoins = 0;
  /**
   * Quiescence decisions draw from their own PRNG, so seeds that run without it replay exactly as
   * they did before it existed (the regression seeds among them).
   */
  private readonly quiesce: { random: Random; afterTicks: number } | null;
  private readonly suspectSince = new Map<NodeId, number>();

  constructor(private readonly o: SimOptions) {
    this.random = seededRandom(o.seed);
    this.recorder = new HistoryRecorder(() => Math.round(this.queue.now * 1e6));
    this.network = new SimNetwork(this.queue, this.random, (m) => this.byHost(hostOf(m.to))?.receive(m), hostOf);
    this.checkStart = o.faultMs + o.settleMs;
    this.clientsStopAt = this.checkStart + o.checkMs;
    const voters = this.random() < 0.5 ? 3 : Math.min(5, o.nodes);
    const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    const membership = { voters: ids.slice(0, voters), learners: [] };
    const snapshots = o.faults.snapshot;
    // Without CheckQuorum a deposed leader keeps believing it leads: reads must still be safe.
    this.checkQuorum = this.random() < 0.75;
    const q = seededRandom(o.seed ^ 0x51e5ce);
    this.quiesce = o.faults.quiesce && q() < 0.5 ? { random: q, afterTicks: randomInt(q, 2, 30) } : null;
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
    if (this.quiesce !== null) this.queue.after(DETECTOR_MS, () => this.detectFailures());
    for (let c = 1; c <= this.o.clients; c++) this.queue.after(randomInt(this.random, 0, 50), () => this.startOp(c));
    this.scheduleFault();
    this.queue.after(this.o.faultMs, () => this.stopFaults());
    this.queue.after(this.o.faultMs + 250, () => this.checkLogMatching());
    const end = this.clientsStopAt + 1000;
    try {
      this.queue.runUntil(end, () => this.violations.length > 0);
      if (this.violations.length === 0) this.checkEnd();
    } catch (err) {
      this.violate(exceptionText(err));
    }
    return finishRun({
      seed: this.o.seed,
      violations: this.violations,
      violate: (what) => this.violate(what),
      trace: this.trace,
      history: this.recorder.history(),
      stats: {
        okOps: this.okOps,
        elections: this.leaders.size,
        messages: this.network.sent,
        virtualMs: this.queue.now,
      },
    });
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
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
    };
  }

  private nodeEnv() {
    return {
      send: (m: Message) => this.network.send(m),
      after: (ms: number, run: () => void) => this.queue.after(ms, run),
      syncDelayMs: () => (this.faultsOn && this.o.faults.delay ? this.random() * 4 : 0.3),
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
      else if (!this.suspectSince.has(n.id)) this.suspectSince.set(n.id, this.queue.now);
      const suspected = dead && this.queue.now - this.suspectSince.get(n.id)! >= SUSPECT_AFTER_MS;
      // False suspicions are a fault too: they stop with the others.
      if (suspected || (this.faultsOn && q.random() < 0.01)) {
        raft.wake();
        this.log(`wake ${n.id}${suspected ? '' : ' (false suspicion)'}`);
      }
    }
    this.queue.after(DETECTOR_MS, () => this.detectFailures());
  }

  private scheduleTicks(n: SimRaftNode): void {
    const phase = this.random() * TICK_MS;
    const tick = () => {
      n.tick();
      this.queue.after(TICK_MS, tick);
    };
    this.queue.after(phase, tick);
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
    if (this.queue.now >= this.clientsStopAt) return;
    const input = this.randomOp(client);
    const id = ++this.opId;
    const h = this.recorder.call(client, input);
    const calledAt = this.queue.now;
    const deadline = calledAt + OP_TIMEOUT_MS;
    let finished = false;
    let mayHaveApplied = false;
    let target = this.nodes[randomInt(this.random, 0, this.nodes.length)]!.host;
    const finish = (outcome: 'ok' | 'fail' | 'unknown', output: string | boolean | null = null) => {
      if (finished) return;
      finished = true;
      if (outcome === 'ok') {
        this.recorder.ok(h, output);
        this.okOps++;
      } else if (outcome === 'fail') this.recorder.fail(h);
      else this.recorder.unknown(h);
      if (outcome !== 'ok' && calledAt >= this.checkStart) {
        this.violate(`liveness: client ${client} ${input.op} ${input.key} did not succeed after faults stopped (${outcome})`);
      }
      // With quiescence on, clients sometimes go quiet long enough for the group to quiesce.
      const idle = this.quiesce !== null && this.quiesce.random() < 0.15 ? this.quiesce.random() * 600 : 0;
      this.queue.after(randomInt(this.random, 0, 20) + idle, () => this.startOp(client));
    };
    const retry = (leaderHint: NodeId) => {
      target = leaderHint !== '' && this.random() < 0.9 ? hostOf(leaderHint) : this.nodes[randomInt(this.random, 0, this.nodes.length)]!.host;
      this.queue.after(randomInt(this.random, 5, 25), attempt);
    };
    const attempt = () => {
      if (finished) return;
      if (this.queue.now >= deadline) {
        finish(mayHaveApplied ? 'unknown' : 'fail');
        return;
      }
      const node = this.byHost(target)!;
      if (input.op === 'get') {
        node.read(input.key, this.random() < 0.3, (r) => {
          if (r.kind === 'ok') finish('ok', r.value);
          else retry(r.leader);
        });
        return;
      }
      // Until the member answers, the command may be in its log.
      mayHaveApplied = true;
      node.propose(id, input, (r) => {
        if (r.kind === 'ok') finish('ok', r.output as string | null);
        else if (r.kind === 'error') finish('fail');
        else {
          // Certainly not applied (refused, or its entry was overwritten): safe to propose again.
          mayHaveApplied = false;
          retry(r.kind === 'notLeader' ? r.leader : '');
        }
      });
    };
    this.queue.at(deadline, () => finish(mayHaveApplied ? 'unknown' : 'fail'));
    attempt();
  }

  private randomOp(client: number): OpInput {
    const r = this.random();
    if (r < 0.5) {
      const key = REGISTERS[randomInt(this.random, 0, REGISTERS.length)]!;
      const value = `${client}.${this.opId + 1}`;
      const kind = randomInt(this.random, 0, 4);
      if (kind === 0) return { op: 'put', key, value };
      if (kind === 1) return { op: 'get', key };
      if (kind === 2) return { op: 'append', key, value: `${value};` };
      // cas against the value a read of the key would most plausibly see
      const current = this.leader()?.kv.read(key) ?? null;
      return { op: 'cas', key, expected: this.random() < 0.8 ? current : `${client}.0`, value };
    }
    const key = COUNTERS[randomInt(this.random, 0, COUNTERS.length)]!;
    const kind = randomInt(this.random, 0, 10);
    if (kind < 6) return { op: 'incr', key, n: randomInt(this.random, 1, 5) };
    if (kind < 9) return { op: 'get', key };
    return { op: 'reset', key };
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  private scheduleFault(): void {
    this.queue.after(randomInt(this.random, 50, 400), () => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const f = this.o.faults;
    const kinds: Array<() => void> = [];
    if (f.crash) kinds.push(() => this.crashSomeone(), () => this.crashSomeone(true), () => this.pauseSomeone());
    if (f.partition) kinds.push(() => this.partitionSomehow());
    if (f.drop || f.duplicate || f.delay) kinds.push(() => this.changeNetwork());
    if (f.membership) kinds.push(() => this.changeMembership(), () => this.changeMembership());
    if (f.transfer) kinds.push(() => this.transfer());
    if (kinds.length === 0) return;
    kinds[randomInt(this.random, 0, kinds.length)]!();
  }

  private crashSomeone(leader = false): void {
    const down = this.nodes.filter((n) => !n.up).length;
    if (down >= 2) return;
    const up = this.nodes.filter((n) => n.up);
    const victim = leader ? this.leader() : up[randomInt(this.random, 0, up.length)];
    if (victim === undefined) return;
    victim.crash();
    this.log(`crash ${victim.id}`);
    this.queue.after(randomInt(this.random, 50, 1500), () => this.restart(victim));
  }

  /** A pause (GC, SIGSTOP): the leader is the interesting victim, it may wake up deposed. */
  private pauseSomeone(): void {
    const up = this.nodes.filter((n) => n.up && !n.isPaused);
    const victim = this.random() < 0.6 ? this.leader() : up[randomInt(this.random, 0, up.length)];
    if (victim === undefined || victim.isPaused) return;
    victim.pause();
    this.log(`pause ${victim.id}`);
    this.queue.after(randomInt(this.random, 50, 1500), () => {
      victim.resume();
      this.log(`resume ${victim.id}`);
    });
  }

  private restart(n: SimRaftNode): void {
    if (n.up) return;
    n.start();
    this.log(`restart ${n.id} term=${n.raft!.currentTerm} last=${n.raft!.lastIndex} commit=${n.raft!.committed}`);
  }

  private partitionSomehow(): void {
    const ids = this.nodes.map((n) => n.host);
    const leader = this.leader();
    // Often isolate the leader (alone or with one other): the rest must elect another.
    const a = leader !== undefined && this.random() < 0.4
      ? ids.filter((h) => h === leader.host || this.random() < 0.2)
      : ids.filter(() => this.random() < 0.5);
    const b = ids.filter((id) => !a.includes(id));
    if (a.length === 0 || b.length === 0) return;
    const oneWay = this.random() < 0.25;
    this.network.partition(a, b, oneWay);
    this.log(`partition [${a}] ${oneWay ? '->' : '<->'} [${b}]`);
    this.queue.after(randomInt(this.random, 100, 1500), () => {
      this.network.heal();
      this.log('heal');
    });
  }

  private changeNetwork(): void {
    const f = this.o.faults;
    this.network.faults = {
      dropRate: f.drop ? this.random() * 0.2 : 0,
      duplicateRate: f.duplicate ? this.random() * 0.1 : 0,
      minDelayMs: 1,
      maxDelayMs: f.delay ? randomInt(this.random, 2, 60) : 5,
    };
    const nf = this.network.faults;
    this.log(`network drop=${nf.dropRate.toFixed(2)} dup=${nf.duplicateRate.toFixed(2)} delay<=${nf.maxDelayMs}ms`);
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
    this.faultsOn = false;
    this.network.heal();
    this.network.faults = RELIABLE;
    for (const n of this.nodes) {
      n.resume();
      if (!n.up) this.restart(n);
    }
    this.log('faults stop');
  }

  // -------------------------------------------------------------------------------------------
  // Invariants

  private observeReady(n: SimRaftNode, rd: Ready): void {
    if (rd.role !== Role.Leader) return;
    const known = this.leaders.get(rd.term);
    if (known === undefined) {
      this.leaders.set(rd.term, n.id);
      this.log(`${n.id} leads term ${rd.term}`);
      this.checkLeaderCompleteness(n);
    } else if (known !== n.id) {
      this.violate(`election safety: ${known} and ${n.id} both lead term ${rd.term}`);
    }
  }

  /** A new leader's log holds every entry any member has applied (Leader Completeness). */
  private checkLeaderCompleteness(n: SimRaftNode): void {
    const raft = n.raft!;
    for (let i = raft.compactedTo + 1; i < this.committed.length; i++) {
      const e = this.committed[i];
      if (e !== undefined && raft.termAt(i) !== e.term) {
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
    this.queue.after(250, () => this.checkLogMatching());
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

  private violate(what: string): void {
    this.violations.push(what);
    this.log(`VIOLATION ${what}`);
  }

  private log(line: string): void {
    this.trace.push(`${this.queue.now.toFixed(1).padStart(8)}ms ${line}`);
    if (this.trace.length > TRACE_LINES) this.trace.shift();
  }
}

/** Member ids are `host` or `host~N`. */
function hostOf(member: NodeId): string {
  const i = member.indexOf('~');
  return i < 0 ? member : member.slice(0, i);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
