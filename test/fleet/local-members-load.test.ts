// A host serves requests while LocalMembers.load() restores its replicas from the store. Found by
// `npm run chaos` (seed 3, 300 s): a SIGKILLed host restarted, and a leader's late `prepare` for a
// member the host held on disk arrived mid-load; create() did not see the member yet, registered
// it again with an empty log, and load() then died with GROUP_EXISTS. Had load come first, the
// host would have run a replica with an empty log under an id that may have voted, which is what
// member ids and tombstones exist to prevent. Creations and deletions now wait for the load.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalMembers, type MemberInfo, type ReplicaFactory } from '../../src/fleet/local-members.js';
import { Group } from '../../src/group/group.js';
import { HostLoop } from '../../src/loop/host-loop.js';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/raft.js';
import { seededRandom } from '../../src/raft/random.js';
import { Role } from '../../src/raft/types.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { listMachine } from '../loop/harness.js';

const INFO: MemberInfo = { groupId: 7, group: 'g7', machine: 'list', member: 'h5~3' };

const factory: ReplicaFactory = (info, from) => {
  const options = { groupId: info.groupId, raft: { ...DEFAULT_RAFT_CONFIG, id: info.member, random: seededRandom(1) }, machine: listMachine };
  if ('founding' in from) {
    const group = Group.create(options, from.founding);
    group.campaignNow();
    return group;
  }
  return Group.restore(options, from.record);
};

/** `store` with loadGroup held until `release` is called. */
function gated(store: LogStore): { store: LogStore; release: () => void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'loadGroup') {
        return async (groupId: number) => {
          await gate;
          return target.loadGroup(groupId);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, release };
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('LocalMembers.load', () => {
  it('a create of a member the store holds, arriving mid-load, finds the restored member', async () => {
    const store = await openLogStore({ engine: 'memory' });
    // A first process founds the member and persists a term as its leader.
    const first = new HostLoop({ store, tickMs: 10, send: () => undefined });
    const before = new LocalMembers(store, first, factory);
    const founded = await before.create(INFO, { voters: [INFO.member], learners: [] });
    first.start();
    await until('the member to lead with its term on disk', async () => founded.replica.role === Role.Leader && (await store.loadGroup(INFO.groupId)).hardState.term >= 1);
    await first.stop();
    const term = founded.replica.term;

    // The restart: a late prepare of the same member while the store is still being read.
    const { store: slow, release } = gated(store);
    const members = new LocalMembers(slow, new HostLoop({ store: slow, tickMs: 10, send: () => undefined }), factory);
    const loading = members.load();
    const prepared = members.create(INFO, null);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await loading;
    const member = await prepared;
    assert.equal(member, members.get(INFO.groupId), 'the prepare answers with the restored member');
    assert.equal(member.replica.term, term, 'restored from the store, not an empty log');
  });

  it('a create under a deleted member id, arriving mid-load, is refused by the loaded tombstone', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const before = new LocalMembers(store, new HostLoop({ store, tickMs: 10, send: () => undefined }), factory);
    await before.create(INFO, { voters: [INFO.member], learners: [] });
    await before.delete(INFO.groupId);

    const { store: slow, release } = gated(store);
    const members = new LocalMembers(slow, new HostLoop({ store: slow, tickMs: 10, send: () => undefined }), factory);
    const loading = members.load();
    const prepared = members.create(INFO, null);
    release();
    await loading;
    await assert.rejects(prepared, /was deleted here before/);
  });
});
