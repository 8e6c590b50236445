// The raft pack codec (src/transport/raft-pack.ts) through the frame codec: what goes in comes out,
// at every field's extremes; anything malformed, truncated or lying about its sizes is a
// TRANSPORT_PROTOCOL error, never a crash; what cannot be packed is refused before it is sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { EntryType, MessageType, message, type Message } from '../../src/raft/types.js';
import { decodeFrame, encodeFrame } from '../../src/transport/codec.js';
import type { PackedMessage, RaftPackItem } from '../../src/transport/items.js';
import { isPackable, packedBytes } from '../../src/transport/raft-pack.js';
import { varintBytes } from '../../src/transport/varint.js';

const MAX = Number.MAX_SAFE_INTEGER;
const bytes = (...b: number[]) => Uint8Array.from(b);

const append = (index: number, terms: number[], fields: Partial<Message> = {}): Message =>
  message({
    type: MessageType.Append, from: 'a~1', to: 'b~1', term: 7, index, logTerm: 6, commit: index,
    entries: terms.map((term, i) => ({ index: index + 1 + i, term, type: i % 2 === 0 ? EntryType.Normal : EntryType.Config, data: bytes(i, 255, i) })),
    ...fields,
  });

const packed = (groupId: number, m: Message, fromSerial = 1, toSerial = 2): PackedMessage => ({ groupId, fromSerial, toSerial, message: m });

/** What a receiver gets: the pack's messages, with from/to as the pack leaves them ('') and entry data as plain arrays. */
function roundTrip(messages: PackedMessage[]): PackedMessage[] {
  const [item, ...rest] = decodeFrame(encodeFrame([{ kind: 'raftPack', messages }]));
  assert.equal(rest.length, 0);
  assert.ok(item?.kind === 'raftPack');
  return item.messages;
}

function withoutMembers(p: PackedMessage): PackedMessage {
  return { ...p, message: { ...p.message, from: '', to: '', entries: p.message.entries.map((e) => ({ ...e, data: Uint8Array.from(e.data) })) } };
}

/** The envelope's body of a one-pack frame, and a function to make a frame of other body bytes. */
function frameAround(messages: PackedMessage[]): { body: Uint8Array; frame: (body: Uint8Array) => Uint8Array } {
  const frame = encodeFrame([{ kind: 'raftPack', messages }]);
  let bodyBytes = 0;
  for (const p of messages) bodyBytes += packedBytes(p);
  const body = frame.subarray(frame.length - bodyBytes);
  return {
    body: Uint8Array.from(body),
    frame: (b) => {
      assert.ok(b.length < 128, 'one length byte in this helper');
      // version field (2 bytes), the item's tag and length, the envelope's tag (raft_pack = 8) and length.
      return Uint8Array.from([...frame.subarray(0, 2), 0x12, b.length + 2, 0x42, b.length, ...b]);
    },
  };
}

const protocolError = (err: unknown) => isFlotillaError(err, 'TRANSPORT_PROTOCOL');

