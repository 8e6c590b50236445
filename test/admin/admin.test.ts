// The HTTP admin port: /metrics must parse as Prometheus text (every sample typed and documented,
// names and labels well formed, counters named _total, histograms with cumulative buckets up to
// +Inf matching _count) and carry the host's figures, which move consistently with the commands
// run; /status is the host's status and the fleet as JSON.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { counter as counterFamily } from '../../src/admin/metrics.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter } from '../fleet/harness.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the Prometheus text format (0.0.4): throws on anything malformed. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  for (const line of text.slice(0, -1).split('\n')) {
    const help = new RegExp(`^# HELP (${name}) (.*)$`).exec(line);
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help !== null) {
      assert.ok(!helps.has(help[1]!), `one HELP per family: ${line}`);
      helps.add(help[1]!);
      continue;
    }
    if (type !== null) {
      assert.ok(!types.has(type[1]!), `one TYPE per family: ${line}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    assert.ok(sample !== null, `a well-formed sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = sample[2] ?? '';
    while (rest !== '') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      assert.ok(label !== null, `well-formed labels: ${line}`);
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(label[0].length);
    }
    const value = Number(sample[3]!.replace('+Inf', 'Infinity').replace('-Inf', '-Infinity'));
    assert.ok(sample[3] === 'NaN' || !Number.isNaN(value), `a numeric value: ${line}`);
    const base = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    const family = types.has(sample[1]!) ? sample[1]! : base;
    assert.ok(types.has(family), `a TYPE before the samples of ${sample[1]}`);
    assert.ok(helps.has(family), `a HELP for ${sample[1]}`);
    if (family !== sample[1]) assert.equal(types.get(family), 'histogram', `${sample[1]}: only a histogram has _bucket, _sum and _count series`);
    if (types.get(family) === 'histogram') {
      assert.notEqual(family, sample[1], `histogram ${family} has only _bucket, _sum and _count series`);
      if (sample[1]!.endsWith('_bucket')) assert.ok('le' in labels, `${line}: a bucket has an le label`);
    }
    if (types.get(family) === 'counter') assert.ok(value >= 0, `counter ${line} is not negative`);
    samples.push({ name: sample[1]!, labels, value });
  }
  for (const [family, type] of types) {
    if (type === 'counter') assert.match(family, /_total$/, `counter ${family} ends in _total`);
    if (type !== 'histogram') continue;
    const buckets = samples.filter((s) => s.name === `${family}_bucket`);
    const bounds = buckets.map((b) => Number(b.labels.le!.replace('+Inf', 'Infinity')));
    assert.ok(bounds.length > 1 && bounds.every((b, i) => i === 0 || b > bounds[i - 1]!), `${family}: increasing bucket bounds`);
    assert.equal(bounds.at(-1), Infinity, `${family}: the last bucket is +Inf`);
    assert.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value), `${family}: cumulative bucket counts`);
    assert.equal(buckets.at(-1)!.value, value(samples, `${family}_count`), `${family}: the +Inf bucket is the count`);
    assert.ok(value(samples, `${family}_sum`) >= 0);
  }
  return { types, samples };
}

async function scrape(address: string): Promise<{ types: Map<string, string>; samples: Sample[] }> {
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found !== undefined, `a sample ${name} ${JSON.stringify(labels)}`);
  return found.value;
}

