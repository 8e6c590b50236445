// A leader that cannot replicate is reported (src/loop/stall-watch.ts, Host.status().notReplicating):
// the watch's rules, then three in-process hosts whose transport drops every Append of one group
// while heartbeats go through, so its leader stays leader and commits nothing: the host reports the
// group, logs it once, shows it in /metrics, and forgets it once appends flow again.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { collect, render } from '../../src/admin/metrics.js';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { StallWatch } from '../../src/loop/stall-watch.js';
import { MessageType, type Message } from '../../src/raft/types.js';
import { MemoryDisk } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import type { Item } from '../../src/transport/items.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import { counter, waitFor } from '../fleet/harness.js';

describe('StallWatch', () => {
  it('reports a leader whose commit stands still with entries waiting, once per streak', () => {
    const w = new StallWatch(1000);
    const leader = (commit: number, lastIndex: number) => ({ leading: true, commit, lastIndex });
    assert.equal(w.observe(1, leader(5, 9), 0), false);
    assert.equal(w.observe(1, leader(5, 10), 999), false, 'not yet');
    assert.deepEqual(w.stalled(999), []);
    assert.equal(w.observe(1, leader(5, 11), 1000), true, 'stalled: reported');
    assert.equal(w.observe(1, leader(5, 11), 3000), false, 'reported once per streak');
    assert.deepEqual(w.stalled(3000), [{ groupId: 1, sinceMs: 3000, commit: 5, lastIndex: 11 }]);
    assert.equal(w.observe(1, leader(6, 11), 3100), false, 'its commit moved: a new streak');
    assert.deepEqual(w.stalled(3100), []);
    assert.equal(w.observe(1, leader(6, 11), 4100), true, 'a new streak is reported again');
  });

  it('ignores followers, leaders with nothing to commit, and groups no longer watched', () => {
    const w = new StallWatch(0);
    w.observe(1, { leading: false, commit: 1, lastIndex: 5 }, 0);
    w.observe(2, { leading: true, commit: 5, lastIndex: 5 }, 0);
    w.observe(3, { leading: true, commit: 1, lastIndex: 5 }, 0);
    assert.deepEqual(w.stalled(10).map((s) => s.groupId), [3]);
    w.retain(new Set([1, 2]));
    assert.deepEqual(w.stalled(10), []);
  });
});

describe('a leader whose appends do not get through', () => {
  const hosts: Host[] = [];
  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it('is listed in status().notReplicating, logged once and counted in /metrics, until appends flow again', { timeout: 60_000 }, async () => {
    const hub = new MemoryHub({ autoDeliver: true });
    let droppedGroup = -1;
    /** The host's transport, dropping every Append of `droppedGroup`, alone or in a pack (heartbeats are other items and go through). */
    const dropping = (id: string): Transport => {
      const inner = hub.endpoint(id);
      return new Proxy(inner, {
        get(target, prop) {
          if (prop === 'send') {
            const dropped = (groupId: number, m: Message) => groupId === droppedGroup && m.type === MessageType.Append;
            return (to: string, item: Item) => {
              if (item.kind === 'raft' && dropped(item.groupId, item.message)) return 'queued';
              if (item.kind !== 'raftPack') return target.send(to, item);
              const kept = item.messages.filter((p) => !dropped(p.groupId, p.message));
              return kept.length === 0 ? 'queued' : target.send(to, { ...item, messages: kept });
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    };
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push(chunk.toString());
          done();
        },
      }),
    );
    for (const [i, id] of ['h1', 'h2', 'h3'].entries()) {
      const host = await Host.start({
        id,
        transport: dropping(id),
        store: await openLogStore({ engine: 'memory', disk: new MemoryDisk(id) }),
        machines: { counter },
        join: i === 0 ? [] : ['h1@h1'],
        tickMs: 10,
        reconcileMs: 50,
        hostFailureTimeoutMs: 1000,
        logger,
      });
      hosts.push(host);
      await host.activate(i % 2 === 0 ? 'a' : 'b');
    }
    const [h1] = hosts as [Host, Host, Host];
    await h1.addGroup('g', { machine: 'counter', replicas: 3 });
    assert.equal(await h1.command('g', { op: 'inc', by: 1 }), 1);
    droppedGroup = h1.groups().find((g) => g.name === 'g')!.id;

    await assert.rejects(h1.command('g', { op: 'inc', by: 1 }, { timeoutMs: 1000 }), (err) => isFlotillaError(err, 'TIMEOUT'));
    const reporting = (): Host | undefined => hosts.find((h) => h.status().notReplicating.some((s) => s.group === 'g'));
    await waitFor('the leader of g to report it not replicating', () => reporting() !== undefined);
    const leaderHost = reporting()!;
    const entry = leaderHost.status().notReplicating.find((s) => s.group === 'g')!;
    assert.ok(entry.lastIndex > entry.commit, `entries wait above the commit index: ${JSON.stringify(entry)}`);
    assert.equal(leaderHost.status().members.find((m) => m.group === 'g')?.role, 'leader', 'it still leads: CheckQuorum is satisfied by the heartbeats');
    assert.equal(leaderHost.status().leaderless.length, 0, 'and the group is not leaderless');
    assert.match(render(collect({ host: leaderHost })), /^flotilla_not_replicating_groups 1$/m);
    assert.ok(
      [leaderHost.replicaWarnings('g'), leaderHost.replicaWarnings()].every((lines) => lines.some((w) => /^group g: its leader on h\d has committed nothing for/.test(w))),
      `flotilla status warns of it, asked for g and for every group: ${JSON.stringify(leaderHost.replicaWarnings())}`,
    );
    // status() counts the streak up to now; the warn line comes at the watch's next look.
    const logged = (): string[] => warnings.filter((w) => w.includes('group leader commits nothing') && w.includes('"group":"g"'));
    await waitFor('the warn line', () => logged().length > 0);
    assert.equal(logged().length, 1, `one warn line for the streak: ${warnings.join('')}`);

    droppedGroup = -1;
    await waitFor('g to commit again and leave the list', () => hosts.every((h) => h.status().notReplicating.length === 0));
    assert.deepEqual(leaderHost.replicaWarnings('g'), [], 'and the warning is gone');
    assert.ok(((await h1.command('g', { op: 'inc', by: 1 })) as number) >= 2);
  });
});
