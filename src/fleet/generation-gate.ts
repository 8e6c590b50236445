// The peer side of fleet/generation.ts, as a Transport around the host's own: everything the host
// receives passes here first, so a peer whose data directory is stale reaches none of this host's
// groups, whatever transport carries it (ws, the in-memory one of the tests, the simulation's).
//
// - Outgoing pings and pongs carry this host's DataGeneration; a pong also carries the verdict on
//   the peer's latest ping. A new link gets a ping at once: the peer judges this host, and this
//   host judges the peer by its answer, within a round trip whoever pings whom later.
// - A peer's ping or pong with a generation is judged against the record kept of it (judge()): a
//   stale one is answered with a stale verdict and everything from that peer is dropped until it
//   presents another process that passes (a rebase); an accepted one updates the record.
// - Until a peer with a record has had a ping or pong judged on the current link, its other items
//   are held (and it is pinged again now and then), then delivered in order: nothing from a
//   restarted peer is acted on before its check. Peers without a record (clients, a host never
//   heard before, a host that predates generations) have nothing to be judged against and pass.
// - A stale verdict about this host's current process goes to onStale; an accepting one tells the
//   keeper. A verdict about another process (a late ping of this host's previous process, judged
//   after this one connected) means nothing here.

import type { Logger } from 'pino';
import type { HostId, HostPingItem, Item } from '../transport/items.js';
import { FEATURES } from '../transport/features.js';
import type { ItemHandler, PeerHandler, SendStatus, Transport, TransportStats } from '../transport/transport.js';
import { judge, type DataGeneration, type GenerationVerdict } from './generation.js';
import type { GenerationKeeper } from './generation-keeper.js';

/** Items held for one peer while its check is pending; more are dropped (Raft retransmits, requests retry). */
const MAX_HELD_ITEMS = 10_000;
/** While holding a peer's items, it is pinged at most this often (its answer is what gets judged). */
const RECHECK_MS = 200;

export interface GateOptions {
  keeper: GenerationKeeper;
  /** The host's clock, for the pings the gate sends itself. */
  now: () => number;
  /** `peer` found this host's data directory stale. */
  onStale: (peer: HostId, verdict: GenerationVerdict) => void;
  logger: Logger;
}

interface Link {
  state: 'unchecked' | 'accepted' | 'refused';
  held: Item[];
  /** The verdict on the peer's latest ping, stamped on the pongs that answer it. */
  verdict: GenerationVerdict | null;
  /** When the gate last pinged the peer itself, to have it judged (-Infinity: never). */
  pingedAt: number;
}

export class GenerationGate implements Transport {
  readonly hostId: HostId;
  readonly maxFrameBytes: number;
  private readonly links = new Map<HostId, Link>();
  private readonly itemHandlers = new Set<ItemHandler>();
  /** This host was found stale: it takes nothing in any more. */
  private fenced = false;

  constructor(
    /** The transport underneath (WsTransport-only calls go to it). */
    readonly inner: Transport,
    private readonly options: GateOptions,
  ) {
    this.hostId = inner.hostId;
    this.maxFrameBytes = inner.maxFrameBytes;
    // Subscribed before anyone subscribes through the gate, so these run first.
    inner.onItem((from, item) => this.receive(from, item));
    inner.onPeerUp((host) => this.pingNow(host));
    inner.onPeerDown((host) => this.links.delete(host));
  }

  /** Nothing received is delivered any more (this host's directory was found stale). */
  fence(): void {
    this.fenced = true;
    this.links.clear();
  }

  send(to: HostId, item: Item): SendStatus {
    return this.inner.send(to, this.stamp(to, item));
  }

  onItem(handler: ItemHandler): () => void {
    this.itemHandlers.add(handler);
    return () => this.itemHandlers.delete(handler);
  }

