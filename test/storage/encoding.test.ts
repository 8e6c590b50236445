import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryType } from '../../src/raft/types.js';
import {
  DecodeError,
  MAX_GROUP_ID,
  RecordKind,
  decodeApplied,
  decodeEntry,
  decodeGeneration,
  decodeHardState,
  decodePeerGeneration,
  decodeSnapshot,
  decodeStaleMark,
  decodeVersion,
  encodeApplied,
  encodeEntry,
  encodeGeneration,
  encodeHardState,
  encodePeerGeneration,
  encodeSnapshot,
  encodeStaleMark,
  encodeVersion,
  entryKey,
  groupEnd,
  groupKey,
  groupStart,
  metaKey,
  metaName,
  parseGroupKey,
  prefixEnd,
} from '../../src/storage/encoding.js';

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function assertAscending(keys: Uint8Array[]): void {
  for (let i = 1; i < keys.length; i++) {
    assert.ok(compare(keys[i - 1] as Uint8Array, keys[i] as Uint8Array) < 0, `key ${i - 1} < key ${i}`);
  }
}

describe('storage encoding', () => {
  it('orders keys: a group is one contiguous range, entries in numeric index order', () => {
    const big = 2 ** 53 - 1;
    assertAscending([
      groupStart(0),
      groupKey(0, RecordKind.HardState),
      groupKey(0, RecordKind.Applied),
      groupKey(0, RecordKind.Snapshot),
      entryKey(0, 0),
      entryKey(0, 255),
      entryKey(0, 256),
      entryKey(0, 2 ** 32 - 1),
      entryKey(0, 2 ** 32),
      entryKey(0, big),
      groupEnd(0),
      groupKey(1, RecordKind.HardState),
      entryKey(MAX_GROUP_ID, 1),
      groupEnd(MAX_GROUP_ID),
      metaKey('a'),
      metaKey('a/b'),
      prefixEnd(metaKey('a')),
      metaKey('b/x'),
    ]);
    // The group range ends exactly where metadata begins.
    assert.equal(compare(groupEnd(MAX_GROUP_ID), metaKey('')), 0);
    assert.deepEqual(parseGroupKey(entryKey(MAX_GROUP_ID, big)), { groupId: MAX_GROUP_ID, kind: RecordKind.Entry, index: big });
    assert.deepEqual(parseGroupKey(groupKey(7, RecordKind.Applied)), { groupId: 7, kind: RecordKind.Applied, index: 0 });
    assert.equal(metaName(metaKey('grüße/1')), 'grüße/1');
    assert.deepEqual(prefixEnd(Uint8Array.of(1, 0xff, 0xff)), Uint8Array.of(2));
  });

  it('round-trips every record', () => {
    const entry = { index: 12, term: 2 ** 50, type: EntryType.Config, data: Uint8Array.of(1, 2, 3) };
    assert.deepEqual({ ...decodeEntry(12, encodeEntry(entry)), data: [1, 2, 3] }, { ...entry, data: [1, 2, 3] });
    const hs = { term: 9, vote: 'host-ä', commit: 2 ** 53 - 1 };
    assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
    assert.equal(decodeApplied(encodeApplied(77)), 77);
    assert.equal(decodeVersion(encodeVersion(3)), 3);
    const snapshot = { meta: { index: 5, term: 4, membership: { voters: ['a', 'b'], learners: ['c'] } }, data: Uint8Array.of(9) };
    const decoded = decodeSnapshot(encodeSnapshot(snapshot));
    assert.deepEqual(decoded.meta, snapshot.meta);
    assert.deepEqual([...decoded.data], [9]);
  });

  it('rejects records that do not decode', () => {
    const bad: Array<() => unknown> = [
      () => decodeEntry(1, Uint8Array.of(0, 0)),
      () => decodeEntry(1, Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 1)), // unknown type
      () => decodeEntry(1, Uint8Array.of(0, 0, 0x20, 0, 0, 0, 0, 0, 1)), // term above 2^53
      () => decodeHardState(new Uint8Array(5)),
      () => decodeHardState(Uint8Array.of(...new Uint8Array(16), 0xc3)), // broken UTF-8 vote
      () => decodeApplied(new Uint8Array(7)),
      () => decodeVersion(new Uint8Array(2)),
      () => decodeSnapshot(new Uint8Array(10)),
      () => decodeSnapshot(Uint8Array.of(...new Uint8Array(16), 0, 0, 0, 200)), // membership overrun
      () => decodeSnapshot(Uint8Array.of(...new Uint8Array(16), 0, 0, 0, 2, 0x7b, 0x7d)), // {} lacks lists
      () => parseGroupKey(Uint8Array.of(1, 0, 0, 0, 1, RecordKind.Entry, 0)),
      () => parseGroupKey(metaKey('x')),
    ];
    for (const decode of bad) assert.throws(decode, DecodeError);
  });

  it("round-trips the data directory's generation records, and rejects broken ones", () => {
    assert.equal(decodeGeneration(encodeGeneration(2 ** 53 - 1)), 2 ** 53 - 1);
    const peer = { incarnation: '0123456789abcdef', process: 2 ** 52 + 3, generation: 57 };
    assert.deepEqual(decodePeerGeneration(encodePeerGeneration(peer)), peer);
    const mark = { peer: 'h3', recorded: 57, found: 41 };
    assert.deepEqual(decodeStaleMark(encodeStaleMark(mark)), mark);
    for (const decode of [() => decodeGeneration(new Uint8Array(7)), () => decodePeerGeneration(new Uint8Array(15)), () => decodeStaleMark(Uint8Array.of(...new Uint8Array(16), 0xc3))]) {
      assert.throws(decode, DecodeError);
    }
  });
});
