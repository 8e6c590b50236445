// The sessions a router's commands carry (src/fleet/client-sessions.ts): seqs in order, ackedBelow
// the lowest unanswered one, and the span bound that keeps a group from forgetting the reply of a
// command still waiting (it would apply as "stale session sequence"): a seq as far from ackedBelow
// as the span is handed out only once the oldest is answered, in order, within the deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSessions, MAX_SESSION_SPAN } from '../../src/fleet/client-sessions.js';
import { DEFAULT_MAX_REPLIES_PER_SESSION } from '../../src/group/group.js';
import { realScheduler } from '../../src/common/scheduler.js';
import { FlotillaError } from '../../src/common/errors.js';

const LONG = () => realScheduler.now() + 60_000;

describe('client sessions', () => {
  it('spans no more seqs than a group keeps replies for', () => {
    assert.equal(MAX_SESSION_SPAN, DEFAULT_MAX_REPLIES_PER_SESSION);
  });

  it('hands out seqs in order per group, ackedBelow the lowest unanswered', async () => {
    const sessions = new ClientSessions('c', realScheduler, 10);
    const [a, b, c] = [await sessions.open('g', LONG()), await sessions.open('g', LONG()), await sessions.open('g', LONG())];
    assert.deepEqual([a.seq, b.seq, c.seq], [1, 2, 3]);
    assert.equal((await sessions.open('other', LONG())).seq, 1);
    b.close();
    assert.equal(c.ackedBelow(), 1, 'seq 1 still unanswered');
    a.close();
    assert.equal(c.ackedBelow(), 3);
    c.close();
    assert.equal((await sessions.open('g', LONG())).ackedBelow(), 4);
  });

  it('makes a seq beyond the span wait for the oldest to be answered, in order', async () => {
    const sessions = new ClientSessions('c', realScheduler, 3);
    const open = [await sessions.open('g', LONG()), await sessions.open('g', LONG()), await sessions.open('g', LONG())];
    const woken: number[] = [];
    const later = [sessions.open('g', LONG()), sessions.open('g', LONG())].map((p) => p.then((s) => (woken.push(s.seq), s)));
    open[1]!.close();
    open[2]!.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(woken, [], 'seq 1 holds ackedBelow: no room while it is unanswered');
    open[0]!.close();
    const [fourth, fifth] = await Promise.all(later);
    assert.deepEqual(woken, [4, 5]);
    assert.equal(fourth!.ackedBelow(), 4);
    assert.ok(fifth!.seq - fourth!.ackedBelow() < 3);
  });

  it('fails a waiting seq TIMEOUT, unsent, at its deadline, and skips it afterwards', async () => {
    const sessions = new ClientSessions('c', realScheduler, 1);
    const first = await sessions.open('g', LONG());
    const late = sessions.open('g', realScheduler.now() + 20);
    const patient = sessions.open('g', LONG());
    await assert.rejects(late, (err: unknown) => err instanceof FlotillaError && err.code === 'TIMEOUT' && err.details.sent === false && /never sent/.test(err.message));
    first.close();
    assert.equal((await patient).seq, 2, 'the timed-out one took no seq');
  });
});
