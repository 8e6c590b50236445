// `npm run demo`: a real fleet on this machine. Four host processes in two zones (RocksDB in a
// temporary directory, loopback ports), six named groups of a counter and a key-value machine,
// commands and queries through different hosts, a SIGKILL of the host leading the most groups
// (every group answers again; the fleet marks it failed and re-replicates), its restart and
// catch-up, the deactivation of another host (its members move away), and a clean stop. Every
// step checks what it claims: values read back equal what was written, every group answers after
// the kill, the drained host holds nothing and is in no placement. Exit 0 only if all of it held;
// otherwise the failure, the hosts' last log lines, and exit 1. Children are killed on any exit.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostStatus } from '../host/status.js';
import { freePort, HostProcess, within } from './host-client.js';
import { leaderOf, placementTable, seconds, style, type TableHost } from './report.js';

const HOSTS: ReadonlyArray<{ id: string; zone: string }> = [
  { id: 'h1', zone: 'zone-a' },
  { id: 'h2', zone: 'zone-b' },
  { id: 'h3', zone: 'zone-a' },
  { id: 'h4', zone: 'zone-b' },
];
type Machine = 'counter' | 'kv';
const GROUPS: ReadonlyArray<{ name: string; machine: Machine }> = [
  { name: 'page-views', machine: 'counter' },
  { name: 'signups', machine: 'counter' },
  { name: 'orders-placed', machine: 'counter' },
  { name: 'user-profiles', machine: 'kv' },
  { name: 'feature-flags', machine: 'kv' },
  { name: 'shopping-carts', machine: 'kv' },
];
/** What the kv groups are given in step 4, two keys each. */
const KV_DATA: Record<string, Array<[string, string]>> = {
  'user-profiles': [
    ['alice', 'Alice Liddell, Oxford'],
    ['bob', 'Bob Cratchit, London'],
  ],
  'feature-flags': [
    ['dark-mode', 'on'],
    ['new-checkout', 'off'],
  ],
  'shopping-carts': [
    ['alice', '2 books, 1 teapot'],
    ['bob', '1 goose'],
  ],
};
const REPLICAS = 3;
const TICK_MS = 50;
const HOST_FAILURE_TIMEOUT_MS = 3_000;
/** The deadline a command gets; the router retries inside it (leader changes, a dead host). */
const COMMAND_MS = 15_000;
/** How long the demo waits on the IPC answer of a query or admin call. */
const CALL_MS = 10_000;
/** How long any one wait may take before the demo fails saying what it waited for. */
const PHASE_MS = 20_000;
/** Voters of the cluster group (the hosts' default clusterReplicas). */
const CLUSTER_VOTERS = 3;
const STEPS = 9;

class DemoFailure extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new DemoFailure(what);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = PHASE_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new DemoFailure(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
    await sleep(50);
  }
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const say = (line: string) => out(`      ${line}`);
const ok = (line: string) => out(`      ${style.green('✓')} ${line}`);
let stepNo = 0;
let stepTitle = '';
function step(title: string): void {
  stepNo++;
  stepTitle = title;
  out();
  out(style.bold(style.cyan(`[${stepNo}/${STEPS}] ${title}`)));
}

/** The running demo: the host processes, what the groups must hold, where the data lives. */
class Demo {
  readonly procs = new Map<string, HostProcess>();
  /** Hosts killed (down) or drained (inactive), for the table. */
  readonly away = new Map<string, 'down' | 'inactive'>();
  readonly counts = new Map<string, number>(GROUPS.filter((g) => g.machine === 'counter').map((g) => [g.name, 0]));
  readonly kv = new Map<string, Map<string, string>>(GROUPS.filter((g) => g.machine === 'kv').map((g) => [g.name, new Map()]));
  readonly secret = randomBytes(16).toString('hex');

  constructor(readonly dir: string) {}

  host(id: string): HostProcess {
    const h = this.procs.get(id);
    if (h === undefined || !h.running) throw new DemoFailure(`host ${id} is not running`);
    return h;
  }

  /** Hosts that are up and in the fleet, in id order. */
  serving(): string[] {
    return HOSTS.map((h) => h.id).filter((id) => !this.away.has(id) && this.procs.get(id)?.running === true);
  }

