// The burst of issue 14's finding 6 through Host.command of an embedded host (three Hosts on the
// ws transport, loopback, memory storage): its router bounds the calls in flight with the same
// window as the client's, so every command of a burst fired at once succeeds, exactly once. The
// client's burst against host processes: test/process/burst.test.ts. The count is BURST_COMMANDS
// / 5 (default 20,000); the time is printed, not asserted.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Host } from '../../src/host/host.js';
import { counter } from '../fleet/harness.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';
import { burst } from '../fixtures/burst.js';

const SECRET = 'burst test secret';
const HOST_COUNT = Math.ceil(Number(process.env.BURST_COMMANDS ?? 100_000) / 5);
/** Long enough for the last command of the burst to get its turn on a loaded machine. */
const BURST_TIMEOUT_MS = 600_000;

async function startHost(id: string, join: string[]): Promise<Host> {
  return Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { counter }, tickMs: 20, reconcileMs: 50 });
}

describe('a burst of commands fired at once at an embedded host', () => {
  const hosts: Host[] = [];

  before(async () => {
    hosts.push(...(await activateThreeHosts(startHost)));
    const h1 = hosts[0]!;
    await h1.addGroup('burst', { machine: 'counter', replicas: 3 });
  });

  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it(`${HOST_COUNT} commands through Host.command of an embedded host all succeed`, { timeout: BURST_TIMEOUT_MS }, async (t: TestContext) => {
    const started = performance.now();
    const host = hosts[0]!;
    const failures = await burst(HOST_COUNT, () => host.command('burst', { op: 'inc', by: 1 }, { timeoutMs: BURST_TIMEOUT_MS }));
    t.diagnostic(`${HOST_COUNT} commands through Host.command in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(failures, new Map(), 'no command failed');
    assert.equal(await hosts[1]!.query('burst', null), HOST_COUNT, 'each applied once');
  });
});
