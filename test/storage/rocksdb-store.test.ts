import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RocksdbBackend, createRocksdbStore } from '../../src/storage/rocksdb-store.js';
import { logStoreConformance, rejectsWith } from './fixtures/conformance.js';
import { crashRounds } from './fixtures/crash-workload.js';

function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'flotilla-rocksdb-'));
}

logStoreConformance({
  name: 'rocksdb',
  async newPlace() {
    const dir = await tempDir();
    return {
      store: () => createRocksdbStore(dir),
      async putRaw(key, value) {
        const backend = new RocksdbBackend(dir);
        await backend.open();
        await backend.write([{ type: 'put', key, value }], true);
        await backend.close();
      },
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

describe('rocksdb engine', () => {
  it('refuses a second store on an open directory', async () => {
    const dir = await tempDir();
    const store = createRocksdbStore(dir);
    await store.open();
    await rejectsWith(createRocksdbStore(dir).open(), 'STORAGE_UNAVAILABLE', /lock/);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a native module that fails to load as STORAGE_UNAVAILABLE naming lmdb', () => {
    const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
    const dir = join(tmpdir(), 'flotilla-rocksdb-never-created');
    const child = spawnSync(
      process.execPath,
      ['--require', fixture('no-rocksdb.cjs'), '--import', 'tsx', fixture('open-rocksdb.ts'), dir],
      { encoding: 'utf8' },
    );
    const outcome = JSON.parse(child.stdout) as { code?: string; message: string };
    assert.equal(outcome.code, 'STORAGE_UNAVAILABLE', child.stderr);
    assert.match(outcome.message, /rocksdb native module could not be loaded.*storage: 'lmdb'/);
  });

  it('keeps every acknowledged synced write through SIGKILLs', async () => {
    const dir = await tempDir();
    const { acks } = await crashRounds('rocksdb', dir, 5);
    assert.ok(acks >= 5, `only ${acks} acknowledged writes`);
    await rm(dir, { recursive: true, force: true });
  });
});
