// An idle link stays up (issue 17, point 7): a connect() client sends nothing between calls, and
// the keepalive used to judge it at the very moment its last pong was a keepalive period old, so
// every other period the link was dropped ("peer silent for 4001 ms" at warn) and redialed. With a
// short keepalive window, an idle client and host hold one connection for many windows, and
// nothing is logged above debug.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { captureLogger, closeAll, startHost } from './fixtures/hosts.js';
import { waitFor } from './fixtures/wait.js';

const KEEPALIVE_MS = 100;
const WINDOWS = 20;

describe('an idle link', () => {
  let host: WsTransport | undefined;
  let client: WsTransport | undefined;
  after(() => closeAll(client, host));

  it('is not dropped by keepalive, and logs nothing above debug', async () => {
    const hostLog = captureLogger();
    const clientLog = captureLogger();
    host = await startHost('h1', { keepaliveMs: KEEPALIVE_MS, logger: hostLog.logger });
    // A client: it listens nowhere and dials the host.
    client = await startHost('client-idle', { listen: undefined, keepaliveMs: KEEPALIVE_MS, logger: clientLog.logger });
    const downs: string[] = [];
    host.onPeerDown((peer) => downs.push(`host lost ${peer}`));
    client.onPeerDown((peer) => downs.push(`client lost ${peer}`));
    client.addPeer('h1', host.address);
    await waitFor('the client linked', () => host!.connectedHosts().includes('client-idle') && client!.connectedHosts().includes('h1'));
    const linkedAt = { host: hostLog.lines.length, client: clientLog.lines.length };
    const started = performance.now();
    // Idle: nothing is sent either way. A dropped link is redialed at once, so the drops are counted, not looked for.
    await waitFor(`${WINDOWS} keepalive windows`, () => performance.now() - started > WINDOWS * KEEPALIVE_MS || downs.length > 0, 10 * WINDOWS * KEEPALIVE_MS);
    assert.deepEqual(downs, []);
    assert.equal(host.socketCount(), 1);
    // Nothing at warn or above at all; nothing above debug once linked.
    assert.deepEqual([...hostLog.lines, ...clientLog.lines].filter((line) => line.level >= 40), []);
    assert.deepEqual([...hostLog.lines.slice(linkedAt.host), ...clientLog.lines.slice(linkedAt.client)].filter((line) => line.level > 20), []);
  });
});
