// npm run bench: flotilla measured on real host processes, side by side with etcd in the same run.
//
//   npm run bench                          quick: a representative subset, a few minutes
//   npm run bench -- --full                the whole matrix (rows print as they complete)
//   npm run bench -- --with-etcd           also a 3-member etcd cluster (etcd from PATH), same load
//   npm run bench -- --json out.json       every measured row as a JSON object (an array, one row a line)
//
// Every run: 3 flotilla host processes on loopback (src/demo/host-process.ts: RocksDB, synced
// writes, ws transport; compiled by tsc first, bench/compare/compiled.ts, as an installed package
// runs, not through tsx) in 3 zones, so each 3-replica group has a replica on every host; with
// --with-etcd a 3-member etcd cluster on loopback ports (fsync on, default timeouts) in the same
// temporary directory. Load comes from separate load generator processes, closed loops of N
// requests in flight over the groups, the same concurrency and value size for both systems:
// flotilla's through connect() (bench/compare/loadgen.ts), etcd's through etcd's own Go client to
// its leader (bench/etcd-load/, built on first use by its build.sh); their own CPU is reported,
// per op too. For etcd, "N groups" are N keys of its single Raft group. Other options: see USAGE.
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EtcdCluster, etcdVersion, type EtcdMember } from './compare/etcd-cluster.js';
import { compileProcesses } from './compare/compiled.js';
import { compact, put } from './compare/etcd-grpc.js';
import { prepareEtcdLoad } from './compare/etcd-load.js';
import { Fleet, SECRET } from './compare/fleet.js';
import { LoadGenerators, type LoadOutcome } from './compare/load.js';
import type { LoadSpec } from './compare/load-protocol.js';
import { CpuWindow, quantileOf, rssMiB, sleep } from './compare/stats.js';

const USAGE = `usage: npm run bench -- [options]
  --full                 the whole matrix: 1, 10, 100, 1000 groups x 1, 16, 64, 256 in flight x 16 B, 1 KiB,
                         writes, linearizable and lease reads; idle at 1,000 and 10,000 groups
  --with-etcd            compare with a 3-member etcd cluster (the etcd binary on PATH), driven by
                         bench/etcd-load (Go; bench/etcd-load/build.sh builds it and installs what it lacks)
  --json FILE            write every measured row to FILE (a JSON array, one object a line)
  --only LIST            scenarios to run: write,read,add-groups,idle,failover,drain (default all)
  --groups LIST          group counts of the write/read matrix (e.g. 100,1000)
  --inflight LIST        requests in flight of the matrix (e.g. 64,256)
  --payload LIST         value sizes in bytes of the matrix (e.g. 16,1024)
  --fleet-groups N       groups in the fleet for add-groups, idle, failover and drain (default 1000)
  --idle-groups LIST     idle measurements (quick: the fleet's groups; full: also 10000 on a fresh fleet)
  --duration S           measured seconds per row (quick 3, full 5); --warmup S before it (1)
  --loadgens N           load generator processes (default 2)
  --cpu-prof DIR         the host processes write V8 CPU profiles to DIR (one .cpuprofile per host)
  --from-source          run the hosts and load generators from src/ through tsx (source lines in
                         profiles; 10-15% more CPU per command) instead of compiled by tsc
  --dir DIR              where the temporary directory goes (default the OS temp dir); --keep keeps it`;

// ---------------------------------------------------------------------------------------------
// Options

type Scenario = 'write' | 'read' | 'failover' | 'drain' | 'add-groups' | 'idle';
const SCENARIOS: Scenario[] = ['write', 'read', 'add-groups', 'idle', 'failover', 'drain'];