  spawn(id: string, port: number, seeds: string[]): HostProcess {
    const h = HostProcess.spawn({
      id,
      port,
      dataDir: join(this.dir, id),
      logFile: join(this.dir, `${id}.log`),
      secret: this.secret,
      join: seeds,
      tickMs: TICK_MS,
      hostFailureTimeoutMs: HOST_FAILURE_TIMEOUT_MS,
    });
    this.procs.set(id, h);
    return h;
  }

  async statuses(): Promise<HostStatus[]> {
    return Promise.all(this.serving().map((id) => this.host(id).call('status', {}, CALL_MS)));
  }

  async table(): Promise<void> {
    const statuses = await this.statuses();
    const hosts: TableHost[] = HOSTS.map((h) => ({ ...h, state: this.away.get(h.id) ?? 'up' }));
    const groups = [...GROUPS, { name: '$cluster', machine: 'metadata' }];
    out();
    for (const line of placementTable(groups, hosts, statuses)) say(line);
    say(style.dim("* marks each group's leader; · no replica on that host; $cluster holds the fleet's metadata"));
  }

  /** Groups whose replicas on the live hosts are not exactly where placement puts them. */
  async offPlacement(): Promise<string[]> {
    const via = this.serving()[0] ?? 'h1';
    const statuses = await this.statuses();
    const off: string[] = [];
    for (const g of GROUPS) {
      const placed = [...(await this.host(via).call('placement', { name: g.name }, CALL_MS))].sort();
      const holding = statuses.filter((s) => s.members.some((m) => m.group === g.name)).map((s) => s.id).sort();
      if (placed.join(' ') !== holding.join(' ')) off.push(g.name);
    }
    return off;
  }

  /**
   * Waits until every group has a leader and its replicas are where placement puts them, and the
   * cluster group has its 3 voters, so the table shows the fleet at rest rather than mid-move. The
   * voters matter before a kill: a $cluster still growing from 2 voters loses its quorum with its
   * leader, and then the fleet cannot mark the killed host failed (a forming fleet is fragile, as
   * any Raft group of 2 is).
   */
  async settle(): Promise<void> {
    await waitUntil('every group to have a leader and its placed replicas, and $cluster its 3 voters', async () => {
      const statuses = await this.statuses();
      const clusterVoters = statuses.filter((s) => s.members.some((m) => m.group === '$cluster' && m.role !== 'learner')).length;
      return (
        [...GROUPS, { name: '$cluster' }].every((g) => leaderOf(g.name, statuses) !== null) &&
        clusterVoters >= Math.min(CLUSTER_VOTERS, this.serving().length) &&
        (await this.offPlacement()).length === 0
      );
    });
  }

  /** One increment through `via`; checks the reply is the count this demo expects. */
  async increment(via: string, group: string): Promise<number> {
    const reply = await this.host(via).call('command', { name: group, cmd: { op: 'incr' }, timeoutMs: COMMAND_MS }, COMMAND_MS + CALL_MS);
    const expected = (this.counts.get(group) ?? 0) + 1;
    check(reply === expected, `${group}: an increment through ${via} replied ${JSON.stringify(reply)}, expected ${expected}`);
    this.counts.set(group, expected);
    return expected;
  }

  /** One put through `via`; checks the reply is the previous value this demo wrote. */
  async put(via: string, group: string, key: string, value: string): Promise<void> {
    const reply = await this.host(via).call('command', { name: group, cmd: { op: 'put', key, value }, timeoutMs: COMMAND_MS }, COMMAND_MS + CALL_MS);
    const data = this.kv.get(group) ?? new Map<string, string>();
    const previous = data.get(key) ?? null;
    check(reply === previous, `${group}: put ${key} through ${via} replied the previous value ${JSON.stringify(reply)}, expected ${JSON.stringify(previous)}`);
    data.set(key, value);
    this.kv.set(group, data);
  }

  /** The group's next write after an event: an increment, or `note` in a kv group. */
  async write(via: string, group: string, note: string): Promise<void> {
    if (this.counts.has(group)) await this.increment(via, group);
    else await this.put(via, group, 'note', note);
  }

  /** Reads everything the group should hold through `via`; the differences, empty if none. */
  async mismatches(via: string, group: string, consistency: 'linearizable' | 'local'): Promise<string[]> {
    const host = this.host(via);
    const count = this.counts.get(group);
    if (count !== undefined) {
      const value = await host.call('query', { name: group, q: { op: 'get' }, consistency }, CALL_MS);
      return value === count ? [] : [`${group} reads ${JSON.stringify(value)} through ${via}, expected ${count}`];
    }
    const wrong: string[] = [];
    for (const [key, expected] of this.kv.get(group) ?? []) {
      const value = await host.call('query', { name: group, q: { op: 'get', key }, consistency }, CALL_MS);
      if (value !== expected) wrong.push(`${group}/${key} reads ${JSON.stringify(value)} through ${via}, expected ${JSON.stringify(expected)}`);
    }
    return wrong;
  }

