import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LmdbBackend, createLmdbStore } from '../../src/storage/lmdb-store.js';
import { logStoreConformance } from './fixtures/conformance.js';
import { crashRounds } from './fixtures/crash-workload.js';

function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'flotilla-lmdb-'));
}

logStoreConformance({
  name: 'lmdb',
  async newPlace() {
    const dir = await tempDir();
    return {
      store: () => createLmdbStore(dir),
      async putRaw(key, value) {
        const backend = new LmdbBackend(dir);
        await backend.open();
        await backend.write([{ type: 'put', key, value }], true);
        await backend.close();
      },
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

describe('lmdb engine', () => {
  it('rolls back a whole batch when the engine rejects one operation', async () => {
    const dir = await tempDir();
    const backend = new LmdbBackend(dir);
    await backend.open();
    const key = Uint8Array.of(9, 1);
    // LMDB refuses keys over 1978 bytes: a real engine error, thrown mid-transaction.
    const tooLong = new Uint8Array(3000).fill(9);
    await assert.rejects(
      backend.write([{ type: 'put', key, value: Uint8Array.of(1) }, { type: 'put', key: tooLong, value: Uint8Array.of(1) }], true),
      /maximum key size/,
    );
    assert.equal(await backend.get(key), undefined);
    await backend.write([{ type: 'put', key, value: Uint8Array.of(2) }], true);
    assert.deepEqual(Buffer.from((await backend.get(key)) ?? []), Buffer.of(2));
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged synced write through SIGKILLs', async () => {
    const dir = await tempDir();
    const { acks } = await crashRounds('lmdb', dir, 5);
    assert.ok(acks >= 5, `only ${acks} acknowledged writes`);
    await rm(dir, { recursive: true, force: true });
  });
});