interface Options {
  full: boolean;
  withEtcd: boolean;
  json: string | null;
  only: Set<Scenario>;
  groups: number[];
  inflight: number[];
  payload: number[];
  /** Read rows at these points only (quick mode: one point). */
  readPoints: Array<{ groups: number; inflight: number }> | null;
  fleetGroups: number;
  idleGroups: number[];
  durationMs: number;
  warmupMs: number;
  loadgens: number;
  cpuProf: string | null;
  dir: string;
  keep: boolean;
  fromSource: boolean;
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (['full', 'with-etcd', 'keep', 'help', 'from-source'].includes(name)) flags.set(name, true);
    else if (i + 1 < argv.length) flags.set(name, argv[++i]!);
    else throw new Error(`${a} needs a value`);
  }
  const known = ['full', 'with-etcd', 'keep', 'help', 'json', 'only', 'groups', 'inflight', 'payload', 'fleet-groups', 'idle-groups', 'duration', 'warmup', 'loadgens', 'cpu-prof', 'dir', 'from-source'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}`);
  if (flags.has('help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const text = (name: string): string | null => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : null;
  };
  const list = (name: string, fallback: number[]): number[] => {
    const v = text(name);
    if (v === null) return fallback;
    const out = v.split(',').map(Number);
    if (!out.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--${name} takes positive whole numbers, got ${v}`);
    return out;
  };
  const full = flags.has('full');
  const only = text('only');
  const onlySet = new Set((only ?? SCENARIOS.join(',')).split(',') as Scenario[]);
  for (const s of onlySet) if (!SCENARIOS.includes(s)) throw new Error(`--only: unknown scenario ${s} (${SCENARIOS.join(', ')})`);
  const custom = text('groups') !== null || text('inflight') !== null || text('payload') !== null;
  const fleetGroups = list('fleet-groups', [1000])[0]!;
  return {
    full,
    withEtcd: flags.has('with-etcd'),
    json: text('json'),
    only: onlySet,
    groups: list('groups', full ? [1, 10, 100, 1000] : [1, 100]),
    inflight: list('inflight', full ? [1, 16, 64, 256] : [1, 64, 256]),
    payload: list('payload', full ? [16, 1024] : [16]),
    readPoints: full || custom ? null : [{ groups: 100, inflight: 64 }],
    fleetGroups,
    idleGroups: list('idle-groups', full ? [fleetGroups, 10_000] : [fleetGroups]),
    durationMs: Number(text('duration') ?? (full ? 5 : 3)) * 1000,
    warmupMs: Number(text('warmup') ?? 1) * 1000,
    loadgens: list('loadgens', [2])[0]!,
    cpuProf: text('cpu-prof'),
    dir: text('dir') ?? tmpdir(),
    keep: flags.has('keep'),
    fromSource: flags.has('from-source'),
  };
}

// ---------------------------------------------------------------------------------------------
// Rows

interface Row {
  scenario: Scenario;
  system: 'flotilla' | 'etcd';
  /** What was measured, in words (the table's second column). */
  what: string;
  groups: number | null;
  inflight: number | null;
  payload: number | null;
  ops_per_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  p999_ms: number | null;
  cpu_pct_per_host: number | null;
  rss_mib_per_host: number | null;
  failed: number | null;
  /** Extras, null where they do not apply. */
  max_ms: number | null;
  seconds: number | null;
  cpu_ms_per_op: number | null;
  client_cpu_pct: number | null;
  client_cpu_ms_per_op: number | null;
  kib_per_replica: number | null;
  /** flotilla's work per operation, all hosts' counters over the measured window: where a command's cost goes. */
  per_op: PerOp | null;
  ops_vs_etcd: number | null;
  p99_vs_etcd: number | null;
  load1: number;
}

/** Host loop turns, synced writes, and transport frames and items sent, per operation completed (all hosts). */
interface PerOp {
  turns: number;
  fsyncs: number;
  frames: number;
  items: number;
}

function row({ scenario, system, what, ...fields }: Partial<Row> & Pick<Row, 'scenario' | 'system' | 'what'>): Row {
  return {
    scenario, system, what, groups: null, inflight: null, payload: null, ops_per_s: null, p50_ms: null, p99_ms: null, p999_ms: null,
    cpu_pct_per_host: null, rss_mib_per_host: null, failed: null, max_ms: null, seconds: null, cpu_ms_per_op: null,
    client_cpu_pct: null, client_cpu_ms_per_op: null, kib_per_replica: null, per_op: null, ops_vs_etcd: null, p99_vs_etcd: null, load1: round(loadavg()[0]!, 2),
    ...fields,
  };
}

