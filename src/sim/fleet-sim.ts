// The deterministic simulation of whole fleet hosts: 4-6 real Host objects (src/host/host.ts) in 2-3
// zones, in one process, on virtual time (SimClock), a simulated network (SimHub) and MemoryDisks
// whose syncs take virtual time (SimLogStore), so a crash loses every write not yet synced. One
// seeded PRNG decides everything (two: the restore fault draws from its own), so a run is a pure
// function of its seed and every failure replays. The world, its clients and the faults all
// simulations share are the kernel's (kernel/world.ts, with FLEET_FAULTS); deactivation, extra
// groups and restored disks are this simulation's own.
//
// Phases: setup (h1 founds the fleet, the others join, the groups are added), faults (clients run
// while the network drops, duplicates and delays frames and partitions hosts, hosts crash and
// restart, stall (pauses), deactivate and re-activate, extra groups come and go, a host's disk is
// put back from an older copy of it), converge (faults stop, every host
// comes back and is active; within a bounded virtual time every group must sit exactly on its
// placement with its leader on the first placed host), check (one command to every group from
// every host, and every client operation, must succeed).
//
// Checked: every replica applies the same outcome at each index (onApply), every counter
// increment is applied at most once and only if it was acknowledged or its outcome is unknown,
// no group has two leaders in a term, convergence, liveness after the faults, no replica found
// another holding a different state at a snapshot (state hashes) or is degraded at the end, a disk
// put back from an older copy is refused (STORAGE_STALE) and no other host ever is, and the client
// history is linearizable per key (keys are `group/key`).

import { pino, type Logger } from 'pino';
import type { OpInput, Output } from '../check/history.js';
import { FlotillaError, isFlotillaError } from '../common/errors.js';
import { CLUSTER_GROUP, CLUSTER_GROUP_ID } from '../fleet/cluster-machine.js';
import { GENERATION_KEY, peerRecordKey } from '../fleet/generation-keeper.js';
import { place } from '../fleet/placement.js';
import type { Outcome } from '../group/group.js';
import { Host } from '../host/host.js';
import type { AnyMachine } from '../host/options.js';
import type { HostStatus } from '../host/status.js';
import { randomInt, seededRandom, type Random } from '../raft/random.js';
import { decodeGeneration, decodePeerGeneration, metaKey } from '../storage/encoding.js';
import { MemoryDisk, MemoryLogStore } from '../storage/memory-store.js';
import { FLEET_COUNTER, FLEET_KV, fleetCounter, fleetKv, replyId, type OpReply } from './fleet-machines.js';
import { SimLogStore } from './loop-store.js';
import type { OpOutcome } from './kernel/clients.js';
import type { FaultModel } from './kernel/fault-model.js';
import { registerOp } from './kernel/random-ops.js';
import { AppliedOutcomes, TermLeaders } from './kernel/safety-ledgers.js';
import { exceptionText, type SimResult } from './kernel/sim-result.js';
import { SimClock, SimScheduler } from './kernel/sim-scheduler.js';
import { SimWorld } from './kernel/world.js';
import { SimHub } from './sim-transport.js';

export interface FleetFaults {
  drop: boolean;
  duplicate: boolean;
  delay: boolean;
  partition: boolean;
  /** Power loss of a host (unsynced writes lost), restart on the same disk, activate again. */
  crash: boolean;
  /** deactivate() of a host, later activate() again (never below 3 active hosts). */
  deactivate: boolean;
  /** A host's process stalls (a GC pause, SIGSTOP): its timers and deliveries wait until it resumes. */
  pause: boolean;
  /** addGroup / removeGroup of extra groups. */
  groups: boolean;
  /**
   * A host's disk put back from an older copy of it (a backup, a VM snapshot), once every other
   * host has durably recorded a later generation of it: it must be refused (STORAGE_STALE), and
   * nothing acknowledged may be lost; then its own disk comes back. Its choices draw from their own
   * PRNG, so a run is the same as without this fault until the first copy is put back.
   */
  restore: boolean;
}

export const ALL_FLEET_FAULTS: FleetFaults = {
  drop: true,
  duplicate: true,
  delay: true,
  partition: true,
  crash: true,
  deactivate: true,
  pause: true,
  groups: true,
  restore: true,
};

export const NO_FLEET_FAULTS: FleetFaults = {
  drop: false,
  duplicate: false,
  delay: false,
  partition: false,
  crash: false,
  deactivate: false,
  pause: false,
  groups: false,
  restore: false,
};

export interface FleetSimOptions {
  seed: number;
  faults: FleetFaults;
  /** Virtual milliseconds of faults, after setup. */
  faultMs: number;
  /** Bound on the virtual time from the end of the faults until every group sits on its placement. */
  convergeMs: number;
  /** Virtual milliseconds of client operations after convergence, every one of which must succeed. */
  checkMs: number;
  clients: number;
  /** Test hook: replaces a host's state machines, to plant a bug the checks must catch. */
  wrapMachines?: (host: string, machines: Record<string, AnyMachine>) => Record<string, AnyMachine>;
}

