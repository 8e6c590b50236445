// TLS end to end, with certificates made here (fixtures/certs.ts, node:crypto only): a 3-host
// fleet whose hosts dial each other with wss:// (one joins through a bare address, so over the
// identity path on https), a client and `flotilla status` over TLS; a plaintext client or peer and
// a peer with a certificate from another CA are refused; with mutual TLS a client without a
// certificate is refused and one with a certificate is served. And the options' checks.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hostSettings } from '../../src/cli/host-command.js';
import { runFleetCommand } from '../../src/cli/fleet-commands.js';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import type { TlsOptions } from '../../src/transport/ws-transport.js';
import { counter, waitFor } from '../fleet/harness.js';
import { makeAuthority } from './fixtures/certs.js';

const SECRET = 'tls test secret';
const ca = makeAuthority('flotilla test CA');
const otherCa = makeAuthority('another CA');
const dir = mkdtempSync(join(tmpdir(), 'flotilla-tls-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.cert);

after(() => rmSync(dir, { recursive: true, force: true }));

function hostTls(id: string, extra: Partial<TlsOptions> = {}): TlsOptions {
  const { cert, key } = ca.issue(id);
  return { cert, key, ca: ca.cert, ...extra };
}

async function startHost(id: string, join: string[], tls: TlsOptions | undefined, zone = 'a', activate = true): Promise<Host> {
  const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines: { counter }, tickMs: 20, reconcileMs: 50, ...(tls ? { tls } : {}) });
  if (activate) await host.activate(zone);
  return host;
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof FlotillaError && err.code === code;
}

/** A host that must not get into the fleet: its activation fails and no fleet host lists it. */
async function refusedPeer(fleet: Host, id: string, tls: TlsOptions | undefined, seed: string): Promise<void> {
  const peer = await startHost(id, [seed], tls, 'b', false);
  try {
    await assert.rejects(peer.activate('b', { timeoutMs: 1500 }), (err) => err instanceof FlotillaError);
    assert.ok(!Object.values(fleet.hosts()).flat().some((h) => h.id === id), `${id} is not in the fleet`);
  } finally {
    await peer.stop();
  }
}

describe('TLS: a fleet over wss://', () => {
  const hosts: Host[] = [];
  let client: Client;
  before(async () => {
    const h1 = await startHost('h1', [], hostTls('h1'));
    hosts.push(h1);
    // A bare address: the joining host asks h1 its id at /flotilla/id, over https.
    hosts.push(await startHost('h2', [h1.address], hostTls('h2'), 'b'));
    hosts.push(await startHost('h3', [`h1@${h1.address}`], { certFile: writeFile('h3.pem', ca.issue('h3')), keyFile: join(dir, 'h3.pem.key'), caFile }));
    client = await connect({ hosts: [h1.address], secret: SECRET, tls: { ca: ca.cert } });
  });
  after(async () => {
    await client?.close();
    for (const h of hosts) await h.stop();
  });

  it('runs a command and a query from a client, and flotilla status, over TLS', async () => {
    await client.addGroup('orders', { machine: 'counter' });
    assert.equal(await client.command('orders', { op: 'inc', by: 2 }), 2);
    assert.equal(await client.query('orders', {}), 2);
    const view = await client.fleet();
    assert.deepEqual(Object.values(view.hosts).flat().map((h) => h.id).sort(), ['h1', 'h2', 'h3']);
    // Its 3 replicas replicate to each other: the hosts reach each other over TLS.
    await waitFor('orders applied on every host', () => hosts.every((h) => h.status().members.some((m) => m.group === 'orders' && m.applied >= 1 && m.lag === 0)));
    const lines: string[] = [];
    const code = await runFleetCommand('status', ['--host', hosts[1]!.address, '--tls-ca', caFile, '--secret', SECRET], {}, (line) => lines.push(line));
    assert.equal(code, 0);
    assert.match(lines.join('\n'), /orders/);
  });

  it('refuses a plaintext client and a client that does not trust the CA', async () => {
    const address = hosts[0]!.address;
    await assert.rejects(connect({ hosts: [address], secret: SECRET, timeoutMs: 1500 }), (err) => err instanceof FlotillaError);
    await assert.rejects(connect({ hosts: [address], secret: SECRET, timeoutMs: 1500, tls: { ca: otherCa.cert } }), (err) => err instanceof FlotillaError);
  });

  it('refuses a plaintext peer and a peer with a certificate from another CA', async () => {
    const seed = `h1@${hosts[0]!.address}`;
    await refusedPeer(hosts[0]!, 'plain', undefined, seed);
    const foreign = otherCa.issue('foreign');
    await refusedPeer(hosts[0]!, 'foreign', { ...foreign, ca: otherCa.cert }, seed);
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 3, 'the fleet kept serving');
  });
});

