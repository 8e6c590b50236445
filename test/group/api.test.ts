import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { Role } from '../../src/raft/types.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { type ListGroup, TestFleet, waitFor } from '../loop/harness.js';
import { type ListOptions, atLeader, moveLeadership, tuning } from './helpers.js';

const HOSTS = ['a', 'b', 'c'];
const G = 5;
const text = new TextEncoder();
const json = (value: unknown): Uint8Array => text.encode(JSON.stringify(value));
const parse = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes));

let fleet: TestFleet;

async function startFleet(options: ListOptions = {}): Promise<void> {
  fleet = new TestFleet(HOSTS);
  for (const host of HOSTS) await fleet.startHost(host, await openLogStore({ engine: 'memory' }), [G], 'create', tuning(options));
  await waitFor('a leader', () => fleet.leader(G) !== undefined);
}

function replicas(): ListGroup[] {
  return HOSTS.map((h) => fleet.group(h, G));
}

async function allReplicasHold(values: string[]): Promise<void> {
  await waitFor(`every replica to hold ${values.length} values`, () => replicas().every((g) => g.state.length === values.length));
  for (const g of replicas()) assert.deepEqual(g.state, values);
}

afterEach(async () => {
  await fleet.stopAll();
});

describe('group reads', () => {
  it('answers lease reads at the leader and NOT_LEADER elsewhere', async () => {
    await startFleet();
    await fleet.command(G, { op: 'append', value: 'x' });
    assert.equal(await atLeader(fleet, G, (g) => g.query(null, { consistency: 'lease' })), 1);
    assert.equal(await atLeader(fleet, G, (g) => g.query(null, { consistency: 'linearizable' })), 1);
    const follower = replicas().find((g) => g.role === Role.Follower)!;
    await assert.rejects(follower.query(null, { consistency: 'lease' }), (err) => {
      assert.ok(isFlotillaError(err, 'NOT_LEADER'));
      assert.ok('leader' in err.details, 'the error names the leader it knows');
      return true;
    });
  });

  it('answers local reads from any replica at once, even one cut off from the others', async () => {
    await startFleet();
    await fleet.command(G, { op: 'append', value: 'x' });
    await allReplicasHold(['x']);
    const cut = replicas().find((g) => g.role !== Role.Leader)!;
    fleet.isolated.add(cut.memberId);
    await fleet.command(G, { op: 'append', value: 'y' });
    const others = replicas().filter((g) => g !== cut);
    await waitFor('the others to apply', () => others.every((g) => g.state.length === 2));
    for (const g of others) assert.equal(await g.query(null, { consistency: 'local' }), 2);
    // Stale, but answered: the cut-off member has not seen the second command.
    assert.equal(await cut.query(null, { consistency: 'local' }), 1);
    assert.equal(cut.status().pendingReads, 0);
    fleet.isolated.delete(cut.memberId);
    await assert.rejects(cut.query(null, { consistency: 'eventual' as 'local' }), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
  });

  it('refuses reads beyond maxPendingReads with BUSY, and serves the pending ones', async () => {
    await startFleet({ maxPendingReads: 2 });
    await fleet.command(G, { op: 'append', value: 'x' });
    // Reads wait for a heartbeat round, which the loop sends in a later turn: these are pending together.
    const pending = await atLeader(fleet, G, (g) => {
      const reads = [g.query(null), g.query(null, { consistency: 'lease' })];
      assert.equal(g.status().pendingReads, 2);
      return { g, reads };
    });
    await assert.rejects(pending.g.query(null), (err) => isFlotillaError(err, 'BUSY'));
    // Each pending read is answered, or refused NOT_LEADER if leadership moved meanwhile.
    for (const result of await Promise.allSettled(pending.reads)) {
      if (result.status === 'fulfilled') assert.equal(result.value, 1);
      else assert.ok(isFlotillaError(result.reason, 'NOT_LEADER'), String(result.reason));
    }
    assert.equal(pending.g.status().pendingReads, 0);
    // Local reads never wait, so they are not bounded.
    assert.equal(await pending.g.query(null, { consistency: 'local' }), 1);
    assert.equal(await atLeader(fleet, G, (g) => g.query(null)), 1);
  });
});

describe('group bytes API', () => {
  it('round-trips commands and queries as codec bytes, with and without a session', async () => {
    await startFleet();
    assert.equal(parse(await atLeader(fleet, G, (g) => g.commandBytes(json({ op: 'append', value: 'x' })))), 1);
    const session = { clientId: 'remote', seq: 1, ackedBelow: 0 };
    const first = await atLeader(fleet, G, (g) => g.commandBytes(json({ op: 'append', value: 'y' }), { session }));
    const again = await atLeader(fleet, G, (g) => g.commandBytes(json({ op: 'append', value: 'y' }), { session }));
    assert.equal(parse(first), 2);
    assert.deepEqual(again, first);
    // The typed API reads the same session's saved reply through the reply codec.
    assert.equal(await atLeader(fleet, G, (g) => g.command({ op: 'append', value: 'y' }, { session })), 2);
    assert.equal(parse(await atLeader(fleet, G, (g) => g.queryBytes(json(null)))), 2);
    const bad = (g: ListGroup): Promise<Uint8Array> => g.commandBytes(text.encode('not json'));
    await assert.rejects(atLeader(fleet, G, bad), (err) => isFlotillaError(err, 'COMMAND_FAILED'));
    await assert.rejects(replicas()[0]!.queryBytes(text.encode('not json')), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
    await allReplicasHold(['x', 'y']);
    for (const g of replicas()) assert.equal(parse(await g.queryBytes(json(null), { consistency: 'local' })), 2);
  });

  it('uses the reply and query codecs it is given', async () => {
    const hex = {
      encode: (n: number): Uint8Array => text.encode(n.toString(16)),
      decode: (b: Uint8Array): number => parseInt(new TextDecoder().decode(b), 16),
    };
    const nothing = { encode: (): Uint8Array => new Uint8Array(0), decode: (): null => null };
    await startFleet({ replyCodec: hex, queryCodec: nothing });
    for (let i = 0; i < 11; i++) await fleet.command(G, { op: 'append', value: `v${i}` });
    const read = await atLeader(fleet, G, (g) => g.queryBytes(new Uint8Array(0)));
    assert.equal(new TextDecoder().decode(read), 'b');
    const reply = await atLeader(fleet, G, (g) => g.commandBytes(json({ op: 'append', value: 'w' })));
    assert.equal(new TextDecoder().decode(reply), 'c');
  });
});

describe('group control', () => {
  it('changes membership and transfers leadership through the group, reporting both in status', async () => {
    await startFleet();
    await fleet.command(G, { op: 'append', value: 'x' });
    const changed = await atLeader(fleet, G, (g) => {
      g.changeMembership({ type: 'addLearner', node: 'd' });
      return g;
    });
    // A configuration takes effect as soon as it is appended.
    assert.deepEqual(changed.status().membership.learners, ['d']);
    const follower = replicas().find((g) => g.role === Role.Follower)!;
    assert.throws(() => follower.changeMembership({ type: 'remove', node: 'a' }), (err: unknown) => isFlotillaError(err, 'NOT_LEADER'));
    // A learner cannot lead (NOT_LEADER if leadership moved on meanwhile).
    const refused = (err: unknown): boolean => isFlotillaError(err, 'BAD_ARGUMENT') || isFlotillaError(err, 'NOT_LEADER');
    assert.throws(() => changed.transferLeadership('d'), refused);
    await waitFor('every replica to know the learner', () => replicas().every((g) => g.status().membership.learners.includes('d')));

    const current = fleet.leader(G)?.memberId;
    const target = HOSTS.find((h) => h !== current)!;
    await moveLeadership(fleet, G, target);
    const status = fleet.group(target, G).status();
    assert.equal(status.id, target);
    assert.deepEqual(status.membership.learners, ['d']);
    assert.equal(status.pendingCommands, 0);
    assert.equal(status.sessions, 0);
    assert.equal(status.applied, fleet.group(target, G).appliedIndex);
    assert.equal(await fleet.command(G, { op: 'append', value: 'y' }), 2);
  });
});