export const DEFAULT_FLEET_OPTIONS: Omit<FleetSimOptions, 'seed'> = {
  faults: ALL_FLEET_FAULTS,
  faultMs: 8000,
  convergeMs: 20_000,
  checkMs: 2000,
  clients: 5,
};

export function runFleetSim(options: FleetSimOptions): Promise<SimResult> {
  return new FleetWorld(options).run();
}

/** One seed with the default options. */
export function runFleetSeed(seed: number, faults: FleetFaults = ALL_FLEET_FAULTS): Promise<SimResult> {
  return runFleetSim({ ...DEFAULT_FLEET_OPTIONS, faults, seed });
}

/** A simulated machine: its disk outlives the Host objects (processes) started on it. */
interface SimHost {
  id: string;
  zone: string;
  disk: MemoryDisk;
  /** The running process, if any (it may still be starting or activating). */
  host: Host | null;
  scheduler: SimScheduler | null;
  store: SimLogStore | null;
  /** Bumped by every start and crash: a lifecycle step of an older process does nothing more. */
  generation: number;
  starts: number;
  /** What this process is doing: nothing (idle), or a start/activate/deactivate in progress. */
  busy: boolean;
  /** Deactivated by the simulation, waiting to be activated again. */
  deactivated: boolean;
  /** What it is doing, for the trace: 'starting since 120ms'... */
  phase: string;
  /** A copy of its disk taken during the faults (a backup), and the generation it holds. */
  backup: { disk: MemoryDisk; generation: number } | null;
  /** While it runs from a copy put back: its own disk, which comes back once the copy is refused. */
  ownDisk: MemoryDisk | null;
}

interface GroupSpec {
  name: string;
  machine: typeof FLEET_KV | typeof FLEET_COUNTER;
  replicas: number;
}

const TICK_MS = 10;
const HOST_FAILURE_MS = 2000;
/** What a client gives host.command/query; the simulation's own deadline is a little later. */
const OP_TIMEOUT_MS = 1500;
const CLIENT_GRACE_MS = 500;
const ACTIVATE_TIMEOUT_MS = 10_000;
const DEACTIVATE_TIMEOUT_MS = 30_000;
const ADMIN_TIMEOUT_MS = 3000;
/** Groups snapshot this often, so replicas added while the fleet moves get snapshots, and replicas compare state hashes. */
const SNAPSHOT_EVERY = 16;
/** And by bytes (group config maxLogBytes): between the multiples too, at indexes every replica must choose alike. */
const MAX_LOG_BYTES = 1500;
const SETUP_LIMIT_MS = 30_000;
const CONVERGE_POLL_MS = 100;
/** Election safety is sampled every this many events (status() of every host is not free). */
const LEADER_CHECK_EVERY = 16;
const REGISTERS = ['x', 'y'];
const COUNTER_KEY = 'c';
/** Clients 1..N run random operations; probes after convergence are clients from PROBE_CLIENT. */
const PROBE_CLIENT = 1000;

const FLEET_FAULTS: FaultModel = {
  faultEveryMs: [100, 500],
  maxDropRate: 0.15,
  maxDuplicateRate: 0.1,
  maxDelayMs: [2, 40],
  isolateLeaderChance: 0,
  isolateCompanionChance: 0,
  partitionSideChance: 0.35,
  oneWayChance: 0.3,
  healAfterMs: [100, 2500],
  restartAfterMs: [100, 3500],
  // A pause stalls any running host (pauseSomeone).
  pauseLeaderChance: 0,
  resumeAfterMs: [50, 2500],
  slowSyncMaxMs: 4,
  syncMs: 0.2,
};

class FleetWorld extends SimWorld<SimHost, SimClock> {
  /** The restore fault's own choices (see FleetFaults.restore). */
  private readonly restoreRandom: Random;
  protected readonly network: SimHub;
  private readonly hosts: SimHost[] = [];
  private readonly groups: GroupSpec[] = [];
  /** Extra groups (added and removed as a fault): name -> whether the sim believes it exists. */
  private readonly extras = new Map<string, GroupSpec>();
  private nextExtra = 1;
  /**
   * removeGroup calls not yet answered, by the virtual time they give up at (the check phase waits
   * for them; a call on a host that crashed never answers, hence the deadline).
   */
  private readonly groupRemovals = new Map<number, number>();
  private nextRemoval = 0;
  private readonly applied = new AppliedOutcomes((what) => this.violate(what));
  /** Group name of each group id seen applying. */
  private readonly groupNames = new Map<number, string>();
  private readonly leaders = new TermLeaders((what) => this.violate(what));
  /** Outcome of every counter increment, by operation id, with its group. */
  private readonly increments = new Map<number, { group: string; status: OpOutcome | 'pending' }>();
  /** The last value a client saw per key: what a cas most plausibly expects. */
  private readonly lastSeen = new Map<string, string | null>();
  private readonly binding = new Map<number, string>();
  private setupDone = false;
  private faultsStoppedAt = 0;
  /** Clients run until then, once the fleet has converged (the check phase begins: clients.checkStart). */
  private clientsStopAt = Infinity;
  private done = false;

