// A Transport on the simulated network: every host's SimTransport is an endpoint of one SimHub,
// and frames travel through a SimNetwork (kernel/network.ts) on virtual time, so they are delayed,
// reordered, dropped and duplicated as the seed decides.
//
// The model, close to one ws connection per host pair:
// - A pair of hosts is connected while both endpoints are open, either knows the other (setPeers,
//   addPeer) and the pair is not partitioned. The connection coming up or going down is seen by
//   both at once (send() answers accordingly), and reported to onPeerUp/onPeerDown handlers in an
//   event of their own. A frame is delivered only on the connection it was sent on: frames in
//   flight when a connection drops (a crash, a partition) are lost.
// - A symmetric partition cuts the connections. A one-way partition (a -> b) leaves them up and
//   silently eats every frame from a to b: a link that fails without the transport noticing.
// - send() checks the item as the real transport does, copies it (the receiver never shares a
//   buffer with the sender) and queues it; a full queue answers busy. flush() hands each
//   destination's queue to the network as one frame, unless the link is stalled (a slow
//   connection: the queue then waits for a later flush, and may fill up).
// - Frames reach a host through its SimScheduler: a paused host receives them on resume, a crashed
//   one never. No protobuf encoding: sizes are estimated, for the queue and frame limits only.

import type { Random } from '../raft/random.js';
import type { Message } from '../raft/types.js';
import type { HostId, Item } from '../transport/items.js';
import { packBytes, readPack, writePack } from '../transport/raft-pack.js';
import { emptyStats, type ItemHandler, type PeerHandler, type SendStatus, type Transport, type TransportStats } from '../transport/transport.js';
import { checkOutgoing } from '../transport/validate.js';
import { SimNetwork, type NetworkFaults } from './kernel/network.js';
import type { SimClock, SimScheduler } from './kernel/sim-scheduler.js';

export interface SimEndpointOptions {
  /** The host's scheduler: frames and peer events reach the host through it. */
  scheduler?: SimScheduler;
  /** Per destination: items queued between two flushes (default 10,000)... */
  maxQueueItems?: number;
  /** ... and their estimated bytes (default 8 MiB). */
  maxQueueBytes?: number;
  /** Largest frame, in estimated bytes (default 4 MiB). */
  maxFrameBytes?: number;
}

interface Frame {
  from: HostId;
  to: HostId;
  items: Item[];
  bytes: number;
  /** The connection it was sent on. */
  connection: number;
  /** Delivered once already: a duplicate gets its own copy. */
  delivered: boolean;
}

const FRAME_OVERHEAD = 8;

export class SimHub {
  /** The frames in flight, on the simulated network. */
  readonly frames: SimNetwork<Frame>;
  private readonly endpoints = new Map<HostId, SimTransport>();
  /** Connected pairs (pairKey) and the number of their current connection. */
  private readonly connections = new Map<string, number>();
  private nextConnection = 1;
  /** Pairs cut by a symmetric partition. */
  private readonly cut = new Set<string>();
  /** Directed links ("from>to") that cannot transmit until the given time. */
  private readonly stalls = new Map<string, number>();
  /** Frames lost because their connection went away before they arrived. */
  framesLost = 0;
  /** Items some endpoint refused as larger than a frame: a bug of the size limits, a violation of the run. */
  itemsTooLarge = 0;

  /** `onHandlerError` sees what an item or peer handler threw (default: rethrow, ending the run). */
  constructor(
    readonly clock: SimClock,
    random: Random,
    private readonly onHandlerError: (host: HostId, err: unknown) => void = (_host, err) => {
      throw err;
    },
  ) {
    this.frames = new SimNetwork<Frame>(clock, random, (frame) => this.arrive(frame));
  }

  get faults(): NetworkFaults {
    return this.frames.faults;
  }

  set faults(faults: NetworkFaults) {
    this.frames.faults = faults;
  }

  /** A new endpoint: the host starts (or restarts, as a new incarnation) on the network. */
  endpoint(host: HostId, options: SimEndpointOptions = {}): SimTransport {
    if (this.endpoints.has(host)) throw new Error(`host ${host} is already on the sim network`);
    const endpoint = new SimTransport(this, host, options);
    this.endpoints.set(host, endpoint);
    this.updateConnections();
    return endpoint;
  }

