// What every Transport implementation shares: per-destination bounded queues, flush into frames,
// handler registries, dispatch of received items, counters. An implementation supplies only the
// network: who is connected, whether a connection can take more bytes now, and how frames travel.
import { pino, type Logger } from 'pino';
import { MessageType } from '../raft/types.js';
import { FRAME_OVERHEAD, encodeEnvelope, envelopeCost } from './codec.js';
import type { HostId, Item } from './items.js';
import { Outbox } from './outbox.js';
import { emptyStats, type ItemHandler, type PeerHandler, type SendStatus, type Transport, type TransportStats } from './transport.js';

export interface QueueOptions {
  /** Largest frame sent or accepted, in bytes (default 4 MiB). */
  maxFrameBytes?: number;
  /** Per destination: items queued between two flushes (default 10,000)... */
  maxQueueItems?: number;
  /** ... and their encoded bytes (default 8 MiB). */
  maxQueueBytes?: number;
  /** Where connection problems are reported (default: silent). */
  logger?: Logger;
}

const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Distinct (kind, group) pairs whose too-large items are logged; more are only counted. */
const MAX_TOO_LARGE_LOGGED = 1000;

export abstract class TransportBase implements Transport {
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  protected readonly counters: TransportStats = emptyStats();
  protected stopped = false;
  private readonly maxQueueItems: number;
  private readonly maxQueueBytes: number;
  private readonly queues = new Map<HostId, Outbox>();
  private readonly itemHandlers = new Set<ItemHandler>();
  private readonly upHandlers = new Set<PeerHandler>();
  private readonly downHandlers = new Set<PeerHandler>();
  /** The (kind, group) pairs a too-large item was logged for: once each. */
  private readonly tooLargeLogged = new Set<string>();

  constructor(
    readonly hostId: HostId,
    options: QueueOptions,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueueItems = options.maxQueueItems ?? 10_000;
    this.maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024;
    this.logger = options.logger ?? pino({ level: 'silent' });
  }

  abstract setPeers(peers: ReadonlyMap<HostId, string>): void;
  abstract addPeer(id: HostId, address: string): void;
  abstract removePeer(id: HostId): void;
  abstract connectedHosts(): HostId[];
  abstract close(): Promise<void>;

  /** Whether a live, authenticated connection to `to` exists. */
  protected abstract isConnected(to: HostId): boolean;
  /** Whether the connection to `to` can take frames now; false holds the queue (back-pressure). */
  protected abstract canTransmit(to: HostId): boolean;
  protected abstract transmit(to: HostId, frame: Uint8Array): void;

  send(to: HostId, item: Item): SendStatus {
    const status = this.enqueue(to, item);
    if (status !== 'queued') this.counters.itemsRefused++;
    if (status === 'tooLarge') this.tooLarge(to, item);
    return status;
  }

  /** The sender let in something the wire cannot carry: a bug in the limits (fleet/limits.ts). */
  private tooLarge(to: HostId, item: Item): void {
    this.counters.itemsTooLarge++;
    const group = item.kind === 'raft' ? String(item.groupId) : item.kind === 'clientRequest' ? item.group : '';
    const kind = item.kind === 'raft' ? `raft/${MessageType[item.message.type]}` : item.kind;
    const key = `${kind} ${group}`;
    if (this.tooLargeLogged.has(key) || this.tooLargeLogged.size >= MAX_TOO_LARGE_LOGGED) return;
    this.tooLargeLogged.add(key);
    const bytes = FRAME_OVERHEAD + envelopeCost(encodeEnvelope(item));
    this.logger.error({ peer: to, kind, group, bytes, maxFrameBytes: this.maxFrameBytes }, 'an item larger than a frame was refused (a bug: it is within no size limit); further ones of this kind and group are only counted');
  }

  private enqueue(to: HostId, item: Item): SendStatus {
    if (this.stopped || !this.isConnected(to)) return 'unreachable';
    let queue = this.queues.get(to);
    if (queue?.isFull()) return 'busy';
    const envelope = encodeEnvelope(item);
    if (FRAME_OVERHEAD + envelopeCost(envelope) > this.maxFrameBytes) return 'tooLarge';
    if (!queue) {
      queue = new Outbox(this.maxQueueItems, this.maxQueueBytes);
      this.queues.set(to, queue);
    }
    return queue.push(envelope) ? 'queued' : 'busy';
  }

  flush(): void {
    for (const [to, queue] of this.queues) {
      if (queue.length === 0) continue;
      if (!this.isConnected(to)) {
        this.counters.itemsDiscarded += queue.clear();
        continue;
      }
      if (!this.canTransmit(to)) continue;
      this.counters.itemsSent += queue.length;
      for (const frame of queue.takeFrames(this.maxFrameBytes)) {
        this.counters.framesSent++;
        this.counters.bytesSent += frame.length;
        this.transmit(to, frame);
      }
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

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Hands one received frame's items to the handlers. */
  protected dispatch(from: HostId, items: readonly Item[], frameBytes: number): void {
    this.counters.framesReceived++;
    this.counters.bytesReceived += frameBytes;
    this.counters.itemsReceived += items.length;
    for (const item of items) {
      for (const handler of this.itemHandlers) this.guard('item handler', () => handler(from, item));
    }
  }

  protected peerUp(host: HostId): void {
    this.logger.debug({ peer: host }, 'peer up');
    for (const handler of this.upHandlers) this.guard('peer-up handler', () => handler(host));
  }

  protected peerDown(host: HostId): void {
    const queue = this.queues.get(host);
    if (queue) {
      this.counters.itemsDiscarded += queue.clear();
      this.queues.delete(host);
    }
    this.logger.debug({ peer: host }, 'peer down');
    for (const handler of this.downHandlers) this.guard('peer-down handler', () => handler(host));
  }

  /** A handler's exception is the handler's bug: reported, never allowed to break the transport. */
  private guard(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err }, `${what} threw`);
    }
  }
}

function subscribe<T>(set: Set<T>, handler: T): () => void {
  set.add(handler);
  return () => set.delete(handler);
}
