// The fleet's control plane on real host processes (RocksDB, ws, loopback): time to add N groups,
// the CPU the hosts use while every group idles, time until every group led by a SIGKILLed host
// takes commands again, and a drain (deactivate) of one host under load with the commands that
// failed meanwhile. Prints a table; numbers only, no assertions.
//
//   node --import tsx bench/fleet/run.ts [--groups 1000] [--hosts 4]

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostProcess } from '../../src/demo/host-client.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const GROUPS = option('groups', 1000);
const HOSTS = option('hosts', 4);
const CONCURRENCY = 64;
const CALL_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-fleet-'));
const hosts: HostProcess[] = [];
const rows: Array<[string, string]> = [];
const started = performance.now();

function row(what: string, value: string): void {
  rows.push([what, value]);
  console.log(`${what.padEnd(52)} ${value}`);
}

/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function pool<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = Array.from({ length: GROUPS }, (_, i) => `g${i}`);

async function leaders(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const h of hosts.filter((x) => x.running)) {
    for (const m of (await h.call('status', {}, CALL_MS)).members) if (m.role === 'leader') out.set(m.group, h.id);
  }
  return out;
}

try {
  for (let i = 1; i <= HOSTS; i++) {
    const id = `h${i}`;
    const join = i === 1 ? [] : [hosts[0]!.address];
    const h = HostProcess.spawn({ id, port: 0, dataDir: `${dir}/${id}`, logFile: `${dir}/${id}.log`, secret: 'bench', join, tickMs: 50, hostFailureTimeoutMs: 5000 });
    await h.started(60_000);
    await h.call('activate', { zone: i % 2 === 1 ? 'zone-a' : 'zone-b' }, CALL_MS);
    hosts.push(h);
  }
  console.log(`${HOSTS} host processes active in ${((performance.now() - started) / 1000).toFixed(1)} s; ${GROUPS} groups of 3 replicas`);

  let t = performance.now();
  await pool(names, async (name) => {
    await hosts[Number(name.slice(1)) % HOSTS]!.call('addGroup', { name, machine: 'counter', replicas: 3, timeoutMs: 20_000 }, CALL_MS);
  });
  row(`add ${GROUPS} groups (${CONCURRENCY} at a time)`, `${((performance.now() - t) / 1000).toFixed(1)} s`);

  // Idle: wait for quiescence, then measure every host's CPU over 10 s.
  await sleep(5000);
  const cpu0 = hosts.map((h) => cpuSeconds(h.pid!));
  t = performance.now();
  await sleep(10_000);
  const wall = (performance.now() - t) / 1000;
  const cpu = hosts.map((h, i) => ((cpuSeconds(h.pid!) - cpu0[i]!) / wall) * 100);
  const statuses = await Promise.all(hosts.map((h) => h.call('status', {}, CALL_MS)));
  row('idle: CPU per host, % of one core (min-max)', `${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)}`);
  row('idle: members per host, quiesced', statuses.map((s) => `${s.members.length}/${s.quiesced}`).join(' '));
  row('idle: RSS per host, MiB', hosts.map((h) => rssMiB(h.pid!).toFixed(0)).join(' '));

  // Failover: kill the host leading the most groups; every group it led must take a command again.
  const led = await leaders();
  const counts = new Map<string, number>();
  for (const host of led.values()) counts.set(host, (counts.get(host) ?? 0) + 1);
  const victimId = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const victim = hosts.find((h) => h.id === victimId)!;
  const affected = names.filter((n) => led.get(n) === victimId);
  const survivors = hosts.filter((h) => h !== victim);
  await victim.kill();
  t = performance.now();
  const recovered: number[] = [];
  let failed = 0;
  await pool(affected, async (name) => {
    const via = survivors[Number(name.slice(1)) % survivors.length]!;
    try {
      await via.call('command', { name, cmd: { op: 'incr' }, timeoutMs: 10_000 }, CALL_MS);
      recovered.push(performance.now() - t);
    } catch {
      failed++;
    }
  });
  recovered.sort((a, b) => a - b);
  const pct = (p: number) => (recovered[Math.min(recovered.length - 1, Math.floor(p * recovered.length))]! / 1000).toFixed(2);
  row(`failover: ${affected.length} groups led by the killed host, s p50/p99/max`, `${pct(0.5)} / ${pct(0.99)} / ${pct(1)} (${failed} failed)`);
  const back = HostProcess.spawn({ ...victim.config, port: victim.port });
  await back.started(60_000);
  hosts[hosts.indexOf(victim)] = back;
  await back.call('activate', { zone: Number(victimId.slice(1)) % 2 === 1 ? 'zone-a' : 'zone-b' }, CALL_MS);
  await sleep(10_000);

  // Drain one host under load: every command must still succeed.
  const drained = hosts.find((h) => h.id === survivors[0]!.id)!;
  const serving = hosts.filter((h) => h !== drained);
  const members = (await drained.call('status', {}, CALL_MS)).members.length;
  let stop = false;
  let ok = 0;
  let bad = 0;
  const load = Promise.all(serving.map(async (h, i) => {
    for (let n = i; !stop; n += serving.length) {
      try {
        await h.call('command', { name: names[n % GROUPS]!, cmd: { op: 'incr' }, timeoutMs: 10_000 }, CALL_MS);
        ok++;
      } catch {
        bad++;
      }
    }
  }));
  t = performance.now();
  await drained.call('deactivate', {}, 600_000);
  const drainS = (performance.now() - t) / 1000;
  stop = true;
  await load;
  row(`drain a host holding ${members} members, s`, `${drainS.toFixed(1)} (${ok} commands during it, ${bad} failed)`);
} finally {
  for (const h of hosts) h.killNow();
  rmSync(dir, { recursive: true, force: true });
}
