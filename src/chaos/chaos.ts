// `npm run chaos`: a real fleet under real faults. Five host processes (src/demo/host-process.ts,
// RocksDB, loopback ws) in three zones hold 24 groups of 3 replicas (kv and counter machines whose
// operations are the checker's model); clients in this process (src/chaos/workload.ts) command and
// query them through connect() while a seeded schedule (src/chaos/faults.ts) SIGKILLs and restarts
// hosts, freezes them with SIGSTOP and SIGCONT, and deactivates and re-activates them, never
// taking more than two of the five out of service at once. Beside those, a second schedule
// (src/chaos/stress-plan.ts, run and checked by src/chaos/stress.ts) sends oversized and largest
// allowed commands to a group of their own, floods a host with sockets that never authenticate,
// and runs CPU hogs beside the hosts; no host process may exit or stop itself unless the runner
// killed it. Then every fault is undone (frozen
// hosts continue, killed ones restart, inactive ones activate), the fleet must converge (every
// host active, every group exactly on its placement led by its preferred host), every key is read
// linearizably, and the history must be linearizable per key with no acknowledged write missing.
//
// Everything the runner waits for has a deadline; the host processes are killed however it ends.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHistory, type HistoryOp } from '../check/history.js';
import { checkLinearizability } from '../check/linearizability.js';
import { connect, type Client } from '../client/client.js';
import { HostCallError, HostProcess, freePort, within } from '../demo/host-client.js';
import type { HostStatus } from '../host/status.js';
import { seededRandom, type Random } from '../raft/random.js';
import { FAULT_KINDS, MAX_OUT, planFaults, type FaultKind, type PlannedFault } from './faults.js';
import { HISTORY_COUNTER, HISTORY_KV } from '../demo/history-machines.js';
import { BIG_GROUP, Stress, type StressCounts } from './stress.js';
import { planStress, type PlannedStress } from './stress-plan.js';
import { Workload, keysOf, type GroupSpec, type OpTally } from './workload.js';

