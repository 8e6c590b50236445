// The contract between the host loop and the network. Two implementations: ws-transport.ts (real
// hosts) and memory-transport.ts (tests); a simulated network implements the same interface.
//
// The contract has no timers in it: send() only queues, flush() only hands frames to the network,
// handlers run when the implementation receives something. So an implementation driven by virtual
// time needs nothing but its own delivery step.
import { FlotillaError } from '../common/errors.js';
import type { AcceptLimits, AcceptStats } from './accept-gate.js';
import type { HostId, Item } from './items.js';

/**
 * What became of an item given to send().
 * - queued: it goes out with the next flush().
 * - busy: the destination's queue is full (back-pressure). Raft traffic is simply dropped (Raft
 *   retransmits); a client request is failed with BUSY (see refusal()).
 * - unreachable: no live connection to the destination right now.
 * - tooLarge: the item alone exceeds the frame size limit; it can never be sent. Never happens to
 *   an item within the limits of fleet/limits.ts: if it does, that is a bug, logged and counted.
 */
export type SendStatus = 'queued' | 'busy' | 'unreachable' | 'tooLarge';

export type ItemHandler = (from: HostId, item: Item) => void;
export type PeerHandler = (host: HostId) => void;

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  itemsSent: number;
  itemsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Items send() did not queue (busy, unreachable, tooLarge). */
  itemsRefused: number;
  /** Of those, items larger than a frame: a bug of the sender's limits (see fleet/limits.ts). */
  itemsTooLarge: number;
  /** Items queued whose destination went away before flush(). */
  itemsDiscarded: number;
}

/**
 * What joining a fleet through seed addresses needs of a transport that dials by address
 * (ws-transport.ts). A transport without it (memory, simulated) takes seeds as 'id@address' only.
 */
export interface SeedLookup {
  /** The id of the host listening at `address`, asked of it before any handshake. */
  identify(address: string): Promise<HostId>;
  /** Why host `id` refused this host's handshake (a wrong cluster secret), or null if it did not. */
  authRefusal(id: HostId): string | null;
}

export interface Transport {
  readonly hostId: HostId;
  /** The largest frame sent or accepted, in bytes: what every size limit derives from (fleet/limits.ts). */
  readonly maxFrameBytes: number;
  /** Present if this transport can look seeds up by address (see SeedLookup). */
  readonly seeds?: SeedLookup;
  /** Present if this transport accepts connections: what it holds against its limits (null: not listening). */
  connectionStats?(): ConnectionStats | null;
  /**
   * What the code of peer `to` reads beyond the base items (features.ts), as its handshake said;
   * absent where every peer runs this code (in-process and simulated transports).
   */
  peerFeatures?(to: HostId): number;

  /** Replaces the whole peer table (host id -> 'host:port'); peers no longer listed are not dialed. */
  setPeers(peers: ReadonlyMap<HostId, string>): void;
  /** Adds or re-addresses one peer; the transport keeps a connection to every peer it knows. */
  addPeer(id: HostId, address: string): void;
  removePeer(id: HostId): void;

  /**
   * Queues `item` for `to`. Checks the item first and throws FlotillaError BAD_ARGUMENT if it is
   * invalid (a bug at the caller, e.g. an index above 2^53).
   */
  send(to: HostId, item: Item): SendStatus;
  /** Sends every destination's queue, one frame each (split only past the frame size limit). */
  flush(): void;

  /** Each handler returns a function that unsubscribes it. */
  onItem(handler: ItemHandler): () => void;
  /** A host became reachable (a connection authenticated) ... */
  onPeerUp(handler: PeerHandler): () => void;
  /** ... or stopped being reachable; queued items for it are discarded. */
  onPeerDown(handler: PeerHandler): () => void;

  connectedHosts(): HostId[];
  stats(): TransportStats;
  /** Closes every connection and stops listening and dialing; send() then answers unreachable. */
  close(): Promise<void>;
}

/** The error to fail a client request with when send() did not queue it. */
export function refusal(status: Exclude<SendStatus, 'queued'>, to: HostId): FlotillaError {
  switch (status) {
    case 'busy':
      return new FlotillaError('BUSY', `the queue to host ${to} is full`, { host: to });
    case 'unreachable':
      return new FlotillaError('UNAVAILABLE', `host ${to} is not connected`, { host: to });
    case 'tooLarge':
      return new FlotillaError('BAD_ARGUMENT', `request too large to send to host ${to}`, { host: to });
  }
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0, framesReceived: 0, itemsSent: 0, itemsReceived: 0,
    bytesSent: 0, bytesReceived: 0, itemsRefused: 0, itemsTooLarge: 0, itemsDiscarded: 0,
  };
}

/** A listening transport's connections against its limits. */
export type ConnectionStats = AcceptStats & AcceptLimits & {
  /** Sockets this host dialed, open now. */
  dialed: number;
};