function writeFile(name: string, issued: { cert: string; key: string }): string {
  writeFileSync(join(dir, name), issued.cert);
  writeFileSync(join(dir, `${name}.key`), issued.key);
  return join(dir, name);
}

describe('TLS: mutual', () => {
  let host: Host;
  before(async () => {
    host = await startHost('m1', [], hostTls('m1', { requireClientCert: true }));
  });
  after(() => host?.stop());

  it('serves a client with a certificate from the CA, refuses one without', async () => {
    const withCert = await connect({ hosts: [host.address], secret: SECRET, tls: { ...ca.issue('client'), ca: ca.cert } });
    try {
      await withCert.addGroup('m', { machine: 'counter', replicas: 1 });
      assert.equal(await withCert.command('m', { op: 'inc', by: 5 }), 5);
    } finally {
      await withCert.close();
    }
    await assert.rejects(connect({ hosts: [host.address], secret: SECRET, timeoutMs: 1500, tls: { ca: ca.cert } }), (err) => err instanceof FlotillaError);
    const foreign = otherCa.issue('client');
    await assert.rejects(connect({ hosts: [host.address], secret: SECRET, timeoutMs: 1500, tls: { ...foreign, ca: ca.cert } }), (err) => err instanceof FlotillaError);
  });

  it('refuses a peer with a certificate from another CA even when it trusts the fleet CA', async () => {
    await refusedPeer(host, 'foreign', { ...otherCa.issue('foreign'), ca: ca.cert }, `m1@${host.address}`);
  });
});

describe('TLS options', () => {
  const start = (tls: TlsOptions) => Host.start({ id: 'x', secret: SECRET, storage: 'memory', machines: { counter }, tls });
  const bad = (option: string) => (err: unknown) => isCode('BAD_ARGUMENT')(err) && (err as Error).message.startsWith(`tls.${option}:`);

  it('are refused with BAD_ARGUMENT naming the option', async () => {
    const leaf = ca.issue('x');
    await assert.rejects(start({ certFile: join(dir, 'missing.pem'), key: leaf.key }), bad('certFile'));
    await assert.rejects(start({ key: leaf.key }), bad('key'));
    await assert.rejects(start({ cert: leaf.cert }), bad('cert'));
    await assert.rejects(start({ ca: ca.cert }), bad('cert'));
    await assert.rejects(start({ cert: leaf.cert, key: ca.key }), bad('key'));
    await assert.rejects(start({ cert: 'not a certificate', key: leaf.key }), bad('cert'));
    await assert.rejects(start({ ...leaf, ca: ca.cert, caFile }), bad('ca'));
    await assert.rejects(start({ ...leaf, requireClientCert: true }), bad('requireClientCert'));
    await assert.rejects(connect({ hosts: ['127.0.0.1:1'], secret: SECRET, tls: { caFile: join(dir, 'missing.pem') } }), bad('caFile'));
  });

  it('come from flotilla host flags and config keys', async () => {
    const base = ['--id', 'h', '--zone', 'a', '--secret', 's', '--storage', 'memory'];
    const flags = await hostSettings([...base, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-ca', 'ca.pem', '--tls-require-client-cert'], {});
    assert.deepEqual(flags.tls, { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem', requireClientCert: true });
    const config = join(dir, 'host.json');
    writeFileSync(config, JSON.stringify({ tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem' }));
    assert.deepEqual((await hostSettings([...base, '--config', config], {})).tls, { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' });
    assert.equal((await hostSettings(base, {})).tls, undefined);
    await assert.rejects(hostSettings([...base, '--tls-cert', 'c.pem'], {}), /--tls-key/);
    await assert.rejects(hostSettings([...base, '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-require-client-cert'], {}), /--tls-ca/);
  });
});