export interface ChaosOptions {
  /** Seconds of client operations under faults. */
  durationS: number;
  seed: number;
  /** Where to write the history (JSON lines), if anywhere. */
  historyPath?: string;
  hosts: number;
  groups: number;
  clients: number;
  /** Seconds between progress lines. */
  progressS: number;
  /** Where progress and findings go, a line at a time. */
  say: (line: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS: Omit<ChaosOptions, 'seed' | 'say'> = {
  durationS: 60,
  hosts: 5,
  groups: 24,
  clients: 6,
  progressS: 5,
};

/** What a host is doing, as the runner drives it. Only 'up' hosts take a new fault. */
type HostPhase = 'up' | 'down' | 'restarting' | 'paused' | 'deactivating' | 'inactive' | 'activating';

export interface ChaosResult {
  ok: boolean;
  /** What failed: a check, a deadline, a host that would not come back. */
  violations: string[];
  dir: string;
  history: HistoryOp[];
  tally: OpTally;
  faults: Record<FaultKind, number>;
  /** Planned faults skipped because their host was not serving or MAX_OUT were out. */
  skipped: number;
  planned: number;
  /** The stress faults run (stress.ts), and how many were planned. */
  stress: StressCounts;
  stressPlanned: number;
  /** Milliseconds: setup, the faults, undoing them and converging, final reads, the check. */
  timings: Array<[string, number]>;
  finalReads: number;
  keys: number;
}

const TICK_MS = 50;
const HOST_FAILURE_TIMEOUT_MS = 3000;
const REPLICAS = 3;
/** The deadline of every client operation. */
const OP_TIMEOUT_MS = 4000;
const THINK_MS = 15;
const START_MS = 60_000;
const CALL_MS = 10_000;
const ACTIVATE_MS = 60_000;
const DEACTIVATE_MS = 120_000;
const CONVERGE_MS = 90_000;
const FINAL_READS_MS = 60_000;
const CHECK_MS = 120_000;

/** A fault task whose host another task (a kill) took over. */
class Superseded extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function chaosGroups(count: number): GroupSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${i % 2 === 0 ? 'kv' : 'ctr'}-${String(i + 1).padStart(2, '0')}`,
    machine: i % 2 === 0 ? HISTORY_KV : HISTORY_COUNTER,
  }));
}

export class Chaos {
  readonly procs = new Map<string, HostProcess>();
  readonly dir: string;
  private readonly hostIds: string[];
  private readonly zones = new Map<string, string>();
  private readonly phases = new Map<string, HostPhase>();
  private readonly groups: GroupSpec[];
  private readonly secret = randomBytes(16).toString('hex');
  private readonly workload: Workload;
  private readonly clients: Client[] = [];
  /** The runner's own client, for the stress faults' commands (outside the history). */
  private runnerClient: Client | undefined;
  private readonly stress: Stress;
  /** Host processes the runner killed: any other that exits is a violation. */
  private readonly killed = new Set<HostProcess>();
  private readonly violations: string[] = [];
  private readonly faults: Record<FaultKind, number> = { kill: 0, pause: 0, deactivate: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  /** Cuts every hold short once the faults stop. */
  private readonly holds = new Set<() => void>();
  /**
   * The fault task driving each host. A kill may take over a host another task drives (draining,
   * inactive, activating, frozen): that task is then superseded and stops where it is.
   */
  private readonly owners = new Map<string, number>();
  private nextTask = 1;
  private faultsOn = false;
  private skipped = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly o: ChaosOptions,
    dir: string,
  ) {
    this.dir = dir;
    this.hostIds = Array.from({ length: o.hosts }, (_, i) => `h${i + 1}`);
    this.hostIds.forEach((id, i) => this.zones.set(id, `zone-${'abc'[i % 3]}`));
    this.groups = chaosGroups(o.groups);
    this.workload = new Workload({ groups: this.groups, opTimeoutMs: OP_TIMEOUT_MS, thinkMs: THINK_MS });
    this.stress = new Stress({
      hostIds: this.hostIds,
      host: (id) => this.host(id),
      up: (id) => this.phases.get(id) === 'up',
      answering: (id) => {
        const phase = this.phases.get(id);
        return phase !== 'down' && phase !== 'restarting' && phase !== 'paused' && this.host(id).running;
      },
      address: (id) => this.address(id),
      secret: this.secret,
      client: () => {
        if (this.runnerClient === undefined) throw new Error('no runner client');
        return this.runnerClient;
      },
      hold: (ms) => this.hold(ms),
      say: (line) => this.say(line),
      violate: (what) => this.violate(what),
    });
  }

  static async create(o: ChaosOptions): Promise<Chaos> {
    return new Chaos(o, await mkdtemp(join(tmpdir(), 'flotilla-chaos-')));
  }

  async run(): Promise<ChaosResult> {
    const timings: Array<[string, number]> = [];
    const timed = async (label: string, work: () => Promise<void>): Promise<void> => {
      const t = performance.now();
      try {
        await work();
      } finally {
        timings.push([label, performance.now() - t]);
      }
    };
    const random = seededRandom(this.o.seed);
    // Separate streams, so the fault plan does not depend on how many operations ran.
    const faultRandom = seededRandom(Math.floor(random() * 2 ** 32));
    const clientRandoms: Random[] = Array.from({ length: this.o.clients }, () => seededRandom(Math.floor(random() * 2 ** 32)));
    // Drawn after the others, so a seed's host faults and clients are what they were before stress faults.
    const stressRandom = seededRandom(Math.floor(random() * 2 ** 32));
    const durationMs = this.o.durationS * 1000;
    const plan = planFaults(faultRandom, { startMs: 2000, endMs: Math.max(2000, durationMs - 2000), hosts: this.hostIds, minGapMs: 500, maxGapMs: 2500 });
    const stressPlan = planStress(stressRandom, { startMs: 2000, endMs: Math.max(2000, durationMs - 2000), hosts: this.hostIds, cores: availableParallelism() });
    let finalReads = 0;
    let keys = 0;
    try {
      await timed('start hosts, activate, add groups, connect clients', () => this.setup());
      this.say(`fleet up: ${this.o.hosts} hosts in ${new Set(this.zones.values()).size} zones, ${this.groups.length} groups of ${REPLICAS} (and ${BIG_GROUP.name} for big commands), ${this.o.clients} clients; ${plan.length} host faults and ${stressPlan.length} stress faults planned over ${this.o.durationS} s`);
      await timed(`clients under faults (${this.o.durationS} s)`, () => this.faultPhase(plan, stressPlan, clientRandoms, durationMs));
      await timed('undo the faults, stop the clients', () => this.restore());
      if (this.violations.length > 0) throw new Error('a fault could not be undone: no convergence or final reads');
      await timed('converge (every host active, every group on its placement)', () => this.converge());
      await timed('final linearizable read of every key', async () => {
        const r = await this.finalReads();
        finalReads = r.reads;
        keys = r.keys;
      });
    } catch (err) {
      this.violate(errorText(err));
    }
    this.faultsOn = false;
    for (const cut of [...this.holds]) cut();
    // After a failure the clients may still run: closing them ends their calls at once.
    const stopped = this.workload.stop();
    for (const c of [...this.clients, this.runnerClient]) await c?.close().catch(() => undefined);
    await within('the clients to stop', stopped, OP_TIMEOUT_MS + 10_000).catch((err: unknown) => this.violate(errorText(err)));
    const history = this.workload.history();
    if (history.length > 0) {
      const t = performance.now();
      const lin = checkLinearizability(history, { timeoutMs: CHECK_MS });
      timings.push(['linearizability check', performance.now() - t]);
      if (lin.ok === false) this.violate(`history not linearizable on key ${lin.key}:\n${lin.explanation}`);
      else if (lin.ok === 'unknown') this.violate(`the linearizability check gave up on key ${lin.key}: ${lin.reason}`);
    }
    if (this.o.historyPath !== undefined) writeHistory(this.o.historyPath, history);
    return {
      ok: this.violations.length === 0,
      violations: this.violations,
      dir: this.dir,
      history,
      tally: this.workload.tally,
      faults: this.faults,
      skipped: this.skipped,
      planned: plan.length,
      stress: this.stress.counts,
      stressPlanned: stressPlan.length,
      timings,
      finalReads,
      keys,
    };
  }

  /** SIGKILLs every host process still running. */
  async killAll(): Promise<void> {
    this.stress.killAllNow();
    await Promise.all([...this.procs.values()].map((h) => this.kill(h)));
  }

  killAllNow(): void {
    this.stress.killAllNow();
    for (const h of this.procs.values()) {
      this.killed.add(h);
      h.killNow();
    }
  }

  /** The last output and log lines of every host. */
  async diagnose(): Promise<string[]> {
    return (await Promise.all([...this.procs.values()].map((h) => h.tail()))).flat();
  }

  /**
   * Error and fatal lines (pino levels 50 and 60) in the hosts' logs, counted by message: a run can
   * pass its checks while a host logs something that deserves a look.
   */
  async logErrors(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const id of this.hostIds) {
      const text = await readFile(join(this.dir, `${id}.log`), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!/"level":[56]0,/.test(line)) continue;
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120);
        counts.set(`${id}: ${msg}`, (counts.get(`${id}: ${msg}`) ?? 0) + 1);
      }
    }
    return counts;
  }

  async removeDir(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  // -------------------------------------------------------------------------------------------

  private say(line: string): void {
    this.o.say(`[${((performance.now() - this.t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  }

  private violate(what: string): void {
    this.violations.push(what);
    this.say(`VIOLATION ${what}`);
  }

  private host(id: string): HostProcess {
    const h = this.procs.get(id);
    if (h === undefined) throw new Error(`no host ${id}`);
    return h;
  }

  private address(id: string): string {
    return `127.0.0.1:${this.host(id).config.port}`;
  }

  /** Starts host process `config.id` and watches it: only the runner may end it. */
  private spawn(config: HostProcess['config']): HostProcess {
    const h = HostProcess.spawn(config);
    this.procs.set(config.id, h);
    void h.exited.then((code) => {
      if (!this.killed.has(h)) this.violate(`${h.id} (pid ${h.pid}) exited on its own (code ${code}): a host must not stop itself`);
    });
    return h;
  }

  private kill(h: HostProcess): Promise<void> {
    this.killed.add(h);
    return h.kill();
  }

  private async setup(): Promise<void> {
    this.say(`data directories and logs under ${this.dir}`);
    const ports = new Map<string, number>();
    for (const id of this.hostIds) ports.set(id, await freePort());
    const founder = this.hostIds[0]!;
    const seed = `127.0.0.1:${ports.get(founder)}`;
    for (const id of this.hostIds) {
      const h = this.spawn({
        id,
        port: ports.get(id) ?? 0,
        dataDir: join(this.dir, id),
        logFile: join(this.dir, `${id}.log`),
        secret: this.secret,
        join: id === founder ? [] : [seed],
        tickMs: TICK_MS,
        hostFailureTimeoutMs: HOST_FAILURE_TIMEOUT_MS,
      });
      this.say(`${id} pid ${h.pid} on 127.0.0.1:${h.config.port} in ${this.zones.get(id)}`);
    }
    await Promise.all([...this.procs.values()].map((h) => h.started(START_MS)));
    await this.host(founder).call('activate', { zone: this.zones.get(founder)! }, ACTIVATE_MS);
    await Promise.all(this.hostIds.slice(1).map((id) => this.host(id).call('activate', { zone: this.zones.get(id)! }, ACTIVATE_MS)));
    for (const id of this.hostIds) this.phases.set(id, 'up');
    await Promise.all(
      this.hostIds.map(async (id, i) => {
        for (const g of this.groups.filter((_, j) => j % this.hostIds.length === i)) {
          await this.host(id).call('addGroup', { name: g.name, machine: g.machine, replicas: REPLICAS, timeoutMs: 30_000 }, 40_000);
        }
      }),
    );
    await this.host(founder).call('addGroup', { name: BIG_GROUP.name, machine: BIG_GROUP.machine, replicas: REPLICAS, timeoutMs: 30_000 }, 40_000);
    const hosts = this.hostIds.map((id) => `${id}@${this.address(id)}`);
    for (let c = 0; c < this.o.clients; c++) this.clients.push(await connect({ hosts, secret: this.secret, timeoutMs: OP_TIMEOUT_MS }));
    this.runnerClient = await connect({ hosts, secret: this.secret, timeoutMs: OP_TIMEOUT_MS });
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  private async faultPhase(plan: readonly PlannedFault[], stressPlan: readonly PlannedStress[], randoms: Random[], durationMs: number): Promise<void> {
    const start = performance.now();
    this.faultsOn = true;
    this.clients.forEach((client, i) => this.workload.start(i + 1, client, randoms[i]!));
    const timers = [...plan.map((f) => setTimeout(() => this.inject(f), f.atMs)), ...stressPlan.map((f) => setTimeout(() => this.injectStress(f), f.atMs))];
    let last = { ops: 0, at: start };
    const progress = setInterval(() => {
      const t = this.workload.tally;
      const ops = t.ok + t.unknown + t.failed;
      const rate = ((ops - last.ops) * 1000) / (performance.now() - last.at);
      last = { ops, at: performance.now() };
      const out = this.hostIds.filter((id) => this.phases.get(id) !== 'up').map((id) => `${id} ${this.phases.get(id)}`);
      const faults = FAULT_KINDS.map((k) => `${k} ${this.faults[k]}`).join(', ');
      const s = this.stress.counts;
      this.say(`ops ${ops} (${Math.round(rate)}/s): ok ${t.ok}, unknown ${t.unknown}, failed ${t.failed} | faults: ${faults}; oversize ${s.oversize}, flood ${s.flood}, hog ${s.hog} | out: ${out.join(', ') || 'none'}`);
    }, this.o.progressS * 1000);
    try {
      await sleep(durationMs);
    } finally {
      for (const t of timers) clearTimeout(t);
      clearInterval(progress);
    }
  }

  private inject(f: PlannedFault): void {
    if (!this.faultsOn) return;
    const phase = this.phases.get(f.host);
    const out = this.hostIds.filter((id) => this.phases.get(id) !== 'up').length;
    // A kill of a host already out (but running) takes no other host out; anything else needs an up host.
    const killOut = f.kind === 'kill' && phase !== 'up' && phase !== 'down' && phase !== 'restarting';
    if (!killOut && (phase !== 'up' || out >= MAX_OUT)) {
      this.skipped++;
      return;
    }
    this.faults[f.kind]++;
    const task = this.nextTask++;
    this.owners.set(f.host, task);
    const work = f.kind === 'kill' ? this.killAndRestart(f, task, phase) : f.kind === 'pause' ? this.pauseAndResume(f, task) : this.deactivateAndActivate(f, task);
    const tracked: Promise<void> = work
      .catch((err: unknown) => {
        // Superseded by a kill: whatever failed (a drain or an activation losing its process) is the kill's doing.
        if (this.owners.get(f.host) === task) this.violate(`${f.kind} of ${f.host}: ${errorText(err)}`);
      })
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private injectStress(f: PlannedStress): void {
    if (!this.faultsOn) return;
    const work = this.stress.inject(f);
    if (work === null) return;
    const tracked: Promise<void> = work.catch((err: unknown) => this.violate(`${f.kind}: ${errorText(err)}`)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Moves `id` to `phase` for fault task `task`; throws Superseded if another task took the host over. */
  private step(id: string, task: number, phase: HostPhase): void {
    if (this.owners.get(id) !== task) throw new Superseded(`${id}: superseded`);
    this.phases.set(id, phase);
  }

  /** Waits `ms`, or less once the faults stop. */
  private hold(ms: number): Promise<void> {
    if (!this.faultsOn) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.holds.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.holds.add(done);
    });
  }

  private async killAndRestart(f: PlannedFault, task: number, was: HostPhase | undefined): Promise<void> {
    const old = this.host(f.host);
    this.step(f.host, task, 'down');
    const during = was === 'up' ? '' : ` while ${was}`;
    this.say(`SIGKILL ${f.host} (pid ${old.pid})${during}; restart in ${(f.holdMs / 1000).toFixed(1)} s`);
    await within(`${f.host} to die`, this.kill(old), CALL_MS);
    await this.hold(f.holdMs);
    this.step(f.host, task, 'restarting');
    const others = this.hostIds.filter((id) => id !== f.host).map((id) => this.address(id));
    const h = this.spawn({ ...old.config, join: others });
    try {
      await h.started(START_MS);
    } catch (err) {
      const output = (await h.tail()).filter((l) => !l.startsWith('{'));
      throw new Error(`${f.host} did not restart: ${errorText(err)}\n${output.join('\n')}`);
    }
    this.step(f.host, task, 'activating');
    await this.activate(f.host);
    this.step(f.host, task, 'up');
    this.say(`${f.host} restarted (pid ${h.pid}) and active again`);
  }

  private async pauseAndResume(f: PlannedFault, task: number): Promise<void> {
    const h = this.host(f.host);
    this.step(f.host, task, 'paused');
    this.say(`SIGSTOP ${f.host} for ${(f.holdMs / 1000).toFixed(1)} s${f.holdMs > HOST_FAILURE_TIMEOUT_MS ? ' (past the failure timeout)' : ''}`);
    h.pause();
    await this.hold(f.holdMs);
    h.resume();
    this.step(f.host, task, 'up');
    this.say(`SIGCONT ${f.host}`);
  }

  private async deactivateAndActivate(f: PlannedFault, task: number): Promise<void> {
    const h = this.host(f.host);
    this.step(f.host, task, 'deactivating');
    this.say(`deactivate ${f.host}`);
    const t = performance.now();
    await h.call('deactivate', {}, DEACTIVATE_MS);
    this.step(f.host, task, 'inactive');
    this.say(`${f.host} drained in ${((performance.now() - t) / 1000).toFixed(1)} s; activate again in ${(f.holdMs / 1000).toFixed(1)} s`);
    await this.hold(f.holdMs);
    this.step(f.host, task, 'activating');
    await this.activate(f.host);
    this.step(f.host, task, 'up');
    this.say(`${f.host} active again`);
  }

  /** activate(zone), retried (a fleet under faults may not answer at once) until ACTIVATE_MS. */
  private async activate(id: string): Promise<void> {
    const deadline = performance.now() + ACTIVATE_MS;
    for (;;) {
      try {
        await this.host(id).call('activate', { zone: this.zones.get(id)! }, CALL_MS * 3);
        return;
      } catch (err) {
        const retry = !(err instanceof HostCallError && (err.code === 'BAD_ARGUMENT' || err.code === 'EXITED'));
        if (!retry || performance.now() > deadline) throw new Error(`${id} could not activate: ${errorText(err)}`);
        await sleep(500);
      }
    }
  }

  /** Stops the faults and undoes each (its hold cut short), then stops the clients. */
  private async restore(): Promise<void> {
    this.faultsOn = false;
    for (const cut of [...this.holds]) cut();
    const undoing = [...this.inFlight];
    this.say(`faults stop; undoing ${undoing.length} in flight`);
    await within('every fault to be undone', Promise.all(undoing), DEACTIVATE_MS + ACTIVATE_MS);
    await within('the clients to finish their operations', this.workload.stop(), OP_TIMEOUT_MS + 10_000);
  }

  // -------------------------------------------------------------------------------------------
  // Convergence and the final reads

  private async converge(): Promise<void> {
    const t = performance.now();
    let problem: string | null = 'not checked yet';
    while (performance.now() - t < CONVERGE_MS) {
      problem = await this.convergenceProblem().catch((err: unknown) => `a host did not answer: ${errorText(err)}`);
      if (problem === null) {
        this.say(`converged ${((performance.now() - t) / 1000).toFixed(1)} s after the faults were undone`);
        return;
      }
      await sleep(250);
    }
    throw new Error(`convergence: not converged ${CONVERGE_MS / 1000} s after the faults were undone: ${problem}`);
  }

  /** What keeps the fleet from rest, or null: every host active, every group on its placement. */
  private async convergenceProblem(): Promise<string | null> {
    const statuses = new Map<string, HostStatus>();
    for (const id of this.hostIds) {
      const h = this.host(id);
      const byZone = await h.call('hosts', {}, CALL_MS);
      for (const list of Object.values(byZone)) for (const x of list) if (x.state !== 'active') return `${id} sees ${x.id} ${x.state}`;
      const seen = Object.values(byZone).flat().length;
      if (seen !== this.hostIds.length) return `${id} sees ${seen} hosts`;
      statuses.set(id, await h.call('status', {}, CALL_MS));
    }
    const via = this.host(this.hostIds[0]!);
    for (const g of [...this.groups, BIG_GROUP]) {
      const placed = await via.call('placement', { name: g.name }, CALL_MS);
      const voters: string[] = [];
      const leaders: string[] = [];
      const believed = new Set<string>();
      for (const [id, s] of statuses) {
        const m = s.members.find((x) => x.group === g.name);
        if (m === undefined) continue;
        if (m.role === 'learner') return `${g.name}: a learner on ${id}`;
        voters.push(id);
        if (m.role === 'leader') leaders.push(id);
        believed.add(m.leader);
      }
      if ([...voters].sort().join() !== [...placed].sort().join()) return `${g.name}: voters on [${voters}], placement [${placed}]`;
      if (leaders.length !== 1 || leaders[0] !== placed[0]) return `${g.name}: leaders [${leaders}], preferred ${placed[0]}`;
      if (believed.size !== 1) return `${g.name}: replicas disagree on the leader [${[...believed]}]`;
    }
    return null;
  }

  /**
   * One linearizable read of every key, recorded in the history (clients from 1001), retried
   * until it succeeds; then the lost-write check of every key written by appends or increments.
   */
  private async finalReads(): Promise<{ reads: number; keys: number }> {
    const client = this.clients[0];
    if (client === undefined) throw new Error('no client');
    const deadline = performance.now() + FINAL_READS_MS;
    let reads = 0;
    const keys = this.groups.flatMap((g) => keysOf(g).map((key) => ({ group: g.name, key })));
    const finals = new Map<string, string | number | boolean | null>();
    await Promise.all(
      keys.map(async ({ group, key }, i) => {
        for (;;) {
          reads++;
          const r = await this.workload.run(1001 + i, client, group, { op: 'get', key });
          if (r.outcome === 'ok') {
            finals.set(key, r.output);
            return;
          }
          if (performance.now() > deadline) throw new Error(`liveness: no linearizable read of ${key} succeeded within ${FINAL_READS_MS / 1000} s (last: ${r.code})`);
          await sleep(200);
        }
      }),
    );
    for (const key of this.workload.ledgerKeys()) {
      for (const wrong of this.workload.missingWrites(key, finals.get(key) ?? null)) this.violate(`lost write: ${wrong}`);
    }
    return { reads, keys: keys.length };
  }
}
