import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextStep, type ReconcileInput } from '../../src/fleet/reconciler.js';

/** A leader `a~1` with everyone caught up and reachable unless a test says otherwise. */
function input(over: Partial<ReconcileInput> & { voters: string[]; learners?: string[] }): ReconcileInput {
  const stuck = over.stuck === undefined ? {} : { stuck: over.stuck };
  const members = [...over.voters, ...(over.learners ?? [])];
  return {
    self: 'a~1',
    membership: { voters: over.voters, learners: over.learners ?? [] },
    progress: over.progress ?? new Map(members.map((m) => [m, { match: 10, active: true }])),
    lastIndex: 10,
    committed: 10,
    voterHosts: over.voterHosts ?? ['a', 'b', 'c'],
    learnerHosts: over.learnerHosts ?? [],
    leaving: over.leaving ?? false,
    ...stuck,
  };
}

describe('reconciler: one step toward placement', () => {
  it('does nothing when membership matches placement and the preferred host leads', () => {
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'] })), null);
  });

  it('adds a learner on a placed host that holds no member', () => {
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1'] })), { kind: 'addLearner', host: 'c' });
  });

  it('promotes a learner only once it has caught up and is reachable', () => {
    const behind = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 10, active: true }],
      ['c~7', { match: 4, active: true }],
    ]);
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1'], learners: ['c~7'], progress: behind })), null);
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1'], learners: ['c~7'] })), { kind: 'promote', member: 'c~7' });
  });

  it('removes a surplus voter only after every placed host votes', () => {
    // d is leaving placement; c's learner has not been promoted yet: nothing is removed.
    const growing = input({ voters: ['a~1', 'b~1', 'd~1'], learners: ['c~9'], progress: new Map([
      ['a~1', { match: 10, active: true }], ['b~1', { match: 10, active: true }], ['d~1', { match: 10, active: true }], ['c~9', { match: 2, active: true }],
    ]) });
    assert.equal(nextStep(growing), null);
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~9', 'd~1'] })), { kind: 'remove', member: 'd~1' });
  });

  it('removes unreachable surplus voters first and never leaves fewer reachable voters than a quorum', () => {
    const progress = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 10, active: true }],
      ['c~1', { match: 10, active: true }],
      ['d~1', { match: 10, active: true }],
      ['e~1', { match: 3, active: false }],
    ]);
    const step = nextStep(input({ voters: ['a~1', 'b~1', 'c~1', 'd~1', 'e~1'], progress }));
    assert.deepEqual(step, { kind: 'remove', member: 'e~1' });
    // d is surplus but b and c are unreachable: without d only the leader itself would answer.
    const thin = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 10, active: false }],
      ['c~1', { match: 10, active: false }],
      ['d~1', { match: 10, active: true }],
    ]);
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1', 'c~1', 'd~1'], progress: thin })), null);
  });

  it('hands leadership away instead of removing itself', () => {
    const step = nextStep(input({ voters: ['a~1', 'b~1', 'c~1', 'd~1'], voterHosts: ['b', 'c', 'd'] }));
    assert.deepEqual(step, { kind: 'transfer', to: 'b~1' });
  });

  it('a leaving leader transfers before anything else, to a caught-up reachable voter', () => {
    const progress = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 5, active: true }],
      ['c~1', { match: 10, active: true }],
    ]);
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: ['b', 'c', 'd'], leaving: true, progress })), { kind: 'transfer', to: 'c~1' });
  });

  it('a leaving leader adds no member while a placed voter could take over; without one it adds', () => {
    // b and c are placed voters, both behind: wait for one to catch up, leave d's learner to it.
    const behind = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 5, active: true }],
      ['c~1', { match: 5, active: false }],
    ]);
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: ['b', 'c', 'd'], leaving: true, progress: behind })), null);
    // The same group not leaving adds d's learner at once.
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: ['b', 'c', 'd'], progress: behind })), { kind: 'addLearner', host: 'd' });
    // A one-voter group on a leaving host has nobody to hand over to: it adds its successor itself.
    assert.deepEqual(nextStep(input({ voters: ['a~1'], voterHosts: ['d'], leaving: true })), { kind: 'addLearner', host: 'd' });
  });

  it('never hands leadership to a voter on a host placement does not want (it would bounce back)', () => {
    // Leader a and voter b are both leaving; c's learner is caught up: promote it rather than transfer to b.
    const step = nextStep(input({ voters: ['a~1', 'b~1'], learners: ['c~4'], voterHosts: ['c'], leaving: true }));
    assert.deepEqual(step, { kind: 'promote', member: 'c~4' });
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~4'], voterHosts: ['c'], leaving: true })), { kind: 'transfer', to: 'c~4' });
  });

  it('removes learners placement does not want, and a second member on one host', () => {
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], learners: ['z~4'] })), { kind: 'remove', member: 'z~4' });
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], learners: ['c~8'] })), { kind: 'remove', member: 'c~8' });
  });

  it('keeps a learner on every other host for the cluster group', () => {
    const step = nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], learnerHosts: ['a', 'b', 'c', 'd'] }));
    assert.deepEqual(step, { kind: 'addLearner', host: 'd' });
  });

  it('transfers to the preferred host once everything is in place and it has the whole log', () => {
    const lagging = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 9, active: true }],
      ['c~1', { match: 10, active: true }],
    ]);
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: ['b', 'a', 'c'], progress: lagging })), null);
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: ['b', 'a', 'c'] })), { kind: 'transfer', to: 'b~1' });
  });

  it('removes a learner that stopped answering long ago before anything else, so a fresh one can be added', () => {
    const progress = new Map([
      ['a~1', { match: 10, active: true }],
      ['b~1', { match: 10, active: true }],
      ['c~5', { match: 0, active: false }],
    ]);
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1'], learners: ['c~5'], progress })), null);
    assert.deepEqual(nextStep(input({ voters: ['a~1', 'b~1'], learners: ['c~5'], progress, stuck: new Set(['c~5']) })), { kind: 'remove', member: 'c~5' });
  });

  it('leaves a group alone when no host is active', () => {
    assert.equal(nextStep(input({ voters: ['a~1', 'b~1', 'c~1'], voterHosts: [] })), null);
  });
});
