// One WebSocket between two hosts: the handshake (handshake.ts), then frames of items. Anything
// wrong (a text or oversized message, an undecodable frame, an item before authentication, a
// handshake item after it, a wrong proof) closes this connection with a close code and a logged
// reason; nothing here can throw out of a socket event.
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, isHandshake } from './codec.js';
import { NONCE_BYTES, newNonce, proofOf, verifyProof, type Role, type Transcript } from './handshake.js';
import { FEATURES } from './features.js';
import type { HandshakeItem, HostId, Item, WireItem } from './items.js';

/** WebSocket close codes: 1xxx from RFC 6455, 4xxx ours. */
export const CloseCode = {
  GoingAway: 1001,
  TooBig: 1009,
  Protocol: 4000,
  Auth: 4001,
  Duplicate: 4003,
  Superseded: 4005,
  WrongHost: 4007,
  HandshakeTimeout: 4008,
  Silent: 4009,
  Internal: 4010,
} as const;

/** Closes that are part of normal operation, logged at debug rather than warn. */
const ROUTINE = new Set<number>([1000, CloseCode.GoingAway, CloseCode.Superseded]);
/** Dial errors that just mean the peer is down: expected while it is, so logged at debug. */
const UNREACHABLE = new Set<unknown>(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

export interface Refusal {
  code: number;
  reason: string;
}

/** What a connection needs from the transport that owns it. */
export interface ConnectionOwner {
  readonly hostId: HostId;
  readonly incarnation: string;
  readonly secret: string | Uint8Array;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  /** Both sides are authenticated: may this connection become the link to its peer? */
  admit(conn: Connection): Refusal | null;
  /** It did: register it (and announce the peer). */
  opened(conn: Connection): void;
  received(conn: Connection, items: Item[], frameBytes: number): void;
  /** Called exactly once, when the connection is done for (whichever side ended it). */
  closed(conn: Connection): void;
}

type Stage = 'awaitHello' | 'awaitChallenge' | 'awaitAuth' | 'awaitAccept' | 'open' | 'closed';

export class Connection {
  /** The peer's host id: known from the start when dialing, from its hello when accepting. */
  peer: HostId;
  peerIncarnation = '';
  /** What the peer's code reads beyond the base protocol (features.ts), from its hello or challenge. */
  peerFeatures = 0;
  /** How the connection ended (0 and '' while it is open). */
  closeCode = 0;
  closeReason = '';
  /** performance.now() of the last byte heard, for keepalive. */
  lastHeard = performance.now();
  private stage: Stage;
  private readonly nonce = newNonce();
  private peerNonce: Uint8Array = new Uint8Array(0);
  private readonly handshakeTimer: NodeJS.Timeout | undefined;
  private lastError = '';
  private lastErrorCode: unknown;
  private socketOpened = false;
  private readonly log: Logger;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly ws: WebSocket,
    readonly role: Role,
    /** The dialed peer's id (dialer) or '' (acceptor). */
    expectedPeer: HostId,
    readonly remote: string,
    /** Null: the owner holds the connection to its handshake deadline (an accepted one's runs from its TCP accept). */
    handshakeTimeoutMs: number | null,
  ) {
    this.peer = expectedPeer;
    this.stage = role === 'dialer' ? 'awaitChallenge' : 'awaitHello';
    this.log = owner.logger.child({ remote, role });
    this.handshakeTimer =
      handshakeTimeoutMs === null
        ? undefined
        : setTimeout(() => this.close(CloseCode.HandshakeTimeout, `handshake not completed within ${handshakeTimeoutMs} ms`), handshakeTimeoutMs).unref();
    ws.on('open', () => {
      this.socketOpened = true;
      if (this.stage !== 'closed') this.sendItem({ kind: 'hello', hostId: owner.hostId, incarnation: owner.incarnation, nonce: this.nonce, features: FEATURES });
    });
    // binaryType is the default 'nodebuffer': data is a Buffer (other shapes only if that changes).
    ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary));
    ws.on('pong', () => (this.lastHeard = performance.now()));
    // ws reports e.g. an oversized message or a refused dial here, then emits 'close'.
    ws.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = err.message;
      this.lastErrorCode = err.code;
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString() || this.lastError));
  }

  /** Which host dialed this connection. */
  get dialer(): HostId {
    return this.role === 'dialer' ? this.owner.hostId : this.peer;
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame, { binary: true });
  }

  /**
   * Ends the connection for `reason` (sent to the peer in the close frame and logged here).
   * `terminate` drops the socket at once, for a peer that no longer answers.
   */
  close(code: number, reason: string, terminate = false): void {
    if (this.stage === 'closed') return;
    this.finish(code, reason, 'closing connection');
    if (terminate) this.ws.terminate();
    else this.ws.close(code, fitCloseReason(reason));
  }

  private onClose(code: number, reason: string): void {
    if (this.stage === 'closed') return;
    if (this.socketOpened || this.role === 'acceptor') this.finish(code, reason, 'connection closed by peer');
    else this.finish(code, reason, 'dial failed', UNREACHABLE.has(this.lastErrorCode));
  }

  private finish(code: number, reason: string, what: string, expected = ROUTINE.has(code)): void {
    this.stage = 'closed';
    this.closeCode = code;
    this.closeReason = reason;
    clearTimeout(this.handshakeTimer);
    const fields = { peer: this.peer || undefined, code, reason };
    if (expected) this.log.debug(fields, what);
    else this.log.warn(fields, what);
    this.owner.closed(this);
  }

  private sendItem(item: HandshakeItem): void {
    this.send(encodeFrame([item]));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.stage === 'closed') return;
    this.lastHeard = performance.now();
    try {
      if (!isBinary) return this.close(CloseCode.Protocol, 'text message');
      if (data.length > this.owner.maxFrameBytes) return this.close(CloseCode.TooBig, `frame of ${data.length} bytes`);
      let items: WireItem[];
      try {
        items = decodeFrame(data);
      } catch (err) {
        return this.close(CloseCode.Protocol, err instanceof Error ? err.message : String(err));
      }
      if (this.stage === 'open') {
        if (items.some(isHandshake)) return this.close(CloseCode.Protocol, 'handshake item after authentication');
        this.owner.received(this, items as Item[], data.length);
      } else {
        this.handshake(items);
      }
    } catch (err) {
      // Only a bug of ours gets here; it costs this connection, not the process.
      this.log.error({ err, peer: this.peer }, 'internal error handling a frame');
      this.close(CloseCode.Internal, 'internal error');
    }
  }

  private handshake(items: WireItem[]): void {
    const [item] = items;
    if (items.length !== 1 || item === undefined || !isHandshake(item)) {
      return this.close(CloseCode.Protocol, `expected one handshake item (${this.stage}), got ${items.map((i) => i.kind).join(',') || 'none'}`);
    }
    if ((item.kind === 'hello' || item.kind === 'challenge') && item.nonce.length !== NONCE_BYTES) {
      return this.close(CloseCode.Protocol, `a ${item.kind} nonce must be ${NONCE_BYTES} bytes`);
    }
    if (this.stage === 'awaitHello' && item.kind === 'hello') {
      if (item.hostId === this.owner.hostId) return this.close(CloseCode.Duplicate, `peer claims our own host id ${item.hostId}`);
      this.peer = item.hostId;
      this.peerIncarnation = item.incarnation;
      this.peerFeatures = item.features;
      this.peerNonce = item.nonce;
      this.stage = 'awaitAuth';
      return this.sendItem({ kind: 'challenge', hostId: this.owner.hostId, incarnation: this.owner.incarnation, nonce: this.nonce, features: FEATURES });
    }
    if (this.stage === 'awaitChallenge' && item.kind === 'challenge') {
      if (item.hostId !== this.peer) return this.close(CloseCode.WrongHost, `dialed host ${this.peer} but reached ${item.hostId}`);
      this.peerIncarnation = item.incarnation;
      this.peerFeatures = item.features;
      this.peerNonce = item.nonce;
      this.stage = 'awaitAccept';
      return this.sendItem({ kind: 'auth', proof: proofOf(this.owner.secret, 'dialer', this.transcript()) });
    }
    if (this.stage === 'awaitAuth' && item.kind === 'auth') {
      if (!verifyProof(this.owner.secret, 'dialer', this.transcript(), item.proof)) {
        return this.close(CloseCode.Auth, 'authentication failed (wrong cluster secret?)');
      }
      if (this.refused()) return;
      this.sendItem({ kind: 'accept', proof: proofOf(this.owner.secret, 'acceptor', this.transcript()) });
      return this.open();
    }
    if (this.stage === 'awaitAccept' && item.kind === 'accept') {
      if (!verifyProof(this.owner.secret, 'acceptor', this.transcript(), item.proof)) {
        return this.close(CloseCode.Auth, 'peer failed to authenticate (wrong cluster secret?)');
      }
      if (this.refused()) return;
      return this.open();
    }
    this.close(CloseCode.Protocol, `unexpected ${item.kind} (${this.stage})`);
  }

  private refused(): boolean {
    const refusal = this.owner.admit(this);
    if (refusal) this.close(refusal.code, refusal.reason);
    return refusal !== null;
  }

  private open(): void {
    this.stage = 'open';
    clearTimeout(this.handshakeTimer);
    this.log.debug({ peer: this.peer }, 'connection authenticated');
    this.owner.opened(this);
  }

  private transcript(): Transcript {
    const mine = { id: this.owner.hostId, incarnation: this.owner.incarnation, nonce: this.nonce };
    const theirs = { id: this.peer, incarnation: this.peerIncarnation, nonce: this.peerNonce };
    const [dialer, acceptor] = this.role === 'dialer' ? [mine, theirs] : [theirs, mine];
    return {
      dialer: dialer.id, dialerIncarnation: dialer.incarnation, dialerNonce: dialer.nonce,
      acceptor: acceptor.id, acceptorIncarnation: acceptor.incarnation, acceptorNonce: acceptor.nonce,
    };
  }
}

/** A close reason must fit a control frame: at most 123 bytes of UTF-8. */
function fitCloseReason(reason: string): string {
  let fitted = reason.slice(0, 123);
  while (Buffer.byteLength(fitted) > 123) fitted = fitted.slice(0, -1);
  return fitted;
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
