// A client response's machine code and details (issue 17, point 8) on the wire: they round-trip,
// a response without them is the same bytes as before they existed, and what a peer sends is
// checked (bounded, JSON, only on COMMAND_FAILED) so a hostile peer cannot hand a caller garbage.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION } from '../../src/transport/codec.js';
import { flotilla } from '../../src/transport/generated/flotilla.js';
import type { ClientResponseItem } from '../../src/transport/items.js';

const protocolError = (pattern: RegExp) => (err: unknown): boolean => isFlotillaError(err, 'TRANSPORT_PROTOCOL') && pattern.test(err.message);

function response(error: ClientResponseItem['error']): ClientResponseItem {
  return { kind: 'clientResponse', requestId: 9, error, payload: new Uint8Array(0), leaderHint: '', leaderTerm: 0 };
}

function raw(r: flotilla.ClientResponse.$Properties): Uint8Array {
  return flotilla.Frame.encode({ version: PROTOCOL_VERSION, items: [{ clientResponse: { requestId: 1, ok: false, errorCode: flotilla.ErrorCode.COMMAND_FAILED, ...r } }] }).finish();
}

describe('machine faults on the wire', () => {
  it('round-trip a code with and without details; a response without one is encoded as before', () => {
    const coded = response({ code: 'COMMAND_FAILED', message: 'refused', machineCode: 'INSUFFICIENT_FUNDS', machineDetails: '{"balance":5}' });
    const bare = response({ code: 'COMMAND_FAILED', message: 'refused', machineCode: 'BARE' });
    const none = response({ code: 'COMMAND_FAILED', message: 'refused' });
    const errors = decodeFrame(encodeFrame([coded, bare, none])).map((item) => (item.kind === 'clientResponse' ? item.error : item.kind));
    assert.deepEqual(errors, [coded.error, bare.error, none.error]);
    const legacy = flotilla.Frame.encode({
      version: PROTOCOL_VERSION,
      items: [{ clientResponse: { requestId: 9, ok: false, errorCode: flotilla.ErrorCode.COMMAND_FAILED, errorMessage: 'refused' } }],
    }).finish();
    assert.deepEqual(encodeFrame([none]), legacy);
  });

  it('refuses details without a code, a code on another error, oversized fields and details that are not JSON', () => {
    assert.throws(() => decodeFrame(raw({ machineDetails: '{}' })), protocolError(/machine details without a machine code/));
    assert.throws(() => decodeFrame(raw({ errorCode: flotilla.ErrorCode.BUSY, machineCode: 'X' })), protocolError(/a machine code on a BUSY response/));
    assert.throws(() => decodeFrame(raw({ machineCode: 'x'.repeat(129) })), protocolError(/more than 128 bytes/));
    assert.throws(() => decodeFrame(raw({ machineCode: 'X', machineDetails: `"${'x'.repeat(4095)}"` })), protocolError(/more than 4096 bytes/));
    assert.throws(() => decodeFrame(raw({ machineCode: 'X', machineDetails: '{not json' })), protocolError(/not JSON/));
    const atLimit = decodeFrame(raw({ machineCode: 'X', machineDetails: `"${'x'.repeat(4094)}"` }))[0];
    assert.ok(atLimit?.kind === 'clientResponse');
    assert.deepEqual(atLimit.error, { code: 'COMMAND_FAILED', message: '', machineCode: 'X', machineDetails: `"${'x'.repeat(4094)}"` });
  });
});
