// The wiring's memory of member ids: the same answers as the naming it wraps, for ids with and
// without serials, before and after its bound makes it start over.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { FLEET_MEMBERS } from '../../src/fleet/member-id.js';
import { cachedMembers, type MemberNaming } from '../../src/loop/member-naming.js';

describe('cachedMembers', () => {
  test('answers as the fleet naming does, within and past its bound', () => {
    let built = 0;
    const counting: MemberNaming = { ...FLEET_MEMBERS, member: (host, serial) => (built++, FLEET_MEMBERS.member(host, serial)) };
    const cached = cachedMembers(counting, 8);
    const ids = ['h1~1', 'h2~7', 'host-with~tilde~3', 'h3~x', 'h4', 'h5~01', ...Array.from({ length: 40 }, (_, i) => `h${i % 5}~${i}`)];
    for (let pass = 0; pass < 3; pass++) {
      for (const id of ids) {
        assert.equal(cached.hostOf(id), FLEET_MEMBERS.hostOf(id), id);
        assert.equal(cached.serialOf(id), FLEET_MEMBERS.serialOf(id), id);
        const serial = FLEET_MEMBERS.serialOf(id);
        if (serial !== null) assert.equal(cached.member(FLEET_MEMBERS.hostOf(id), serial), id);
      }
    }
    const before = built;
    for (let i = 0; i < 5; i++) assert.equal(cached.member('h1', 1), 'h1~1');
    assert.ok(built <= before + 1, 'a repeated id is built once');
  });
});