  flush(): void {
    this.inner.flush();
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

  onPeerUp(handler: PeerHandler): () => void {
    return this.inner.onPeerUp(handler);
  }

  onPeerDown(handler: PeerHandler): () => void {
    return this.inner.onPeerDown(handler);
  }

  connectedHosts(): HostId[] {
    return this.inner.connectedHosts();
  }

  peerFeatures(to: HostId): number {
    return this.inner.peerFeatures?.(to) ?? FEATURES;
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private stamp(to: HostId, item: Item): Item {
    if (item.kind === 'ping') return { ...item, generation: this.options.keeper.presented() };
    if (item.kind !== 'pong') return item;
    const generation = this.options.keeper.presented();
    const verdict = this.links.get(to)?.verdict;
    return verdict == null ? { ...item, generation } : { ...item, generation, verdict };
  }

  private pingNow(host: HostId): void {
    this.send(host, { kind: 'ping', sentAt: Math.floor(this.options.now()), liveness: 'up' });
    this.inner.flush();
  }

  private receive(from: HostId, item: Item): void {
    if (this.fenced) return;
    let link = this.links.get(from);
    if (link === undefined) {
      link = { state: 'unchecked', held: [], verdict: null, pingedAt: -Infinity };
      this.links.set(from, link);
    }
    const liveness = item.kind === 'ping' || item.kind === 'pong';
    if (liveness && item.generation !== undefined) return this.judgeLiveness(from, link, item, item.generation);
    if (link.state === 'refused') return;
    if (link.state === 'unchecked') {
      // A ping or pong without a generation: a host that predates them, with nothing to judge.
      if (liveness) link.state = 'accepted';
      else if (this.options.keeper.record(from) !== undefined) return this.hold(from, link, item);
    }
    this.deliver(from, item);
  }

  /**
   * A ping or pong presenting the peer's generation (pongs too: the answer to this host's ping on
   * a new link is judged at once, whether or not the peer pings this host on its own).
   */
  private judgeLiveness(from: HostId, link: Link, item: HostPingItem, presented: DataGeneration): void {
    const { verdict, record } = judge(this.options.keeper.record(from), presented);
    if (record !== undefined) this.options.keeper.keep(from, record);
    link.verdict = verdict;
    if (verdict.stale) {
      if (link.state !== 'refused') {
        this.options.logger.error(
          { peer: from, recorded: verdict.recorded, floor: presented.floor, dropped: link.held.length },
          `refusing host ${from}: its data directory is older than this host has seen (generation ${presented.floor}, heard at ${verdict.recorded}); nothing from it reaches this host's groups`,
        );
      }
      link.state = 'refused';
      link.held = [];
      this.send(from, { kind: 'pong', sentAt: item.sentAt, liveness: 'up' }); // stamped with the stale verdict
      this.inner.flush();
      return;
    }
    if (link.state !== 'accepted') {
      this.options.logger.debug({ peer: from, process: presented.process, floor: presented.floor, recorded: verdict.recorded, held: link.held.length }, `accepted host ${from}'s data directory`);
    }
    const held = link.held;
    link.state = 'accepted';
    link.held = [];
    for (const earlier of held) this.deliver(from, earlier);
    this.deliver(from, item);
  }

  private hold(from: HostId, link: Link, item: Item): void {
    if (link.held.length < MAX_HELD_ITEMS) link.held.push(item);
    else this.options.logger.debug({ peer: from, kind: item.kind }, 'dropping an item from a peer whose generation is not checked yet');
    // The ping of the new link, or its answer, may be lost (or the peer pings nobody it thinks
    // inactive): ask again, so that holding always ends.
    const now = this.options.now();
    if (now - link.pingedAt < RECHECK_MS) return;
    link.pingedAt = now;
    this.pingNow(from);
  }

  private deliver(from: HostId, item: Item): void {
    if (item.kind === 'pong' && item.verdict !== undefined && item.verdict.process === this.options.keeper.presented().process) {
      if (item.verdict.stale) this.options.onStale(from, item.verdict);
      else if (this.options.keeper.accepted(from)) this.options.logger.debug({ peer: from, recorded: item.verdict.recorded }, `host ${from} accepted this data directory`);
    }
    // One handler's bug must not keep the item from the others; the first error goes on to the
    // transport's own guard (logged, or a violation in the simulation).
    let failure: { err: unknown } | null = null;
    for (const handler of this.itemHandlers) {
      try {
        handler(from, item);
      } catch (err) {
        failure ??= { err };
      }
    }
    if (failure !== null) throw failure.err;
  }
}
