// The world every simulation runs in, the kernel of src/sim/: one seeded PRNG and one virtual clock
// decide everything, so a run is a pure function of its seed. It holds the run's trace and
// violations, the clients' history (clients.ts), and the fault model the three simulations share
// (fault-model.ts, one set of constants each): while faults are on, one fault every so often,
// drawn from the simulation's kinds; network changes (drop, duplicate, delay) and partitions that
// heal; a crash with a restart later and a pause with a resume later; disk syncs that are slow
// during the faults. At the end the history is checked for linearizability (sim-result.ts).
//
// A simulation (raft-sim.ts, loop-sim.ts, fleet-sim.ts) extends SimWorld with what it simulates:
// what a node is and how it is crashed, restarted and paused, which node a fault hits, its own
// faults and its own checks.

import { randomInt, seededRandom, type Random } from '../../raft/random.js';
import { ClientBook } from './clients.js';
import type { EventQueue } from './event-queue.js';
import type { FaultModel } from './fault-model.js';
import { RELIABLE, type NetworkFaults } from './network.js';
import { finishRun, type SimResult, type SimStats } from './sim-result.js';

/** What the network faults act on: SimNetwork (raft-sim) or SimHub (loop-sim, fleet-sim). */
export interface FaultyNetwork {
  faults: NetworkFaults;
  partition(a: readonly string[], b: readonly string[], oneWay: boolean): void;
  heal(): void;
}

/** Which of the network's faults a run has on. */
export interface NetworkSwitches {
  drop: boolean;
  duplicate: boolean;
  delay: boolean;
}

const TRACE_LINES = 400;

/** What a pause stops and resumes: a node's process (resume() is false if it was no longer paused). */
export interface Pausable {
  pause(): void;
  resume(): boolean;
}

export abstract class SimWorld<N extends { readonly id: string }, C extends EventQueue = EventQueue> {
  protected readonly random: Random;
  protected readonly clients: ClientBook;
  protected readonly violations: string[] = [];
  protected readonly trace: string[] = [];
  protected faultsOn = true;
  protected abstract readonly network: FaultyNetwork;

  /** `checkPhase` names what the check phase follows ('faults stopped'), for liveness violations. */
  constructor(
    protected readonly clock: C,
    protected readonly seed: number,
    private readonly switches: NetworkSwitches,
    private readonly model: FaultModel,
    checkPhase: string,
  ) {
    this.random = seededRandom(seed);
    this.clients = new ClientBook(clock, (what) => this.violate(what), checkPhase);
  }

  // -------------------------------------------------------------------------------------------
  // What a simulation defines

  /** The faults it can inject now, one of which is drawn at each fault time. */
  protected abstract faultKinds(): Array<() => void>;
  /** Power loss of the node (the simulation logs it). */
  protected abstract crash(node: N): void;
  /** A crashed node comes back, if it is still down (the simulation logs it). */
  protected abstract restart(node: N): void;
  /** What a pause of the node stops. */
  protected abstract pausable(node: N): Pausable;

  // -------------------------------------------------------------------------------------------
  // Faults

  /** The next fault, after FaultModel.faultEveryMs, and so on while faults are on. */
  protected scheduleFault(): void {
    this.clock.after(randomInt(this.random, ...this.model.faultEveryMs), () => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const kinds = this.faultKinds();
    if (kinds.length === 0) return;
    kinds[randomInt(this.random, 0, kinds.length)]!();
  }

  /** New drop and duplicate rates and delays for every message from now on. */
  protected changeNetwork(): void {
    const { switches: f, model: m } = this;
    this.network.faults = {
      dropRate: f.drop ? this.random() * m.maxDropRate : 0,
      duplicateRate: f.duplicate ? this.random() * m.maxDuplicateRate : 0,
      minDelayMs: 1,
      maxDelayMs: f.delay ? randomInt(this.random, ...m.maxDelayMs) : 5,
    };
    const nf = this.network.faults;
    this.log(`network drop=${nf.dropRate.toFixed(2)} dup=${nf.duplicateRate.toFixed(2)} delay<=${nf.maxDelayMs}ms`);
  }

  /** Cuts the nodes `ids` in two (often the leader's off, if one is given), healed a while later. */
  protected partitionSomehow(ids: readonly string[], leader?: string): void {
    const m = this.model;
    const isolate = leader !== undefined && m.isolateLeaderChance > 0 && this.random() < m.isolateLeaderChance;
    const a = isolate ? ids.filter((id) => id === leader || this.random() < m.isolateCompanionChance) : ids.filter(() => this.random() < m.partitionSideChance);
    const b = ids.filter((id) => !a.includes(id));
    if (a.length === 0 || b.length === 0) return;
    const oneWay = this.random() < m.oneWayChance;
    this.network.partition(a, b, oneWay);
    this.log(`partition [${a}] ${oneWay ? '->' : '<->'} [${b}]`);
    this.clock.after(randomInt(this.random, ...m.healAfterMs), () => {
      this.network.heal();
      this.log('heal');
    });
  }

  /** Crashes the victim, if there is one, and restarts it after FaultModel.restartAfterMs. */
  protected crashForAWhile(victim: N | undefined): void {
    if (victim === undefined) return;
    this.crash(victim);
    this.clock.after(randomInt(this.random, ...this.model.restartAfterMs), () => this.restart(victim));
  }

  /** A pause's victim: a leader's node (FaultModel.pauseLeaderChance), else one of `running`. */
  protected pauseVictim(running: readonly N[], leader: () => N | undefined): N | undefined {
    const chance = this.model.pauseLeaderChance;
    if (chance > 0 && this.random() < chance) return leader();
    return running[randomInt(this.random, 0, running.length)];
  }

  /** Pauses the victim (a GC pause, SIGSTOP), if there is one, and resumes it after FaultModel.resumeAfterMs. */
  protected pauseForAWhile(victim: N | undefined): void {
    if (victim === undefined) return;
    const process = this.pausable(victim);
    process.pause();
    this.log(`pause ${victim.id}`);
    this.clock.after(randomInt(this.random, ...this.model.resumeAfterMs), () => {
      if (process.resume()) this.log(`resume ${victim.id}`);
    });
  }

  /** How long a disk sync takes now. */
  protected syncDelayMs(): number {
    return this.faultsOn && this.switches.delay ? this.random() * this.model.slowSyncMaxMs : this.model.syncMs;
  }

  /** No more faults: the network heals and is reliable (the simulation brings its nodes back). */
  protected stopNetworkFaults(): void {
    this.faultsOn = false;
    this.network.heal();
    this.network.faults = RELIABLE;
  }

  // -------------------------------------------------------------------------------------------
  // The run's record

  protected violate(what: string): void {
    this.violations.push(what);
    this.log(`VIOLATION ${what}`);
  }

  protected log(line: string): void {
    this.trace.push(`${this.clock.now.toFixed(1).padStart(8)}ms ${line}`);
    if (this.trace.length > TRACE_LINES) this.trace.shift();
  }

  /** The run's result: its history checked for linearizability unless a violation ended it already. */
  protected result(stats: Omit<SimStats, 'ops' | 'okOps'>): SimResult {
    return finishRun({
      seed: this.seed,
      violations: this.violations,
      violate: (what) => this.violate(what),
      trace: this.trace,
      history: this.clients.recorder.history(),
      stats: { okOps: this.clients.okOps, ...stats },
    });
  }
}
