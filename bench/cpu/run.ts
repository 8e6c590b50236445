// The CPU a command costs, in one process with nothing else in it: three Hosts on a MemoryHub (the
// real codec, no sockets) over RocksDB stores in a temporary directory (--engine memory: no disk at
// all; its sorted map then costs more than RocksDB's writes), every group with a replica on each, and
// N commands in flight round-robin over the groups through host.command() on each host in turn.
// Reports commands/s and the process's CPU microseconds per command (process.cpuUsage), so the
// cost of a command at 1 and at 1,000 groups can be compared without the noise of a shared machine
// or of the disk; --cpu-prof under node gives a profile with no other process on the core.
//
// It runs the sources through tsx, whose output costs 10-15% more CPU than tsc's (the bench's
// processes run compiled: bench/compare/compiled.ts); compare its rows with each other, not with
// the bench's. --cpu-prof DIR profiles the measured seconds alone (not the groups' creation and warm-up), one
// .cpuprofile per row, through node:inspector.
//
//   node --import tsx bench/cpu/run.ts [--groups 1,100,1000] [--inflight 256] [--seconds 5] [--engine rocksdb|lmdb|memory]
//     [--heartbeat-ticks N] [--election-ticks N] [--cpu-prof DIR]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Host } from '../../src/host/host.js';
import { MemoryDisk } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import { kvMachine } from '../../src/demo/machines.js';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '1,100,1000' }, inflight: { type: 'string', default: '256' }, seconds: { type: 'string', default: '5' }, engine: { type: 'string', default: 'rocksdb' }, 'heartbeat-ticks': { type: 'string' }, 'election-ticks': { type: 'string' }, 'cpu-prof': { type: 'string' } } });
const ENGINES = ['rocksdb', 'lmdb', 'memory'] as const;
const engine: (typeof ENGINES)[number] =
  ENGINES.find((e) => e === values.engine) ??
  ((): never => {
    throw new Error(`--engine: ${ENGINES.join(', ')}, not ${values.engine}`);
  })();
const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-cpu-'));
const seconds = Number(values.seconds);
/** Raft timing other than the hosts' defaults, to measure what heartbeats cost. */
const timing = {
  ...(values['heartbeat-ticks'] === undefined ? {} : { heartbeatTicks: Number(values['heartbeat-ticks']) }),
  ...(values['election-ticks'] === undefined ? {} : { electionTicks: Number(values['election-ticks']) }),
};

async function fleet(): Promise<Host[]> {
  const hub = new MemoryHub({ autoDeliver: true });
  const hosts: Host[] = [];
  for (const [i, id] of ['h1', 'h2', 'h3'].entries()) {
    const host = await Host.start({
      id, transport: hub.endpoint(id), store: engine === 'memory' ? await openLogStore({ engine, disk: new MemoryDisk(id) }) : await openLogStore({ engine, dir: join(dir, id) }),
      machines: { kv: kvMachine }, join: i === 0 ? [] : ['h1@h1'], tickMs: 50, ...timing, secret: 'bench-cpu',
    });
    await host.activate(`zone-${id}`);
    hosts.push(host);
  }
  return hosts;
}

async function run(hosts: Host[], groups: number, inflight: number): Promise<void> {
  const names = Array.from({ length: groups }, (_, i) => `g${groups}-${i}`);
  for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n, j) => hosts[j % 3]!.addGroup(n, { machine: 'kv', replicas: 3 })));
  // Every group elects and answers once before the clock starts.
  await Promise.all(names.map((n) => hosts[0]!.command(n, { op: 'put', key: 'k', value: 'warm' }, { timeoutMs: 30_000 })));
  let ops = 0;
  let next = 0;
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const i = next++;
      await hosts[(w + i) % 3]!.command(names[i % groups]!, { op: 'put', key: 'k', value: 'sixteen bytes...' }, { timeoutMs: 30_000 });
      ops++;
    }
  };
  const profiler = values['cpu-prof'] === undefined ? null : await startProfile();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const workers = Array.from({ length: inflight }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = process.cpuUsage(cpu);
  if (profiler !== null) await stopProfile(profiler, join(values['cpu-prof']!, `cpu-${groups}x${inflight}.cpuprofile`));
  const wall = (performance.now() - started) / 1000;
  const done = ops;
  stop = true;
  await Promise.all(workers);
  const us = (used.user + used.system) / done;
  console.log(`${groups} groups x ${inflight} in flight: ${Math.round(done / wall).toLocaleString('en-US')} commands/s, ${us.toFixed(1)} us CPU/command (${((used.user + used.system) / 1e4 / wall).toFixed(0)}% of a core)`);
}

async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

async function stopProfile(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
}

const hosts = await fleet();
for (const g of values.groups.split(',').map(Number)) for (const n of values.inflight.split(',').map(Number)) await run(hosts, g, n);
for (const h of hosts) await h.stop();
rmSync(dir, { recursive: true, force: true });
