// A data directory older than the fleet has seen (issue 14, finding 5), in process: 3 hosts on
// memory disks. A copy of h2's disk is taken, W0b is written, h3 dies, W1 (200 commands) is
// acknowledged by h1 and h2, h1 and h2 die, the copy is put back as h2's disk and h2 and h3 start.
// Without the generation check they elect a leader without W1 and all 200 are lost; with it h3
// refuses h2 (STORAGE_STALE names h3), the group stays leaderless until h1 returns, every W1 is
// there, and the copy is refused at once on every later start.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { collect, render } from '../../src/admin/metrics.js';
import { isFlotillaError } from '../../src/common/errors.js';
import type { Host } from '../../src/host/host.js';
import { decodeGeneration, metaKey } from '../../src/storage/encoding.js';
import type { MemoryDisk } from '../../src/storage/memory-store.js';
import { TestFleet, waitFor } from './harness.js';

const W1 = 200;
/** Deadline of each activation: generous, a loaded machine (other test files at once) is slow to elect. */
const ACTIVATE_MS = 90_000;

/** The generation a disk holds durably (0: none). */
function generationOn(disk: MemoryDisk): number {
  const bytes = disk.get(metaKey('generation'));
  return bytes === undefined ? 0 : decodeGeneration(bytes);
}

/** How many times, sampling for `ms`, some replica of `group` on `host` knew a leader. */
async function leaderSightings(host: Host, group: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const m of host.status().members) if (m.group === group && m.leader !== '') seen.push(`${m.member} follows ${m.leader} at commit ${m.commit}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

describe('Host: a data directory put back from an older copy', () => {
  const fleet = new TestFleet();
  after(() => fleet.stopAll());

  it('is refused by a peer that heard it later, and no acknowledged write is lost', async () => {
    await fleet.activate(3);
    const h1 = fleet.host('h1');
    await h1.addGroup('g', { machine: 'counter', replicas: 3 });
    await h1.command('g', { op: 'inc', by: 1 });
    // Every host advances its generation once its peers accepted it.
    await waitFor('h3 to record h2 advancing', () => (fleet.host('h3').status().generation.peers.h2 ?? 0) > 0, ACTIVATE_MS);

    const copy = fleet.disks.get('h2')!.copy();
    const copied = generationOn(copy);
    await h1.command('g', { op: 'inc', by: 1 }); // W0b
    await waitFor('h3 to record a generation of h2 above the copy', () => (fleet.host('h3').status().generation.peers.h2 ?? 0) > copied, ACTIVATE_MS);
    // What h3 holds against h2, and h2's own generation, are on /metrics for an operator.
    const h3Text = render(collect({ host: fleet.host('h3') }));
    assert.match(h3Text, new RegExp(`^flotilla_peer_data_dir_generation\\{peer="h2"\\} ${fleet.host('h3').status().generation.peers.h2}$`, 'm'));
    const h2Generation = fleet.host('h2').status().generation;
    const h2Text = render(collect({ host: fleet.host('h2') }));
    assert.match(h2Text, new RegExp(`^flotilla_data_dir_generation\\{kind="current"\\} ${h2Generation.current}$`, 'm'));
    assert.match(h2Text, new RegExp(`^flotilla_data_dir_generation\\{kind="floor"\\} ${h2Generation.floor}$`, 'm'));
    assert.ok(h2Generation.current > copied, `h2 runs at a generation above the copy's (${h2Generation.current} > ${copied})`);
    await fleet.kill('h3');
    for (let i = 0; i < W1; i++) await h1.command('g', { op: 'inc', by: 1 });
    const expected = 2 + W1;
    await fleet.kill('h1');
    await fleet.kill('h2');

    fleet.disks.set('h2', copy);
    const h2 = await fleet.start('h2', ['h1@h1']);
    const h3 = await fleet.start('h3', ['h1@h1']);
    await assert.rejects(h2.activate('b', { timeoutMs: ACTIVATE_MS }), (err) => {
      assert.ok(isFlotillaError(err, 'STORAGE_STALE'), String(err));
      assert.equal(err.details.peer, 'h3');
      assert.ok((err.details.recorded as number) > (err.details.found as number), JSON.stringify(err.details));
      assert.match(err.message, /new host id/);
      return true;
    });
    await waitFor('h2 to stop itself (once its data directory is marked stale)', () => h2.localState === 'stopped', 5000);
    // h3 alone (h2 refused, h1 down; its replicas run, activated or not) elects nobody: no state without W1 is ever served.
    assert.deepEqual(await leaderSightings(h3, 'g', 1500), []);

    // Every later start on the copy is refused at once, without asking anyone.
    await fleet.kill('h2');
    await assert.rejects(fleet.start('h2', ['h1@h1']), (err) => isFlotillaError(err, 'STORAGE_STALE') && err.details.peer === 'h3');

    const back = await fleet.start('h1', []);
    await back.activate('a', { timeoutMs: ACTIVATE_MS });
    await h3.activate('a', { timeoutMs: ACTIVATE_MS });
    assert.equal(await back.query('g', {}), expected);
    assert.equal(await h3.query('g', {}), expected);
  });

  it('serves from the copy only when told to (acceptStaleDataDir), adopting what its peers recorded', async () => {
    // h1 heard h2 until the end (after W1), h3 until before W1: the copy is below both records.
    const records = ['h1', 'h3'].map((id) => fleet.host(id).status().generation.peers.h2 ?? 0);
    const h2 = await fleet.start('h2', ['h1@h1'], { acceptStaleDataDir: true });
    await h2.activate('b', { timeoutMs: ACTIVATE_MS });
    assert.ok(h2.status().generation.floor >= Math.max(...records), `floor ${h2.status().generation.floor}, records ${records.join(', ')}`);
    await waitFor('h2 to hold a caught-up replica of g', async () => (await h2.query('g', {}, { consistency: 'local' })) === 2 + W1, ACTIVATE_MS);
  });
});

