// A flood of sockets that never authenticate, from another process, against a real Host (issue 14:
// 24,000 idle sockets from 3 processes filled a host's descriptors until its store could not open
// a file and the host stopped itself). Three Hosts on the ws transport (loopback, memory storage);
// h1's connection limits are lowered so that a few hundred sockets are a flood. A child process
// holds 300 sockets from 127.0.0.2 (silent, unfinished HTTP, silent WebSocket), reopening each one
// the host closes. Meanwhile h1 keeps serving: commands through it commit (so its store keeps
// writing), a new connect() client gets in and commands, its links to the other hosts stay up, and
// it never holds more than its limits. Once the flood stops reopening, the host closes every one
// of its sockets by the handshake deadline. Waits are on conditions with deadlines; no timing is asserted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { Host } from '../../src/host/host.js';
import { counter, waitFor } from '../fleet/harness.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'socket flood test secret';
const FLOOD_SOCKETS = 300;
const FLOOD_FROM = '127.0.0.2';
const LIMITS = { maxConnections: 64, maxUnauthenticatedConnections: 32, maxUnauthenticatedPerAddress: 16, handshakeTimeoutMs: 2_000 };
const FLOODER = fileURLToPath(new URL('./fixtures/socket-flood.mjs', import.meta.url));
const TARGET = fileURLToPath(new URL('./fixtures/flood-target-host.ts', import.meta.url));
/** The flooded host process's soft descriptor limit; the flood opens more sockets than that. */
const TARGET_FD_LIMIT = 400;

interface FloodStats {
  opened: number;
  connected: number;
  open: number;
  closedByHost: number;
  stopping: boolean;
}

/** Starts the flooder against `address`; `flood()` is its last report. */
function startFlood(address: string, sockets: number): { child: ChildProcessWithoutNullStreams; flood(): FloodStats } {
  const child = spawn(process.execPath, [FLOODER, address, String(sockets), FLOOD_FROM]);
  let last: FloodStats = { opened: 0, connected: 0, open: 0, closedByHost: 0, stopping: false };
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    const line = lines.at(-1);
    if (line !== undefined && line !== '') last = JSON.parse(line) as FloodStats;
  });
  return { child, flood: () => last };
}

describe('a socket flood from another process', { skip: process.platform !== 'linux' && `${FLOOD_FROM} is a loopback address on Linux only` }, () => {
  const hosts: Host[] = [];
  let flooder: ChildProcessWithoutNullStreams | undefined;
  let flood: () => FloodStats = () => ({ opened: 0, connected: 0, open: 0, closedByHost: 0, stopping: false });
  let client: Client | undefined;

  const start = (id: string, join: string[], extra = {}): Promise<Host> =>
    Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { counter }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 3_000, ...extra });

  before(async () => {
    hosts.push(...(await activateThreeHosts((id, join) => start(id, join, id === 'h1' ? LIMITS : {}))));
    const h1 = hosts[0]!;
    await h1.addGroup('g', { machine: 'counter', replicas: 3 });
  });

  after(async () => {
    flooder?.kill();
    await client?.close();
    for (const h of hosts) await h.stop();
  });

  it('h1 keeps serving peers and clients, its store keeps writing, within its limits', async () => {
    const h1 = hosts[0]!;
    const started = startFlood(h1.address, FLOOD_SOCKETS);
    flooder = started.child;
    flood = started.flood;
    const stats = () => h1.metrics().connections!;
    let worst = 0;
    const sample = setInterval(() => (worst = Math.max(worst, stats().accepted + stats().dialed)), 20);
    try {
      await waitFor('the flood to fill what h1 lets in from its address', () => stats().refusedPerAddress > FLOOD_SOCKETS && stats().unauthenticated >= LIMITS.maxUnauthenticatedPerAddress);

      const writesBefore = h1.metrics().loop.writes;
      for (let i = 1; i <= 20; i++) assert.equal(await h1.command('g', { op: 'inc', by: 1 }), i);
      assert.ok(h1.metrics().loop.writes > writesBefore, "h1's store kept writing");
      assert.deepEqual(h1.status().leaderless, []);

      client = await connect({ hosts: [h1.address], secret: SECRET, timeoutMs: 10_000 });
      assert.equal(await client.command('g', { op: 'inc', by: 1 }), 21);
      // Its peers: none was marked failed, and commands through them commit too.
      assert.deepEqual(Object.values(h1.hosts()).flat().map((h) => `${h.id}:${h.state}`).sort(), ['h1:active', 'h2:active', 'h3:active']);
      for (const h of hosts.slice(1)) await h.command('g', { op: 'inc', by: 1 });
      assert.ok(stats().unauthenticated <= LIMITS.maxUnauthenticatedConnections, `${stats().unauthenticated} unauthenticated`);
      assert.ok(flood().connected > FLOOD_SOCKETS, `the flood kept connecting: ${JSON.stringify(flood())}`);
    } finally {
      clearInterval(sample);
    }
    assert.ok(worst <= LIMITS.maxConnections, `at most ${LIMITS.maxConnections} connections held, saw ${worst}`);
  });

  it('closes every socket of the flood by the handshake deadline once it stops reopening them', async () => {
    const h1 = hosts[0]!;
    const held = flood().open;
    assert.ok(held > 0, 'the flood holds sockets');
    flooder!.stdin.write('stop\n');
    await waitFor('the flood to have no socket left', () => flood().stopping && flood().open === 0, 5 * LIMITS.handshakeTimeoutMs);
    await waitFor('h1 to hold no unauthenticated socket', () => h1.metrics().connections!.unauthenticated === 0);
    assert.ok(h1.metrics().connections!.handshakeTimeouts > 0);
    assert.equal(await hosts[1]!.command('g', { op: 'inc', by: 1 }), 24);
  });
});