describe('raft pack codec', () => {
  it('carries every packable message type, with its entries, flags and numbers up to 2^53, unchanged', () => {
    const messages: PackedMessage[] = [
      packed(0, append(10, [6, 7, 7])),
      packed(2 ** 32 - 1, append(MAX - 3, [MAX, 1], { term: MAX, logTerm: MAX, commit: MAX, context: MAX }), MAX, MAX),
      packed(5, message({ type: MessageType.AppendResp, from: 'b~1', to: 'a~1', term: 7, index: 12, reject: true, rejectHint: 9, logTerm: 3 })),
      packed(6, message({ type: MessageType.Vote, from: 'b~1', to: 'a~1', term: 8, index: 4, logTerm: 2, force: true })),
      packed(7, message({ type: MessageType.PreVoteResp, from: 'b~1', to: 'a~1', term: 9, reject: true })),
      packed(8, message({ type: MessageType.SnapshotResp, from: 'b~1', to: 'a~1', term: 9, index: 65536, logTerm: 40 })),
      packed(9, message({ type: MessageType.TimeoutNow, from: 'b~1', to: 'a~1', term: 9 })),
      packed(10, append(0, [])),
      packed(11, append(3, [4], { entries: [{ index: 4, term: 4, type: EntryType.Normal, data: new Uint8Array(0) }] })),
    ];
    assert.deepEqual(roundTrip(messages).map(withoutMembers), messages.map(withoutMembers));
  });

  it('sizes each message exactly as it writes it', () => {
    const messages = [packed(3, append(1000, [5, 5])), packed(300, append(2 ** 40, [2 ** 40]), 2 ** 33, 0)];
    const frame = encodeFrame([{ kind: 'raftPack', messages }]);
    const body = messages.reduce((n, p) => n + packedBytes(p), 0);
    const envelope = 1 + varintBytes(body) + body;
    // The frame: its version field (2 bytes), the item's tag and length, the envelope (its tag, length, body).
    assert.equal(frame.length, 2 + 1 + varintBytes(envelope) + envelope);
  });

  it('refuses to send what cannot be packed: a snapshot chunk, entries that do not follow the index', () => {
    const snapshot = message({
      type: MessageType.Snapshot, from: 'a~1', to: 'b~1', term: 1,
      snapshot: { meta: { index: 5, term: 1, membership: { voters: ['a~1'], learners: [] } }, offset: 0, total: 1, data: bytes(1) },
    });
    const gap = append(4, [1, 1]);
    gap.entries[1]!.index = 9;
    for (const m of [snapshot, gap]) {
      assert.equal(isPackable(m), false);
      const item: RaftPackItem = { kind: 'raftPack', messages: [packed(1, m)] };
      assert.throws(() => encodeFrame([item]), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
    }
  });

  it('rejects a pack cut short anywhere', () => {
    const { body, frame } = frameAround([packed(1, append(10, [7, 7]))]);
    for (let end = 1; end < body.length; end++) {
      assert.throws(() => decodeFrame(frame(body.subarray(0, end))), protocolError, `cut at byte ${end} of ${body.length}`);
    }
  });

  it('rejects unknown types and flags, an entry count beyond its bytes, and varints past 2^53', () => {
    const { body, frame } = frameAround([packed(1, append(10, [7]))]);
    // Offsets in this body: group id 0, type 1, serials 2-3, term 4, log term 5, index 6, commit 7,
    // flags 8, reject hint 9, context 10, entry count 11, entry: term 12, type 13, length 14, data.
    const broken = (at: number, value: number) => {
      const b = Uint8Array.from(body);
      b[at] = value;
      return b;
    };
    for (const [what, b] of [
      ['a snapshot type', broken(1, MessageType.Snapshot)],
      ['an unknown type', broken(1, 99)],
      ['unknown flags', broken(8, 4)],
      ['an entry count beyond the bytes', broken(11, 100)],
      ['an unknown entry type', broken(13, 7)],
      ['an entry longer than the pack', broken(14, 60)],
      ['a varint of 9 bytes', Uint8Array.from([1, MessageType.Append, ...Array(8).fill(0xff), 1, ...body.subarray(4)])],
      ['a varint of 2^53', Uint8Array.from([1, MessageType.Append, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, ...body.subarray(3)])],
      ['a group id above 2^32', Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x10, ...body.subarray(1)])],
    ] as const) {
      assert.throws(() => decodeFrame(frame(b)), protocolError, what);
    }
  });

  it('decodes random bytes to messages or a TRANSPORT_PROTOCOL error, nothing else', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const { body, frame } = frameAround([packed(1, append(10, [7]))]);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(body);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      try {
        const [item] = decodeFrame(frame(b));
        assert.ok(item?.kind === 'raftPack');
      } catch (err) {
        assert.ok(protocolError(err), `mutation ${i}: ${String(err)}`);
      }
    }
  });
});