// Fleet sim seed 453: a copy of the cluster group's only voter elects itself and commits its own
// activation, so the metadata lists it active before any peer has judged its data directory.
describe('Host: a copy of the only voter of the cluster group put back', () => {
  const fleet = new TestFleet({ clusterReplicas: 1 });
  after(() => fleet.stopAll());

  it('is not active until a peer accepted it: with no peer up it times out, then the first peer refuses it', async () => {
    await fleet.activate(3);
    const copy = fleet.disks.get('h1')!.copy();
    const copied = generationOn(copy);
    for (const id of ['h2', 'h3']) {
      await waitFor(`${id} to record a generation of h1 above the copy`, () => (fleet.host(id).status().generation.peers.h1 ?? 0) > copied, ACTIVATE_MS);
    }
    // What h2 recorded is durable once it advanced again (records are written with an advance).
    const recorded = fleet.host('h2').status().generation.current;
    await waitFor('h2 to advance once more', () => fleet.host('h2').status().generation.current > recorded, ACTIVATE_MS);
    for (const id of ['h1', 'h2', 'h3']) await fleet.kill(id);

    fleet.disks.set('h1', copy);
    const h1 = await fleet.start('h1', []);
    // Unjudged, the copy's replicas get no ticks: its cluster replica cannot elect itself, so no cluster leader answers.
    await assert.rejects(h1.activate('a', { timeoutMs: 3000 }), (err) => isFlotillaError(err, 'TIMEOUT'));
    assert.notEqual(h1.localState, 'active');
    await fleet.start('h2', ['h1@h1']);
    await assert.rejects(h1.activate('a', { timeoutMs: ACTIVATE_MS }), (err) => isFlotillaError(err, 'STORAGE_STALE') && err.details.peer === 'h2');
  });
});

// Fleet sim seed 5024: a copy holding the only voter of a group, restarted where no peer could
// judge it, elected that replica by itself (in a term the group's real leader, elsewhere, also
// held) and could commit commands no one else would ever see.
describe('Host: a copy holding the only voter of a group put back, with no peer up', () => {
  const fleet = new TestFleet();
  after(() => fleet.stopAll());

  it('hands its replicas no ticks: the only voter never leads, a command through it is not acknowledged', async () => {
    await fleet.activate(3);
    await fleet.host('h1').addGroup('solo', { machine: 'counter', replicas: 1 });
    let holder = '';
    await waitFor('the group to have a leader', () => {
      for (const id of ['h1', 'h2', 'h3']) if (fleet.host(id).status().members.some((m) => m.group === 'solo' && m.role === 'leader')) holder = id;
      return holder !== '';
    }, ACTIVATE_MS);
    await fleet.host(holder).command('solo', { op: 'inc', by: 1 });
    const peers = ['h1', 'h2', 'h3'].filter((id) => id !== holder);
    const copy = fleet.disks.get(holder)!.copy();
    const copied = generationOn(copy);
    for (const id of peers) {
      await waitFor(`${id} to record a generation of ${holder} above the copy`, () => (fleet.host(id).status().generation.peers[holder] ?? 0) > copied, ACTIVATE_MS);
    }
    for (const id of ['h1', 'h2', 'h3']) await fleet.kill(id);

    fleet.disks.set(holder, copy);
    const host = await fleet.start(holder, []);
    const roles: string[] = [];
    const deadline = Date.now() + 1500; // 30 ticks: 1.5 to 3 election timeouts
    while (Date.now() < deadline) {
      for (const m of host.status().members) if (m.group === 'solo') roles.push(m.role);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(roles.length > 0, 'the copy holds its replica of the group');
    assert.deepEqual([...new Set(roles)], ['follower']);
    await assert.rejects(host.command('solo', { op: 'inc', by: 1 }, { timeoutMs: 500 }), (err) => isFlotillaError(err) && err.code !== 'COMMAND_FAILED');
  });
});
