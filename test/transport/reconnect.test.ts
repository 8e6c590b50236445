// A peer in a child process is killed (SIGKILL, no goodbye) and restarted on the same port; the
// surviving host must notice, back off, redial and carry traffic again.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { SECRET, closeAll, collect, startHost } from './fixtures/hosts.js';
import { raftItem } from './fixtures/samples.js';
import { waitFor, within } from './fixtures/wait.js';

const ECHO_PEER = fileURLToPath(new URL('./fixtures/echo-peer.ts', import.meta.url));

/** Starts the echo peer; resolves with the process and the address it listens on. */
async function startPeer(hostId: string, listen: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ECHO_PEER, hostId, listen, SECRET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  const address = await within(`${hostId} to start`, new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ready (\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`${hostId} exited with ${String(code)} before it was ready`)));
  }), 20_000);
  return { child, address };
}

describe('reconnect', () => {
  let a: WsTransport | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await closeAll(a);
  });

  it('redials a peer process that was killed and restarted on the same port', { timeout: 60_000 }, async () => {
    a = await startHost('a');
    const atA = collect(a);
    const events: string[] = [];
    a.onPeerUp((h) => events.push(`up ${h}`));
    a.onPeerDown((h) => events.push(`down ${h}`));

    const first = await startPeer('b', '127.0.0.1:0');
    children.push(first.child);
    a.addPeer('b', first.address);
    await waitFor('link to b', () => a?.connectedHosts().includes('b') === true, 10_000);
    a.send('b', raftItem(1, 1));
    a.flush();
    await waitFor('echo from the first b', () => atA.length === 1);

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    await waitFor('a notices b is gone', () => events.includes('down b'));
    assert.equal(a.send('b', raftItem(1, 2)), 'unreachable');

    const second = await startPeer('b', first.address);
    children.push(second.child);
    await waitFor('a redials the restarted b', () => a?.connectedHosts().includes('b') === true, 10_000);
    a.send('b', raftItem(1, 3));
    a.flush();
    await waitFor('echo from the second b', () => atA.length === 2);
    assert.deepEqual(events, ['up b', 'down b', 'up b']);
    const last = atA[1]?.item;
    assert.ok(last?.kind === 'raft' && last.message.context === 3);
  });
});
