// The reconcile driver and the replica gc as a drain drives them, on fake replicas: prepares to one
// host are bounded, a learner's silence is counted within one leadership term, and a draining
// host asks about a replica still in its group only now and then.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { decodeAdminRequest, encodeAdmin } from '../../src/fleet/admin.js';
import type { ClusterState } from '../../src/fleet/cluster-machine.js';
import type { FleetView } from '../../src/fleet/fleet-view.js';
import { Housekeeping } from '../../src/fleet/housekeeping.js';
import type { LocalMember } from '../../src/fleet/local-members.js';
import { MAX_PREPARES_PER_HOST, ReconcileDriver } from '../../src/fleet/reconcile-driver.js';
import { ReplicaGc } from '../../src/fleet/replica-gc.js';
import type { Router } from '../../src/fleet/router.js';
import type { Scheduler } from '../../src/common/scheduler.js';
import { Role, type Membership } from '../../src/raft/types.js';

const logger = pino({ level: 'silent' });

interface FakeReplica {
  role: Role;
  leader: string;
  term: number;
  membership: Membership;
  progress: Array<{ id: string; match: number; next: number; state: string; active: boolean }>;
  changes: unknown[];
  /** Handing its leadership over. */
  transferring: boolean;
}

/** A replica of group `name` on host a: the leader of a, b and d (unless told otherwise). */
function fakeMember(groupId: number, over: Partial<FakeReplica> = {}): LocalMember & { fake: FakeReplica } {
  const fake: FakeReplica = {
    role: Role.Leader,
    leader: 'a~1',
    term: 2,
    membership: { voters: ['a~1', 'b~1', 'd~1'], learners: [] },
    progress: ['a~1', 'b~1', 'd~1'].map((id) => ({ id, match: 10, next: 11, state: 'replicate', active: true })),
    changes: [],
    transferring: false,
    ...over,
  };
  const replica = {
    get role() { return fake.role; },
    get leader() { return fake.leader; },
    get term() { return fake.term; },
    get membership() { return fake.membership; },
    get leadsCommittedTerm() { return fake.role === Role.Leader; },
    configChangePending: false,
    get transferring() { return fake.transferring; },
    isQuiesced: false,
    lastIndex: 10,
    status: () => ({ membership: fake.membership, progress: fake.progress, lastIndex: 10, commit: 10, firstIndex: 1 }),
    changeMembership: (change: unknown) => fake.changes.push(change),
    transferLeadership: () => undefined,
  };
  return { groupId, group: `g${groupId}`, machine: 'kv', member: fake.role === Role.Leader ? 'a~1' : 'c~1', replica, fake } as unknown as LocalMember & { fake: FakeReplica };
}

function metadataFor(members: LocalMember[], hostState: 'active' | 'deactivating'): ClusterState {
  const groups = Object.fromEntries(members.map((m) => [m.group, { name: m.group, id: m.groupId, replicas: 3, machine: 'kv', founders: [] }]));
  return { version: 1, hosts: { a: { id: 'a', state: 'active' }, c: { id: 'c', state: hostState } }, groups, nextGroupId: 1000 } as unknown as ClusterState;
}

function fakeView(hostId: string, members: LocalMember[], placement: string[], state: 'active' | 'deactivating'): FleetView {
  const byId = new Map(members.map((m) => [m.groupId, m]));
  return {
    hostId,
    state,
    stopped: false,
    metadata: metadataFor(members, state),
    clusterReplicas: 3,
    members: { get: (id: number) => byId.get(id), all: () => byId.values(), size: byId.size },
    awakeMembers: () => byId.values(),
    placementFor: () => placement,
    activeHostIds: () => placement,
  } as unknown as FleetView;
}

function clock(): Scheduler & { at: number } {
  const s = {
    at: 0,
    now: () => s.at,
    after: () => ({ cancel: () => undefined }),
    every: () => ({ cancel: () => undefined }),
    soon: (run: () => void) => run(),
  };
  return s;
}

