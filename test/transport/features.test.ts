// A host sends raft packs only to peers whose handshake says they read them (transport/features.ts):
// in a rolling upgrade the hosts still on a version that predates packs get 'raft' items, which
// every version reads, and the fleet keeps working.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FLEET_MEMBERS } from '../../src/fleet/member-id.js';
import { realScheduler } from '../../src/common/scheduler.js';
import { wireLoopToTransport } from '../../src/loop/raft-wiring.js';
import { MessageType, message } from '../../src/raft/types.js';
import { decodeFrame } from '../../src/transport/codec.js';
import { RAFT_PACK } from '../../src/transport/features.js';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { SECRET, closeAll, startHost } from './fixtures/hosts.js';
import { rawServer, type RawServer } from './fixtures/raw-peer.js';
import { waitFor } from './fixtures/wait.js';

describe('transport features', () => {
  const hosts: WsTransport[] = [];
  const servers: RawServer[] = [];
  after(async () => {
    await closeAll(...hosts);
    for (const s of servers) await s.close();
  });

  /** A raw peer whose handshake announces `features`; returns the kinds of the items it receives. */
  const peer = async (hostId: string, features: number): Promise<{ server: RawServer; kinds: string[] }> => {
    const kinds: string[] = [];
    const server = await rawServer({ hostId, secret: SECRET, features }, {
      onAccepted: (ws) => ws.on('message', (data: Buffer) => kinds.push(...decodeFrame(data).map((i) => i.kind))),
    });
    servers.push(server);
    return { server, kinds };
  };

  it('packs for a peer that reads packs, and sends plain raft items to one that predates them', async () => {
    const a = await startHost('a');
    hosts.push(a);
    const old = await peer('old', 0);
    const current = await peer('new', RAFT_PACK);
    a.addPeer('old', old.server.address);
    a.addPeer('new', current.server.address);
    await waitFor('links to both peers', () => a.connectedHosts().length === 2);
    assert.equal(a.peerFeatures('old'), 0);
    assert.equal(a.peerFeatures('new'), RAFT_PACK);
    const wiring = wireLoopToTransport(a, FLEET_MEMBERS, realScheduler);
    const appends = (host: string) =>
      [1, 2].map((groupId) => ({ groupId, message: message({ type: MessageType.Append, from: 'a~1', to: `${host}~1`, term: 1, index: 0 }) }));
    wiring.send([...appends('old'), ...appends('new')]);
    await waitFor('items at both peers', () => old.kinds.filter((k) => k !== 'pong' && k !== 'ping').length === 2 && current.kinds.includes('raftPack'));
    assert.deepEqual(old.kinds.filter((k) => k.startsWith('raft')), ['raft', 'raft']);
    assert.deepEqual(current.kinds.filter((k) => k.startsWith('raft')), ['raftPack']);
  });
});
