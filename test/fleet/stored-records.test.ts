// The records a host keeps in its store's metadata are decoded through validators: a malformed
// one (a damaged or foreign data directory) fails the start with STORAGE_CORRUPT naming the
// record and the field, not with a SyntaxError or a wrong value taken for a good one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { LocalMembers } from '../../src/fleet/local-members.js';
import { Host } from '../../src/host/host.js';
import { HostLoop } from '../../src/loop/host-loop.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import { counter } from './harness.js';

const encoder = new TextEncoder();

/** A memory store holding `records` in its metadata. */
async function storeWith(records: Record<string, string>): Promise<LogStore> {
  const store = await openLogStore({ engine: 'memory' });
  const batch = store.newBatch();
  for (const [key, value] of Object.entries(records)) batch.setMeta(key, encoder.encode(value));
  await store.write(batch, { sync: true });
  return store;
}

function corrupt(...words: string[]): (err: unknown) => boolean {
  return (err) => isFlotillaError(err, 'STORAGE_CORRUPT') && words.every((w) => err.message.includes(w));
}

async function loadMembers(records: Record<string, string>): Promise<void> {
  const store = await storeWith(records);
  const loop = new HostLoop({ store, send: () => undefined, tickMs: 50 });
  const members = new LocalMembers(store, loop, () => {
    throw new Error('no replica is built from a malformed record');
  });
  try {
    await members.load();
  } finally {
    await store.close();
  }
}

describe('stored records', () => {
  it("refuses a member record or a tombstone that is not one (LocalMembers.load)", async () => {
    await assert.rejects(loadMembers({ 'member/7': '{"groupId":7,"group":"g7","machine":"list"}' }), corrupt('member/7', 'member'));
    await assert.rejects(loadMembers({ 'member/7': 'not json' }), corrupt('member/7', 'not JSON'));
    await assert.rejects(loadMembers({ 'tomb/7': '{"serial":"3"}' }), corrupt('tomb/7', 'serial'));
  });

  it('refuses a host identity or saved peers that are not ones (Host.start)', async () => {
    const start = async (records: Record<string, string>): Promise<void> => {
      const store = await storeWith(records);
      const transport = new MemoryHub().endpoint('h1');
      try {
        const host = await Host.start({ id: 'h1', store, transport, machines: { counter } });
        await host.stop();
      } finally {
        await transport.close();
        await store.close();
      }
    };
    await assert.rejects(start({ host: '{"id":"h1"}' }), corrupt('identity', 'incarnation'));
    await assert.rejects(start({ host: '{"id":"h1","incarnation":"abc"}', 'fleet/peers': '[["h2"]]' }), corrupt('fleet/peers', 'an id and an address'));
    // Well-formed ones start.
    await start({ host: '{"id":"h1","incarnation":"abc"}', 'fleet/peers': '[["h2","127.0.0.1:1"]]' });
  });
});