  constructor(private readonly o: FleetSimOptions) {
    super(new SimClock(), o.seed, o.faults, FLEET_FAULTS, 'convergence');
    // Faults begin once the fleet is set up.
    this.faultsOn = false;
    this.restoreRandom = seededRandom(o.seed ^ 0x5e5707e);
    this.network = new SimHub(this.clock, this.random, (host, err) => this.violate(`${host}: a transport handler threw: ${errorText(err)}`));
    const hostCount = randomInt(this.random, 4, 7);
    const zoneCount = randomInt(this.random, 2, 4);
    for (let i = 0; i < hostCount; i++) {
      const id = `h${i + 1}`;
      this.hosts.push({
        id,
        zone: `z${(i % zoneCount) + 1}`,
        disk: new MemoryDisk(id),
        host: null,
        scheduler: null,
        store: null,
        generation: 0,
        starts: 0,
        busy: false,
        deactivated: false,
        phase: 'down',
        backup: null,
        ownDisk: null,
      });
    }
    const groupCount = randomInt(this.random, 2, 5);
    for (let g = 1; g <= groupCount; g++) {
      this.groups.push({ name: `g${g}`, machine: g % 2 === 1 ? FLEET_KV : FLEET_COUNTER, replicas: this.randomReplicas() });
    }
  }

  async run(): Promise<SimResult> {
    this.log(`${this.hosts.length} hosts ${this.hosts.map((h) => `${h.id}@${h.zone}`).join(' ')}, groups ${this.groups.map((g) => `${g.name}:${g.machine}x${g.replicas}`).join(' ')}`);
    this.clock.at(0, () => void this.setup());
    let events = 0;
    try {
      await this.clock.run(Number.MAX_SAFE_INTEGER, {
        stop: () => this.done || this.violations.length > 0,
        afterEvent: () => {
          if (++events % LEADER_CHECK_EVERY === 0) this.checkLeaders();
        },
      });
      if (this.violations.length === 0) this.checkExactlyOnce();
      if (this.violations.length === 0) this.checkReplicaHealth();
      if (this.network.itemsTooLarge > 0) this.violate(`${this.network.itemsTooLarge} items refused as larger than a frame (the size limits let them in)`);
      this.log(`end after ${this.clock.executed} events`);
    } catch (err) {
      this.violate(exceptionText(err));
    }
    return this.result({ elections: this.leaders.terms, messages: this.network.frames.sent, virtualMs: Math.round(this.clock.now) });
  }

  // -------------------------------------------------------------------------------------------
  // Setup: h1 founds the fleet, the others join through it, then the groups are added.

  private async setup(): Promise<void> {
    const limit = this.clock.now + SETUP_LIMIT_MS;
    this.clock.at(limit, () => {
      if (!this.setupDone) this.violate(`setup did not finish within ${SETUP_LIMIT_MS} ms`);
    });
    const first = this.hosts[0]!;
    if (!(await this.bringUp(first))) return;
    const rest = await Promise.all(this.hosts.slice(1).map((h) => this.bringUp(h)));
    if (rest.includes(false)) return;
    for (const spec of this.groups) {
      const via = this.randomActiveHost();
      if (via === undefined) return this.violate('setup: no active host');
      try {
        await this.inHost(via, (host) => host.addGroup(spec.name, { machine: spec.machine, replicas: spec.replicas, config: { snapshotEvery: SNAPSHOT_EVERY, maxLogBytes: MAX_LOG_BYTES }, timeoutMs: ACTIVATE_TIMEOUT_MS }));
      } catch (err) {
        return this.violate(`setup: addGroup ${spec.name} via ${via.id} failed: ${errorText(err)}`);
      }
    }
    this.log('setup done');
    this.setupDone = true;
    this.faultsOn = true;
    for (let c = 1; c <= this.o.clients; c++) {
      this.binding.set(c, this.hosts[randomInt(this.random, 0, this.hosts.length)]!.id);
      this.clock.after(randomInt(this.random, 0, 50), () => this.startOp(c));
    }
    this.scheduleFault();
    if (this.o.faults.restore) this.scheduleRestore();
    this.clock.after(this.o.faultMs, () => this.stopFaults());
  }