  /** The host's process died: its connections drop, and its own handlers hear nothing more. */
  crash(host: HostId): void {
    this.endpoints.get(host)?.shutDown(false);
  }

  /**
   * Cuts every link between the two sides: the connections drop (peer down on both sides) and
   * stay down until heal(). With `oneWay`, only frames from a to b are lost and nobody notices.
   */
  partition(a: readonly HostId[], b: readonly HostId[], oneWay = false): void {
    if (oneWay) {
      this.frames.partition(a, b, true);
      return;
    }
    for (const x of a) for (const y of b) this.cut.add(pairKey(x, y));
    this.updateConnections();
  }

  /** Ends every partition and stall. */
  heal(): void {
    this.frames.heal();
    this.cut.clear();
    this.stalls.clear();
    this.updateConnections();
  }

  /** The link from -> to transmits nothing for `ms`: flush() leaves that queue waiting. */
  stall(from: HostId, to: HostId, ms: number): void {
    this.stalls.set(`${from}>${to}`, this.clock.now + ms);
  }

  /** @internal (SimTransport) */
  canTransmit(from: HostId, to: HostId): boolean {
    return (this.stalls.get(`${from}>${to}`) ?? 0) <= this.clock.now;
  }

  /** @internal (SimTransport) */
  transmit(from: HostId, to: HostId, items: Item[], bytes: number): void {
    const connection = this.connections.get(pairKey(from, to));
    if (connection === undefined) return;
    this.frames.send({ from, to, items, bytes, connection, delivered: false });
  }

  /** @internal (SimTransport): the endpoint closed or crashed. */
  detach(endpoint: SimTransport): void {
    if (this.endpoints.get(endpoint.hostId) === endpoint) this.endpoints.delete(endpoint.hostId);
    this.updateConnections();
  }

  /** @internal (SimTransport): its peer table changed. */
  updateConnections(): void {
    for (const key of [...this.connections.keys()]) {
      const [a, b] = splitPair(key);
      const ea = this.endpoints.get(a);
      const eb = this.endpoints.get(b);
      if (ea !== undefined && eb !== undefined && this.wantsConnection(ea, eb)) continue;
      this.connections.delete(key);
      ea?.linkDown(b);
      eb?.linkDown(a);
    }
    const all = [...this.endpoints.values()];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!;
        const b = all[j]!;
        const key = pairKey(a.hostId, b.hostId);
        if (this.connections.has(key) || !this.wantsConnection(a, b)) continue;
        this.connections.set(key, this.nextConnection++);
        a.linkUp(b.hostId);
        b.linkUp(a.hostId);
      }
    }
  }

  /** @internal (SimTransport) */
  handlerFailed(host: HostId, err: unknown): void {
    this.onHandlerError(host, err);
  }

  private wantsConnection(a: SimTransport, b: SimTransport): boolean {
    return (a.knows(b.hostId) || b.knows(a.hostId)) && !this.cut.has(pairKey(a.hostId, b.hostId));
  }

  private arrive(frame: Frame): void {
    const receiver = this.endpoints.get(frame.to);
    if (receiver === undefined || this.connections.get(pairKey(frame.from, frame.to)) !== frame.connection) {
      this.framesLost++;
      return;
    }
    const items = frame.delivered ? frame.items.map(copyItem) : frame.items;
    frame.delivered = true;
    receiver.receive(frame.from, items, frame.bytes);
  }
}

export class SimTransport implements Transport {
  private readonly peers = new Set<HostId>();
  private readonly links = new Set<HostId>();
  private readonly queues = new Map<HostId, { items: Item[]; bytes: number }>();
  private readonly itemHandlers = new Set<ItemHandler>();
  private readonly upHandlers = new Set<PeerHandler>();
  private readonly downHandlers = new Set<PeerHandler>();
  private readonly counters: TransportStats = emptyStats();
  private readonly scheduler: SimScheduler | undefined;
  private readonly maxQueueItems: number;
  private readonly maxQueueBytes: number;
  readonly maxFrameBytes: number;
  private stopped = false;

