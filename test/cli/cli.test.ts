// The `flotilla` command end to end: three `flotilla host` processes (flags, a JSON config file,
// bare-address join, an admin port), then every fleet subcommand against them, the errors a user
// meets (bad flags, a wrong secret, an unreachable host), deactivate, and clean stops on SIGTERM
// (draining first with --drain) and SIGINT.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FlotillaHost } from '../fixtures/flotilla-host.js';
import { flotilla } from './fixtures/flotilla.js';

const SECRET = 'cli test secret';
const START_MS = 20_000;

describe('flotilla command', () => {
  let dir: string;
  const hosts: FlotillaHost[] = [];
  let seed = '';
  let admin: string | undefined;
  const as = (address: string) => ['--host', address, '--secret', SECRET];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-cli-'));
    const h1 = new FlotillaHost('h1', ['--id', 'h1', '--zone', 'a', '--storage', 'memory', '--admin-port', '127.0.0.1:0'], SECRET);
    hosts.push(h1);
    ({ address: seed, admin } = await h1.started(START_MS));
    hosts.push(new FlotillaHost('h2', ['--id', 'h2', '--zone', 'b', '--storage', 'memory', '--join', seed], SECRET));
    const config = join(dir, 'h3.json');
    await writeFile(config, JSON.stringify({ id: 'h3', zone: 'a', join: [seed], storage: 'rocksdb', dataDir: join(dir, 'h3'), drain: true }));
    hosts.push(new FlotillaHost('h3', ['--config', config], SECRET));
    await Promise.all(hosts.map((h) => h.started(START_MS)));
  });

  after(async () => {
    for (const h of hosts) h.signal('SIGKILL');
    await Promise.all(hosts.map((h) => h.exited));
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the fleet, adds, commands, queries and removes groups', async () => {
    const added = await flotilla(['add-group', 'orders', '--machine', 'counter', '--replicas', '3', ...as(seed)]);
    assert.equal(added.code, 0, added.stderr);
    const incr = await flotilla(['command', 'orders', '{"op":"incr","by":2}', ...as(seed)]);
    assert.deepEqual([incr.code, incr.stdout.trim()], [0, '2'], incr.stderr);
    const read = await flotilla(['query', 'orders', 'null', '--consistency', 'lease'], { FLOTILLA_HOSTS: seed, FLOTILLA_SECRET: SECRET });
    assert.deepEqual([read.code, read.stdout.trim()], [0, '2'], read.stderr);

    const json = await flotilla(['status', '--json', ...as(seed)]);
    const view = JSON.parse(json.stdout) as { hosts: Record<string, Array<{ id: string; state: string }>>; groups: Array<{ name: string; placement: string[] }> };
    assert.deepEqual(Object.values(view.hosts).flat().map((h) => `${h.id}:${h.state}`).sort(), ['h1:active', 'h2:active', 'h3:active']);
    assert.equal(view.groups.find((g) => g.name === 'orders')?.placement.length, 3);

    assert.equal((await flotilla(['add-group', 'scratch', '--machine', 'kv', '--replicas', '1', ...as(seed)])).code, 0);
    const removed = await flotilla(['remove-group', 'scratch', ...as(seed)]);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await flotilla(['command', 'scratch', '{"op":"put","key":"k","value":2}', ...as(seed)]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /NO_SUCH_GROUP/);
  });

  it('explains mistakes with a non-zero exit', async () => {
    // Each run starts a process; the usage checks themselves have unit tests (args.test.ts).
    const cases: Array<[string[], number, RegExp]> = [
      [['status', '--bogus', ...as(seed)], 2, /^flotilla: unknown option --bogus\nrun 'flotilla help status' for usage\n$/],
      [['add-group', 'x', '--machine', 'nope', ...as(seed)], 1, /NO_SUCH_MACHINE/],
      [['command', 'orders', '{"op":"decr"}', ...as(seed)], 1, /COMMAND_FAILED/],
      [['status', '--host', seed, '--secret', 'wrong'], 1, /TRANSPORT_AUTH/],
      [['status', ...as('127.0.0.1:1')], 1, /UNAVAILABLE: cannot reach/],
    ];
    const runs = await Promise.all(cases.map(([args]) => flotilla(args)));
    runs.forEach((run, i) => {
      const [args, code, message] = cases[i]!;
      assert.equal(run.code, code, `flotilla ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    });
  });

  it('serves Prometheus metrics on the admin port', async () => {
    assert.ok(admin !== undefined);
    const text = await (await fetch(`http://${admin}/metrics`)).text();
    assert.match(text, /^flotilla_host_info\{host="h1",zone="a",state="active"\} 1$/m);
    assert.match(text, /^flotilla_applied_commands_total\{outcome="ok"\} [1-9]/m);
    assert.match(text, /^flotilla_fleet_operations_total\{op="fleet"\} [1-9]/m);
  });

  it('deactivates a host, and stops hosts cleanly on signals', async () => {
    const drained = await flotilla(['deactivate', 'h2', '--timeout', '30000', ...as(seed)]);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /h2 is inactive/);
    const status = await flotilla(['status', ...as(seed)]);
    assert.match(status.stdout, /\bh2\b.*inactive/);
    assert.match(status.stdout, /^orders +counter +3 +(h1|h3) /m);

    const [h1, h2, h3] = hosts as [FlotillaHost, FlotillaHost, FlotillaHost];
    h3.signal('SIGTERM');
    assert.equal(await h3.exited, 0);
    assert.ok(h3.logged('draining: moving every member to other hosts') !== undefined, 'h3 drains first (--drain in its config)');
    assert.ok(h3.logged('stopped') !== undefined);
    h2.signal('SIGINT');
    h1.signal('SIGINT');
    assert.deepEqual(await Promise.all([h1.exited, h2.exited]), [0, 0]);
  });
});