describe('admin port', () => {
  let host: Host;
  let admin: AdminServer;
  let applied = 0;

  before(async () => {
    host = await Host.start({ id: 'm1', listen: '127.0.0.1:0', storage: 'memory', secret: 'admin test', machines: { counter }, tickMs: 20, onApply: () => applied++ });
    await host.activate('zone-a');
    await host.addGroup('orders', { machine: 'counter', replicas: 1 });
    await host.command('orders', { op: 'inc', by: 3 });
    admin = await startAdminServer('127.0.0.1:0', {
      host,
      extra: () => [counterFamily('test_applied_total', 'Applied "commands"\nby this host.', [{ labels: { note: 'a "quoted" \\ value' }, value: applied }])],
    });
  });

  after(async () => {
    await admin.close();
    await host.stop();
  });

  it('serves /metrics as Prometheus text with the host figures', async () => {
    const res = await fetch(`http://${admin.address}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(await res.text());
    assert.equal(types.get('flotilla_leaders'), 'gauge');
    assert.equal(value(samples, 'flotilla_host_info', { host: 'm1', zone: 'zone-a', state: 'active' }), 1);
    assert.equal(value(samples, 'flotilla_leaders'), host.status().leaders);
    assert.equal(value(samples, 'flotilla_members', { role: 'leader' }), 2, 'the cluster group and orders');
    assert.ok(value(samples, 'flotilla_member_applied_index', { group: 'orders' }) >= 1);
    assert.equal(value(samples, 'flotilla_fleet_hosts', { state: 'active' }), 1);
    assert.equal(value(samples, 'flotilla_fleet_groups'), 1);
    assert.ok(value(samples, 'process_resident_memory_bytes') > 0);
    assert.ok(value(samples, 'process_cpu_seconds_total') > 0);
    assert.equal(value(samples, 'test_applied_total', { note: 'a "quoted" \\ value' }), applied);
    // The size and connection limits' counters, and what the host holds.
    assert.equal(value(samples, 'flotilla_transport_items_too_large_total'), 0);
    assert.equal(value(samples, 'flotilla_transport_max_connections'), host.metrics().connections!.maxConnections);
    assert.equal(value(samples, 'flotilla_transport_connections_refused_total', { limit: 'max_unauthenticated_per_address' }), 0);
    assert.equal(value(samples, 'flotilla_transport_handshake_timeouts_total'), 0);
    assert.equal(value(samples, 'flotilla_transport_connections', { state: 'dialed' }), 0);
  });

  it('counts proposals, commit latency, fsyncs, frames, elections, membership changes and errors consistently', async () => {
    const before = await scrape(admin.address);
    const was = (name: string, labels: Record<string, string> = {}) => value(before.samples, name, labels);
    assert.equal(before.types.get('flotilla_commit_latency_seconds'), 'histogram');
    assert.ok(was('flotilla_elections_total') >= 2, 'the cluster group and orders each elected a leader here');
    assert.ok(was('flotilla_leader_changes_total') >= 2);
    assert.ok(was('flotilla_fsyncs_total') > 0);
    assert.ok(was('flotilla_transport_frames_total', { direction: 'sent' }) >= 0);

    const n = 20;
    const replies = await Promise.all(Array.from({ length: n }, () => host.command<number>('orders', { op: 'inc', by: 1 })));
    assert.equal(replies.length, n);
    await assert.rejects(host.command('orders', { op: 'fail' }), (err: unknown) => err instanceof FlotillaError && err.code === 'COMMAND_FAILED');

    const after = await scrape(admin.address);
    const now = (name: string, labels: Record<string, string> = {}) => value(after.samples, name, labels);
    const moved = (name: string, labels: Record<string, string> = {}) => now(name, labels) - was(name, labels);
    // Every acknowledged command (and the one the machine refused) was proposed, timed and applied.
    assert.ok(moved('flotilla_proposals_total') >= n + 1, `proposals moved by ${moved('flotilla_proposals_total')}`);
    assert.ok(moved('flotilla_commit_latency_seconds_count') >= n + 1, 'each applied command is in the histogram');
    assert.ok(moved('flotilla_commit_latency_seconds_count') <= moved('flotilla_proposals_total'), 'no more timed than proposed');
    assert.ok(moved('flotilla_commit_latency_seconds_sum') > 0);
    assert.ok(moved('flotilla_commit_latency_seconds_bucket', { le: '5' }) >= n + 1, 'these commands took less than 5 s');
    assert.ok(moved('flotilla_applied_commands_total', { outcome: 'ok' }) >= n);
    assert.equal(moved('flotilla_applied_commands_total', { outcome: 'failed' }), 1);
    const errorsBy = (samples: Sample[], code: string) => samples.find((s) => s.name === 'flotilla_call_errors_total' && s.labels.code === code)?.value ?? 0;
    assert.equal(errorsBy(after.samples, 'COMMAND_FAILED') - errorsBy(before.samples, 'COMMAND_FAILED'), 1);
    assert.ok(now('flotilla_fsyncs_total') > was('flotilla_fsyncs_total'), 'new entries were synced');
    assert.ok(now('flotilla_store_writes_total') >= now('flotilla_fsyncs_total'));
    assert.ok(now('flotilla_loop_turns_total') >= now('flotilla_store_writes_total'));
    assert.equal(moved('flotilla_elections_total'), 0, 'a stable single-host fleet elects nobody new');
    assert.equal(now('flotilla_membership_changes_total'), 0, 'single-voter groups never changed membership');
    const errors = after.samples.filter((s) => s.name === 'flotilla_call_errors_total');
    assert.ok(errors.every((s) => /^[A-Z_]+$/.test(s.labels.code ?? '')), 'errors are labelled by code');
    // What /metrics shows is what host.metrics() counts.
    const m = host.metrics();
    assert.ok(m.proposals >= now('flotilla_proposals_total'));
    assert.ok(m.loop.syncs >= now('flotilla_fsyncs_total'));
  });

  it('counts frames, elections and membership changes across hosts', async () => {
    // A second host joins: frames flow both ways, the cluster group adds it as a learner (a
    // membership change its leader, m1, commits), and a group of 2 replicas elects across them.
    const before = await scrape(admin.address);
    const m2 = await Host.start({ id: 'm2', listen: '127.0.0.1:0', join: [host.address], storage: 'memory', secret: 'admin test', machines: { counter }, tickMs: 20, reconcileMs: 50 });
    try {
      await m2.activate('zone-b');
      await host.addGroup('pair', { machine: 'counter', replicas: 2 });
      assert.equal(await m2.command('pair', { op: 'inc', by: 1 }), 1);
      const after = await scrape(admin.address);
      const moved = (name: string, labels: Record<string, string> = {}) => value(after.samples, name, labels) - value(before.samples, name, labels);
      assert.ok(moved('flotilla_transport_frames_total', { direction: 'sent' }) > 0);
      assert.ok(moved('flotilla_transport_frames_total', { direction: 'received' }) > 0);
      assert.ok(moved('flotilla_membership_changes_total') >= 1, 'm1 led the change adding m2 to the cluster group');
      const elections = host.metrics().elections + m2.metrics().elections - value(before.samples, 'flotilla_elections_total');
      assert.ok(elections >= 1, 'pair elected a leader on one of the hosts');
      assert.ok(host.metrics().leaderChanges + m2.metrics().leaderChanges >= value(before.samples, 'flotilla_leader_changes_total') + 1);
      await m2.deactivate({ timeoutMs: 20_000 });
    } finally {
      await m2.stop();
    }
  });

  it('serves /status as JSON and refuses other paths', async () => {
    const body = (await (await fetch(`http://${admin.address}/status`)).json()) as {
      host: { id: string; members: Array<{ group: string }> };
      fleet: { groups: Array<{ name: string; leader: string | null; placement: string[] }> };
    };
    assert.equal(body.host.id, 'm1');
    assert.ok(body.host.members.some((m) => m.group === 'orders'));
    assert.deepEqual(body.fleet.groups.filter((g) => g.name === 'orders').map((g) => [g.name, g.leader, g.placement]), [['orders', 'm1', ['m1']]]);
    assert.equal((await fetch(`http://${admin.address}/nope`)).status, 404);
    assert.equal((await fetch(`http://${admin.address}/metrics`, { method: 'POST' })).status, 405);
  });
});
