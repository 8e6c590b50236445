// RaftLog.release: entries durable and applied leave memory (terms and configuration entries
// stay), and every read of the log gives what it gave before: slices through the reader, terms,
// configuration scans, compaction, truncation after them, a snapshot restore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../../src/common/assert.js';
import { RaftLog } from '../../src/raft/log.js';
import { EntryType, type Entry, type LogReader } from '../../src/raft/types.js';

const text = new TextEncoder();

function entry(index: number, term: number, type = EntryType.Normal): Entry {
  return { index, term, type, data: text.encode(`entry ${index}`) };
}

/** A log of entries 1..count (term = 1 + index / 10), all durable in `stored`, applied up to `applied`. */
function setup(count: number, applied: number) {
  const stored = new Map<number, Entry>();
  const reads: Array<[number, number]> = [];
  const reader: LogReader = (from, to, maxBytes) => {
    reads.push([from, to]);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from; i < to && stored.has(i); i++) {
      const e = stored.get(i)!;
      out.push(e);
      bytes += e.data.length;
      if (bytes > maxBytes) break;
    }
    return out;
  };
  const all: Entry[] = [];
  for (let i = 1; i <= count; i++) {
    const e = entry(i, 1 + Math.floor(i / 10), i % 7 === 0 ? EntryType.Config : EntryType.Normal);
    all.push(e);
    stored.set(i, e);
  }
  const log = new RaftLog(0, 0, [...all], applied, applied, reader);
  return { log, all, stored, reads };
}

const indexes = (es: Entry[] | undefined): number[] | undefined => es?.map((e) => e.index);

describe('raft log release', () => {
  it('keeps every read the same after releasing durable, applied entries', () => {
    const { log, all, reads } = setup(40, 30);
    const before = { slice: log.slice(5, 41), terms: all.map((e) => log.term(e.index)), configs: [...log.reverse()].filter((e) => e.type === EntryType.Config) };
    log.release(25);
    assert.equal(log.releasedTo, 25);
    assert.deepEqual(log.slice(5, 41), before.slice, 'a slice across released and held entries');
    assert.deepEqual(reads, [[5, 26]], 'one read back, of the released part only');
    assert.deepEqual(all.map((e) => log.term(e.index)), before.terms);
    assert.deepEqual([...log.reverse()].filter((e) => e.type === EntryType.Config), before.configs, 'configuration entries, newest first');
    assert.deepEqual(log.entry(12), all[11]);
    assert.equal(log.lastIndex(), 40);
    assert.deepEqual(log.matchTerm(20, 3), true);
    assert.deepEqual(log.findConflictByTerm(25, 2), { index: 19, term: 2 });
  });

  it('releases nothing unapplied or not durable, nor without a reader', () => {
    const { log } = setup(40, 30);
    log.release(35);
    assert.equal(log.releasedTo, 30, 'not past applied');
    log.applied = 40;
    log.stable = 33;
    log.release(40);
    assert.equal(log.releasedTo, 33, 'not past stable');
    const plain = new RaftLog(0, 0, [entry(1, 1), entry(2, 1)], 2, 2);
    plain.release(2);
    assert.equal(plain.releasedTo, 0);
  });

  it('bounds a slice by bytes within what is read back, and hands out unapplied entries from memory', () => {
    const { log, reads } = setup(40, 30);
    log.release(30);
    const bytes = 'entry 10'.length;
    assert.deepEqual(indexes(log.slice(10, 41, 3 * bytes)), [10, 11, 12]);
    assert.deepEqual(indexes(log.slice(10, 41, 0)), [10], 'at least one entry');
    reads.length = 0;
    log.committed = 40;
    assert.deepEqual(indexes(log.unapplied(Infinity) ?? []), [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    assert.deepEqual(reads, [], 'applying never reads back');
  });

  it('compacts within and beyond the released entries, keeping later configuration entries', () => {
    const { log, all } = setup(40, 40);
    log.release(30);
    log.compactTo(10);
    assert.equal(log.term(10), all[9]!.term);
    assert.equal(log.term(9), undefined);
    assert.equal(log.slice(10, 12), undefined, 'compacted away: a snapshot is needed');
    assert.deepEqual(indexes(log.slice(11, 13)), [11, 12]);
    assert.deepEqual([...log.reverse()].filter((e) => e.type === EntryType.Config).map((e) => e.index), [35, 28, 21, 14]);
    log.compactTo(35);
    assert.equal(log.releasedTo, 35);
    assert.deepEqual(indexes(log.slice(36, 41)), [36, 37, 38, 39, 40]);
    assert.deepEqual([...log.reverse()].filter((e) => e.type === EntryType.Config).map((e) => e.index), []);
    log.restore(50, 6);
    assert.equal(log.lastIndex(), 50);
    assert.equal(log.releasedTo, 50);
  });

  it('truncates a conflict after the released entries, and refuses to within them', () => {
    const { log } = setup(40, 30);
    log.release(30);
    const appended = log.maybeAppend(35, log.term(35)!, [entry(36, 9), entry(37, 9)], () => undefined);
    assert.equal(appended, 37);
    assert.equal(log.lastIndex(), 37);
    assert.equal(log.term(36), 9);
    assert.throws(() => log.maybeAppend(20, log.term(20)!, [entry(21, 99)], () => undefined), AssertionError);
  });

  it('fails loudly when the store gives back other entries than were released', () => {
    const { log, stored } = setup(40, 30);
    log.release(30);
    stored.set(12, entry(12, 77));
    assert.throws(() => log.slice(10, 20), (err: unknown) => err instanceof AssertionError && /entry 12 \(term 77\)/.test(err.message));
    stored.delete(10);
    assert.throws(() => log.slice(10, 20), AssertionError);
  });
});
