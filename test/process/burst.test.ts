// Issue 14, finding 6, on real `flotilla host` processes (ws, memory storage): 100,000 commands
// fired at once by one client all failed (10,000 TIMEOUT, about 90,000 BUSY) and stalled the client
// until the hosts dropped it. Now the client's window keeps at most maxInFlight of them in flight
// and the rest wait their turn: every one succeeds, exactly once (the counter equals the count),
// the window is never exceeded, and a call with a short deadline behind the burst fails TIMEOUT
// having never been sent. The count is BURST_COMMANDS (default 100,000; lower it on a slow
// machine); the time is printed, not asserted. (The same burst through an embedded Host's own
// router: test/client/burst.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../../src/fleet/request-window.js';
import { FlotillaHost } from '../fixtures/flotilla-host.js';
import { burst } from '../fixtures/burst.js';

const SECRET = 'burst test secret';
const COUNT = Number(process.env.BURST_COMMANDS ?? 100_000);
/** Long enough for the last command of the burst to get its turn on a loaded machine. */
const BURST_TIMEOUT_MS = 600_000;
const START_MS = 60_000;

describe('a burst of commands fired at once by one client, at host processes', () => {
  const hosts: FlotillaHost[] = [];
  let client: Client;

  before(async () => {
    const args = (id: string, zone: string) => ['--id', id, '--zone', zone, '--storage', 'memory', '--listen', '127.0.0.1:0'];
    const h1 = new FlotillaHost('h1', args('h1', 'a'), SECRET);
    hosts.push(h1);
    const { address: seed } = await h1.started(START_MS);
    hosts.push(new FlotillaHost('h2', [...args('h2', 'b'), '--join', seed], SECRET), new FlotillaHost('h3', [...args('h3', 'a'), '--join', seed], SECRET));
    const addresses = await Promise.all(hosts.map(async (h) => (await h.started(START_MS)).address));
    client = await connect({ hosts: addresses, secret: SECRET });
    await client.addGroup('burst', { machine: 'counter', replicas: 3 });
  });

  after(async () => {
    await client?.close();
    await Promise.all(hosts.map((h) => h.kill()));
  });

  it(`${COUNT} commands all succeed, exactly once, within the window`, { timeout: BURST_TIMEOUT_MS }, async (t: TestContext) => {
    const started = performance.now();
    const done = burst(COUNT, () => client.command('burst', { op: 'incr', by: 1 }, { timeoutMs: BURST_TIMEOUT_MS }));
    // Behind the whole burst: its deadline passes long before its turn comes.
    const late = client.command('burst', { op: 'incr', by: 1 }, { timeoutMs: 1 });
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
    // The client is not stalled: a command after the burst is answered at once.
    assert.equal(await client.command('burst', { op: 'incr', by: 1 }, { timeoutMs: 10_000 }), COUNT + 1);
  });
});
