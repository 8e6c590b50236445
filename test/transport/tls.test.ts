// wss:// with a self-signed certificate generated here with openssl (skipped without openssl).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { captureLogger, closeAll, collect, link, startHost } from './fixtures/hosts.js';
import { sampleItems } from './fixtures/samples.js';
import { waitFor } from './fixtures/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
const openssl = spawnSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
], { stdio: 'pipe' });
const skip = openssl.error || openssl.status !== 0
  ? `openssl is not available (${openssl.error?.message ?? openssl.stderr.toString().trim()}): cannot generate a test certificate`
  : false;

describe('tls', { skip }, () => {
  const open: WsTransport[] = [];
  after(async () => {
    await closeAll(...open);
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries items over wss:// between hosts trusting the certificate', async () => {
    const tls = { certFile, keyFile, caFile: certFile };
    const a = await startHost('a', { tls });
    const b = await startHost('b', { tls });
    open.push(a, b);
    const atB = collect(b);
    await link(a, b);
    for (const item of sampleItems()) a.send('b', item);
    a.flush();
    await waitFor('items over TLS', () => atB.length === sampleItems().length);
  });

  it('fails, without crashing, to reach a TLS host by plain ws or without trusting its certificate', async () => {
    const a = await startHost('a', { tls: { certFile, keyFile, caFile: certFile } });
    const plainLog = captureLogger();
    const plainHost = await startHost('plain', { logger: plainLog.logger });
    const untrustingLog = captureLogger();
    const untrusting = await startHost('untrusting', { tls: { certFile, keyFile }, logger: untrustingLog.logger });
    open.push(a, plainHost, untrusting);
    plainHost.addPeer('a', a.address);
    untrusting.addPeer('a', a.address);
    await waitFor('both dialers log a failure', () =>
      plainLog.lines.some((l) => l.msg === 'dial failed') && untrustingLog.lines.some((l) => /certificate/i.test(String(l.reason))),
    );
    assert.deepEqual(a.connectedHosts(), []);
    assert.deepEqual(plainHost.connectedHosts(), []);
    assert.deepEqual(untrusting.connectedHosts(), []);
  });
});
