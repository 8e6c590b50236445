// Three hosts in three processes: RocksDB stores, WebSocket transport, host loops wired to it
// (src/loop/raft-wiring.ts), 20 counter groups. Checks progress on every host, one connection per
// host pair, progress with one host SIGKILLed, and that the killed host catches up after a restart
// on its old data directory.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { HostStatus } from './fixtures/raft-host.js';
import { waitFor } from '../transport/fixtures/wait.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/raft-host.ts', import.meta.url));
const HOSTS = ['h1', 'h2', 'h3'];
const GROUPS = 20;
const GROUP_IDS = Array.from({ length: GROUPS }, (_, i) => i + 1);
const SECRET = 'multi-process test secret';
const DEADLINE_MS = 20_000;

/** A free port: bind port 0, read it, release it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port bound');
  return address.port;
}

interface RunningHost {
  child: ChildProcess;
  /** The latest status line, null until the first one. */
  status: HostStatus | null;
  exited: Promise<void>;
  stderr: string[];
}

class Cluster {
  readonly running = new Map<string, RunningHost>();

  constructor(
    readonly root: string,
    readonly ports: Map<string, number>,
  ) {}

  start(host: string): RunningHost {
    const peers = HOSTS.filter((h) => h !== host).map((h) => `${h}=${this.ports.get(h)}`).join(',');
    const args = [host, String(this.ports.get(host)), peers, SECRET, join(this.root, host), String(GROUPS)];
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const running: RunningHost = { child, status: null, exited, stderr: [] };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) running.status = JSON.parse(line) as HostStatus;
    });
    createInterface({ input: child.stderr! }).on('line', (line) => running.stderr.push(line));
    this.running.set(host, running);
    return running;
  }

  async kill(host: string): Promise<void> {
    const running = this.running.get(host);
    if (running === undefined) return;
    this.running.delete(host);
    running.child.kill('SIGKILL');
    await running.exited;
  }

  async stopAll(): Promise<void> {
    const stopping = [...this.running.entries()];
    this.running.clear();
    await Promise.all(
      stopping.map(async ([, running]) => {
        if (running.child.exitCode !== null || running.child.signalCode !== null) return;
        running.child.kill('SIGTERM');
        const killer = setTimeout(() => running.child.kill('SIGKILL'), 5_000);
        await running.exited;
        clearTimeout(killer);
      }),
    );
  }

  /** A group's counter on `host` as last reported (-1 before its first status line). */
  applied(host: string, groupId: number): number {
    return this.running.get(host)?.status?.applied[String(groupId)] ?? -1;
  }

  everyGroupLed(hosts: string[]): boolean {
    const led = new Set(hosts.flatMap((h) => this.running.get(h)?.status?.led ?? []));
    return GROUP_IDS.every((id) => led.has(id));
  }

  /** Per group, the counter on `host` now. */
  snapshot(host: string): Map<number, number> {
    return new Map(GROUP_IDS.map((id) => [id, this.applied(host, id)]));
  }

  describe(): string {
    return [...this.running].map(([h, r]) => `${h}: ${JSON.stringify(r.status)} ${r.stderr.slice(-3).join(' | ')}`).join('\n');
  }
}

describe('three host processes over the WebSocket transport', () => {
  let cluster: Cluster | undefined;
  let root: string | undefined;

  after(async () => {
    await cluster?.stopAll();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('replicates 20 groups, survives a SIGKILLed host and catches it up after a restart', { timeout: 120_000 }, async () => {
    root = await mkdtemp(join(tmpdir(), 'flotilla-multi-process-'));
    const ports = new Map<string, number>();
    for (const host of HOSTS) ports.set(host, await freePort());
    const c = new Cluster(root, ports);
    cluster = c;
    const wait = async (what: string, condition: () => boolean): Promise<void> => {
      try {
        await waitFor(what, condition, DEADLINE_MS);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${c.describe()}`);
      }
    };
    for (const host of HOSTS) c.start(host);

    // Every group elects a leader and applies at least 5 increments on every host.
    await wait('every group to lead and apply 5 increments on all hosts', () =>
      c.everyGroupLed(HOSTS) && HOSTS.every((h) => GROUP_IDS.every((id) => c.applied(h, id) >= 5)),
    );

    // One authenticated link per host pair, and no extra sockets left over from simultaneous dials.
    await wait('one connection per host pair', () =>
      HOSTS.every((h) => {
        const status = c.running.get(h)?.status;
        return status !== null && status !== undefined && status.connected.length === 2 && status.sockets === 2;
      }),
    );
    for (const host of HOSTS) {
      assert.deepEqual(c.running.get(host)?.status?.connected, HOSTS.filter((h) => h !== host));
    }

    // SIGKILL one host: the other two keep every group going.
    const victim = 'h3';
    const survivors = HOSTS.filter((h) => h !== victim);
    const victimBefore = c.snapshot(victim);
    assert.equal(c.running.get(victim)?.status?.restored, 0);
    await c.kill(victim);
    const atKill = new Map(survivors.map((h) => [h, c.snapshot(h)]));
    await wait('every group to apply more increments on the 2 remaining hosts', () =>
      c.everyGroupLed(survivors) &&
      survivors.every((h) => GROUP_IDS.every((id) => c.applied(h, id) >= (atKill.get(h)?.get(id) ?? 0) + 3)),
    );

    // Past the victim's own last counters, and past the survivors' at the moment of the kill.
    const preKill = new Map(
      GROUP_IDS.map((id) => [id, Math.max(victimBefore.get(id) ?? 0, ...survivors.map((h) => atKill.get(h)?.get(id) ?? 0))]),
    );

    // Restarted on its old data dir, it catches up past where the fleet was when it died.
    c.start(victim);
    await wait('the restarted host to report', () => c.running.get(victim)?.status !== null);
    assert.equal(c.running.get(victim)?.status?.restored, GROUPS, 'the restarted host restores every group from its store');
    await wait('the restarted host to catch up', () => GROUP_IDS.every((id) => c.applied(victim, id) > (preKill.get(id) ?? 0)));
    await wait('the restarted host to be linked to both peers', () => c.running.get(victim)?.status?.connected.length === 2);
  });
});
