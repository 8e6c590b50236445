// Storage bench: durable appends through the real host loop on the rocksdb engine, on one host.
// Every group has a single voter ('h1'), so an entry commits on its own persist: this measures the
// store and the loop (one synced batch per turn for every busy group), not the network.
//  - host loop: for 1, 10, 100 and 1000 groups, K commands of a 16-byte payload in flight per
//    group for a fixed time after a warm-up; entries/s, call -> reply latency, syncs/s
//    (loop.stats.writes) and entries per sync;
//  - raw disk: write 16 bytes + fdatasync in a loop on a file in the same temp dir;
//  - raw rocksdb: synced batches of 1 and 100 entries (16-byte payload) via LogStore.write.
//  - each host-loop row is compared with raw rocksdb 100-entry batches measured just before it.
// Everything lives in a temp dir under os.tmpdir(), removed at the end. Runs in about 40 s.
// Usage: npm run bench:storage   (node --import tsx bench/storage/run.ts [--groups 100,1000])
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Group } from '../../src/group/group.js';
import type { Codec, StateMachine } from '../../src/group/state-machine.js';
import { HostLoop } from '../../src/loop/host-loop.js';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/raft.js';
import { seededRandom } from '../../src/raft/random.js';
import { EntryType, Role, type Entry, type Membership } from '../../src/raft/types.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { openLogStore } from '../../src/storage/open-store.js';

/** `--groups 100,1000` runs only those rows and no raw baselines (for profiling). */
const groupsArg = process.argv.indexOf('--groups');
const ONLY_GROUPS = groupsArg >= 0 ? (process.argv[groupsArg + 1] ?? '').split(',').map(Number) : null;
if (ONLY_GROUPS !== null && !ONLY_GROUPS.every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: run.ts [--groups N,N,...]');
  process.exit(2);
}
const GROUP_COUNTS = ONLY_GROUPS ?? [1, 10, 100, 1000];
/** Commands in flight over all groups (at least one per group). */
const TOTAL_IN_FLIGHT = 512;
const WARMUP_MS = 500;
const MEASURE_MS = 3_000;
const RAW_FSYNC_MS = 2_000;
const RAW_ROCKSDB_MS = 1_500;
const RAW_BATCH_SIZES = [1, 100];
/** The raw batch size every host-loop row is compared with. */
const REFERENCE_BATCH = 100;
const PAYLOAD_BYTES = 16;
const TICK_MS = 10;
const HOST = 'h1';
const MEMBERSHIP: Membership = { voters: [HOST], learners: [] };

const root = mkdtempSync(join(tmpdir(), 'flotilla-bench-storage-'));
const cleanup = (): void => rmSync(root, { recursive: true, force: true });
const deadline = setTimeout(() => {
  console.error('bench: over 120 s, giving up');
  cleanup();
  process.exit(1);
}, 120_000);

// ---------------------------------------------------------------------------------------------
// The state machine: counts commands and payload bytes. Commands are raw bytes (no JSON).

interface Tally {
  commands: number;
  bytes: number;
}

const counter: StateMachine<Tally, Uint8Array, number, 'count'> = {
  init: () => ({ commands: 0, bytes: 0 }),
  command: (s, cmd) => ({ state: { commands: s.commands + 1, bytes: s.bytes + cmd.length }, reply: s.commands + 1 }),
  query: (s) => s.commands,
  snapshot: (s) => new TextEncoder().encode(JSON.stringify(s)),
  restore: (b) => JSON.parse(new TextDecoder().decode(b)) as Tally,
};

const rawBytes: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b };

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

function payload(seq: number): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  new DataView(bytes.buffer).setFloat64(0, seq);
  return bytes;
}

