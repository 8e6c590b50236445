// A host started with another cluster secret than the fleet's: its seeds refuse its handshake,
// and activate() says so (TRANSPORT_AUTH) at once rather than timing out as if they were down.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter } from './harness.js';

describe('Host: a wrong cluster secret', () => {
  const hosts: Host[] = [];
  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it('is refused by the seeds, and activate says so before its deadline', async () => {
    const options = { listen: '127.0.0.1:0', storage: 'memory' as const, machines: { counter }, tickMs: 20 };
    const h1 = await Host.start({ ...options, id: 'h1', secret: 'the fleet secret' });
    hosts.push(h1);
    await h1.activate('a');
    const h2 = await Host.start({ ...options, id: 'h2', secret: 'another secret', join: [h1.address] });
    hosts.push(h2);
    await assert.rejects(h2.activate('b', { timeoutMs: 30_000 }), (e) => isFlotillaError(e, 'TRANSPORT_AUTH') && /refused this host/.test(e.message));
    assert.deepEqual(Object.values(h1.hosts()).flat().map((h) => h.id), ['h1'], 'the fleet never heard of h2');
  });
});
