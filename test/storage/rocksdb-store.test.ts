import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EntryType } from '../../src/raft/types.js';
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

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

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

  it('hands batches bigger than the standing buffer of the writer thread over on their own, between small ones', async () => {
    const dir = await tempDir();
    const backend = new RocksdbBackend(dir);
    await backend.open();
    const key = (n: number): Uint8Array => Uint8Array.of(9, n);
    const value = (n: number, bytes: number): Uint8Array => new Uint8Array(bytes).fill(n);
    const sizes = [10, 3 << 20, 10, (1 << 20) - 5, 1 << 20, 10];
    for (const [n, bytes] of sizes.entries()) await backend.write([{ type: 'put', key: key(n), value: value(n, bytes) }], n % 2 === 0);
    await backend.write([{ type: 'del', key: key(1) }], true);
    for (const [n, bytes] of sizes.entries()) {
      const stored = await backend.get(key(n));
      if (n === 1) assert.equal(stored, undefined);
      else assert.ok(stored !== undefined && Buffer.from(stored).equals(value(n, bytes)), `key ${n}`);
    }
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a range longer than one chunk (1000 pairs) whole, forwards, backwards and limited', async () => {
    const dir = await tempDir();
    const store = createRocksdbStore(dir);
    await store.open();
    const batch = store.newBatch();
    const entries = Array.from({ length: 2500 }, (_, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: Uint8Array.of(i & 0xff) }));
    batch.appendEntries(4, entries);
    await store.write(batch, { sync: false });
    assert.deepEqual((await store.loadGroup(4)).entries.map((e) => e.index), entries.map((e) => e.index));
    assert.equal((await store.entries(4, 1000, 2001)).length, 1001);
    await store.close();
    const backend = new RocksdbBackend(dir);
    await backend.open();
    const all = await backend.range(Uint8Array.of(1), Uint8Array.of(2));
    const reversed = await backend.range(Uint8Array.of(1), Uint8Array.of(2), { reverse: true });
    assert.deepEqual(reversed, [...all].reverse());
    assert.deepEqual(await backend.range(Uint8Array.of(1), Uint8Array.of(2), { reverse: true, limit: 1001 }), reversed.slice(0, 1001));
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets a process that leaves its store open exit on its own, with its synced write kept', async () => {
    const dir = await tempDir();
    const child = spawnSync(process.execPath, ['--import', 'tsx', fixture('write-and-exit.ts'), dir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.status, 0, `exit ${child.status} ${child.signal ?? ''}: ${child.stderr}`);
    assert.equal(child.stdout.trim(), 'written');
    const store = createRocksdbStore(dir);
    await store.open();
    assert.equal(new TextDecoder().decode(await store.getMeta('left-open')), 'yes');
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
});
