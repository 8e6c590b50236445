// The host side of the fleet operations in client/ops.ts, for a host run by `flotilla host`. It sits
// between the Host and its WsTransport: requests to OPS_GROUP are answered here from the Host's
// public API (hosts, groups, placement, whereIsLeader, addGroup, deactivate) and never reach the
// Host, which would answer them NOT_LEADER; everything else passes through unchanged.

import type { Logger } from 'pino';
import { FlotillaError } from '../errors.js';
import { toFlotilla } from '../fleet/router.js';
import type { Host } from '../host.js';
import { OPS_GROUP, decodeOpsRequest, encodeOps, type FleetView, type OpsReply, type OpsRequest } from '../client/ops.js';
import type { ClientRequestItem, HostId, Item } from '../transport/items.js';
import type { ItemHandler, PeerHandler, SendStatus, Transport, TransportStats } from '../transport/transport.js';
import type { WsTransport } from '../transport/ws-transport.js';

/** How long the fleet view waits for each group's leader check. */
const LEADER_CHECK_MS = 500;

function isOps(item: Item): item is ClientRequestItem {
  return item.kind === 'clientRequest' && item.group === OPS_GROUP;
}

export class OpsTransport implements Transport {
  readonly hostId: HostId;
  readonly served = { fleet: 0, addGroup: 0, deactivate: 0, errors: 0 };
  private host: Host | null = null;

  constructor(
    readonly inner: WsTransport,
    private readonly logger: Logger,
  ) {
    this.hostId = inner.hostId;
    inner.onItem((from, item) => {
      if (isOps(item)) void this.serve(from, item);
    });
  }

  /** The host whose API answers; requests before it is attached are refused NOT_ACTIVE. */
  attach(host: Host): void {
    this.host = host;
  }

  setPeers(peers: ReadonlyMap<HostId, string>): void {
    this.inner.setPeers(peers);
  }
  addPeer(id: HostId, address: string): void {
    this.inner.addPeer(id, address);
  }
  removePeer(id: HostId): void {
    this.inner.removePeer(id);
  }
  send(to: HostId, item: Item): SendStatus {
    return this.inner.send(to, item);
  }
  flush(): void {
    this.inner.flush();
  }
  onItem(handler: ItemHandler): () => void {
    return this.inner.onItem((from, item) => {
      if (!isOps(item)) handler(from, item);
    });
  }
  onPeerUp(handler: PeerHandler): () => void {
    return this.inner.onPeerUp(handler);
  }
  onPeerDown(handler: PeerHandler): () => void {
    return this.inner.onPeerDown(handler);
  }
  connectedHosts(): HostId[] {
    return this.inner.connectedHosts();
  }
  stats(): TransportStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private async serve(from: HostId, item: ClientRequestItem): Promise<void> {
    let response: Item;
    try {
      const reply = await this.answer(decodeOpsRequest(item.payload));
      response = { kind: 'clientResponse', requestId: item.requestId, error: null, payload: encodeOps(reply), leaderHint: '', leaderTerm: 0 };
    } catch (err) {
      this.served.errors++;
      const error = toFlotilla(err);
      response = { kind: 'clientResponse', requestId: item.requestId, error: { code: error.code, message: error.message }, payload: new Uint8Array(0), leaderHint: '', leaderTerm: 0 };
    }
    this.inner.send(from, response);
    this.inner.flush();
  }

  private async answer(request: OpsRequest): Promise<OpsReply> {
    const host = this.host;
    if (host === null) throw new FlotillaError('NOT_ACTIVE', `host ${this.hostId} is starting`);
    this.served[request.op]++;
    switch (request.op) {
      case 'fleet':
        return { op: 'fleet', fleet: await fleetView(host) };
      case 'addGroup':
        await host.addGroup(request.name, request.replicas === undefined ? { machine: request.machine, timeoutMs: request.timeoutMs } : { machine: request.machine, replicas: request.replicas, timeoutMs: request.timeoutMs });
        return { op: 'addGroup' };
      case 'deactivate': {
        if (host.localState !== 'active') throw new FlotillaError('NOT_ACTIVE', `host ${host.id} is ${host.localState}, not active`);
        this.logger.info('deactivating on request of a client');
        // Answered at once; the client follows the drain in the fleet view.
        host
          .deactivate({ timeoutMs: request.timeoutMs, onProgress: (left) => this.logger.info({ membersLeft: left }, 'deactivating') })
          .then(() => this.logger.info('deactivated: this host holds no members'))
          .catch((err: unknown) => this.logger.error({ err }, 'deactivate failed'));
        return { op: 'deactivate' };
      }
    }
  }
}

/** Hosts by zone, and every group with its placement and current leader. */
export async function fleetView(host: Host): Promise<FleetView> {
  const groups = await Promise.all(
    host.groups().map(async (g) => ({
      name: g.name,
      id: g.id,
      machine: g.machine,
      replicas: g.replicas,
      placement: host.placement(g.name),
      leader: await host.whereIsLeader(g.name, { timeoutMs: LEADER_CHECK_MS }).catch(() => null),
    })),
  );
  return { host: host.id, hosts: host.hosts(), groups };
}