/** A router whose calls wait until the test answers them. */
function heldRouter() {
  const calls: Array<{ via: string | undefined; payload: Uint8Array; answer(reply: unknown): void }> = [];
  const router = {
    call: (_group: string, _kind: string, payload: Uint8Array, options: { via?: string }) =>
      new Promise<Uint8Array>((resolve) => calls.push({ via: options.via, payload, answer: (reply) => resolve(encodeAdmin(reply as never)) })),
  } as unknown as Router;
  return { router, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('reconcile driver during a drain', () => {
  it('asks one host to prepare at most MAX_PREPARES_PER_HOST replicas at a time; the other groups add theirs at later passes', async () => {
    // More groups led here (a) than that, placed on a, b and c: each wants a learner on c (d is leaving placement).
    const limit = MAX_PREPARES_PER_HOST;
    const members = Array.from({ length: limit + 100 }, (_, i) => fakeMember(i + 1));
    const { router, calls } = heldRouter();
    const driver = new ReconcileDriver({ view: fakeView('a', members, ['a', 'b', 'c'], 'active'), router, scheduler: clock(), housekeeping: new Housekeeping(() => false, logger), logger });
    // c holds no cluster replica here (this host has none to ask): its prepares are not held back for it.
    driver.reconcile({ quiesced: true });
    assert.equal(calls.length, limit);
    assert.ok(calls.every((c) => c.via === 'c'));
    driver.reconcile({ quiesced: true }); // a later pass while all are in flight: nothing more
    assert.equal(calls.length, limit);

    for (const c of calls.splice(0, 10)) c.answer({ op: 'prepare', ok: true });
    await settle();
    assert.equal(members.filter((m) => (m as unknown as { fake: FakeReplica }).fake.changes.length === 1).length, 10, 'each answered prepare adds its learner');
    driver.reconcile({ quiesced: true });
    assert.equal(calls.length, limit, 'the pass after 10 answers starts 10 more, no more than the limit in flight');
  });

  it('takes no step while the leadership is being handed over, nor adds a learner whose prepare ends after the handover began', async () => {
    const members = [fakeMember(1), fakeMember(2)];
    const [handingOver, other] = members as [ReturnType<typeof fakeMember>, ReturnType<typeof fakeMember>];
    handingOver.fake.transferring = true;
    const { router, calls } = heldRouter();
    const driver = new ReconcileDriver({ view: fakeView('a', members, ['a', 'b', 'c'], 'active'), router, scheduler: clock(), housekeeping: new Housekeeping(() => false, logger), logger });
    driver.reconcile({ quiesced: true });
    assert.equal(calls.length, 1, 'only the group not handing over asks for a prepare');
    other.fake.transferring = true; // its handover begins while the prepare is out
    calls[0]!.answer({ op: 'prepare', ok: true });
    await settle();
    assert.deepEqual([handingOver.fake.changes, other.fake.changes], [[], []], 'no learner is proposed during a handover');
  });

  it('counts a learner silent only within the term it was noticed in', () => {
    const scheduler = clock();
    const learner = { id: 'c~11', match: 0, next: 11, state: 'probe', active: false };
    // Placement moves the group from d to c: its learner on c waits to catch up, so no step is due.
    const member = fakeMember(1, { membership: { voters: ['a~1', 'b~1', 'd~1'], learners: ['c~11'] } });
    member.fake.progress.push(learner);
    const view = fakeView('a', [member], ['a', 'b', 'c'], 'active');
    const driver = new ReconcileDriver({ view, router: heldRouter().router, scheduler, housekeeping: new Housekeeping(() => false, logger), logger });
    const removals = () => member.fake.changes.filter((c) => (c as { type: string }).type === 'remove').length;

    driver.reconcile({ quiesced: true }); // term 2: silent from 0
    member.fake.term = 3; // this host lost the leadership and leads again
    scheduler.at = 10_500;
    driver.reconcile({ quiesced: true });
    assert.equal(removals(), 0, 'silent 10.5 s across two terms, but only just seen in this one');
    scheduler.at = 20_600;
    driver.reconcile({ quiesced: true });
    assert.equal(removals(), 1, 'silent for 10 s of this term: removed');
  });
});

describe('replica gc on a draining host', () => {
  it('asks about a replica still in its group with a leader once in 8 passes, and about one that left at every pass', async () => {
    const inGroup = Array.from({ length: 5 }, (_, i) => fakeMember(i + 1, { role: Role.Follower, leader: 'b~1', membership: { voters: ['b~1', 'c~1', 'd~1'], learners: [] } }));
    const removed = fakeMember(6, { role: Role.Follower, leader: 'b~1', membership: { voters: ['b~1', 'd~1', 'e~1'], learners: [] } });
    const leaderless = fakeMember(7, { role: Role.Follower, leader: '', membership: { voters: ['b~1', 'c~1', 'd~1'], learners: [] } });
    const members = [...inGroup, removed, leaderless];
    const asked: number[] = [];
    const router = {
      call: async (_group: string, _kind: string, payload: Uint8Array) => {
        const request = decodeAdminRequest(payload);
        if (request.op === 'memberStatus') asked.push(request.groupId);
        return encodeAdmin({ op: 'memberStatus', member: true });
      },
    } as unknown as Router;
    const gc = new ReplicaGc({ view: fakeView('c', members, ['a', 'b', 'd'], 'deactivating'), router, housekeeping: new Housekeeping(() => false, logger) });
    gc.findUnwanted(false);

    const perPass: number[][] = [];
    for (let pass = 0; pass < 9; pass++) {
      asked.length = 0;
      gc.collectGarbage();
      await settle();
      perPass.push([...asked].sort((x, y) => x - y));
    }
    assert.deepEqual(perPass[0], [1, 2, 3, 4, 5, 6, 7], 'the first pass asks about every replica');
    for (let pass = 1; pass < 8; pass++) assert.deepEqual(perPass[pass], [6, 7], `pass ${pass}: only the replicas that may have left`);
    assert.deepEqual(perPass[8], [1, 2, 3, 4, 5, 6, 7], 'the 8th pass after asks about the others again');
  });
});
