// Client.deactivate of a host that dies (issue 14, part 6): it used to poll the fleet view until
// its whole deadline (120 s by default). It fails UNAVAILABLE as soon as the fleet marks the host
// failed, during the drain or before it. Four hosts embedded here (memory storage, ws transport),
// with a 1 s failure timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter } from '../fleet/harness.js';

const SECRET = 'deactivate failed test secret';
const DEADLINE_MS = 60_000;

async function startHost(id: string, zone: string, join: string[]): Promise<Host> {
  const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines: { counter }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 1000 });
  await host.activate(zone);
  return host;
}

function unavailableAsFailed(host: string): (err: unknown) => boolean {
  return (err) => isFlotillaError(err, 'UNAVAILABLE') && err.details.host === host && /is failed/.test(err.message);
}

describe('client deactivate of a host that dies', () => {
  const hosts = new Map<string, Host>();
  let client: Client;

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    hosts.set('h1', h1);
    for (const [id, zone] of [['h2', 'b'], ['h3', 'a'], ['h4', 'b']] as const) hosts.set(id, await startHost(id, zone, [`h1@${h1.address}`]));
    client = await connect({ hosts: [h1.address], secret: SECRET });
    for (let g = 0; g < 6; g++) await client.addGroup(`g${g}`, { machine: 'counter', replicas: 3 });
  });

  after(async () => {
    await client.close();
    for (const h of hosts.values()) await h.stop();
  });

  it('fails as soon as the fleet marks it failed mid-drain, not at its deadline', async () => {
    const h4 = hosts.get('h4')!;
    const started = performance.now();
    let states: string[] = [];
    const drain = client.deactivate('h4', {
      timeoutMs: DEADLINE_MS,
      onProgress: (view) => {
        const state = Object.values(view.hosts).flat().find((h) => h.id === 'h4')?.state ?? '?';
        if (states.at(-1) !== state) states = [...states, state];
        // It dies once it took the request (stop() moves nothing): at the first look, before a drain of
        // a few groups could finish.
        if (h4.localState !== 'stopped') void h4.stop();
      },
    });
    await assert.rejects(drain, unavailableAsFailed('h4'));
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs < DEADLINE_MS / 4, `failed after ${Math.round(elapsedMs)} ms (deadline ${DEADLINE_MS} ms)`);
    assert.equal(states.at(-1), 'failed', states.join(' -> '));
  });

  it('fails at once when the host is already failed', async () => {
    const started = performance.now();
    await assert.rejects(client.deactivate('h4', { timeoutMs: DEADLINE_MS }), unavailableAsFailed('h4'));
    assert.ok(performance.now() - started < 1000, 'at once: the fleet view says so');
  });
});