  /** Reads every group back through `via` (linearizable) and fails on any difference. */
  async verifyAll(via: string): Promise<void> {
    const wrong = (await Promise.all(GROUPS.map((g) => this.mismatches(via, g.name, 'linearizable')))).flat();
    check(wrong.length === 0, `values read back differ from what was written:\n${wrong.join('\n')}`);
  }

  /** The groups each live host leads, most first; on a tie, the leader of the metadata group first. */
  async leadership(among: string[]): Promise<Array<{ id: string; groups: string[]; cluster: boolean }>> {
    const statuses = await this.statuses();
    const leads = (id: string, group: string) => statuses.some((s) => s.id === id && s.members.some((m) => m.group === group && m.role === 'leader'));
    const led = among.map((id) => ({ id, groups: GROUPS.map((g) => g.name).filter((g) => leads(id, g)), cluster: leads(id, '$cluster') }));
    return led.sort((a, b) => b.groups.length - a.groups.length || Number(b.cluster) - Number(a.cluster));
  }

  /** Every live host in the fleet lists `id` in `state`. */
  async fleetSees(id: string, state: string): Promise<boolean> {
    for (const via of this.serving()) {
      const byZone = await this.host(via).call('hosts', {}, CALL_MS);
      if (Object.values(byZone).flat().find((h) => h.id === id)?.state !== state) return false;
    }
    return true;
  }

  /** Groups whose placement (as `via` computes it) includes `id`. */
  async placedOn(via: string, id: string): Promise<string[]> {
    const placed: string[] = [];
    for (const g of GROUPS) if ((await this.host(via).call('placement', { name: g.name }, CALL_MS)).includes(id)) placed.push(g.name);
    return placed;
  }

  /** SIGKILLs every child still running (failure, Ctrl-C). */
  killAll(): Promise<void> {
    return Promise.all([...this.procs.values()].map((h) => h.kill())).then(() => undefined);
  }

  /** The last output and log lines of every host, for a failure report. */
  async diagnose(): Promise<string[]> {
    return (await Promise.all([...this.procs.values()].map((h) => h.tail()))).flat();
  }
}

function zoneOf(id: string): string {
  return HOSTS.find((h) => h.id === id)?.zone ?? '';
}

