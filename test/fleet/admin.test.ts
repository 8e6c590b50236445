// Admin requests and replies between hosts, checked as they arrive: a malformed request is
// BAD_ARGUMENT, a malformed reply TRANSPORT_PROTOCOL, each naming the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { decodeAdminReply, decodeAdminRequest, encodeAdmin, type AdminReply, type AdminRequest } from '../../src/fleet/admin.js';

const encoder = new TextEncoder();
const bytes = (value: unknown) => encoder.encode(JSON.stringify(value));
const activate = { op: 'activateHost', id: 'h1', zone: 'a', address: 'h1:1', incarnation: 'i1', activation: 'x' } as const;

describe('admin payloads', () => {
  it('decodes every request and reply hosts send, as sent', () => {
    const requests: AdminRequest[] = [
      { op: 'join', command: activate },
      { op: 'cluster', command: { op: 'removeGroup', name: 'g' } },
      { op: 'prepare', groupId: 3, group: 'g', machine: 'kv', member: 'h2~4', term: 7 },
      { op: 'memberStatus', groupId: 3, member: 'h2~4' },
      { op: 'leaderCheck' },
    ];
    for (const r of requests) assert.deepEqual(decodeAdminRequest(encodeAdmin(r)), r);
    const replies: AdminReply[] = [
      { op: 'prepare', ok: true },
      { op: 'prepare', ok: false, tombstone: 5 },
      { op: 'memberStatus', member: false },
      { op: 'leaderCheck', leader: 'h1~1' },
      { op: 'leaderCheck', leader: 'h1~1', warnings: ['degraded'] },
      { op: 'cluster', reply: { ok: false, code: 'NO_SUCH_GROUP', message: 'no group named g' } },
    ];
    for (const r of replies) assert.deepEqual(decodeAdminReply(encodeAdmin(r), r.op), r);
  });

  it('refuses a malformed request BAD_ARGUMENT', () => {
    const malformed: Array<[Uint8Array, RegExp]> = [
      [encoder.encode('nope'), /^an admin request is not JSON$/],
      [bytes({ op: 'drop' }), /op is the string "drop", not one of join, cluster, prepare, memberStatus, leaderCheck/],
      [bytes({ op: 'join', command: { op: 'removeGroup', name: 'g' } }), /command\.op is the string "removeGroup", not activateHost/],
      [bytes({ op: 'join', command: { ...activate, zone: null } }), /command\.zone is null, not a string/],
      [bytes({ op: 'prepare', groupId: 3, group: 'g', machine: 'kv', member: 'h2~4' }), /term is missing, not an integer/],
      [bytes({ op: 'memberStatus', groupId: '3', member: 'h2~4' }), /groupId is the string "3", not an integer/],
    ];
    for (const [payload, message] of malformed) {
      assert.throws(() => decodeAdminRequest(payload), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && message.test(err.message));
    }
  });

  it('refuses a malformed reply TRANSPORT_PROTOCOL', () => {
    const malformed: Array<[Uint8Array, AdminReply['op'], RegExp]> = [
      [bytes({ op: 'memberStatus', member: true }), 'prepare', /^an admin prepare reply: op is the string "memberStatus", not one of prepare$/],
      [bytes({ op: 'prepare', ok: false }), 'prepare', /tombstone is missing, not an integer/],
      [bytes({ op: 'memberStatus' }), 'memberStatus', /member is missing, not true or false/],
      [bytes({ op: 'leaderCheck', leader: 'h1~1', warnings: [1] }), 'leaderCheck', /warnings\[0\] is 1, not a string/],
      [bytes({ op: 'cluster', reply: { ok: 'yes' } }), 'cluster', /reply\.ok is the string "yes", not true or false/],
    ];
    for (const [payload, op, message] of malformed) {
      assert.throws(() => decodeAdminReply(payload, op), (err) => isFlotillaError(err, 'TRANSPORT_PROTOCOL') && message.test(err.message));
    }
  });
});
