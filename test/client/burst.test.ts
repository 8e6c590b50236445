// A burst of commands fired at once, against three Hosts on the ws transport (loopback, memory
// storage). Issue 14: 100,000 commands fired at once by one client all failed (10,000 TIMEOUT,
// about 90,000 BUSY) and stalled the client until the hosts dropped it. Now the client's window
// keeps at most maxInFlight of them in flight and the rest wait their turn: every one succeeds,
// exactly once (the counter equals the count), and the window is never exceeded; a call with a
// short deadline behind the burst fails TIMEOUT having never been sent. The same burst through
// Host.command of an embedded host (whose router is the same code) succeeds as well. The count is
// BURST_COMMANDS (default 100,000; lower it on a slow machine); the time is printed, not asserted.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../../src/fleet/request-window.js';
import { Host } from '../../src/host.js';
import { counter } from '../fleet/harness.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'burst test secret';
const COUNT = Number(process.env.BURST_COMMANDS ?? 100_000);
const HOST_COUNT = Math.ceil(COUNT / 5);
/** Long enough for the last command of the burst to get its turn on a loaded machine. */
const BURST_TIMEOUT_MS = 600_000;

async function startHost(id: string, join: string[]): Promise<Host> {
  return Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { counter }, tickMs: 20, reconcileMs: 50 });
}

/** Fires `count` increments at once through `command`; resolves with the failures by code. */
async function burst(count: number, command: () => Promise<unknown>): Promise<Map<string, number>> {
  const failures = new Map<string, number>();
  const calls: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    calls.push(
      command().then(
        () => undefined,
        (err: unknown) => {
          const code = err instanceof FlotillaError ? err.code : String(err);
          failures.set(code, (failures.get(code) ?? 0) + 1);
        },
      ),
    );
  }
  await Promise.all(calls);
  return failures;
}

describe('a burst of commands fired at once', () => {
  const hosts: Host[] = [];
  let client: Client;

  before(async () => {
    hosts.push(...(await activateThreeHosts(startHost)));
    const h1 = hosts[0]!;
    await h1.addGroup('burst', { machine: 'counter', replicas: 3 });
    client = await connect({ hosts: hosts.map((h) => `${h.id}@${h.address}`), secret: SECRET });
  });

  after(async () => {
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it(`${COUNT} commands through one client all succeed, exactly once, within the window`, { timeout: BURST_TIMEOUT_MS }, async (t: TestContext) => {
    const started = performance.now();
    const done = burst(COUNT, () => client.command('burst', { op: 'inc', by: 1 }, { timeoutMs: BURST_TIMEOUT_MS }));
    // Behind the whole burst: its deadline passes long before its turn comes.
    const late = client.command('burst', { op: 'inc', by: 1 }, { timeoutMs: 1 });
    await assert.rejects(late, (err: unknown) => err instanceof FlotillaError && err.code === 'TIMEOUT' && err.details.sent === false && /never sent/.test(err.message));
    const failures = await done;
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${COUNT} commands through one client in ${seconds.toFixed(1)} s (${Math.round(COUNT / seconds)}/s)`);
    assert.deepEqual(failures, new Map(), 'no command failed');
    assert.equal(await client.query('burst', null), COUNT, 'each applied once; the late one never');
    const stats = client.stats();
    t.diagnostic(`client window: ${JSON.stringify(stats)}`);
    assert.equal(stats.peakInFlight, DEFAULT_MAX_IN_FLIGHT, 'the window filled and never went beyond');
    assert.ok(stats.peakQueued >= COUNT - DEFAULT_MAX_IN_FLIGHT, `the rest waited: ${stats.peakQueued}`);
    assert.deepEqual([stats.inFlight, stats.queued, stats.timedOutQueued, stats.refusedQueueFull], [0, 0, 1, 0]);
  });

  it(`${HOST_COUNT} commands through Host.command of an embedded host all succeed`, { timeout: BURST_TIMEOUT_MS }, async (t: TestContext) => {
    const before = await client.query<number>('burst', null);
    const started = performance.now();
    const host = hosts[0]!;
    const failures = await burst(HOST_COUNT, () => host.command('burst', { op: 'inc', by: 1 }, { timeoutMs: BURST_TIMEOUT_MS }));
    t.diagnostic(`${HOST_COUNT} commands through Host.command in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(failures, new Map(), 'no command failed');
    assert.equal(await client.query('burst', null), before + HOST_COUNT);
  });
});
