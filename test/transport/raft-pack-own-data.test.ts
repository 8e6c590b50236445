// Entries a follower keeps do not pin the frame they arrived in (issue 16 point 4): a received
// pack's entry data are copied out of the frame, one buffer per message, so a group's log keeps
// only its own entries' bytes alive, not the frames it shares with every other group of the pack.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryType, MessageType, message } from '../../src/raft/types.js';
import { decodeFrame, encodeFrame } from '../../src/transport/codec.js';

const append = (groupId: number, n: number) => ({
  groupId, fromSerial: 1, toSerial: 2,
  message: message({
    type: MessageType.Append, from: 'a~1', to: 'b~1', term: 3, index: 10, logTerm: 3, commit: 10,
    entries: Array.from({ length: n }, (_, i) => ({ index: 11 + i, term: 3, type: EntryType.Normal, data: new Uint8Array(100).fill(groupId + i) })),
  }),
});

describe('raft pack entry data', () => {
  it('are the bytes sent, in a buffer of their message alone, not a view into the frame', () => {
    const frame = encodeFrame([{ kind: 'raftPack', messages: [append(1, 3), append(2, 2)] }]);
    const [item] = decodeFrame(frame);
    assert.ok(item?.kind === 'raftPack');
    const [one, two] = item.messages;
    assert.ok(one !== undefined && two !== undefined);
    const buffers = new Set<ArrayBufferLike>();
    for (const p of [one, two]) {
      const own = p.message.entries[0]!.data.buffer;
      for (const [i, e] of p.message.entries.entries()) {
        assert.deepEqual(e.data, new Uint8Array(100).fill(p.groupId + i));
        assert.notEqual(e.data.buffer, frame.buffer, 'a view into the frame');
        assert.equal(e.data.buffer, own, 'one buffer per message');
      }
      assert.equal(own.byteLength, 100 * p.message.entries.length, 'the buffer holds the entries data alone');
      buffers.add(own);
    }
    assert.equal(buffers.size, 2, 'two messages share no buffer');
  });
});