  /** Made by SimHub.endpoint(). */
  constructor(
    private readonly hub: SimHub,
    readonly hostId: HostId,
    options: SimEndpointOptions,
  ) {
    this.scheduler = options.scheduler;
    this.maxQueueItems = options.maxQueueItems ?? 10_000;
    this.maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024;
    this.maxFrameBytes = options.maxFrameBytes ?? 4 * 1024 * 1024;
  }

  setPeers(peers: ReadonlyMap<HostId, string>): void {
    this.peers.clear();
    for (const id of peers.keys()) if (id !== this.hostId) this.peers.add(id);
    this.hub.updateConnections();
  }

  /** Hosts are found by id: the address does not matter here. */
  addPeer(id: HostId, _address: string): void {
    if (id !== this.hostId) this.peers.add(id);
    this.hub.updateConnections();
  }

  removePeer(id: HostId): void {
    this.peers.delete(id);
    this.hub.updateConnections();
  }

  send(to: HostId, item: Item): SendStatus {
    checkOutgoing(item);
    const status = this.enqueue(to, item);
    if (status !== 'queued') this.counters.itemsRefused++;
    if (status === 'tooLarge') {
      this.counters.itemsTooLarge++;
      this.hub.itemsTooLarge++;
    }
    return status;
  }

  private enqueue(to: HostId, item: Item): SendStatus {
    if (this.stopped || !this.links.has(to)) return 'unreachable';
    let queue = this.queues.get(to);
    if (queue !== undefined && queue.items.length >= this.maxQueueItems) return 'busy';
    const bytes = itemBytes(item);
    if (FRAME_OVERHEAD + bytes > this.maxFrameBytes) return 'tooLarge';
    if (queue === undefined) {
      queue = { items: [], bytes: 0 };
      this.queues.set(to, queue);
    }
    if (queue.bytes + bytes > this.maxQueueBytes) return 'busy';
    queue.items.push(copyItem(item));
    queue.bytes += bytes;
    return 'queued';
  }

  flush(): void {
    for (const [to, queue] of this.queues) {
      if (queue.items.length === 0) continue;
      if (!this.links.has(to)) {
        this.counters.itemsDiscarded += queue.items.length;
        this.queues.delete(to);
        continue;
      }
      if (!this.hub.canTransmit(this.hostId, to)) continue;
      this.queues.delete(to);
      this.counters.itemsSent += queue.items.length;
      let frame: Item[] = [];
      let frameBytes = FRAME_OVERHEAD;
      const transmit = (): void => {
        this.counters.framesSent++;
        this.counters.bytesSent += frameBytes;
        this.hub.transmit(this.hostId, to, frame, frameBytes);
      };
      for (const item of queue.items) {
        const bytes = itemBytes(item);
        if (frame.length > 0 && frameBytes + bytes > this.maxFrameBytes) {
          transmit();
          frame = [];
          frameBytes = FRAME_OVERHEAD;
        }
        frame.push(item);
        frameBytes += bytes;
      }
      transmit();
    }
  }

  onItem(handler: ItemHandler): () => void {
    return subscribe(this.itemHandlers, handler);
  }

  onPeerUp(handler: PeerHandler): () => void {
    return subscribe(this.upHandlers, handler);
  }

  onPeerDown(handler: PeerHandler): () => void {
    return subscribe(this.downHandlers, handler);
  }

  connectedHosts(): HostId[] {
    return [...this.links];
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.shutDown(true);
  }

  /** @internal (SimHub): leaves the network; only a graceful close still tells its own handlers. */
  shutDown(graceful: boolean): void {
    if (this.stopped) return;
    if (!graceful) {
      this.itemHandlers.clear();
      this.upHandlers.clear();
      this.downHandlers.clear();
    }
    this.stopped = true;
    this.hub.detach(this);
    for (const host of [...this.links]) this.linkDown(host);
  }

  /** @internal (SimHub) */
  knows(id: HostId): boolean {
    return !this.stopped && this.peers.has(id);
  }

  /** @internal (SimHub) */
  linkUp(host: HostId): void {
    if (this.stopped || this.links.has(host)) return;
    this.links.add(host);
    this.notify(this.upHandlers, host);
  }

  /** @internal (SimHub) */
  linkDown(host: HostId): void {
    if (!this.links.delete(host)) return;
    const queue = this.queues.get(host);
    if (queue !== undefined) {
      this.counters.itemsDiscarded += queue.items.length;
      this.queues.delete(host);
    }
    this.notify(this.downHandlers, host);
  }

