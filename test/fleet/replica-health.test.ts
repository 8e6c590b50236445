// Issue 14, finding 3 and parts of 6, on in-process hosts: a value too deep for a snapshot is
// refused at the door (with the built-in kv, as it was found), a machine whose snapshot throws
// leaves its group serving and reported (status, /metrics, the log), and replicas that drift apart
// (a machine using Math.random) are reported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { collect, render } from '../../src/admin/metrics.js';
import { formatFleet } from '../../src/cli/fleet-commands.js';
import { kvMachine } from '../../src/cli/machines.js';
import { fleetView } from '../../src/fleet/ops-service.js';
import { isFlotillaError } from '../../src/common/errors.js';
import type { Host } from '../../src/host/host.js';
import type { AnyMachine } from '../../src/host/options.js';
import type { ClientRequestItem, ClientResponseItem } from '../../src/transport/items.js';
import { TestFleet, counter, waitFor } from './harness.js';

interface LogLine {
  host?: string;
  group?: string;
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger for every host of a fleet, keeping what they log. */
function capturingLogger(lines: LogLine[]): Logger {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
}

const hostsOf = (fleet: TestFleet): Host[] => [...fleet.hosts.values()];

/** The group's leader, once it has one that answers. */
async function leaderOf(fleet: TestFleet, group: string): Promise<string> {
  let leader: string | null = null;
  await waitFor(`a leader of ${group}`, async () => (leader = await fleet.host('h1').whereIsLeader(group)) !== null);
  return leader!;
}

/** Nested arrays `depth` deep around a number: `[[[1]]]` is 3. */
function nested(depth: number): string {
  return '['.repeat(depth) + '1' + ']'.repeat(depth);
}

describe('a JSON value at the door of a group (built-in kv)', () => {
  /** The keys of every put a replica applied. */
  const applied: string[] = [];
  const kv: AnyMachine = {
    ...kvMachine,
    command(state, cmd) {
      applied.push((cmd as { key: string }).key);
      return kvMachine.command(state, cmd);
    },
  };
  const fleet = new TestFleet({ machines: { kv } });
  before(async () => {
    await fleet.activate(3);
    await fleet.host('h1').addGroup('kv', { machine: 'kv', config: { snapshotEvery: 20 } });
  });
  after(() => fleet.stopAll());

  it('refuses the finding: a 2 MB value of 10^6 nested arrays, from the API and as raw bytes on the wire, and proposes nothing', async () => {
    const deepText = nested(1_000_000);
    const deep: unknown = JSON.parse(deepText); // JSON.parse takes it: that is how it got in
    for (const host of hostsOf(fleet)) {
      await assert.rejects(host.command('kv', { op: 'put', key: 'deep', value: deep }), (err) => {
        assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'), String(err));
        assert.match(err.message, /nested too deeply \(more than maxJsonDepth, 64 levels/);
        return true;
      });
    }
    // As the finding sent it: the command's JSON text on the wire, to the group's leader.
    const response = await rawRequest(fleet, await leaderOf(fleet, 'kv'), new TextEncoder().encode(`{"op":"put","key":"deep","value":${deepText}}`));
    assert.equal(response.error?.code, 'BAD_ARGUMENT');
    assert.match(response.error?.message ?? '', /the command is nested more than maxJsonDepth \(64 levels/);
    // A command after them applies everywhere; none of them ever did.
    await fleet.host('h1').command('kv', { op: 'put', key: 'after', value: 1 });
    await waitFor('every replica to apply it', () => applied.filter((k) => k === 'after').length === 3);
    assert.equal(applied.filter((k) => k === 'deep').length, 0, 'nothing was proposed');
  });

  it('takes 64 levels and refuses 65, and refuses a BigInt, a cycle, a function and a symbol with what is wrong', async () => {
    assert.equal(await fleet.host('h2').command('kv', { op: 'put', key: 'ok', value: JSON.parse(nested(63)) }), null);
    await assert.rejects(fleet.host('h2').command('kv', { op: 'put', key: 'no', value: JSON.parse(nested(64)) }), (err) => {
      return isFlotillaError(err, 'BAD_ARGUMENT') && /: the command is nested more than maxJsonDepth \(64 levels/.test(err.message);
    });
    const cycle: Record<string, unknown> = { op: 'put', key: 'c' };
    cycle.value = cycle;
    const refusals: Array<[unknown, RegExp]> = [
      [{ op: 'put', key: 'b', value: 10n }, /has no JSON encoding: it holds a BigInt/],
      [cycle, /has no JSON encoding: it is circular/],
      [() => 1, /has no JSON encoding: it is a function/],
      [Symbol('s'), /has no JSON encoding: it is a symbol/],
      [undefined, /has no JSON encoding: it is undefined/],
    ];
    for (const [value, message] of refusals) {
      await assert.rejects(fleet.host('h3').command('kv', value), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && message.test(err.message));
      await assert.rejects(fleet.host('h3').query('kv', value), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && message.test(err.message));
    }
    // A query as deep as the finding's command, on the wire, never reaches the machine.
    const response = await rawRequest(fleet, await leaderOf(fleet, 'kv'), new TextEncoder().encode(nested(100_000)), 'query');
    assert.equal(response.error?.code, 'BAD_ARGUMENT');
    assert.match(response.error?.message ?? '', /the query is nested more than maxJsonDepth/);
  });

  it('snapshots on every replica 20 entries later, as the finding did not', async () => {
    for (let i = 0; i < 25; i++) await fleet.host('h1').command('kv', { op: 'put', key: `k${i}`, value: i });
    for (const host of hostsOf(fleet)) assert.deepEqual(host.status().degraded, []);
    assert.equal(await fleet.host('h3').query('kv', { op: 'get', key: 'k24' }), 24);
  });
});

/**
 * Sends one request from a client endpoint of its own, straight to a host, as any program that
 * knows the secret could; follows NOT_LEADER hints (the group's leader refuses or serves it).
 */
async function rawRequest(fleet: TestFleet, first: string, payload: Uint8Array, kind: 'command' | 'query' = 'command'): Promise<ClientResponseItem> {
  const endpoint = fleet.hub.endpoint(`raw-${Math.random().toString(36).slice(2)}`);
  const answers: ClientResponseItem[] = [];
  endpoint.onItem((_from, item) => void (item.kind === 'clientResponse' && answers.push(item)));
  try {
    let to = first;
    for (let attempt = 1; ; attempt++) {
      endpoint.addPeer(to, '');
      await waitFor(`a link to ${to}`, () => endpoint.connectedHosts().includes(to));
      const request: ClientRequestItem = {
        kind: 'clientRequest', requestId: attempt, group: 'kv', requestKind: kind, payload, clientId: kind === 'command' ? 'raw-client' : '',
        seq: kind === 'command' ? 1 : 0, ackedBelow: 0, consistency: 'linearizable', timeoutMs: 5000,
      };
      assert.equal(endpoint.send(to, request), 'queued');
      endpoint.flush();
      await waitFor('the answer', () => answers.some((a) => a.requestId === attempt));
      const answer = answers.find((a) => a.requestId === attempt)!;
      if (answer.error?.code !== 'NOT_LEADER' || attempt === 20) return answer;
      // Leadership moves on a loaded machine: follow the hint, or ask again once a leader is known.
      if (answer.leaderHint !== '') to = answer.leaderHint;
      else {
        await new Promise((resolve) => setTimeout(resolve, 50));
        to = await leaderOf(fleet, 'kv');
      }
    }
  } finally {
    await endpoint.close();
  }
}

/** A counter whose snapshot throws while `failing.on` (on every host alike: a deterministic failure). */
const failing = { on: false };
const fragile: AnyMachine = {
  ...counter,
  snapshot(state) {
    if (failing.on) throw new RangeError('Maximum call stack size exceeded');
    return counter.snapshot(state);
  },
};

describe('a group whose snapshot throws, on hosts', () => {
  const lines: LogLine[] = [];
  const fleet = new TestFleet({ machines: { counter, fragile }, logger: capturingLogger(lines) });
  before(async () => {
    await fleet.activate(4);
    await fleet.host('h1').addGroup('f', { machine: 'fragile', config: { snapshotEvery: 5 } });
  });
  after(() => {
    failing.on = false;
    return fleet.stopAll();
  });

  it('keeps committing, and is degraded in status(), /metrics and the log (once per host), until a snapshot works', async () => {
    failing.on = true;
    for (let i = 1; i <= 30; i++) assert.equal(await fleet.host('h2').command('f', { op: 'inc', by: 1 }), i);
    const holders = (): Host[] => hostsOf(fleet).filter((h) => h.status().members.some((m) => m.group === 'f'));
    await waitFor('every replica degraded', () => holders().length === 3 && holders().every((h) => h.status().degraded.some((d) => d.group === 'f')));
    for (const host of holders()) {
      const entry = host.status().degraded.find((d) => d.group === 'f')!;
      assert.match(entry.reason, /^snapshot failed at index \d+( \(\d+ attempts in a row\))?: RangeError: Maximum call stack size exceeded; log not compacted/);
      assert.ok(entry.sinceMs >= 0);
      const metrics = render(collect({ host }));
      assert.match(metrics, /^flotilla_degraded_groups 1$/m);
      assert.match(metrics, /^flotilla_group_snapshot_failures_total [1-9]\d*$/m);
      const logged = lines.filter((l) => l.host === host.id && l.group === 'f' && l.level === 50 && /^snapshot failed/.test(l.msg));
      assert.equal(logged.length, 1, `${host.id} logs the streak once`);
    }

    // flotilla status, asked of a host that holds no replica of it, warns: the leader reports it.
    const outsider = hostsOf(fleet).find((h) => !holders().includes(h))!;
    assert.match(formatFleet(await fleetView(outsider)), /^warning: group f on h\d: snapshot failed at index \d+.*RangeError/m);

    // The finding: draining a host that holds the group timed out. It completes now.
    const drained = holders().find((h) => h.id !== 'h1')!;
    await drained.deactivate({ timeoutMs: 30_000 });
    assert.equal(drained.status().members.length, 0);
    assert.equal(await fleet.host('h1').command('f', { op: 'inc', by: 1 }), 31);

    // The next attempt is at a later multiple of 5 (backing off up to 8 multiples): commands get there.
    failing.on = false;
    await waitFor('degraded to clear', async () => {
      await fleet.host('h1').command('f', { op: 'inc', by: 1 });
      return hostsOf(fleet).every((h) => h.status().degraded.length === 0);
    });
    for (const host of hostsOf(fleet)) assert.match(render(collect({ host })), /^flotilla_degraded_groups 0$/m);
  });
});

/** A counter that adds a random amount: every replica holds its own total. */
const random: AnyMachine = {
  ...counter,
  command: (s) => {
    const n = (s as { n: number }).n + Math.random();
    return { state: { n }, reply: null };
  },
};

describe('replicas whose states differ (a machine using Math.random), on hosts', () => {
  const lines: LogLine[] = [];
  const fleet = new TestFleet({ machines: { counter, random }, logger: capturingLogger(lines) });
  before(async () => {
    await fleet.activate(3);
    await fleet.host('h1').addGroup('r', { machine: 'random', config: { snapshotEvery: 5 } });
    await fleet.host('h1').addGroup('c', { machine: 'counter', config: { snapshotEvery: 5 } });
  });
  after(() => fleet.stopAll());

  it('are reported on every host: error log with the index and both hosts, status().stateMismatches, a metric', async () => {
    for (let i = 0; i < 12; i++) {
      await fleet.host('h1').command('r', { op: 'inc', by: 1 });
      await fleet.host('h1').command('c', { op: 'inc', by: 1 });
    }
    await waitFor('every host to report both others', () => hostsOf(fleet).every((h) => h.status().stateMismatches.filter((x) => x.group === 'r').length === 2));
    for (const host of hostsOf(fleet)) {
      const found = host.status().stateMismatches;
      assert.ok(found.every((x) => x.group === 'r'), 'the deterministic groups agree (c and $cluster)');
      const peers = found.map((x) => Object.keys(x.hashes).filter((h) => h !== host.id)[0]).sort();
      assert.deepEqual(peers, hostsOf(fleet).map((h) => h.id).filter((h) => h !== host.id).sort());
      for (const x of found) {
        assert.equal(x.index % 5, 0, 'compared at a snapshot index');
        const [ours, theirs] = [x.hashes[host.id], Object.entries(x.hashes).find(([h]) => h !== host.id)![1]];
        assert.match(ours ?? '', /^[0-9a-f]{16}$/);
        assert.notEqual(ours, theirs);
      }
      assert.match(render(collect({ host })), /^flotilla_state_mismatched_groups 1$/m);
      assert.match(formatFleet(await fleetView(host)), /^warning: group r: replicas hold different states at index \d+ \(h\d [0-9a-f]{16}, h\d [0-9a-f]{16}\)$/m);
      assert.match(render(collect({ host })), /^flotilla_state_hash_mismatches_total [1-9]\d*$/m);
      const logged = lines.filter((l) => l.host === host.id && l.group === 'r' && l.level === 50 && /^state mismatch/.test(l.msg));
      assert.ok(logged.length >= 2, `${host.id} logged the mismatches`);
      assert.ok(logged.every((l) => typeof l.index === 'number' && typeof l.peer === 'string' && typeof l.member === 'string'));
    }
  });
});