  /** Starts a process on the host and activates it; false (and a violation) if that failed during setup. */
  private async bringUp(sh: SimHost): Promise<boolean> {
    try {
      await this.startProcess(sh);
      await this.activate(sh);
      return true;
    } catch (err) {
      this.violate(`setup: ${sh.id} did not start and activate: ${errorText(err)}`);
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Host processes

  /** Host.start on the host's disk, as a process start would. Resolves when it serves. */
  private async startProcess(sh: SimHost): Promise<void> {
    const generation = ++sh.generation;
    const scheduler = new SimScheduler(this.clock);
    const store = new SimLogStore(new MemoryLogStore(sh.disk), scheduler, () => this.syncDelayMs());
    sh.scheduler = scheduler;
    sh.store = store;
    sh.busy = true;
    sh.starts++;
    this.setPhase(sh, 'starting');
    // The very first process of h1 founds the fleet; every later one joins through the others.
    const join = sh === this.hosts[0] && sh.starts === 1 ? [] : this.hosts.filter((h) => h !== sh).map((h) => `${h.id}@${h.id}`);
    await store.open();
    const transport = this.network.endpoint(sh.id, { scheduler });
    const machines: Record<string, AnyMachine> = { [FLEET_KV]: fleetKv, [FLEET_COUNTER]: fleetCounter };
    const host = await Host.start({
      id: sh.id,
      join,
      machines: this.o.wrapMachines?.(sh.id, machines) ?? machines,
      tickMs: TICK_MS,
      hostFailureTimeoutMs: HOST_FAILURE_MS,
      transport,
      store,
      scheduler,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      onApply: (e) => this.observeApply(sh.id, e.group, e.groupId, e.index, e.outcome),
      logger: this.hostLogger(),
    });
    if (sh.generation !== generation) return;
    sh.host = host;
    this.log(`${sh.id} started (process ${sh.starts})`);
  }

  /**
   * The hosts' own logs, for replaying a failing seed: FLOTILLA_SIM_LOG=debug (or info...) prints
   * them to stderr as JSON lines stamped with virtual time (`vt`, ms). Silent otherwise.
   */
  private hostLogger(): Logger | undefined {
    const level = process.env.FLOTILLA_SIM_LOG;
    if (level === undefined || level === '') return undefined;
    return pino({ level, base: null, timestamp: false, mixin: () => ({ vt: Math.round(this.clock.now) }) }, pino.destination(2));
  }

  /** activate(zone), retried while the faults last (a partition may keep it from joining). */
  private async activate(sh: SimHost): Promise<void> {
    const generation = sh.generation;
    sh.busy = true;
    this.setPhase(sh, 'activating');
    for (;;) {
      try {
        await this.inHost(sh, (host) => host.activate(sh.zone, { timeoutMs: ACTIVATE_TIMEOUT_MS }));
        if (sh.generation !== generation) return;
        if (sh.ownDisk !== null) this.violate(`${sh.id} runs from a copy of its disk older than every other host recorded, and was not refused`);
        sh.busy = false;
        sh.deactivated = false;
        this.setPhase(sh, 'active');
        this.log(`${sh.id} active in ${sh.zone}`);
        return;
      } catch (err) {
        if (sh.generation !== generation) return;
        if (isFlotillaError(err, 'STORAGE_STALE')) return this.refusedAsStale(sh, err);
        // BAD_ARGUMENT is a refusal that no retry changes; the rest may be the faults.
        if ((!this.faultsOn && this.faultsStoppedAt === 0) || isFlotillaError(err, 'BAD_ARGUMENT')) throw err;
        if (this.faultsStoppedAt > 0 && this.clock.now > this.faultsStoppedAt + this.o.convergeMs) {
          this.violate(`liveness: ${sh.id} could not activate after the faults stopped: ${errorText(err)}`);
          return;
        }
        this.log(`${sh.id} activate failed (${errorText(err)}); retrying`);
        await this.sleep(200);
        if (sh.generation !== generation) return;
      }
    }
  }

  /** Power loss: the process stops where it is, its unsynced writes are gone, its Host object is abandoned. */
  protected crash(sh: SimHost): void {
    sh.generation++;
    sh.scheduler?.halt();
    this.network.crash(sh.id);
    sh.store?.crash();
    sh.host = null;
    sh.scheduler = null;
    sh.store = null;
    sh.busy = false;
    this.setPhase(sh, 'down');
    this.log(`crash ${sh.id}`);
  }

  /** A new process on the same disk, activated again. */
  protected restart(sh: SimHost): void {
    if (sh.scheduler !== null) return;
    this.log(`restart ${sh.id}`);
    const generation = sh.generation + 1;
    this.startProcess(sh)
      .then(() => (sh.generation === generation ? this.activate(sh) : undefined))
      .catch((err: unknown) => {
        if (sh.generation !== generation) return;
        // A copy put back and refused before: its start is refused at once.
        if (isFlotillaError(err, 'STORAGE_STALE')) this.refusedAsStale(sh, err);
        else this.violate(`${sh.id} failed to restart: ${errorText(err)}`);
      });
  }

  private deactivate(sh: SimHost): void {
    const host = sh.host;
    if (host === null) return;
    const generation = sh.generation;
    sh.busy = true;
    sh.deactivated = true;
    this.setPhase(sh, 'deactivating');
    this.log(`deactivate ${sh.id}`);
    this.inHost(sh, (h) => h.deactivate({ timeoutMs: DEACTIVATE_TIMEOUT_MS }))
      .then(
        () => this.log(`${sh.id} deactivated`),
        (err: unknown) => this.log(`${sh.id} deactivate failed: ${errorText(err)}`),
      )
      .then(() => {
        if (sh.generation !== generation) return;
        sh.busy = false;
        this.setPhase(sh, 'inactive');
        const later = this.faultsOn ? randomInt(this.random, 200, 3000) : 0;
        this.clock.after(later, () => this.reactivate(sh, generation));
      });
  }

  private reactivate(sh: SimHost, generation: number): void {
    if (sh.generation !== generation || sh.busy || !sh.deactivated) return;
    this.log(`activate ${sh.id} again`);
    this.activate(sh).catch((err: unknown) => this.violate(`${sh.id} failed to activate again: ${errorText(err)}`));
  }

  /** Runs `call` in the host's process (so a crashed one never does), as a client's request would reach it. */
  private inHost<T>(sh: SimHost, call: (host: Host) => Promise<T>): Promise<T> {
    const host = sh.host;
    const scheduler = sh.scheduler;
    if (host === null || scheduler === null) return Promise.reject(new FlotillaError('UNAVAILABLE', `${sh.id} is down`));
    return new Promise<T>((resolve, reject) => scheduler.runNow(() => call(host).then(resolve, reject)));
  }

  private setPhase(sh: SimHost, phase: string): void {
    sh.phase = `${phase} since ${Math.round(this.clock.now)} ms`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.after(ms, resolve));
  }

  /** Up, idle and active (as far as its own Host object says). */
  private isServing(sh: SimHost): boolean {
    return sh.host !== null && !sh.busy && sh.host.localState === 'active';
  }

  private randomActiveHost(): SimHost | undefined {
    const serving = this.hosts.filter((h) => this.isServing(h));
    return serving[randomInt(this.random, 0, serving.length)];
  }

  private randomReplicas(): number {
    const r = this.random();
    return r < 0.1 ? 1 : r < 0.8 ? 3 : 5;
  }

  // -------------------------------------------------------------------------------------------
  // Clients: one operation at a time each, through the host it is bound to.

  private startOp(client: number): void {
    if (this.clock.now >= this.clientsStopAt || this.done) return;
    let sh = this.hostById(this.binding.get(client)!);
    if (!this.isServing(sh) || this.random() < 0.05) {
      const other = this.randomActiveHost();
      if (other === undefined) {
        this.clock.after(50, () => this.startOp(client));
        return;
      }
      sh = other;
      this.binding.set(client, sh.id);
    }
    const spec = this.groups[randomInt(this.random, 0, this.groups.length)]!;
    this.runOp(client, sh, spec.name, this.randomOp(client, spec), () => {
      this.clock.after(randomInt(this.random, 0, 30), () => this.startOp(client));
    });
  }

  private randomOp(client: number, spec: GroupSpec): OpInput {
    if (spec.machine === FLEET_COUNTER) {
      const key = `${spec.name}/${COUNTER_KEY}`;
      return this.random() < 0.7 ? { op: 'incr', key, n: randomInt(this.random, 1, 5) } : { op: 'get', key };
    }
    const key = `${spec.name}/${REGISTERS[randomInt(this.random, 0, REGISTERS.length)]!}`;
    return registerOp(this.random, client, this.clients.lastOpId + 1, key, () => this.lastSeen.get(key) ?? null);
  }

  /** One operation through host.command / host.query, with its outcome recorded. */
  private runOp(client: number, sh: SimHost, group: string, input: OpInput, then: () => void): void {
    const op = this.clients.call(
      client,
      input,
      (outcome, output) => {
        if (outcome === 'ok') this.remember(input, output);
        const increment = this.increments.get(op.id);
        if (increment !== undefined) increment.status = outcome;
        then();
      },
      sh.id,
    );
    if (input.op === 'incr') this.increments.set(op.id, { group, status: 'pending' });
    // The client's own deadline: the host may crash with the call in flight and never answer.
    this.clock.after(OP_TIMEOUT_MS + CLIENT_GRACE_MS, () => op.finish('unknown', null, 'no answer'));
    const call =
      input.op === 'get'
        ? this.inHost(sh, (host) => host.query<OpReply>(group, { key: input.key }, { timeoutMs: OP_TIMEOUT_MS }))
        : this.inHost(sh, (host) => host.command<OpReply>(group, { id: op.id, input }, { timeoutMs: OP_TIMEOUT_MS }));
    call.then(
      (reply) => op.finish('ok', reply.output),
      (err: unknown) => {
        const code = err instanceof FlotillaError ? err.code : 'not a FlotillaError';
        op.finish(DEFINITE_FAILURES.has(code) ? 'fail' : 'unknown', null, `${code}: ${errorText(err)}`);
      },
    );
  }

  /** What a successful operation says the key holds: what a later cas most plausibly expects. */
  private remember(input: OpInput, output: Output): void {
    if (input.op === 'get' || input.op === 'put' || input.op === 'append') this.lastSeen.set(input.key, input.op === 'put' ? input.value : typeof output === 'string' ? output : null);
    if (input.op === 'cas' && output === true) this.lastSeen.set(input.key, input.value);
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  protected faultKinds(): Array<() => void> {
    const f = this.o.faults;
    const kinds: Array<() => void> = [];
    if (f.drop || f.duplicate || f.delay) kinds.push(() => this.changeNetwork());
    if (f.partition) kinds.push(() => this.partitionSomehow(this.hosts.map((h) => h.id)));
    if (f.crash) kinds.push(() => this.crashSomeone());
    if (f.deactivate) kinds.push(() => this.deactivateSomeone());
    if (f.pause) kinds.push(() => this.pauseSomeone());
    if (f.groups) kinds.push(() => this.addOrRemoveGroup());
    return kinds;
  }

  /** Hosts out of service (down, deactivated by the simulation, or running from a copy put back). */
  private outOfService(): number {
    return this.hosts.filter((h) => h.scheduler === null || h.deactivated || h.ownDisk !== null).length;
  }

  /** At most one host out at a time with 4 hosts, two with more, so 3 stay active. */
  private mayTakeOneOut(): boolean {
    return this.hosts.length - this.outOfService() - 1 >= 3;
  }

  private crashSomeone(): void {
    if (!this.mayTakeOneOut()) return;
    const up = this.hosts.filter((h) => h.scheduler !== null && !h.deactivated);
    this.crashForAWhile(up[randomInt(this.random, 0, up.length)]);
  }

  private pauseSomeone(): void {
    const running = this.hosts.filter((h) => h.scheduler !== null && !h.scheduler.isPaused);
    this.pauseForAWhile(running[randomInt(this.random, 0, running.length)]);
  }

  /** A host's process stalls: its timers and deliveries wait until it resumes. */
  protected pausable(sh: SimHost): SimScheduler {
    return sh.scheduler!;
  }

  private deactivateSomeone(): void {
    if (!this.mayTakeOneOut()) return;
    const sh = this.randomActiveHost();
    if (sh !== undefined) this.deactivate(sh);
  }

  private addOrRemoveGroup(): void {
    const via = this.randomActiveHost();
    if (via === undefined) return;
    const existing = [...this.extras.keys()];
    if (existing.length > 0 && this.random() < 0.4) {
      const name = existing[randomInt(this.random, 0, existing.length)]!;
      this.log(`removeGroup ${name} via ${via.id}`);
      const removal = this.nextRemoval++;
      this.groupRemovals.set(removal, this.clock.now + ADMIN_TIMEOUT_MS);
      this.inHost(via, (host) => host.removeGroup(name, { timeoutMs: ADMIN_TIMEOUT_MS }))
        .then(
          () => {
            this.extras.delete(name);
            this.log(`removed ${name}`);
          },
          (err: unknown) => this.log(`removeGroup ${name} failed: ${errorText(err)}`),
        )
        .finally(() => this.groupRemovals.delete(removal));
      return;
    }
    const spec: GroupSpec = { name: `x${this.nextExtra++}`, machine: this.random() < 0.5 ? FLEET_KV : FLEET_COUNTER, replicas: this.randomReplicas() };
    this.extras.set(spec.name, spec);
    this.log(`addGroup ${spec.name}:${spec.machine}x${spec.replicas} via ${via.id}`);
    this.inHost(via, (host) => host.addGroup(spec.name, { machine: spec.machine, replicas: spec.replicas, config: { snapshotEvery: SNAPSHOT_EVERY, maxLogBytes: MAX_LOG_BYTES }, timeoutMs: ADMIN_TIMEOUT_MS })).then(
      () => this.log(`added ${spec.name}`),
      (err: unknown) => this.log(`addGroup ${spec.name} failed: ${errorText(err)}`),
    );
  }

  // Restores: a backup of a running host's disk, put back later (FleetFaults.restore).

  private scheduleRestore(): void {
    this.clock.after(randomInt(this.restoreRandom, 300, 1500), () => {
      if (!this.faultsOn) return;
      this.backupOrRestore();
      this.scheduleRestore();
    });
  }

  /** Puts a backup back once that is sure to be noticed, or else takes a backup of a running host. */
  private backupOrRestore(): void {
    const restorable = this.mayTakeOneOut() && this.hosts.every((h) => h.ownDisk === null) ? this.hosts.filter((h) => this.restorable(h)) : [];
    if (restorable.length > 0) return this.putBackCopy(restorable[randomInt(this.restoreRandom, 0, restorable.length)]!);
    const running = this.hosts.filter((h) => h.scheduler !== null && h.backup === null && h.ownDisk === null);
    if (running.length === 0) return;
    const sh = running[randomInt(this.restoreRandom, 0, running.length)]!;
    const disk = sh.disk.copy();
    const bytes = disk.get(metaKey(GENERATION_KEY));
    sh.backup = { disk, generation: bytes === undefined ? 0 : decodeGeneration(bytes) };
    this.log(`backup of ${sh.id} at generation ${sh.backup.generation}`);
  }

  /**
   * Every other host has durably recorded a generation of it above its backup's, so each refuses
   * the copy: one that did not could form a quorum with it and lose what the others acknowledged,
   * which no check of a data directory can notice (fleet/generation.ts).
   */
  private restorable(sh: SimHost): boolean {
    const backup = sh.backup;
    if (backup === null || sh.scheduler === null || sh.deactivated) return false;
    return this.hosts.every((h) => {
      if (h === sh) return true;
      const bytes = h.disk.getDurable(metaKey(peerRecordKey(sh.id)));
      return bytes !== undefined && decodePeerGeneration(bytes).generation > backup.generation;
    });
  }

  /** Power loss, and the host comes back on the copy. */
  private putBackCopy(sh: SimHost): void {
    const backup = sh.backup!;
    this.crash(sh);
    sh.ownDisk = sh.disk;
    sh.disk = backup.disk;
    sh.backup = null;
    this.log(`${sh.id}'s disk put back from its copy at generation ${backup.generation}`);
    this.clock.after(randomInt(this.restoreRandom, 100, 2000), () => this.restart(sh));
  }

  /** Refused as stale: right for a copy put back (its own disk comes back), a violation otherwise. */
  private refusedAsStale(sh: SimHost, err: unknown): void {
    const own = sh.ownDisk;
    if (own === null) return this.violate(`${sh.id} was refused as stale, but its disk was never put back from a copy: ${errorText(err)}`);
    this.log(`${sh.id} refused as stale (${errorText(err)}); its own disk goes back`);
    this.crash(sh);
    sh.disk = own;
    sh.ownDisk = null;
    this.clock.after(randomInt(this.restoreRandom, 100, 1000), () => this.restart(sh));
  }

  private stopFaults(): void {
    this.stopNetworkFaults();
    this.faultsStoppedAt = this.clock.now;
    this.log('faults stop');
    for (const sh of this.hosts) {
      if (sh.scheduler?.resume() === true) this.log(`resume ${sh.id}`);
      if (sh.scheduler === null) this.restart(sh);
      else if (sh.deactivated && !sh.busy) this.reactivate(sh, sh.generation);
    }
    this.awaitConvergence();
  }

  // -------------------------------------------------------------------------------------------
  // Convergence and the final check

  private awaitConvergence(): void {
    const problem = this.convergenceProblem();
    if (problem === null) {
      this.log(`converged ${Math.round(this.clock.now - this.faultsStoppedAt)} ms after the faults stopped`);
      this.checkPhase();
      return;
    }
    if (this.clock.now - this.faultsStoppedAt >= this.o.convergeMs) {
      for (const sh of this.hosts) {
        const status = sh.host?.status();
        const members = status?.members.map((m) => `${m.group}:${m.member}:${m.role}:t${m.term}:${m.commit}`).join(' ');
        this.log(`${sh.id} ${sh.phase}: ${members ?? 'no process'}`);
        // Each host's view of the fleet: a stale or diverging copy of the metadata shows here.
        const hosts = sh.host === null ? [] : Object.values(sh.host.hosts()).flat();
        if (hosts.length > 0) this.log(`${sh.id} sees ${hosts.map((h) => `${h.id}:${h.state}`).join(' ')}`);
      }
      this.violate(`convergence: not converged ${this.o.convergeMs} ms after the faults stopped: ${problem}`);
      return;
    }
    this.clock.after(CONVERGE_POLL_MS, () => this.awaitConvergence());
  }

  /** What still keeps the fleet from its placement, or null once every group sits where it should. */
  private convergenceProblem(): string | null {
    // The probes that follow must not race a group's removal.
    const pending = [...this.groupRemovals.values()].filter((until) => until > this.clock.now).length;
    if (pending > 0) return `${pending} group removals still in flight`;
    for (const sh of this.hosts) {
      if (!this.isServing(sh)) return `${sh.id} is not active: ${sh.phase}`;
    }
    const hosts = this.hosts.map((sh) => sh.host!);
    const statuses = new Map<string, HostStatus>(hosts.map((h) => [h.id, h.status()]));
    const reference = hosts[0]!;
    const byZone = reference.hosts();
    for (const list of Object.values(byZone)) {
      for (const h of list) if (h.state !== 'active') return `metadata says ${h.id} is ${h.state}`;
    }
    const groups = reference.groups();
    const key = JSON.stringify(groups);
    for (const h of hosts) if (JSON.stringify(h.groups()) !== key) return `${h.id} has other metadata than ${reference.id}`;
    for (const spec of this.groups) if (!groups.some((g) => g.name === spec.name)) return `group ${spec.name} is gone`;
    const active = Object.entries(byZone).flatMap(([zone, list]) => list.map((h) => ({ id: h.id, zone })));
    const wanted: Array<{ name: string; id: number; voters: string[]; learners: string[] }> = [
      { name: CLUSTER_GROUP, id: CLUSTER_GROUP_ID, voters: place(CLUSTER_GROUP, 3, active), learners: [] },
      ...groups.map((g) => ({ name: g.name, id: g.id, voters: reference.placement(g.name), learners: [] as string[] })),
    ];
    const cluster = wanted[0]!;
    cluster.learners = active.map((h) => h.id).filter((id) => !cluster.voters.includes(id));
    for (const w of wanted) {
      const voters: string[] = [];
      const learners: string[] = [];
      const leaders: string[] = [];
      const believed = new Set<string>();
      for (const [hostId, status] of statuses) {
        const m = status.members.find((x) => x.groupId === w.id);
        if (m === undefined) continue;
        (m.role === 'learner' ? learners : voters).push(hostId);
        if (m.role === 'leader') leaders.push(hostId);
        believed.add(m.leader);
      }
      if (!sameSet(voters, w.voters)) return `${w.name}: voters on [${voters}], placement [${w.voters}]`;
      if (!sameSet(learners, w.learners)) return `${w.name}: learners on [${learners}], expected [${w.learners}]`;
      if (leaders.length !== 1 || leaders[0] !== w.voters[0]) return `${w.name}: leaders [${leaders}], preferred ${w.voters[0]}`;
      if (believed.size !== 1) return `${w.name}: replicas disagree on the leader [${[...believed]}]`;
    }
    const ids = new Set(wanted.map((w) => w.id));
    for (const [hostId, status] of statuses) {
      const stray = status.members.find((m) => !ids.has(m.groupId));
      if (stray !== undefined) return `${hostId} still holds ${stray.group} (${stray.groupId})`;
    }
    return null;
  }

  /** After convergence: every group takes a command from every host, and every client operation succeeds. */
  private checkPhase(): void {
    this.clients.checkStart = this.clock.now;
    this.clientsStopAt = this.clients.checkStart + this.o.checkMs;
    let probe = PROBE_CLIENT;
    const groups = this.hosts[0]!.host!.groups();
    let outstanding = 0;
    for (const sh of this.hosts) {
      for (const g of groups) {
        outstanding++;
        const key = `${g.name}/probe`;
        const input: OpInput = g.machine === FLEET_COUNTER ? { op: 'incr', key, n: 1 } : { op: 'put', key, value: sh.id };
        this.runOp(probe++, sh, g.name, input, () => outstanding--);
      }
    }
    const end = (): void => {
      if (outstanding === 0 && this.clock.now >= this.clientsStopAt + OP_TIMEOUT_MS + CLIENT_GRACE_MS) this.done = true;
      else this.clock.after(CONVERGE_POLL_MS, end);
    };
    this.clock.after(this.o.checkMs, end);
  }


  // -------------------------------------------------------------------------------------------
  // Invariants

  private observeApply(host: string, group: string, groupId: number, index: number, outcome: Outcome<unknown>): void {
    this.groupNames.set(groupId, group);
    this.applied.see(groupId, `${group} (${groupId})`, index, host, outcome);
  }

  /** No running host counted a state mismatch (since its start) or holds a degraded replica. */
  private checkReplicaHealth(): void {
    for (const sh of this.hosts) {
      if (sh.host === null) continue;
      const { stateMismatches, degraded } = sh.host.status();
      if (sh.host.metrics().stateMismatches > 0) this.violate(`state hashes: ${sh.id} found replicas holding different states: ${JSON.stringify(stateMismatches)}`);
      if (degraded.length > 0) this.violate(`${sh.id} holds degraded replicas: ${JSON.stringify(degraded)}`);
    }
  }

  /** At most one leader per term in every group, among the running processes. */
  private checkLeaders(): void {
    for (const sh of this.hosts) {
      if (sh.host === null) continue;
      for (const m of sh.host.status().members) {
        if (m.role === 'leader') this.leaders.see(m.groupId, m.term, sh.id, `${m.group} in `);
      }
    }
  }

  /**
   * Every increment applied at most once (at one index), and only if it was acknowledged or its
   * outcome is unknown; every acknowledged one applied.
   */
  private checkExactlyOnce(): void {
    const appliedAt = new Map<number, number>();
    for (const [groupId, outcomes] of this.applied.byGroup) {
      if (groupId === CLUSTER_GROUP_ID) continue;
      for (const [index, text] of outcomes) {
        const outcome = JSON.parse(text) as Outcome<unknown>;
        const id = outcome.ok ? replyId(outcome.reply) : undefined;
        if (id === undefined) continue;
        const before = appliedAt.get(id);
        if (before !== undefined) this.violate(`exactly-once: operation ${id} applied twice in ${this.groupNames.get(groupId)}, at ${before} and ${index}`);
        appliedAt.set(id, index);
      }
    }
    const counts = new Map<string, { acked: number; unknown: number; applied: number }>();
    for (const [id, inc] of this.increments) {
      const c = counts.get(inc.group) ?? { acked: 0, unknown: 0, applied: 0 };
      counts.set(inc.group, c);
      const applied = appliedAt.has(id);
      if (applied) c.applied++;
      if (inc.status === 'ok') {
        c.acked++;
        if (!applied) this.violate(`exactly-once: increment ${id} on ${inc.group} was acknowledged but never applied`);
      } else if (inc.status === 'fail') {
        if (applied) this.violate(`exactly-once: increment ${id} on ${inc.group} failed definitely but was applied`);
      } else c.unknown++;
    }
    for (const [group, c] of counts) this.log(`${group}: ${c.applied} increments applied, ${c.acked} acknowledged, ${c.unknown} unknown`);
  }

  private hostById(id: string): SimHost {
    const sh = this.hosts.find((h) => h.id === id);
    if (sh === undefined) throw new Error(`no host ${id}`);
    return sh;
  }

}

/** Errors after which an operation certainly did not take effect. */
const DEFINITE_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'BUSY', 'NOT_ACTIVE', 'NO_SUCH_GROUP', 'COMMAND_FAILED']);

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err instanceof FlotillaError ? `${err.code} ` : ''}${err.message}` : String(err);
}
