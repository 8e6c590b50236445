// The RocksDB engine on data directories written by the previous release (npm `rocksdb` 5.2.1,
// RocksDB 6.17.3), made by fixtures/rocksdb-5.2.1/generate.ts (see its README.md): one whose
// records are all still in the WAL opens and reads back exactly what was written; one with
// Snappy-compressed SST files, which this build cannot read, is refused untouched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EntryType } from '../../src/raft/types.js';
import { createRocksdbStore } from '../../src/storage/rocksdb-store.js';
import { rejectsWith } from './fixtures/conformance.js';
import { type StoreContents, readBack } from './fixtures/rocksdb-5.2.1/read-back.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/rocksdb-5.2.1/${name}`, import.meta.url));

interface Manifest {
  files: { walOnly: Record<string, number>; restarted: Record<string, number> };
  walOnly: StoreContents;
  restarted: StoreContents;
}

/** Name -> sha256 of every file in a directory. */
async function digests(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, createHash('sha256').update(await readFile(join(dir, n))).digest('hex')] as const)),
  );
}

describe('rocksdb engine on data dirs of the rocksdb 5.2.1 release', () => {
  let root = '';
  let manifest: Manifest;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'flotilla-rocksdb5-'));
    const tar = spawnSync('tar', ['-xzf', fixture('data.tar.gz'), '-C', root], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
    manifest = JSON.parse(await readFile(fixture('manifest.json'), 'utf8')) as Manifest;
    for (const [dir, files] of [['wal-only', manifest.files.walOnly], ['restarted', manifest.files.restarted]] as const) {
      assert.deepEqual(Object.keys(await digests(join(root, dir))), Object.keys(files), `${dir} is the directory the manifest describes`);
    }
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('opens one whose records are all in the WAL and reads back exactly what was written', async () => {
    const store = createRocksdbStore(join(root, 'wal-only'));
    await store.open();
    assert.deepEqual(await readBack(store), manifest.walOnly);
    const batch = store.newBatch();
    batch.appendEntries(1, [{ index: 31, term: 1, type: EntryType.Normal, data: Uint8Array.of(7) }]);
    await store.write(batch, { sync: true });
    await store.close();
    // The first open moved the old WAL's records into an SST of this RocksDB; the next reads that.
    await store.open();
    const contents = await readBack(store);
    assert.deepEqual(contents.groups[0]?.entries.at(-1), { index: 31, term: 1, type: EntryType.Normal, data: 'Bw==' });
    contents.groups[0]?.entries.pop();
    assert.deepEqual(contents, manifest.walOnly);
    await store.close();
  });

  it('refuses one with Snappy-compressed SST files as STORAGE_VERSION, naming the migration, and leaves it as it was', async () => {
    const dir = join(root, 'restarted');
    const before = await digests(dir);
    await rejectsWith(createRocksdbStore(dir).open(), 'STORAGE_VERSION', /1 SST file\(s\) \(000008\.sst\) of flotilla.s earlier engine.*Snappy.*migrate-rocksdb5\.mjs.*new host id.*empty data directory/);
    assert.deepEqual(await digests(dir), before);
  });
});
