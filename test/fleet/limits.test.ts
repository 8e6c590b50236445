// The fleet's size limits (src/fleet/limits.ts): the numbers its header states for the default
// frame, and that an item at each limit with every other field at its worst is exactly one frame
// (so the limits are neither loose nor one byte too generous), for the default frame and a small one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLogCommand } from '../../src/group/entry-format.js';
import { MAX_CLIENT_ID_BYTES } from '../../src/group/sessions.js';
import { fleetLimits } from '../../src/fleet/limits.js';
import { MAX_MEMBER_ID_BYTES, memberId } from '../../src/fleet/member-id.js';
import { MAX_NAME_LENGTH } from '../../src/fleet/names.js';
import { EntryType, MessageType, message, type Entry } from '../../src/raft/types.js';
import { FRAME_OVERHEAD, encodeEnvelope, envelopeCost } from '../../src/transport/codec.js';
import type { Item } from '../../src/transport/items.js';

const MAX = Number.MAX_SAFE_INTEGER;
const member = (host: string): string => memberId(host, MAX);
const longHost = (c: string): string => c.repeat(MAX_NAME_LENGTH);

/** Bytes of a frame holding `item` alone. */
function frameBytes(item: Item): number {
  return FRAME_OVERHEAD + envelopeCost(encodeEnvelope(item));
}

function append(entries: Entry[]): Item {
  return {
    kind: 'raft',
    groupId: 2 ** 32 - 1,
    message: message({
      type: MessageType.Append, from: member(longHost('a')), to: member(longHost('b')), term: MAX, logTerm: MAX, index: MAX,
      commit: MAX, reject: true, rejectHint: MAX, context: MAX, force: true, entries,
    }),
  };
}

const entry = (dataBytes: number): Entry => ({ index: MAX, term: MAX, type: EntryType.Config, data: new Uint8Array(dataBytes) });

function request(payloadBytes: number): Item {
  return {
    kind: 'clientRequest', requestId: MAX, group: longHost('g'), requestKind: 'command', payload: new Uint8Array(payloadBytes),
    clientId: 'c'.repeat(MAX_CLIENT_ID_BYTES), seq: MAX, consistency: 'local', timeoutMs: 2 ** 32 - 1, ackedBelow: MAX,
  };
}

function response(payloadBytes: number): Item {
  return { kind: 'clientResponse', requestId: MAX, error: null, payload: new Uint8Array(payloadBytes), leaderHint: longHost('h'), leaderTerm: MAX };
}

describe('fleet size limits', () => {
  it('are the numbers the derivation states for the default 4 MiB frame', () => {
    assert.equal(MAX_MEMBER_ID_BYTES, member(longHost('a')).length);
    assert.deepEqual(fleetLimits(4 * 1024 * 1024), {
      maxFrameBytes: 4_194_304,
      maxAppendBytes: 1_048_576,
      entryOverheadBytes: 30,
      maxEntryBytes: 4_193_900,
      snapshotChunkBytes: 1_048_576,
      maxSnapshotMembers: 21_252,
      maxCommandBytes: 4_192_857,
      maxQueryBytes: 4_193_092,
      maxReplyBytes: 4_194_136,
      maxErrorMessageBytes: 1024,
      maxJsonDepth: 64,
    });
  });

  for (const frame of [4 * 1024 * 1024, 16 * 1024]) {
    describe(`for a frame of ${frame} bytes`, () => {
      const limits = fleetLimits(frame);

      it('an Append of one largest entry is exactly a frame; a byte more is over it', () => {
        assert.equal(frameBytes(append([entry(limits.maxEntryBytes)])), frame);
        assert.equal(frameBytes(append([entry(limits.maxEntryBytes + 1)])), frame + 1);
      });

      it('a largest command, with the longest session, is a largest entry at most', () => {
        const payload = new Uint8Array(limits.maxCommandBytes);
        const data = encodeLogCommand(payload, { clientId: 'c'.repeat(MAX_CLIENT_ID_BYTES), seq: MAX, ackedBelow: MAX });
        assert.ok(data.length <= limits.maxEntryBytes, `${data.length} > ${limits.maxEntryBytes}`);
      });

      it('an Append batch of maxAppendBytes, each entry counted with entryOverheadBytes, fits a frame', () => {
        // Many small entries: the framing of each is what a count of their data alone would miss.
        const perEntry = 1 + limits.entryOverheadBytes;
        const entries = Array.from({ length: Math.floor(limits.maxAppendBytes / perEntry) }, () => entry(1));
        assert.ok(frameBytes(append(entries)) <= frame);
      });

      it('a snapshot chunk of snapshotChunkBytes with maxSnapshotMembers members fits a frame', () => {
        const ids = Array.from({ length: limits.maxSnapshotMembers }, (_, i) => member(`${i}`.padStart(MAX_NAME_LENGTH, 'h')));
        const data = new Uint8Array(limits.snapshotChunkBytes);
        const item: Item = {
          kind: 'raft',
          groupId: 2 ** 32 - 1,
          message: message({
            type: MessageType.Snapshot, from: member(longHost('a')), to: member(longHost('b')), term: MAX, logTerm: MAX, index: MAX,
            commit: MAX, reject: true, rejectHint: MAX, context: MAX, force: true,
            snapshot: { meta: { index: MAX, term: MAX, membership: { voters: ids.slice(0, 7), learners: ids.slice(7) } }, offset: MAX - data.length, total: MAX, data },
          }),
        };
        assert.ok(frameBytes(item) <= frame, `${frameBytes(item)} > ${frame}`);
      });

      it('a request of maxQueryBytes is exactly a frame, and a command is below it', () => {
        assert.equal(frameBytes(request(limits.maxQueryBytes)), frame);
        assert.ok(limits.maxCommandBytes <= limits.maxQueryBytes);
      });

      it('a response of maxReplyBytes is exactly a frame; one with the longest error message fits', () => {
        assert.equal(frameBytes(response(limits.maxReplyBytes)), frame);
        assert.ok(limits.maxReplyBytes >= limits.maxCommandBytes, 'a reply that echoes a command fits');
        const failure: Item = {
          kind: 'clientResponse', requestId: MAX, error: { code: 'TRANSPORT_CLOSED', message: 'e'.repeat(limits.maxErrorMessageBytes) },
          payload: new Uint8Array(0), leaderHint: longHost('h'), leaderTerm: MAX,
        };
        assert.ok(frameBytes(failure) <= frame);
      });
    });
  }

  it('refuses a frame too small for a fleet', () => {
    assert.throws(() => fleetLimits(2048), /too small/);
  });
});
