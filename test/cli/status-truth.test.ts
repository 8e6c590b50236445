// `flotilla status` tells the truth (issue 17): against 3 hosts embedded in this process over ws,
// the status subcommand (runFleetCommand, as `flotilla status` runs it) says a healthy fleet is
// healthy (`--check` exits 0), refuses `add-group --replicas 5` on 3 hosts, and once a host is
// killed, and then the cluster group's quorum lost, shows each as a finding and `--check` exits 1;
// `flotilla deactivate` warns of the groups it leaves with fewer hosts than replicas.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runFleetCommand } from '../../src/cli/fleet-commands.js';
import { FlotillaError } from '../../src/common/errors.js';
import { fleetFindings, groupsShortWithout, type FleetView } from '../../src/fleet/ops-protocol.js';
import { Host } from '../../src/host/host.js';
import { counter, waitFor } from '../fleet/harness.js';

const SECRET = 'status truth test secret';

async function startHost(id: string, zone: string, join: string[]): Promise<Host> {
  const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines: { counter }, tickMs: 20, reconcileMs: 50 });
  await host.activate(zone);
  return host;
}

describe('flotilla status tells the truth', () => {
  const hosts: Host[] = [];
  let seed = '';

  async function status(...flags: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await runFleetCommand('status', ['--host', seed, '--secret', SECRET, ...flags], {}, (line) => lines.push(line));
    return { code, out: lines.join('\n') };
  }

  /** Runs `status --check` until `ok` holds of its result (the fleet settles), returning that result. */
  async function statusUntil(what: string, ok: (r: { code: number; out: string }) => boolean): Promise<{ code: number; out: string }> {
    let last = { code: -1, out: '' };
    await waitFor(what, async () => ok((last = await status('--check'))), 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nlast status, exit ${last.code}:\n${last.out}`);
    });
    return last;
  }

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    seed = h1.address;
    hosts.push(h1, await startHost('h2', 'b', [`h1@${h1.address}`]), await startHost('h3', 'c', [`h1@${h1.address}`]));
  });

  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it('a healthy fleet: no findings, --check exits 0', async () => {
    const added: string[] = [];
    await runFleetCommand('add-group', ['orders', '--machine', 'counter', '--replicas', '3', '--host', seed, '--secret', SECRET], {}, (l) => added.push(l));
    assert.deepEqual(added, ['added group orders']);
    const healthy = await statusUntil('the fleet to be healthy', (r) => r.code === 0);
    assert.match(healthy.out, /no problems found$/);
    assert.match(healthy.out, /^cluster group: leader h\d, voters h\d,h\d,h\d$/m);
    assert.match(healthy.out, /^orders +counter +3 +h\d +(h\d,?){3} /m);
    const json = JSON.parse((await status('--json')).out) as FleetView & { findings: string[] };
    assert.deepEqual(json.findings, []);
    assert.ok(Object.values(json.hosts).flat().every((h) => h.reachable === true));
  });

  it('refuses add-group with more replicas than active hosts, naming both numbers', async () => {
    await assert.rejects(
      runFleetCommand('add-group', ['big', '--machine', 'counter', '--replicas', '5', '--host', seed, '--secret', SECRET], {}, () => {}),
      (err: unknown) => err instanceof FlotillaError && err.code === 'BAD_ARGUMENT' && /5 replicas.*only 3 active hosts/.test(err.message),
    );
    assert.ok(!(await status()).out.includes('big'), 'nothing was proposed');
  });

  it('a killed host is a finding; then a lost cluster quorum is one too; --check exits 1', async () => {
    await hosts[2]!.stop();
    const killed = await statusUntil('the killed host to show', (r) => /host h3 is (failed|active in the metadata, unreachable from h1)/.test(r.out));
    assert.equal(killed.code, 1);
    assert.match(killed.out, /^c +h3 .* no +!$|^c +h3 .*failed .*!$/m);
    await hosts[1]!.stop();
    const lost = await statusUntil('the lost quorum to show', (r) => r.out.includes('the metadata cannot change: cluster group has no leader'));
    assert.equal(lost.code, 1);
    assert.match(lost.out, /host h2 is active in the metadata, unreachable from h1/);
    assert.match(lost.out, /group orders has no leader/);
    assert.match(lost.out, /^orders +counter +3 +- +\? .*!$/m);
    const json = JSON.parse((await status('--json')).out) as { findings: string[] };
    assert.ok(json.findings.includes('the metadata cannot change: cluster group has no leader'), JSON.stringify(json.findings));
  });
});

describe('flotilla deactivate warns of groups it leaves short', () => {
  const hosts: Host[] = [];

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    hosts.push(h1, await startHost('h2', 'b', [`h1@${h1.address}`]), await startHost('h3', 'c', [`h1@${h1.address}`]));
  });

  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it('warns, drains, and status then shows the group short of voters', async () => {
    const fleet = ['--host', hosts[0]!.address, '--secret', SECRET];
    await runFleetCommand('add-group', ['orders', '--machine', 'counter', '--replicas', '3', ...fleet], {}, () => {});
    const lines: string[] = [];
    assert.equal(await runFleetCommand('deactivate', ['h3', '--timeout', '30000', ...fleet], {}, (l) => lines.push(l)), 0);
    assert.equal(lines[0], 'warning: group orders has 3 replicas but only 2 active hosts will be left without h3: it runs with 2 voters until a host is activated');
    assert.match(lines.at(-1) ?? '', /h3 is inactive/);
    const short = 'group orders has 2 voters of its 3 replicas';
    let last = { code: -1, out: '' };
    await waitFor('the short group to show', async () => {
      const out: string[] = [];
      last = { code: await runFleetCommand('status', ['--check', ...fleet], {}, (l) => out.push(l)), out: out.join('\n') };
      return last.out.includes(short);
    });
    assert.equal(last.code, 1, last.out);
  });
});

describe('fleet findings from a view', () => {
  const view: FleetView = {
    host: 'h1',
    hosts: { a: [{ id: 'h1', address: 'x:1', state: 'active' }, { id: 'h2', address: 'x:2', state: 'active' }], b: [{ id: 'h3', address: 'x:3', state: 'active' }] },
    groups: [{ name: 'g', id: 1, machine: 'counter', replicas: 3, placement: ['h1', 'h2', 'h3'], leader: 'h1' }],
  };

  it('copes with a host that predates the new fields: only what it sent is judged', () => {
    assert.deepEqual(fleetFindings(view), []);
    assert.deepEqual(fleetFindings({ ...view, groups: [{ ...view.groups[0]!, leader: null }] }), ['group g has no leader']);
  });

  it('names voters short of replicas and members off placement', () => {
    const g = { ...view.groups[0]!, voters: ['h1', 'h4'], learners: [], offPlacement: true };
    assert.deepEqual(fleetFindings({ ...view, groups: [g] }), ['group g has 2 voters of its 3 replicas', 'group g is off its placement: voters h1 h4, placement h1 h2 h3']);
  });

  it('deactivating a host of 3 leaves 3-replica groups short', () => {
    assert.deepEqual(groupsShortWithout(view, 'h3'), [{ name: 'g', replicas: 3, hosts: 2 }]);
  });
});
