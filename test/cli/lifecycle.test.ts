// `flotilla deactivate` and `flotilla activate` against three `flotilla host` processes: the drain
// prints the members left on the host as they move off, decreasing to 0, and ends exit 0; activate
// brings the host back without a restart, and its members return. And the progress line itself:
// rewritten in place on a terminal, plain lines otherwise.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { drainLine, progressLine } from '../../src/cli/fleet-commands.js';
import { FlotillaHost } from '../fixtures/flotilla-host.js';
import { waitFor } from '../fleet/harness.js';
import { flotilla } from './fixtures/flotilla.js';

const SECRET = 'cli lifecycle secret';
const START_MS = 20_000;
const GROUPS = 5;

describe('flotilla deactivate and activate', () => {
  const hosts: FlotillaHost[] = [];
  let seed = '';
  const as = (address: string) => ['--host', address, '--secret', SECRET];

  before(async () => {
    const h1 = new FlotillaHost('h1', ['--id', 'h1', '--zone', 'a', '--storage', 'memory'], SECRET);
    hosts.push(h1);
    ({ address: seed } = await h1.started(START_MS));
    hosts.push(new FlotillaHost('h2', ['--id', 'h2', '--zone', 'b', '--storage', 'memory', '--join', seed], SECRET));
    hosts.push(new FlotillaHost('h3', ['--id', 'h3', '--zone', 'a', '--storage', 'memory', '--join', seed], SECRET));
    await Promise.all(hosts.map((h) => h.started(START_MS)));
    for (let g = 0; g < GROUPS; g++) {
      const added = await flotilla(['add-group', `g${g}`, '--machine', 'counter', '--replicas', '3', ...as(seed)]);
      assert.equal(added.code, 0, added.stderr);
    }
  });

  after(async () => {
    await Promise.all(hosts.map((h) => h.kill()));
  });

  it('deactivate prints the members left, decreasing to 0, then activate brings the host back', async () => {
    // Every group has a replica on h3 before it drains (3 hosts, 3 replicas).
    await waitFor('every group on h3', async () => {
      const view = JSON.parse((await flotilla(['status', '--json', ...as(seed)])).stdout) as { groups: Array<{ voters?: string[] | null }> };
      return view.groups.length === GROUPS && view.groups.every((g) => g.voters?.includes('h3') === true);
    }, 20_000);
    const drained = await flotilla(['deactivate', 'h3', '--timeout', '30000', ...as(seed)]);
    assert.equal(drained.code, 0, drained.stderr);
    const lines = drained.stdout.trim().split('\n');
    assert.ok(!drained.stdout.includes('\r'), 'no terminal: plain lines');
    const counts = lines.flatMap((l) => /^h3: \w+, (\d+) members? left$/.exec(l)?.[1] ?? []).map(Number);
    assert.ok(counts.length >= 2 && counts[0]! >= GROUPS, drained.stdout);
    assert.equal(counts.at(-1), 0, drained.stdout);
    assert.ok(counts.every((n, i) => i === 0 || n <= counts[i - 1]!), `never more members left than before: ${drained.stdout}`);
    assert.match(lines.at(-1)!, /^h3 is inactive: it holds no members/);

    const activated = await flotilla(['activate', 'h3', ...as(seed)]);
    assert.equal(activated.code, 0, activated.stderr);
    assert.equal(activated.stdout, 'h3 is active in zone a\n');
    await waitFor('h3 votes in every group again', async () => {
      const view = JSON.parse((await flotilla(['status', '--json', ...as(seed)])).stdout) as { hosts: Record<string, Array<{ id: string; state: string }>>; groups: Array<{ voters?: string[] | null }> };
      return view.hosts.a?.find((h) => h.id === 'h3')?.state === 'active' && view.groups.every((g) => g.voters?.includes('h3') === true);
    }, 20_000);
    const h3 = hosts[2]!.logged('host started; activating')!;
    const incr = await flotilla(['command', 'g0', '{"op":"incr","by":1}', ...as(String(h3.address))]);
    assert.deepEqual([incr.code, incr.stdout.trim()], [0, '1'], incr.stderr);
  });

  it('activate refuses a host it does not know and another zone while active; usage mistakes exit 2', async () => {
    const unknown = await flotilla(['activate', 'h9', ...as(seed)]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /BAD_ARGUMENT: the fleet has no host h9/);
    const moved = await flotilla(['activate', 'h2', '--zone', 'a', ...as(seed)]);
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /BAD_ARGUMENT: host h2 is active in zone b/);
    assert.equal((await flotilla(['activate', ...as(seed)])).code, 2);
  });
});

describe('the drain progress line', () => {
  const capture = (isTTY: boolean) => {
    const printed: string[] = [];
    let written = '';
    const line = progressLine((l) => printed.push(l), { isTTY, write: (t: string) => (written += t) });
    return { line, printed, written: () => written };
  };

  it('on a terminal, rewrites one line in place and ends it', () => {
    const { line, printed, written } = capture(true);
    line.show(drainLine('h2', 'deactivating', 37));
    line.show(drainLine('h2', 'deactivating', 37));
    line.show(drainLine('h2', 'deactivating', 1));
    line.end();
    assert.deepEqual(printed, []);
    assert.equal(written(), '\rh2: deactivating, 37 members left\x1b[K\rh2: deactivating, 1 member left\x1b[K\n');
  });

  it('elsewhere, prints a plain line each time it changes; notes go on their own lines', () => {
    const { line, printed, written } = capture(false);
    line.show(drainLine('h2', 'active', null));
    line.note('warning: group g has 3 replicas');
    line.show(drainLine('h2', 'deactivating', 2));
    line.show(drainLine('h2', 'deactivating', 2));
    line.show(drainLine('h2', 'deactivating', 0));
    line.end();
    assert.deepEqual(printed, ['h2: active', 'warning: group g has 3 replicas', 'h2: deactivating, 2 members left', 'h2: deactivating, 0 members left']);
    assert.equal(written(), '');
  });
});
