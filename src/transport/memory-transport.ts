// An in-process Transport for tests: a hub connects endpoints. Frames go through the real codec
// (so tests exercise encoding, size limits and queues) but travel in a list, and nothing happens
// until the hub's deliver() runs: link changes (peer up/down) and frames in flight are handled
// there, in order. That makes a test fully deterministic; `autoDeliver` schedules deliver() on
// setImmediate instead, for tests that just want messages to flow.
import { decodeFrame, isHandshake } from './codec.js';
import { TransportBase, type QueueOptions } from './base.js';
import type { HostId, Item } from './items.js';

interface InFlight {
  from: HostId;
  to: HostId;
  frame: Uint8Array;
}

export class MemoryHub {
  private readonly endpoints = new Map<HostId, MemoryTransport>();
  private inFlight: InFlight[] = [];
  private scheduled = false;

  constructor(private readonly options: { autoDeliver?: boolean } = {}) {}

  /** A new endpoint on this hub; its links come up at the next deliver(). */
  endpoint(hostId: HostId, options: QueueOptions = {}): MemoryTransport {
    if (this.endpoints.has(hostId)) throw new Error(`host ${hostId} is already on this hub`);
    const endpoint = new MemoryTransport(this, hostId, options);
    this.endpoints.set(hostId, endpoint);
    this.changed();
    return endpoint;
  }

  /**
   * Applies link changes, then delivers every frame in flight at the time of the call (frames sent
   * by handlers meanwhile wait for the next call). Returns the number of frames delivered.
   */
  deliver(): number {
    this.scheduled = false;
    this.updateLinks();
    const batch = this.inFlight;
    this.inFlight = [];
    let delivered = 0;
    for (const { from, to, frame } of batch) {
      const receiver = this.endpoints.get(to);
      if (receiver?.linkedTo(from)) {
        receiver.receive(from, frame);
        delivered++;
      }
    }
    return delivered;
  }

  /** @internal (MemoryTransport) */
  post(from: HostId, to: HostId, frame: Uint8Array): void {
    this.inFlight.push({ from, to, frame });
    this.changed();
  }

  /** @internal (MemoryTransport) */
  detach(hostId: HostId): void {
    this.endpoints.delete(hostId);
    this.changed();
  }

  /** @internal (MemoryTransport): something for deliver() to do. */
  changed(): void {
    if (!this.options.autoDeliver || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  /** A link is up while both ends are on the hub and either one knows the other (as with ws). */
  private updateLinks(): void {
    for (const a of this.endpoints.values()) {
      for (const host of a.linkedHosts()) {
        if (!this.endpoints.has(host)) a.setLink(host, false);
      }
      for (const b of this.endpoints.values()) {
        if (a !== b) a.setLink(b.hostId, a.knows(b.hostId) || b.knows(a.hostId));
      }
    }
  }
}

export class MemoryTransport extends TransportBase {
  private readonly peers = new Set<HostId>();
  private readonly links = new Set<HostId>();

  /** Created by MemoryHub.endpoint(). */
  constructor(
    private readonly hub: MemoryHub,
    hostId: HostId,
    options: QueueOptions,
  ) {
    super(hostId, options);
  }

  setPeers(peers: ReadonlyMap<HostId, string>): void {
    this.peers.clear();
    for (const id of peers.keys()) this.peers.add(id);
    this.hub.changed();
  }

  /** The address is irrelevant in memory: hosts are found by id. */
  addPeer(id: HostId, _address: string): void {
    this.peers.add(id);
    this.hub.changed();
  }

  removePeer(id: HostId): void {
    this.peers.delete(id);
    this.hub.changed();
  }

  connectedHosts(): HostId[] {
    return [...this.links];
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.hub.detach(this.hostId);
    for (const host of [...this.links]) this.setLink(host, false);
  }

  protected isConnected(to: HostId): boolean {
    return this.links.has(to);
  }

  protected canTransmit(): boolean {
    return true;
  }

  protected transmit(to: HostId, frame: Uint8Array): void {
    this.hub.post(this.hostId, to, frame);
  }

  /** @internal (MemoryHub) */
  knows(id: HostId): boolean {
    return !this.stopped && this.peers.has(id);
  }

  /** @internal (MemoryHub) */
  linkedTo(id: HostId): boolean {
    return this.links.has(id);
  }

  /** @internal (MemoryHub) */
  linkedHosts(): HostId[] {
    return [...this.links];
  }

  /** @internal (MemoryHub) */
  setLink(host: HostId, up: boolean): void {
    if (up === this.links.has(host) || (up && this.stopped)) return;
    if (up) {
      this.links.add(host);
      this.peerUp(host);
    } else {
      this.links.delete(host);
      this.peerDown(host);
    }
  }

  /** @internal (MemoryHub): a frame from `from`; an invalid one is logged and dropped. */
  receive(from: HostId, frame: Uint8Array): void {
    let items: Item[];
    try {
      items = decodeFrame(frame).filter((item): item is Item => !isHandshake(item));
    } catch (err) {
      this.logger.warn({ err, peer: from }, 'dropping an invalid frame');
      return;
    }
    this.dispatch(from, items, frame.length);
  }
}