function round(n: number, digits: number): number;
function round(n: number | null, digits: number): number | null;
function round(n: number | null, digits: number): number | null {
  if (n === null || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const fmt = (n: number | null, digits = 1): string => (n === null ? '-' : n >= 1000 && digits <= 1 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits));
const fmtMs = (n: number | null): string => (n === null ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const fmtBytes = (n: number | null): string => (n === null ? '-' : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

const COLUMNS = ['scenario', 'system', 'what', 'groups', 'in flight', 'value', 'ops/s or time', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU %/host', 'RSS MiB/host', 'client CPU %', 'client CPU ms/op', 'CPU ms/op', 'failed', 'ops x etcd', 'p99 x etcd', 'load'];

function cells(r: Row): string[] {
  const extra = r.scenario === 'idle' && r.kib_per_replica !== null ? ` (${fmt(r.kib_per_replica)} KiB/replica)` : '';
  const timed = r.seconds !== null ? `${r.seconds.toFixed(1)} s` : null;
  return [
    r.scenario, r.system, r.what, r.groups === null ? '-' : r.groups.toLocaleString('en-US'), fmt(r.inflight, 0), fmtBytes(r.payload),
    timed ?? fmt(r.ops_per_s), fmtMs(r.p50_ms), fmtMs(r.p99_ms), r.max_ms !== null ? `max ${fmtMs(r.max_ms)}` : fmtMs(r.p999_ms),
    fmt(r.cpu_pct_per_host), `${fmt(r.rss_mib_per_host, 0)}${extra}`, fmt(r.client_cpu_pct, 0), fmt(r.client_cpu_ms_per_op, 3), fmt(r.cpu_ms_per_op, 3), fmt(r.failed, 0),
    r.ops_vs_etcd === null ? '' : `${r.ops_vs_etcd.toFixed(2)}x`, r.p99_vs_etcd === null ? '' : `${r.p99_vs_etcd.toFixed(2)}x`, r.load1.toFixed(1),
  ];
}

function markdownTable(rows: Row[]): string {
  const lines = [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${cells(r).join(' | ')} |`);
  return lines.join('\n');
}

/** Puts each flotilla row's ratios to the etcd row measured at the same point. */
function compare(rows: Row[]): void {
  for (const f of rows.filter((r) => r.system === 'flotilla')) {
    const kind = (r: Row) => r.what.split(/[ ,]/).slice(0, 2).join(' ');
    const e = rows.find((r) => r.system === 'etcd' && r.scenario === f.scenario && kind(r) === kind(f) && (r.scenario === 'failover' || (r.groups === f.groups && r.inflight === f.inflight && r.payload === f.payload)));
    if (e === undefined) continue;
    if (f.ops_per_s !== null && e.ops_per_s !== null && e.ops_per_s > 0) f.ops_vs_etcd = round(f.ops_per_s / e.ops_per_s, 2);
    const fp = f.scenario === 'failover' ? f.max_ms : f.p99_ms;
    const ep = e.scenario === 'failover' ? e.max_ms : e.p99_ms;
    if (fp !== null && ep !== null && ep > 0) f.p99_vs_etcd = round(fp / ep, 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Progress: one line on stderr, redrawn while a row runs (plain lines when not a terminal).

class Progress {
  private label = '';
  private since = performance.now();
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout | null;
  counter: () => string = () => '';

  constructor(private readonly tty: boolean) {
    this.timer = tty ? setInterval(() => this.draw(), 250) : null;
    this.timer?.unref();
  }

  set(label: string, counter: () => string = () => ''): void {
    this.label = label;
    this.counter = counter;
    this.since = performance.now();
    if (!this.tty) console.error(`... ${label}`);
    else this.draw();
  }

  private draw(): void {
    const total = Math.round((performance.now() - this.started) / 1000);
    const here = ((performance.now() - this.since) / 1000).toFixed(0);
    const extra = this.counter();
    process.stderr.write(`\r\x1b[K[${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s] ${this.label} ${here} s${extra === '' ? '' : `, ${extra}`}`);
  }

  /** Clears the line so that a printed row does not mix with it. */
  clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// The run

export async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (options.withEtcd) {
    const failed = prepareEtcdLoad(etcdVersion() !== null);
    if (failed !== null) {
      console.error(`--with-etcd: ${failed}`);
      return 2;
    }
  }
  const etcdV = etcdVersion();
  if (options.withEtcd && etcdV === null) {
    console.error('--with-etcd: no `etcd` on PATH. Install it (Debian/Ubuntu: `apt-get install etcd-server`, etcd 3.4+) and run again.');
    return 2;
  }

  const runners = options.fromSource ? { host: undefined, loadgen: undefined } : compileProcesses();
  const dir = mkdtempSync(join(options.dir, 'flotilla-bench-'));
  const fsType = (() => {
    try {
      return execSync(`stat -f -c %T ${JSON.stringify(dir)}`, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const header = [
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, data on ${fsType}`,
    `node ${process.version}; etcd ${etcdV ?? 'not installed'}${options.withEtcd ? '' : ' (not compared: add --with-etcd)'}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `mode: ${options.full ? 'full' : 'quick'}${options.fromSource ? ', from source (tsx)' : ''}; ${options.durationMs / 1000} s measured per row after ${options.warmupMs / 1000} s warm-up; ${options.loadgens} load generator processes per system (etcd's: Go clientv3, to the leader)`,
  ];
  console.log(header.join('\n'));

  const rows: Row[] = [];
  const progress = new Progress(process.stderr.isTTY === true);
  let fleet: Fleet | null = null;
  let idleFleet: Fleet | null = null;
  let etcd: EtcdCluster | null = null;
  let fGens: LoadGenerators | null = null;
  let eGens: LoadGenerators | null = null;
  const cleanup = () => {
    progress.stop();
    fleet?.killAll();
    idleFleet?.killAll();
    etcd?.stop();
    fGens?.kill();
    eGens?.kill();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const writeJson = () => {
    if (options.json !== null) writeFileSync(options.json, `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
  };
  const emit = (r: Row) => {
    rows.push(r);
    compare(rows);
    progress.clear();
    const c = cells(r);
    console.log(`${c.slice(0, 6).join(' ')}: ${COLUMNS.slice(6, 16).map((name, i) => `${name} ${c[i + 6]}`).join(', ')}`);
    if (r.per_op !== null) console.log(`  per op, all hosts: ${r.per_op.turns.toFixed(3)} loop turns, ${r.per_op.fsyncs.toFixed(3)} fsyncs, ${r.per_op.frames.toFixed(2)} frames, ${r.per_op.items.toFixed(2)} items sent`);
    writeJson();
  };

  const startFleet = async (label: string): Promise<Fleet> => {
    progress.set(`starting 3 flotilla host processes (${label})`);
    // Only the hosts are profiled: the load generators fork later, with the environment restored.
    const saved = process.env.NODE_OPTIONS;
    if (options.cpuProf !== null) {
      mkdirSync(options.cpuProf, { recursive: true });
      process.env.FLOTILLA_BENCH_CPU_PROF = resolve(options.cpuProf);
      process.env.NODE_OPTIONS = `${saved ?? ''} --import=${pathToFileURL(join(import.meta.dirname, 'compare/cpu-profile.mjs')).href}`.trim();
    }
    try {
      return await Fleet.start(join(dir, label), 3, runners.host);
    } finally {
      if (options.cpuProf !== null) {
        delete process.env.FLOTILLA_BENCH_CPU_PROF;
        if (saved === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = saved;
      }
    }
  };

  try {
    fleet = await startFleet('fleet');
    const baseRss = fleet.pids.reduce((n, pid) => n + rssMiB(pid), 0) / fleet.pids.length;
    progress.set('starting load generators (flotilla)');
    fGens = await LoadGenerators.start(options.loadgens, { system: 'flotilla', hosts: fleet.clientSeeds(), secret: SECRET }, runners.loadgen);
    if (options.withEtcd) {
      progress.set('starting a 3-member etcd cluster');
      etcd = await EtcdCluster.start(join(dir, 'etcd'));
      eGens = await LoadGenerators.start(options.loadgens, { system: 'etcd', endpoints: etcd.members.map((m) => m.clientUrl) });
    }
    const matrixGroups = Math.max(...options.groups);
    const N = Math.max(options.fleetGroups, options.only.has('write') || options.only.has('read') ? matrixGroups : 0);

    // -- add-groups: N groups of 3 replicas, 64 addGroup calls at a time through the 3 hosts.
    {
      const t = performance.now();
      let done = 0;
      progress.set(`adding ${N} groups`, () => `${done}/${N} added`);
      const added = await fleet.addGroups('b', 0, N, 64, (n) => (done = n));
      const seconds = (performance.now() - t) / 1000;
      if (added.failed > 0) console.error(`add-groups: ${added.failed} failed: ${added.errors.join('; ')}`);
      if (options.only.has('add-groups')) {
        emit(row({ scenario: 'add-groups', system: 'flotilla', what: 'add groups, 64 calls at a time', groups: N, inflight: 64, ops_per_s: N / seconds, p50_ms: quantileOf(added.latencies, 0.5), p99_ms: quantileOf(added.latencies, 0.99), p999_ms: quantileOf(added.latencies, 0.999), seconds, failed: added.failed, cpu_pct_per_host: null, rss_mib_per_host: null }));
      }
    }

    const fills = async (payload: number, groups: number) => {
      progress.set(`writing a ${payload}-byte value to each of ${groups} groups`);
      await fGens!.fill({ prefix: 'b', groups, payload, timeoutMs: 30_000 });
      await eGens?.fill({ prefix: 'b', groups, payload, timeoutMs: 30_000 });
    };

    // -- idle: every group written once, then quiet; CPU over 10 s and memory per host.
    const idle = async (f: Fleet, groups: number, base: number) => {
      progress.set(`idle with ${groups} groups: waiting for every group to quiesce`);
      const quiet = await f.waitQuiesced(120_000);
      progress.set(`idle with ${groups} groups: measuring CPU for 10 s`);
      const w = new CpuWindow(f.pids);
      await sleep(10_000);
      const pct = w.pctPerProcess();
      const statuses = [...(await f.statuses()).values()];
      const members = statuses.reduce((n, s) => n + s.members.length, 0) / statuses.length;
      const rss = f.pids.reduce((n, pid) => n + rssMiB(pid), 0) / f.pids.length;
      const quiesced = statuses.reduce((n, s) => n + s.quiesced, 0);
      emit(row({ scenario: 'idle', system: 'flotilla', what: `idle, ${quiesced}/${statuses.reduce((n, s) => n + s.members.length, 0)} members quiesced${quiet ? '' : ' (not all)'}`, groups, cpu_pct_per_host: pct, rss_mib_per_host: rss, kib_per_replica: members > 0 && rss > base ? ((rss - base) * 1024) / members : null }));
    };

    if (options.only.has('idle') || options.only.has('read')) await fills(options.payload[0]!, N);
    if (options.only.has('idle')) {
      await idle(fleet, N, baseRss);
      if (etcd !== null) {
        progress.set('idle etcd: measuring CPU for 10 s');
        const w = new CpuWindow(etcd.pids);
        await sleep(10_000);
        emit(row({ scenario: 'idle', system: 'etcd', what: `idle, ${N} keys`, groups: N, cpu_pct_per_host: w.pctPerProcess(), rss_mib_per_host: etcd.pids.reduce((n, pid) => n + rssMiB(pid), 0) / etcd.pids.length }));
      }
    }

    // -- the write / read matrix, each point on flotilla then etcd.
    const measure = async (system: 'flotilla' | 'etcd', spec: Omit<LoadSpec, 'offset' | 'workers'>, inflight: number, what: string) => {
      const gens = system === 'flotilla' ? fGens! : eGens!;
      const pids = system === 'flotilla' ? fleet!.pids : etcd!.pids;
      const label = `${system} ${what}, ${spec.groups} groups, ${inflight} in flight, ${fmtBytes(spec.payload)}`;
      progress.set(label, () => {
        const p = gens.progress;
        return `${p.ops.toLocaleString('en-US')} ops${p.failed > 0 ? `, ${p.failed} failed` : ''}`;
      });
      gens.start(spec, inflight);
      await sleep(options.warmupMs);
      const counters = system === 'flotilla' ? await fleetCounters(fleet!) : null;
      const cpu = new CpuWindow(pids);
      gens.mark();
      await sleep(options.durationMs);
      const hostCpu = cpu.totalSeconds();
      const hostPct = cpu.pctPerProcess();
      const countersAfter = counters === null ? null : await fleetCounters(fleet!);
      const out = await gens.stop(spec.timeoutMs + 10_000);
      if (out.failed > 0) console.error(`${label}: ${out.failed} failed: ${out.errors.join('; ')}`);
      emit(row({
        scenario: spec.op, system, what, groups: spec.groups, inflight, payload: spec.payload,
        ops_per_s: out.ops / out.wallSeconds, p50_ms: out.hist.quantile(0.5), p99_ms: out.hist.quantile(0.99), p999_ms: out.hist.quantile(0.999),
        cpu_pct_per_host: hostPct, rss_mib_per_host: pids.reduce((n, pid) => n + rssMiB(pid), 0) / pids.length, failed: out.failed,
        cpu_ms_per_op: out.ops > 0 ? (hostCpu * 1000) / out.ops : null, client_cpu_pct: out.clientCpuPct,
        client_cpu_ms_per_op: clientMsPerOp(out),
        per_op: counters === null || countersAfter === null || out.ops === 0 ? null : perOp(counters, countersAfter, out.ops),
      }));
    };
    const compactEtcd = async () => {
      if (etcd === null) return;
      const m = etcd.running[0]!;
      const revision = await put(m.endpoint, '__compact', new Uint8Array(1), 5000);
      await compact(m.endpoint, revision, 30_000).catch(() => undefined);
    };

    if (options.only.has('write') || options.only.has('read')) {
      for (const payload of options.payload) {
        if (payload !== options.payload[0] || !(options.only.has('idle') || options.only.has('read'))) await fills(payload, matrixGroups);
        for (const groups of options.groups) {
          for (const inflight of options.inflight) {
            const base = { prefix: 'b', groups, payload, timeoutMs: 10_000 };
            if (options.only.has('write')) {
              await measure('flotilla', { ...base, op: 'write', lease: false }, inflight, 'write');
              if (etcd !== null) {
                await measure('etcd', { ...base, op: 'write', lease: false }, inflight, 'write');
                await compactEtcd();
              }
            }
            const readHere = options.readPoints === null || options.readPoints.some((p) => p.groups === groups && p.inflight === inflight);
            if (options.only.has('read') && readHere) {
              await measure('flotilla', { ...base, op: 'read', lease: false }, inflight, 'read linearizable');
              if (etcd !== null) await measure('etcd', { ...base, op: 'read', lease: false }, inflight, 'read linearizable');
              await measure('flotilla', { ...base, op: 'read', lease: true }, inflight, 'read lease');
              if (etcd !== null) await measure('etcd', { ...base, op: 'read', lease: true }, inflight, 'read lease (etcd: serializable)');
            }
          }
        }
      }
    }

    // -- failover: SIGKILL the host leading the most groups; every group it led must take a command.
    if (options.only.has('failover') || options.only.has('drain')) {
      // Most groups of a large fleet are idle when a host dies: measure from there (quiesced groups;
      // a group busy at the kill waits out its leader's lease, an election timeout, first).
      progress.set('failover: waiting for every group to quiesce');
      await fleet.waitQuiesced(120_000);
      progress.set('failover: finding the host leading the most groups');
      const groupsInFleet = N;
      const led = new Map([...(await fleet.leaders())].filter(([g]) => g.startsWith('b')));
      const counts = new Map<string, number>();
      for (const h of led.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
      const victimId = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
      const victim = fleet.host(victimId);
      const affected = [...led].filter(([, h]) => h === victimId).map(([g]) => g);
      const survivors = fleet.running.filter((h) => h !== victim);
      await victim.kill();
      const killedAt = performance.now();
      const recovered: number[] = [];
      let failed = 0;
      progress.set(`failover: ${victimId} killed; ${affected.length} groups it led must take a command`, () => `${recovered.length} did`);
      await Promise.all(affected.map(async (name, i) => {
        try {
          await survivors[i % survivors.length]!.call('command', { name, cmd: { op: 'put', key: 'k', value: 'failover' }, timeoutMs: 10_000 }, 30_000);
          recovered.push(performance.now() - killedAt);
        } catch (err) {
          failed++;
          progress.clear();
          console.error(`failover: ${name} took no command: ${err instanceof Error ? err.message : String(err)}`);
        }
      }));
      if (options.only.has('failover')) {
        emit(row({ scenario: 'failover', system: 'flotilla', what: `kill -9 the host leading most groups (idle), time until each takes a command (${affected.length} groups it led)`, groups: groupsInFleet, p50_ms: quantileOf(recovered, 0.5), p99_ms: quantileOf(recovered, 0.99), max_ms: quantileOf(recovered, 1), failed }));
      }

      // Replacement: a fresh host in the killed host's zone; time (from the kill) until every group
      // has 3 voters on running hosts again. The killed host is marked failed after 5 s of silence.
      const replacement = await fleet.addHost('h4', fleet.zoneOf(victimId), true);
      fGens.learn(replacement.id, replacement.address);
      progress.set(`replace: waiting until every group has 3 voters on running hosts`);
      const replaced = await waitPlaced(fleet, N, 120_000);
      if (!replaced) console.error(`replace: not every group has 3 voters 120 s after the kill; the drain is skipped`);
      if (options.only.has('failover')) {
        emit(row({ scenario: 'failover', system: 'flotilla', what: `replace the killed host's ${N} members on a new host (from the kill; failure timeout 5 s)`, groups: N, seconds: replaced ? (performance.now() - killedAt) / 1000 : null, failed: replaced ? 0 : 1 }));
      }

      if (etcd !== null && options.only.has('failover')) {
        const leader = await etcd.leader();
        const rest = etcd.members.filter((m) => m !== leader);
        const keys = affected.length;
        progress.set(`etcd failover: ${leader.name} (leader) killed; ${keys} keys must take a write`);
        await etcd.kill(leader);
        const t = performance.now();
        const times: number[] = [];
        let etcdFailed = 0;
        await Promise.all(Array.from({ length: keys }, async (_, i) => {
          for (;;) {
            const m: EtcdMember = rest[i % rest.length]!;
            try {
              await put(m.endpoint, `b${i}`, new Uint8Array(16), 1000);
              times.push(performance.now() - t);
              return;
            } catch {
              if (performance.now() - t > 30_000) {
                etcdFailed++;
                return;
              }
              await sleep(10);
            }
          }
        }));
        emit(row({ scenario: 'failover', system: 'etcd', what: `kill -9 the leader, time until each key takes a write (${keys} keys)`, groups: keys, p50_ms: quantileOf(times, 0.5), p99_ms: quantileOf(times, 0.99), max_ms: quantileOf(times, 1), failed: etcdFailed }));
        progress.set(`etcd: restarting ${leader.name}`);
        await etcd.restart(leader);
      }

      // -- drain: a new host h5 shares a zone with one survivor, so the replacement h4 is alone in
      // its zone holding all N members; deactivate h4 under load and count failed commands.
      if (options.only.has('drain') && replaced) {
        const h5 = await fleet.addHost('h5', fleet.zoneOf(survivors[0]!.id));
        fGens.learn(h5.id, h5.address);
        progress.set(`drain: waiting for the fleet to settle onto h5`);
        await waitPlaced(fleet, N, 300_000);
        const members = (await replacement.call('status', {}, 60_000)).members.length;
        fGens.start({ op: 'write', lease: false, prefix: 'b', groups: N, payload: 16, timeoutMs: 10_000 }, 64);
        await sleep(options.warmupMs);
        fGens.mark();
        const cpu = new CpuWindow(fleet.pids);
        let left = members;
        replacement.onProgress = (n) => (left = n);
        progress.set(`drain: deactivating ${replacement.id} (${members} members) under load`, () => `${left} left, ${fGens!.progress.ops} commands, ${fGens!.progress.failed} failed`);
        const t = performance.now();
        await replacement.call('deactivate', {}, 600_000);
        const seconds = (performance.now() - t) / 1000;
        const hostPct = cpu.pctPerProcess();
        const out = await fGens.stop(20_000);
        if (out.failed > 0) console.error(`drain: ${out.failed} commands failed: ${out.errors.join('; ')}`);
        emit(row({ scenario: 'drain', system: 'flotilla', what: `deactivate() a host holding ${members} members, 64 commands in flight`, groups: N, inflight: 64, payload: 16, seconds, ops_per_s: out.ops / out.wallSeconds, p50_ms: out.hist.quantile(0.5), p99_ms: out.hist.quantile(0.99), p999_ms: out.hist.quantile(0.999), cpu_pct_per_host: hostPct, failed: out.failed, client_cpu_pct: out.clientCpuPct, client_cpu_ms_per_op: clientMsPerOp(out) }));
      }
    }

    // -- idle at larger counts: a fresh fleet of 3 hosts.
    if (options.only.has('idle')) {
      for (const groups of options.idleGroups.filter((g) => g !== N)) {
        fleet.killAll();
        idleFleet = await startFleet(`idle-${groups}`);
        const base = idleFleet.pids.reduce((n, pid) => n + rssMiB(pid), 0) / idleFleet.pids.length;
        let done = 0;
        progress.set(`idle: adding ${groups} groups`, () => `${done}/${groups} added`);
        const t = performance.now();
        const added = await idleFleet.addGroups('i', 0, groups, 64, (n) => (done = n));
        const seconds = (performance.now() - t) / 1000;
        emit(row({ scenario: 'add-groups', system: 'flotilla', what: 'add groups, 64 calls at a time', groups, inflight: 64, ops_per_s: groups / seconds, p50_ms: quantileOf(added.latencies, 0.5), p99_ms: quantileOf(added.latencies, 0.99), p999_ms: quantileOf(added.latencies, 0.999), seconds, failed: added.failed }));
        await idle(idleFleet, groups, base);
        idleFleet.killAll();
      }
    }

    if (options.cpuProf !== null) {
      progress.set('stopping the hosts so that they write their CPU profiles');
      for (const h of [...fleet.running, ...(idleFleet?.running ?? [])]) await h.call('stop', {}, 60_000).catch(() => undefined);
    }
  } catch (err) {
    progress.stop();
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    for (const h of fleet?.hosts ?? []) console.error((await h.tail()).join('\n'));
    cleanup();
    return 1;
  }
  await fGens?.close();
  await eGens?.close();
  cleanup();

  compare(rows);
  writeJson();
  console.log(`\n${header.join('\n')}\nload average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(markdownTable(rows));
  if (options.json !== null) console.log(`\n${rows.length} rows written to ${options.json}`);
  return 0;
}

/** The load generators' CPU per completed request, in ms. */
const clientMsPerOp = (out: LoadOutcome): number | null => (out.ops > 0 ? (out.clientCpuSeconds * 1000) / out.ops : null);

/** Waits until every group `b0..b<n-1>` has exactly 3 members on running hosts, all voters. */
type Counters = { turns: number; fsyncs: number; frames: number; items: number };

/** The hosts' loop and transport counters, summed. */
async function fleetCounters(fleet: Fleet): Promise<Counters> {
  const sum: Counters = { turns: 0, fsyncs: 0, frames: 0, items: 0 };
  for (const h of fleet.running) {
    const m = await h.call('metrics', {}, 10_000);
    sum.turns += m.loop.turns;
    sum.fsyncs += m.loop.syncs;
    sum.frames += m.transport.framesSent;
    sum.items += m.transport.itemsSent;
  }
  return sum;
}

function perOp(before: Counters, after: Counters, ops: number): PerOp {
  const per = (k: keyof Counters) => round((after[k] - before[k]) / ops, 4);
  return { turns: per('turns'), fsyncs: per('fsyncs'), frames: per('frames'), items: per('items') };
}

async function waitPlaced(fleet: Fleet, n: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const voters = new Map<string, string[]>();
    const learners: string[] = [];
    for (const [host, s] of await fleet.statuses()) {
      for (const m of s.members) {
        // The cluster group has a learner on every active host beyond its voters, by design.
        if (m.group.startsWith('$')) continue;
        if (m.role === 'learner') learners.push(`${m.group}@${host}`);
        else voters.set(m.group, [...(voters.get(m.group) ?? []), `${host}:${m.role}`]);
      }
    }
    const unplaced: string[] = [];
    for (let i = 0; i < n; i++) if (voters.get(`b${i}`)?.length !== 3) unplaced.push(`b${i} [${(voters.get(`b${i}`) ?? []).join(' ')}]`);
    if (unplaced.length === 0 && learners.length === 0) return true;
    if (performance.now() > deadline) {
      console.error(`the fleet did not settle in ${timeoutMs} ms: ${unplaced.length} groups without 3 voters (${unplaced.slice(0, 5).join(', ')}), ${learners.length} learners (${learners.slice(0, 5).join(', ')})`);
      return false;
    }
    await sleep(250);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