async function run(demo: Demo, timings: Array<[string, number]>): Promise<void> {
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const value = await work();
    timings.push([label, performance.now() - t]);
    return value;
  };
  const last = (): string => seconds(timings.at(-1)?.[1] ?? 0);

  // --- 1. Processes.
  step('Start four hosts, each in its own process');
  say(`RocksDB data directories and logs under ${demo.dir}`);
  const ports = new Map<string, number>();
  for (const h of HOSTS) ports.set(h.id, await freePort());
  const seed = `127.0.0.1:${ports.get('h1') ?? 0}`;
  await timed('start 4 processes', () =>
    Promise.all(
      HOSTS.map((h) => {
        const p = demo.spawn(h.id, ports.get(h.id) ?? 0, h.id === 'h1' ? [] : [seed]);
        say(`${h.id}  pid ${String(p.pid).padEnd(7)} on 127.0.0.1:${p.config.port}${h.id === 'h1' ? '  (founds the fleet)' : `  (will join through ${seed})`}`);
        return p.started(PHASE_MS);
      }),
    ),
  );
  ok(`4 processes up and listening in ${last()}`);

  // --- 2. Activation.
  step('Activate them in two zones');
  await timed('activate', async () => {
    await demo.host('h1').call('activate', { zone: zoneOf('h1') }, PHASE_MS);
    await Promise.all(HOSTS.slice(1).map((h) => demo.host(h.id).call('activate', { zone: h.zone }, PHASE_MS)));
  });
  for (const h of HOSTS) {
    const byZone = await demo.host(h.id).call('hosts', {}, CALL_MS);
    const seen = Object.entries(byZone).flatMap(([zone, hosts]) => hosts.map((x) => `${x.id}@${zone}:${x.state}`)).sort();
    const want = HOSTS.map((x) => `${x.id}@${x.zone}:active`).sort();
    check(seen.join(' ') === want.join(' '), `${h.id} should see every host active in its zone; it sees ${seen.join(' ')}`);
  }
  for (const zone of [...new Set(HOSTS.map((h) => h.zone))]) say(`${zone}: ${HOSTS.filter((h) => h.zone === zone).map((h) => h.id).join(', ')}`);
  ok(`every host sees all 4 active, each in its zone (${last()})`);

  // --- 3. Groups.
  step(`Add ${GROUPS.length} named groups, ${REPLICAS} replicas each, through different hosts`);
  const added: string[] = [];
  await timed('add groups', () =>
    Promise.all(
      HOSTS.map(async (h, i) => {
        for (const g of GROUPS.filter((_, j) => j % HOSTS.length === i)) {
          await demo.host(h.id).call('addGroup', { name: g.name, machine: g.machine, replicas: REPLICAS }, PHASE_MS);
          added.push(`${g.name.padEnd(15)} ${g.machine.padEnd(8)} added through ${h.id}`);
        }
      }),
    ),
  );
  for (const line of added.sort()) say(line);
  ok(`${GROUPS.length} groups added, each with a leader that has committed (${last()})`);

  // --- 4. Commands and queries.
  step('Command and query every group through different hosts');
  const ids = HOSTS.map((h) => h.id);
  const lines = await timed('commands and queries', () =>
    Promise.all(
      GROUPS.map(async (g, gi) => {
        // Each group starts its round of hosts at a different one.
        const order = ids.map((_, k) => ids[(gi + k) % ids.length] ?? 'h1');
        const readVia = order[order.length - 1] ?? 'h1';
        if (g.machine === 'counter') {
          for (const via of order) await demo.increment(via, g.name);
          const wrong = await demo.mismatches(readVia, g.name, 'linearizable');
          check(wrong.length === 0, wrong.join('\n'));
          return `${g.name.padEnd(15)} +1 through each of ${order.join(', ')}; read through ${readVia}: ${demo.counts.get(g.name)}`;
        }
        const pairs = KV_DATA[g.name] ?? [];
        const writes: string[] = [];
        for (const [k, [key, value]] of pairs.entries()) {
          const via = order[k] ?? 'h1';
          await demo.put(via, g.name, key, value);
          writes.push(`${key} through ${via}`);
        }
        const wrong = await demo.mismatches(readVia, g.name, 'linearizable');
        check(wrong.length === 0, wrong.join('\n'));
        const shown = pairs.map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(', ');
        return `${g.name.padEnd(15)} put ${writes.join(', ')}\n${''.padEnd(15)} read through ${readVia}: ${shown}`;
      }),
    ),
  );
  for (const line of lines.flatMap((l) => l.split('\n'))) say(line);
  ok(`every value read back is what was written (${last()})`);
  await demo.settle();
  await demo.table();

  // --- 5. SIGKILL.
  const before = await demo.leadership(demo.serving());
  const victim = before[0];
  check(victim !== undefined, 'no host leads any group');
  const victimProc = demo.host(victim.id);
  const victimPort = victimProc.port;
  step(`Kill ${victim.id} with SIGKILL: it leads the most groups (${victim.groups.length}: ${victim.groups.join(', ')})`);
  if (victim.cluster) say(`${victim.id} also leads $cluster, so the fleet's metadata group fails over too.`);
  say('No shutdown, no goodbye: the process is gone mid-flight, as when a machine loses power.');
  await victimProc.kill();
  const tKill = performance.now();
  demo.away.set(victim.id, 'down');
  const survivors = demo.serving();
  const killNote = `written after ${victim.id} was killed`;
  say(`Now one write per group through the survivors (${survivors.join(', ')}), all at once:`);
  say(`an increment in each counter group, note=${JSON.stringify(killNote)} in each kv group.`);
  const answered = await Promise.all(
    GROUPS.map(async (g, gi) => {
      const via = survivors[gi % survivors.length] ?? 'h1';
      await demo.write(via, g.name, killNote);
      return { group: g.name, via, ms: performance.now() - tKill };
    }),
  );
  const failover = Math.max(...answered.map((a) => a.ms));
  timings.push([`every group answering after the kill of ${victim.id}`, failover]);
  const statusesAfterKill = await demo.statuses();
  for (const a of answered.sort((x, y) => y.ms - x.ms)) {
    const led = victim.groups.includes(a.group) ? `was led by ${victim.id}, now by ${leaderOf(a.group, statusesAfterKill) ?? '?'}` : 'leader unchanged';
    say(`${a.group.padEnd(15)} answered in ${`${Math.round(a.ms)} ms`.padStart(7)} through ${a.via}  ${style.dim(`(${led})`)}`);
  }
  await demo.verifyAll(survivors[0] ?? 'h1');
  ok(`every group answered within ${seconds(failover)} of the kill`);
  ok('and reads back every value written, before the kill and after');

  // --- 6. Failure marking and re-replication.
  step(`The fleet marks ${victim.id} failed and re-replicates its groups onto the survivors`);
  await waitUntil(`${victim.id} to be marked failed`, async () => {
    const byZone = await demo.host(survivors[0] ?? 'h1').call('hosts', {}, CALL_MS);
    return Object.values(byZone).flat().some((h) => h.id === victim.id && h.state === 'failed');
  });
  const marked = performance.now() - tKill;
  timings.push([`${victim.id} marked failed (after ${HOST_FAILURE_TIMEOUT_MS / 1000} s of silence)`, marked]);
  say(`${victim.id} marked failed ${seconds(marked)} after the kill (hostFailureTimeoutMs: ${seconds(HOST_FAILURE_TIMEOUT_MS)} here, 5 s by default)`);
  await waitUntil('every group to have a voter on each survivor', async () => {
    const statuses = await demo.statuses();
    return statuses.every((s) => GROUPS.every((g) => s.members.some((m) => m.group === g.name && m.role !== 'learner')));
  });
  const rereplicated = performance.now() - tKill;
  timings.push(['re-replicated onto the survivors', rereplicated]);
  const stillPlaced = await demo.placedOn(survivors[0] ?? 'h1', victim.id);
  check(stillPlaced.length === 0, `${stillPlaced.join(', ')} still placed on the failed ${victim.id}`);
  ok(`every group has ${REPLICAS} voters on the survivors again, ${seconds(rereplicated)} after the kill`);
  await demo.settle();
  await demo.table();

  // --- 7. Restart.
  step(`Restart ${victim.id} on its data directory: it comes back and catches up`);
  const tRestart = performance.now();
  const restarted = demo.spawn(
    victim.id,
    victimPort,
    survivors.map((id) => demo.host(id).address),
  );
  await restarted.started(PHASE_MS);
  const restored = (await restarted.call('status', {}, CALL_MS)).members.length;
  say(`${victim.id} is up again (pid ${restarted.pid}, same id, same port): ${restored} replicas restored from RocksDB`);
  await restarted.call('activate', { zone: zoneOf(victim.id) }, PHASE_MS);
  demo.away.delete(victim.id);
  say(`${victim.id} is active again, so placement gives it groups back: their leaders add it as a learner,`);
  say('send it what it missed, promote it, and remove the replicas that stood in for it.');
  await waitUntil(`every host to see ${victim.id} active again`, () => demo.fleetSees(victim.id, 'active'));
  const placed = await demo.placedOn(victim.id, victim.id);
  check(placed.length > 0, `placement gives ${victim.id} no group back`);
  await waitUntil(`${victim.id} to hold a caught-up voter of each of its ${placed.length} groups`, async () => {
    const s = await restarted.call('status', {}, CALL_MS);
    for (const g of placed) {
      if (!s.members.some((m) => m.group === g && m.role !== 'learner')) return false;
      if ((await demo.mismatches(victim.id, g, 'local')).length > 0) return false;
    }
    return true;
  });
  const caughtUp = performance.now() - tRestart;
  timings.push([`${victim.id} restarted and caught up`, caughtUp]);
  ok(`${victim.id} caught up ${seconds(caughtUp)} after its restart: its own replicas, read locally,`);
  say(`  return every value, including those written while it was down`);
  say(`  (${placed.join(', ')})`);
  await waitUntil('every group to have its replicas exactly where placement puts them', async () => (await demo.offPlacement()).length === 0);
  const backInPlace = performance.now() - tRestart;
  timings.push(['every replica back where placement puts it', backInPlace]);
  ok(`every group's replicas are exactly on its placed hosts again, ${seconds(backInPlace)} after the restart`);
  await demo.settle();
  await demo.table();

  // --- 8. Deactivation.
  const now = (await demo.leadership(demo.serving())).filter((l) => l.id !== victim.id);
  const drainedId = now[0]?.id ?? 'h1';
  const drained = demo.host(drainedId);
  const holding = (await drained.call('status', {}, CALL_MS)).members.length;
  step(`Deactivate ${drainedId} (${holding} replicas, leading ${now[0]?.groups.length ?? 0} groups): its members move to the other hosts`);
  const tDrain = performance.now();
  drained.onProgress = (left) => say(`${String(left).padStart(2)} replica(s) left on ${drainedId}  ${style.dim(`at ${seconds(performance.now() - tDrain)}`)}`);
  await drained.call('deactivate', {}, 60_000);
  const drainMs = performance.now() - tDrain;
  timings.push([`${drainedId} drained`, drainMs]);
  demo.away.set(drainedId, 'inactive');
  const drainedStatus = await drained.call('status', {}, CALL_MS);
  check(drainedStatus.members.length === 0, `${drainedId} still holds ${drainedStatus.members.map((m) => m.group).join(', ')} after deactivating`);
  check(drainedStatus.state === 'inactive', `${drainedId} is ${drainedStatus.state} after deactivating, expected inactive`);
  await waitUntil(`every other host to see ${drainedId} inactive and out of every placement`, async () => {
    if (!(await demo.fleetSees(drainedId, 'inactive'))) return false;
    for (const via of demo.serving()) if ((await demo.placedOn(via, drainedId)).length > 0) return false;
    return true;
  });
  ok(`${drainedId} holds no replica, is inactive, and is in no group's placement (${seconds(drainMs)})`);
  const remaining = demo.serving();
  await Promise.all(GROUPS.map((g, gi) => demo.write(remaining[gi % remaining.length] ?? 'h1', g.name, `written after ${drainedId} was drained`)));
  await demo.verifyAll(remaining[remaining.length - 1] ?? 'h1');
  ok(`every group still takes writes through ${remaining.join(', ')} and reads back every value`);
  await demo.settle();
  await demo.table();

  // --- 9. Stop.
  step('Stop every host cleanly');
  const running = [...demo.procs.values()].filter((h) => h.running);
  await timed('stop', async () => {
    await Promise.all(running.map((h) => h.call('stop', {}, PHASE_MS)));
    const codes = await Promise.all(running.map((h) => within(`${h.id} to exit`, h.exited, PHASE_MS)));
    check(
      codes.every((c) => c === 0),
      `every host should exit 0 after stop(); exit codes: ${running.map((h, i) => `${h.id}=${codes[i]}`).join(' ')}`,
    );
  });
  ok(`${running.map((h) => h.id).join(', ')} stopped and exited 0 (${last()})`);
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-demo-'));
  const demo = new Demo(dir);
  // Whatever happens to this process, no host process outlives it.
  process.on('exit', () => {
    for (const h of demo.procs.values()) h.killNow();
  });
  let interrupting = false;
  const interrupted = (signal: NodeJS.Signals) => {
    interrupting = true;
    out(`\n${style.yellow(`demo: interrupted (${signal}); killing the host processes and removing ${dir}`)}`);
    void demo
      .killAll()
      .then(() => rm(dir, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  out(style.bold('flotilla demo: a fleet of Raft groups, 4 host processes in 2 zones on this machine'));
  const timings: Array<[string, number]> = [];
  try {
    await run(demo, timings);
  } catch (err) {
    if (interrupting) return 130;
    const message = err instanceof Error ? err.message : String(err);
    out();
    out(style.red(`✗ step ${stepNo} (${stepTitle}) failed: ${message}`));
    if (!(err instanceof DemoFailure) && err instanceof Error && err.stack !== undefined) out(style.dim(err.stack));
    out(style.dim('The hosts\' last words:'));
    for (const line of await demo.diagnose()) out(style.dim(`  ${line}`));
    await demo.killAll();
    out(`\nLogs and data kept in ${dir}`);
    out(style.red(style.bold('demo: FAIL')));
    return 1;
  }
  await rm(dir, { recursive: true, force: true });
  out();
  out(style.bold('Timings'));
  for (const [label, ms] of timings) say(`${label.padEnd(58)} ${seconds(ms).padStart(7)}`);
  out();
  out(style.green(style.bold(`demo: PASS (${seconds(performance.now() - t0)}; temporary directory removed)`)));
  return 0;
}

process.exitCode = await main();