describe('a socket flood against a host process at its descriptor limit', { skip: process.platform !== 'linux' && `ulimit and ${FLOOD_FROM} as on Linux` }, () => {
  let dataDir = '';
  let target: ChildProcessWithoutNullStreams | undefined;
  let flooder: ChildProcessWithoutNullStreams | undefined;
  let client: Client | undefined;
  let log = '';

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'flotilla-flood-'));
  });

  after(async () => {
    flooder?.kill();
    await client?.close();
    target?.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it(`a host (RocksDB) whose soft limit is ${TARGET_FD_LIMIT} descriptors serves through ${TARGET_FD_LIMIT + 200} sockets and stays up`, async () => {
    const config = JSON.stringify({ dataDir, secret: SECRET });
    target = spawn('/bin/sh', ['-c', `ulimit -n ${TARGET_FD_LIMIT} && exec "$0" --import tsx "$1" "$2"`, process.execPath, TARGET, config]);
    let address = '';
    target.stdout.setEncoding('utf8');
    target.stdout.on('data', (text: string) => {
      const match = /"address":"([^"]+)"/.exec(text);
      if (match !== null) address = match[1]!;
    });
    target.stderr.setEncoding('utf8');
    target.stderr.on('data', (text: string) => (log = (log + text).slice(-100_000)));
    let exited: number | null | undefined;
    target.once('exit', (code) => (exited = code));
    await waitFor('the host process to serve', () => address !== '' || exited !== undefined, 60_000);
    assert.equal(exited, undefined, `the host process exited: ${log.slice(-2000)}`);
    // What it can hold, from its descriptor limit: half of 400 kept for the store and the process.
    assert.match(log, /holding at most 200 connections \(file descriptors: soft limit 400, 200 kept for the store\)/);

    const started = startFlood(address, TARGET_FD_LIMIT + 200);
    flooder = started.child;
    await waitFor('the flood to have been refused more sockets than the limit', () => started.flood().closedByHost > TARGET_FD_LIMIT + 200, 30_000);
    client = await connect({ hosts: [address], secret: SECRET, timeoutMs: 20_000 });
    for (let i = 1; i <= 20; i++) assert.equal(await client.command('g', { op: 'inc', by: 1 }, { timeoutMs: 20_000 }), i);
    assert.ok(started.flood().connected > TARGET_FD_LIMIT, `the flood kept connecting: ${JSON.stringify(started.flood())}`);
    assert.equal(exited, undefined, 'the host process is up');
    assert.doesNotMatch(log, /too many open files|EMFILE|stopping this host/i);
  });
});
