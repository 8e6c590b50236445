// A group refuses a command whose log entry could exceed its Raft config's maxEntryBytes before
// proposing it (BAD_ARGUMENT naming maxCommandBytes); one at the limit goes on to be proposed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { maxPayloadBytes } from '../../src/group/entry-format.js';
import { Group, newGroupCounters } from '../../src/group/group.js';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/raft.js';
import { seededRandom } from '../../src/raft/random.js';
import { listMachine } from '../loop/harness.js';

const MAX_ENTRY_BYTES = 2000;

describe('group size limit', () => {
  it('refuses a command over maxCommandBytes before proposing it, with or without a session', async () => {
    const counters = newGroupCounters();
    const group = Group.create(
      { groupId: 1, raft: { ...DEFAULT_RAFT_CONFIG, id: 'a', maxEntryBytes: MAX_ENTRY_BYTES, random: seededRandom(1) }, machine: listMachine, counters },
      { voters: ['a', 'b', 'c'], learners: [] },
    );
    const limit = maxPayloadBytes(MAX_ENTRY_BYTES);
    const session = { clientId: 'c'.repeat(1024), seq: 1, ackedBelow: 0 };
    for (const options of [{}, { session }]) {
      await assert.rejects(group.commandBytes(new Uint8Array(limit + 1), options), (err) => {
        assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'), String(err));
        assert.match(err.message, new RegExp(`the command is ${limit + 1} bytes, more than maxCommandBytes \\(${limit} bytes\\)`));
        return true;
      });
      // At the limit it passes the check: this replica is no leader, so propose refuses it.
      await assert.rejects(group.commandBytes(new Uint8Array(limit), options), (err) => isFlotillaError(err, 'NOT_LEADER'));
    }
    assert.equal(counters.proposals, 0);
    assert.equal(group.lastIndex, 1, 'nothing but the founding entry');
  });
});
