// The HTTP admin port: /metrics must parse as Prometheus text (every sample typed and documented,
// names and labels well formed, counters named _total) and carry the host's figures; /status is
// the host's status and the fleet as JSON.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { counter as counterFamily } from '../../src/admin/metrics.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { Host } from '../../src/host.js';
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
    assert.ok(types.has(sample[1]!), `a TYPE before the samples of ${sample[1]}`);
    assert.ok(helps.has(sample[1]!), `a HELP for ${sample[1]}`);
    samples.push({ name: sample[1]!, labels, value });
  }
  for (const [family, type] of types) if (type === 'counter') assert.match(family, /_total$/, `counter ${family} ends in _total`);
  return { types, samples };
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
  });

  it('serves /status as JSON and refuses other paths', async () => {
    const body = (await (await fetch(`http://${admin.address}/status`)).json()) as {
      host: { id: string; members: Array<{ group: string }> };
      fleet: { groups: Array<{ name: string; leader: string | null; placement: string[] }> };
    };
    assert.equal(body.host.id, 'm1');
    assert.ok(body.host.members.some((m) => m.group === 'orders'));
    assert.deepEqual(body.fleet.groups.map((g) => [g.name, g.leader, g.placement]), [['orders', 'm1', ['m1']]]);
    assert.equal((await fetch(`http://${admin.address}/nope`)).status, 404);
    assert.equal((await fetch(`http://${admin.address}/metrics`, { method: 'POST' })).status, 405);
  });
});
