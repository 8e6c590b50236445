import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { EntryType, MessageType } from '../../src/raft/types.js';
import { decodeFrame, encodeEnvelope, encodeFrame, packFrame, PROTOCOL_VERSION } from '../../src/transport/codec.js';
import { flotilla } from '../../src/transport/generated/flotilla.js';
import type { RaftItem, WireItem } from '../../src/transport/items.js';
import { plain, sampleItems } from './fixtures/samples.js';

const protocolError = (err: unknown): boolean => isFlotillaError(err, 'TRANSPORT_PROTOCOL');
const badArgument = (err: unknown): boolean => isFlotillaError(err, 'BAD_ARGUMENT');

/** A frame built straight from the generated classes, bypassing the codec's checks. */
function rawFrame(items: flotilla.Envelope.$Properties[], version = PROTOCOL_VERSION): Uint8Array {
  return flotilla.Frame.encode({ version, items }).finish();
}

describe('codec', () => {
  it('round-trips every item kind, with uint64 fields as plain numbers', () => {
    const items: WireItem[] = [
      ...sampleItems(),
      { kind: 'hello', hostId: 'h1', incarnation: 'abc', nonce: new Uint8Array([1, 2]), features: 1 },
      { kind: 'challenge', hostId: 'h2', incarnation: 'def', nonce: new Uint8Array([3]), features: 0 },
      { kind: 'auth', proof: new Uint8Array([4, 5]) },
      { kind: 'accept', proof: new Uint8Array([6]) },
    ];
    const decoded = decodeFrame(encodeFrame(items));
    assert.deepEqual(plain(decoded), plain(items));
    const first = decoded[0];
    assert.ok(first?.kind === 'raft');
    assert.equal(typeof first.message.term, 'number');
    assert.equal(first.message.term, 2 ** 53 - 1);
  });

  it('decodes a ping or pong of a host that predates generations without one, and refuses a floor above current', () => {
    const [ping, pong] = decodeFrame(rawFrame([{ ping: { sentAt: 1, liveness: 1 } }, { pong: { sentAt: 1, liveness: 1 } }]));
    assert.deepEqual([ping, pong], [
      { kind: 'ping', sentAt: 1, liveness: 'up' },
      { kind: 'pong', sentAt: 1, liveness: 'up' },
    ]);
    const backwards = { ping: { sentAt: 1, liveness: 1, generation: { incarnation: 'x', process: 1, floor: 9, current: 8 } } };
    assert.throws(() => decodeFrame(rawFrame([backwards])), protocolError);
    assert.throws(() => encodeEnvelope({ kind: 'ping', sentAt: 1, liveness: 'up', generation: { incarnation: 'x', process: 1, floor: 9, current: 8 } }), badArgument);
  });

  it('keeps the Raft enums and the schema enums numbered alike', () => {
    const snake = (name: string): string => name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    for (const [name, value] of Object.entries(MessageType)) {
      if (typeof value !== 'number') continue;
      assert.equal(flotilla.MessageType[snake(name) as keyof typeof flotilla.MessageType], value, name);
    }
    for (const [name, value] of Object.entries(EntryType)) {
      if (typeof value !== 'number') continue;
      assert.equal(flotilla.EntryType[snake(name) as keyof typeof flotilla.EntryType], value, name);
    }
  });

  it('decodes an empty frame of the current version to no items', () => {
    assert.deepEqual(decodeFrame(packFrame([])), []);
  });

  it('rejects numbers beyond 2^53 on decode', () => {
    const frame = rawFrame([{ raft: { groupId: 1, type: flotilla.MessageType.APPEND, term: 2 ** 53 } }]);
    assert.throws(() => decodeFrame(frame), protocolError);
    const beat = rawFrame([{ heartbeat: { groupIds: [1], terms: [2 ** 60], commits: [0], rounds: [0], fromSerials: [1], toSerials: [1] } }]);
    assert.throws(() => decodeFrame(beat), protocolError);
    const round = rawFrame([{ heartbeat: { groupIds: [1], terms: [1], commits: [0], rounds: [2 ** 60], fromSerials: [1], toSerials: [1] } }]);
    assert.throws(() => decodeFrame(round), protocolError);
  });

  it('rejects unknown and unspecified enum values', () => {
    assert.throws(() => decodeFrame(rawFrame([{ raft: { groupId: 1, type: 0 } }])), protocolError);
    assert.throws(() => decodeFrame(rawFrame([{ raft: { groupId: 1, type: 99 as flotilla.MessageType } }])), protocolError);
    assert.throws(() => decodeFrame(rawFrame([{ ping: { sentAt: 1, liveness: 0 } }])), protocolError);
    assert.throws(
      () => decodeFrame(rawFrame([{ clientResponse: { requestId: 1, ok: false, errorCode: 999 as flotilla.ErrorCode } }])),
      protocolError,
    );
    const entry = { index: 1, term: 1, type: 7 as flotilla.EntryType };
    assert.throws(() => decodeFrame(rawFrame([{ raft: { type: flotilla.MessageType.APPEND, entries: [entry] } }])), protocolError);
  });

  it('rejects missing required parts', () => {
    const snapshotType = flotilla.MessageType.SNAPSHOT;
    assert.throws(() => decodeFrame(rawFrame([{ raft: { type: snapshotType } }])), protocolError, 'snapshot without chunk');
    assert.throws(() => decodeFrame(rawFrame([{ raft: { type: snapshotType, snapshot: { total: 1 } } }])), protocolError, 'chunk without meta');
    assert.throws(
      () => decodeFrame(rawFrame([{ raft: { type: snapshotType, snapshot: { meta: { index: 1 } } } }])),
      protocolError,
      'meta without membership',
    );
    assert.throws(
      () => decodeFrame(rawFrame([{ raft: { type: snapshotType, snapshot: { meta: { membership: {} }, offset: 5, total: 6, data: new Uint8Array(2) } } }])),
      protocolError,
      'chunk beyond total',
    );
    assert.throws(() => decodeFrame(rawFrame([{ heartbeat: { groupIds: [1, 2], terms: [1], commits: [1, 1] } }])), protocolError);
    const beats = { groupIds: [1, 2], terms: [1, 1], commits: [1, 1], rounds: [1, 1], fromSerials: [1, 1] };
    assert.throws(() => decodeFrame(rawFrame([{ heartbeat: beats }])), protocolError, 'to_serials missing');
    const whole = { ...beats, toSerials: [1, 1] };
    assert.equal(decodeFrame(rawFrame([{ heartbeat: whole }])).length, 1);
    assert.throws(() => decodeFrame(rawFrame([{ heartbeat: { ...whole, quiescing: [2] } }])), protocolError, 'quiescing out of range');
    assert.throws(() => decodeFrame(rawFrame([{ heartbeat: { ...whole, quiescing: [1, 0] } }])), protocolError, 'quiescing out of order');
    assert.throws(() => decodeFrame(rawFrame([{}])), protocolError, 'empty envelope');
    assert.throws(() => decodeFrame(rawFrame([{ clientResponse: { ok: true, errorCode: flotilla.ErrorCode.BUSY } }])), protocolError);
    assert.throws(() => decodeFrame(rawFrame([{ hello: { incarnation: 'x' } }])), protocolError, 'hello without host id');
  });

  it('rejects other protocol versions and garbage', () => {
    assert.throws(() => decodeFrame(rawFrame([], 2)), protocolError);
    assert.throws(() => decodeFrame(new Uint8Array(0)), protocolError, 'version 0');
    assert.throws(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff])), protocolError);
    const valid = encodeFrame(sampleItems());
    assert.throws(() => decodeFrame(valid.subarray(0, valid.length - 3)), protocolError, 'truncated');
    const named = rawFrame([{ raft: { type: flotilla.MessageType.VOTE, from: 'AB' } }]);
    const at = named.indexOf(0x41);
    named.set([0xff, 0xfe], at);
    assert.throws(() => decodeFrame(named), protocolError, 'invalid UTF-8');
  });

  it('refuses to encode invalid items, with BAD_ARGUMENT', () => {
    const append = sampleItems()[0] as RaftItem;
    const bad = (change: (item: RaftItem) => void): void => {
      const item = structuredClone(append);
      change(item);
      assert.throws(() => encodeEnvelope(item), badArgument);
    };
    bad((i) => (i.message.term = 2 ** 53));
    bad((i) => (i.message.index = -1));
    bad((i) => (i.message.commit = 1.5));
    bad((i) => (i.groupId = 2 ** 32));
    bad((i) => (i.message.type = 42 as MessageType));
    bad((i) => (i.message.type = MessageType.Snapshot));
    assert.throws(() => encodeEnvelope({ kind: 'ping', sentAt: 1, liveness: 'sleepy' as 'up' }), badArgument);
  });
});