  /** @internal (SimHub): a frame arrived; the host sees it when it runs. */
  receive(from: HostId, items: Item[], bytes: number): void {
    this.enter(() => {
      if (this.stopped) return;
      this.counters.framesReceived++;
      this.counters.itemsReceived += items.length;
      this.counters.bytesReceived += bytes;
      for (const item of items) {
        for (const handler of this.itemHandlers) this.guard(() => handler(from, item));
      }
    });
  }

  /** Peer events run in an event of their own, never inside whatever changed the link. */
  private notify(handlers: Set<PeerHandler>, host: HostId): void {
    const run = (): void => {
      for (const handler of [...handlers]) this.guard(() => handler(host));
    };
    if (this.scheduler !== undefined) this.scheduler.soon(run);
    else this.hub.clock.at(this.hub.clock.now, run);
  }

  private enter(run: () => void): void {
    if (this.scheduler !== undefined) this.scheduler.runNow(run);
    else run();
  }

  private guard(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.hub.handlerFailed(this.hostId, err);
    }
  }
}

/**
 * An item's size as the protobuf encoding would roughly have it: a fixed cost per item and per
 * entry, plus every byte payload and string.
 */
export function itemBytes(item: Item): number {
  switch (item.kind) {
    case 'raft': {
      const m = item.message;
      let bytes = 48 + m.from.length + m.to.length;
      for (const e of m.entries) bytes += 16 + e.data.length;
      if (m.snapshot !== null) bytes += 32 + m.snapshot.data.length + 8 * (m.snapshot.meta.membership.voters.length + m.snapshot.meta.membership.learners.length);
      return bytes;
    }
    case 'raftPack':
      return 4 + packBytes(item.messages);
    case 'heartbeat':
    case 'heartbeatResp':
      return 8 + item.from.length + item.to.length + 12 * item.beats.length + 16 * (item.stateHashes?.length ?? 0);
    case 'clientRequest':
      return 32 + item.group.length + item.clientId.length + item.payload.length;
    case 'clientResponse':
      return 24 + item.leaderHint.length + item.payload.length + (item.error === null ? 0 : 8 + item.error.message.length);
    case 'ping':
    case 'pong':
      return 16 + (item.generation === undefined ? 0 : 24 + item.generation.incarnation.length) + (item.verdict === undefined ? 0 : 10);
  }
}

/** A deep copy: byte arrays are copied (a snapshot chunk is a view into the whole snapshot). */
function copyItem(item: Item): Item {
  switch (item.kind) {
    case 'raft':
      return { ...item, message: copyMessage(item.message) };
    case 'raftPack': {
      // Through the real pack codec: the simulations then exercise it on every message they pack.
      const bytes = new Uint8Array(packBytes(item.messages));
      writePack(item.messages, bytes, 0);
      return { kind: 'raftPack', messages: readPack(bytes) };
    }
    case 'heartbeat':
    case 'heartbeatResp':
      return { ...item, beats: item.beats.map((b) => ({ ...b })), ...(item.stateHashes === undefined ? {} : { stateHashes: item.stateHashes.map((h) => ({ ...h })) }) };
    case 'clientRequest':
      return { ...item, payload: item.payload.slice() };
    case 'clientResponse':
      return { ...item, payload: item.payload.slice(), error: item.error === null ? null : { ...item.error } };
    case 'ping':
    case 'pong':
      return { ...item };
  }
}

function copyMessage(m: Message): Message {
  const snapshot = m.snapshot;
  return {
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })),
    snapshot:
      snapshot === null
        ? null
        : {
            ...snapshot,
            meta: { ...snapshot.meta, membership: { voters: [...snapshot.meta.membership.voters], learners: [...snapshot.meta.membership.learners] } },
            data: snapshot.data.slice(),
          },
  };
}

function pairKey(a: HostId, b: HostId): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

function splitPair(key: string): [HostId, HostId] {
  const i = key.indexOf('\n');
  return [key.slice(0, i), key.slice(i + 1)];
}

function subscribe<T>(set: Set<T>, handler: T): () => void {
  set.add(handler);
  return () => set.delete(handler);
}
