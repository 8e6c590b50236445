// Synced writes that arrive together, as a host's prepares do in a drain (one replica record each):
// N writes of one 64-byte metadata record, all called at once on a RocksDB store, three times per N.
// KvLogStore hands the writes that queue behind one in flight to the backend together, in one
// write and one sync; this shows what each costs then.
//
//   node --import tsx bench/storage/concurrent-writes.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore } from '../../src/storage/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-concurrent-'));
const store = await openLogStore({ engine: 'rocksdb', dir });
for (const n of [1, 64, 300]) {
  for (let rep = 0; rep < 3; rep++) {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const batch = store.newBatch();
        batch.setMeta(`bench/${n}/${rep}/${i}`, new Uint8Array(64));
        return store.write(batch, { sync: true });
      }),
    );
    const ms = performance.now() - started;
    console.log(`${n} synced writes at once: ${ms.toFixed(1)} ms (${(ms / n).toFixed(3)} ms a write)`);
  }
}
await store.close();
rmSync(dir, { recursive: true, force: true });