interface Row {
  name: string;
  inFlight: string;
  entriesPerSec: number;
  p50: number;
  p99: number;
  syncsPerSec: number;
  entriesPerSync: number;
  /** entries/s over raw rocksdb's with 100-entry batches, measured just before this row. */
  vsRaw: number;
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function printTable(rows: Row[]): void {
  const header = ['groups', 'in flight', 'entries/s', 'p50 ms', 'p99 ms', 'syncs/s', 'entries/sync', 'vs raw batch 100'];
  const cells = rows.map((r) => [
    r.name, r.inFlight, fmt(r.entriesPerSec), fmt(r.p50, 2), fmt(r.p99, 2), fmt(r.syncsPerSec), fmt(r.entriesPerSync, 1), fmt(r.vsRaw, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => (i === 0 ? s.padEnd(widths[i] ?? 0) : s.padStart(widths[i] ?? 0))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

// ---------------------------------------------------------------------------------------------
// Host loop: N single-voter groups on one rocksdb store

async function benchHostLoop(groupCount: number): Promise<Row> {
  const perGroup = Math.max(1, Math.round(TOTAL_IN_FLIGHT / groupCount));
  const store = await openLogStore({ engine: 'rocksdb', dir: join(root, `loop-${groupCount}`) });
  const loop = new HostLoop({ store, tickMs: TICK_MS, send: () => undefined });
  const groups: Array<Group<Tally, Uint8Array, number, 'count'>> = [];
  for (let id = 0; id < groupCount; id++) {
    const group = Group.create(
      {
        groupId: id,
        raft: { ...DEFAULT_RAFT_CONFIG, id: HOST, random: seededRandom(id + 1) },
        machine: counter,
        codec: rawBytes,
        snapshotEvery: 1_000_000_000, // no snapshots: measure appends only
      },
      MEMBERSHIP,
    );
    groups.push(group);
    loop.addGroup(group);
  }
  loop.start();
  while (!groups.every((g) => g.role === Role.Leader)) await sleep(10);

  let running = true;
  let measuring = false;
  let seq = 0;
  let completed = 0;
  const latencies: number[] = [];
  const worker = async (group: Group<Tally, Uint8Array, number, 'count'>): Promise<void> => {
    while (running) {
      const start = performance.now();
      await group.command(payload(seq++));
      if (measuring) {
        latencies.push(performance.now() - start);
        completed++;
      }
    }
  };
  const workers = groups.flatMap((g) => Array.from({ length: perGroup }, () => worker(g)));

  await sleep(WARMUP_MS);
  measuring = true;
  const writesBefore = loop.stats.writes;
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  measuring = false;
  const elapsedS = (performance.now() - t0) / 1000;
  const writes = loop.stats.writes - writesBefore;
  running = false;
  await Promise.all(workers);
  await loop.stop();
  await store.close();

  latencies.sort((a, b) => a - b);
  return {
    name: String(groupCount),
    inFlight: `${groupCount * perGroup} (${perGroup}/group)`,
    entriesPerSec: completed / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    syncsPerSec: writes / elapsedS,
    entriesPerSync: completed / writes,
    vsRaw: NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// Raw disk: 16 bytes + fdatasync, one at a time

function benchRawFsync(): Row {
  const path = join(root, 'raw-fsync.log');
  const fd = openSync(path, 'a');
  const data = new Uint8Array(PAYLOAD_BYTES);
  const latencies: number[] = [];
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < RAW_FSYNC_MS) {
    writeSync(fd, data);
    fdatasyncSync(fd);
    const end = performance.now();
    latencies.push(end - now);
    now = end;
  }
  closeSync(fd);
  const elapsedS = (now - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name: 'raw write+fdatasync',
    inFlight: '1',
    entriesPerSec: latencies.length / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    syncsPerSec: latencies.length / elapsedS,
    entriesPerSync: 1,
    vsRaw: NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// Raw rocksdb: synced batches of appended entries via LogStore.write, one at a time

async function benchRawRocksdb(store: LogStore, groupId: number, batchSize: number): Promise<Row> {
  const data = new Uint8Array(PAYLOAD_BYTES);
  let next = 1;
  const latencies: number[] = [];
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < RAW_ROCKSDB_MS) {
    const entries: Entry[] = [];
    for (let i = 0; i < batchSize; i++) entries.push({ index: next++, term: 1, type: EntryType.Normal, data });
    const batch = store.newBatch();
    batch.appendEntries(groupId, entries);
    await store.write(batch, { sync: true });
    const end = performance.now();
    latencies.push(end - now);
    now = end;
  }
  const elapsedS = (now - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name: `raw rocksdb batch ${batchSize}`,
    inFlight: '1 batch',
    entriesPerSec: (latencies.length * batchSize) / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    syncsPerSec: latencies.length / elapsedS,
    entriesPerSync: batchSize,
    vsRaw: NaN,
  };
}

// ---------------------------------------------------------------------------------------------

try {
  const started = performance.now();
  const rows: Row[] = [];
  const raw: Row[] = [];
  const references: number[] = [];
  const rawStore = ONLY_GROUPS === null ? await openLogStore({ engine: 'rocksdb', dir: join(root, 'raw-rocksdb') }) : null;
  if (rawStore !== null) {
    raw.push(benchRawFsync());
    for (const [i, size] of RAW_BATCH_SIZES.entries()) raw.push(await benchRawRocksdb(rawStore, i + 1, size));
  }
  // The machine's speed drifts (other load, the disk): each row is compared with raw rocksdb measured just before it.
  let referenceGroup = RAW_BATCH_SIZES.length + 1;
  for (const n of GROUP_COUNTS) {
    const reference = rawStore === null ? null : await benchRawRocksdb(rawStore, referenceGroup++, REFERENCE_BATCH);
    const row = await benchHostLoop(n);
    if (reference !== null) references.push(reference.entriesPerSec);
    rows.push({ ...row, vsRaw: reference === null ? NaN : row.entriesPerSec / reference.entriesPerSec });
  }
  await rawStore?.close();
  const rawBatch = raw.find((r) => r.entriesPerSync === REFERENCE_BATCH);
  for (const r of raw) r.vsRaw = rawBatch === undefined ? NaN : r.entriesPerSec / rawBatch.entriesPerSec;

  console.log(`storage bench: rocksdb, one host, single-voter groups, ${PAYLOAD_BYTES}-byte commands, ${MEASURE_MS / 1000} s per row after ${WARMUP_MS} ms warm-up (temp dir ${root})`);
  printTable([...rows, ...raw]);
  if (references.length > 0) {
    console.log(`vs raw batch ${REFERENCE_BATCH}: raw rocksdb measured just before each row: ${references.map((r) => fmt(r)).join(', ')} entries/s`);
  }
  console.log(`total ${fmt((performance.now() - started) / 1000, 1)} s`);
} finally {
  cleanup();
  clearTimeout(deadline);
}
