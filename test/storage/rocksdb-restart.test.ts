import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LogStore } from '../../src/storage/log-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, waitFor } from '../loop/harness.js';

const HOSTS = ['r1', 'r2', 'r3'];
const GROUPS = [1, 2];

describe('host loop on rocksdb', () => {
  it('keeps every acknowledged command across a restart of every host', async () => {
    const root = await mkdtemp(join(tmpdir(), 'flotilla-host-loop-'));
    const open = (host: string): Promise<LogStore> => openLogStore({ engine: 'rocksdb', dir: join(root, host) });
    const fleet = new TestFleet(HOSTS);
    const stores = new Map<string, LogStore>();
    try {
      for (const host of HOSTS) {
        const store = await open(host);
        stores.set(host, store);
        await fleet.startHost(host, store, GROUPS, 'create', { snapshotEvery: 4 });
      }
      const acknowledged = new Map<number, string[]>(GROUPS.map((id) => [id, []]));
      for (let i = 0; i < 10; i++) {
        for (const id of GROUPS) {
          await fleet.command(id, { op: 'append', value: `${id}.${i}` });
          acknowledged.get(id)!.push(`${id}.${i}`);
        }
      }
      await fleet.stopAll();
      for (const store of stores.values()) await store.close();

      for (const host of HOSTS) {
        const store = await open(host);
        stores.set(host, store);
        await fleet.startHost(host, store, GROUPS, 'restore', { snapshotEvery: 4 });
      }
      for (const id of GROUPS) {
        await waitFor(`group ${id} to replay`, () => HOSTS.some((h) => fleet.group(h, id).state.length >= 10));
        const state = HOSTS.map((h) => fleet.group(h, id).state).find((s) => s.length >= 10)!;
        assert.deepEqual(state.slice(0, 10), acknowledged.get(id));
        assert.equal(await fleet.command(id, { op: 'append', value: 'after' }), 11);
      }
    } finally {
      await fleet.stopAll();
      for (const store of stores.values()) await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
