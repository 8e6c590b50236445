// The `flotilla` command's flags and config file, checked in-process: every mistake is a
// UsageError (exit 2) found before anything starts or connects.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatFleet, runFleetCommand } from '../../src/cli/fleet-commands.js';
import { hostSettings } from '../../src/cli/host-command.js';
import { loadMachines } from '../../src/cli/machines.js';
import { UsageError } from '../../src/cli/usage.js';

describe('flotilla flags', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-args-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads host settings from flags, the config file and FLOTILLA_SECRET', async () => {
    const config = join(dir, 'h.json');
    await writeFile(config, JSON.stringify({ id: 'h1', zone: 'a', dataDir: '/d', join: ['10.0.0.2:7001'], adminPort: 9100, drain: true, maxConnections: 900, handshakeTimeoutMs: 2000 }));
    const settings = await hostSettings(['--config', config, '--zone', 'b', '--join', 'h3@10.0.0.3:7001', '--handshake-timeout-ms', '3000', '--max-unauthenticated-per-address', '8'], { FLOTILLA_SECRET: 's' });
    assert.deepEqual(settings, {
      id: 'h1', zone: 'b', secret: 's', listen: '127.0.0.1:0', join: ['h3@10.0.0.3:7001'], storage: 'rocksdb',
      dataDir: '/d', adminPort: '9100', drain: true, logLevel: 'info',
      limits: { maxConnections: 900, maxUnauthenticatedPerAddress: 8, handshakeTimeoutMs: 3000 },
    });
  });

  it('takes --accept-stale-data-dir (acceptStaleDataDir in a config file) only when given', async () => {
    const base = ['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory'];
    assert.equal((await hostSettings(base, {})).acceptStaleDataDir, undefined);
    assert.equal((await hostSettings([...base, '--accept-stale-data-dir'], {})).acceptStaleDataDir, true);
    const config = join(dir, 'stale.json');
    await writeFile(config, JSON.stringify({ acceptStaleDataDir: true }));
    assert.equal((await hostSettings(['--config', config, ...base], {})).acceptStaleDataDir, true);
    await writeFile(config, JSON.stringify({ acceptStaleDataDir: 'yes' }));
    await assert.rejects(hostSettings(['--config', config, ...base], {}), (err) => err instanceof UsageError && /acceptStaleDataDir must be true or false/.test(err.message));
  });

  it('refuses bad host flags and config files', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ id: 'h1', zone: 'a', secret: 's', storage: 'memory', colour: 'red' }));
    const cases: Array<[string[], RegExp]> = [
      [['--zone', 'a', '--secret', 's'], /needs --id/],
      [['--id', 'h1', '--secret', 's'], /needs --zone/],
      [['--id', 'h1', '--zone', 'a'], /cluster secret/],
      [['--id', 'h 1', '--zone', 'a', '--secret', 's', '--storage', 'memory'], /--id: host id "h 1"/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's'], /needs --data-dir/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'floppy'], /--storage must be one of/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--listen', 'nowhere'], /not a 'host:port' address/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', 'extra'], /takes no arguments/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--listen', '0.0.0.0:7001'], /needs --advertise/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--max-connections', '0'], /--max-connections must be a positive integer, got 0/],
      [['--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--handshake-timeout-ms', '5s'], /--handshake-timeout-ms must be a positive integer/],
      [['--config', bad], /unknown key colour/],
      [['--config', join(dir, 'missing.json')], /cannot read config/],
    ];
    for (const [args, message] of cases) await assert.rejects(hostSettings(args, {}), (err: unknown) => err instanceof UsageError && message.test(err.message));
    await assert.rejects(hostSettings(['--id', 'h1', '--nope'], {}), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });

  it('refuses bad fleet subcommand arguments before connecting', async () => {
    const env = { FLOTILLA_SECRET: 's', FLOTILLA_HOSTS: '127.0.0.1:1' };
    const cases: Array<[Parameters<typeof runFleetCommand>[0], string[], RegExp]> = [
      ['status', ['extra'], /takes no arguments/],
      ['command', ['g'], /takes GROUP JSON/],
      ['command', ['g', '{nope'], /not JSON/],
      ['query', ['g', '1', '--consistency', 'eventual'], /--consistency must be/],
      ['add-group', ['g'], /needs --machine/],
      ['add-group', ['g', '--machine', 'kv', '--replicas', '0'], /--replicas must be a positive integer/],
      ['status', ['--timeout', 'soon'], /--timeout must be a positive integer/],
    ];
    for (const [name, args, message] of cases) {
      await assert.rejects(runFleetCommand(name, args, env, () => undefined), (err: unknown) => err instanceof UsageError && message.test(err.message));
    }
    await assert.rejects(runFleetCommand('status', [], { FLOTILLA_SECRET: 's' }, () => undefined), /--host/);
    await assert.rejects(runFleetCommand('status', ['--host', 'a:1'], {}, () => undefined), /cluster secret/);
  });

  it('loads machines from a module and checks them', async () => {
    const good = join(dir, 'good.mjs');
    await writeFile(good, `export const machines = { one: { init: () => 1, command: (s) => ({ state: s, reply: s }), query: (s) => s, snapshot: () => new Uint8Array(), restore: () => 1 } };`);
    assert.deepEqual(Object.keys(await loadMachines(good)), ['one']);
    const typed = join(dir, 'typed.ts');
    await writeFile(typed, `const n: number = 0;\nexport default { n: { init: () => n, command: (s: number) => ({ state: s, reply: s }), query: (s: number) => s, snapshot: () => new Uint8Array(), restore: () => n } };`);
    assert.deepEqual(Object.keys(await loadMachines(typed)), ['n']);
    const partial = join(dir, 'partial.mjs');
    await writeFile(partial, `export default { two: { init: () => 1 } };`);
    await assert.rejects(loadMachines(partial), /machine two .* lacks command, query, snapshot, restore/);
    await assert.rejects(loadMachines(join(dir, 'none.mjs')), /cannot load machines/);
  });

  it('prints the fleet as tables', () => {
    const text = formatFleet({
      host: 'h1',
      hosts: { a: [{ id: 'h1', address: '10.0.0.1:7001', state: 'active', machines: ['counter', 'kv'] }], b: [{ id: 'h2', address: '10.0.0.2:7001', state: 'failed' }] },
      groups: [{ name: 'orders', id: 1, machine: 'counter', replicas: 2, placement: ['h2', 'h1'], leader: null }],
    });
    assert.match(text, /^fleet as seen by h1$/m);
    // A host of an older version sends no reachability or voters: '?', and only what it sent is judged.
    assert.match(text, /^b +h2 +10\.0\.0\.2:7001 +\? +failed +\? +!$/m);
    assert.match(text, /^a +h1 +10\.0\.0\.1:7001 +counter,kv +active +\?$/m);
    assert.match(text, /^orders +counter +2 +- +\? +h2\(b\) h1\(a\) +!$/m);
    assert.match(text, /\n\n2 problems:\n {2}! host h2 is failed\n {2}! group orders has no leader$/);
    assert.doesNotMatch(text, /warning/);
  });

  it('ends the fleet with a warning line for each replica reported wrong', () => {
    const warning = 'group orders on h1: snapshot failed at index 10000: RangeError: Maximum call stack size exceeded; log not compacted: 12 entries since the last snapshot at 0, next attempt at 20000';
    const text = formatFleet({ host: 'h1', hosts: {}, groups: [], warnings: [warning] });
    assert.match(text, /\n\nwarning: group orders on h1: snapshot failed at index 10000: RangeError/);
    assert.equal(text.split('\n').at(-1), `warning: ${warning}`);
  });
});
