// Which TCP connections a listening host takes, from the moment it accepts them. Anyone who
// reaches the port can open sockets without the secret: left alone, idle ones were held for
// 70-90 s, and 24,000 of them filled the host's file descriptors until its store could not open
// its next file and the host stopped itself (issue 14). So, at accept, before any byte is read:
// - a socket beyond maxConnections (counted with the host's own dials) is destroyed at once;
// - so is one beyond maxUnauthenticated sockets not yet authenticated, or beyond
//   maxUnauthenticatedPerAddress of them from its remote address;
// - a socket not authenticated within handshakeTimeoutMs of its accept is destroyed (a raw idle
//   socket, an HTTP request that never ends, a WebSocket that never completes the handshake
//   alike); a WebSocket is first told why, with a close frame, and given CLOSE_GRACE_MS to go.
// Authenticated sockets (peers and clients that know the secret) are never limited here.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface AcceptLimits {
  /** Accepted sockets held at most, together with the host's own dials (which are never refused). */
  maxConnections: number;
  /** Accepted sockets not yet authenticated, at most... */
  maxUnauthenticated: number;
  /** ... and of those from one remote address. */
  maxUnauthenticatedPerAddress: number;
  /** Time from a socket's accept to its authentication, at most. */
  handshakeTimeoutMs: number;
}

export interface AcceptStats {
  /** Accepted sockets open now... */
  accepted: number;
  /** ... of which not authenticated yet. */
  unauthenticated: number;
  /** Sockets destroyed at accept: maxConnections reached... */
  refusedFull: number;
  /** ... maxUnauthenticated reached ... */
  refusedUnauthenticated: number;
  /** ... maxUnauthenticatedPerAddress reached for the socket's address. */
  refusedPerAddress: number;
  /** Sockets destroyed for not authenticating within handshakeTimeoutMs of their accept. */
  handshakeTimeouts: number;
}

interface Pending {
  address: string;
  remote: string;
  timer: NodeJS.Timeout;
}

/** Refusals of one kind are logged at most this often (a flood would otherwise flood the log too). */
const REFUSAL_LOG_MS = 10_000;
/** A WebSocket told its handshake timed out has this long to answer the close before its socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

export class AcceptGate {
  private readonly open = new Set<Socket>();
  private readonly pending = new Map<Socket, Pending>();
  /** Sockets not yet authenticated by remote 'address:port' (the same for a TLS socket and its TCP socket). */
  private readonly byRemote = new Map<string, Socket>();
  private readonly pendingByAddress = new Map<string, number>();
  private readonly counters = { refusedFull: 0, refusedUnauthenticated: 0, refusedPerAddress: 0, handshakeTimeouts: 0 };
  private readonly lastLogged = new Map<string, number>();
  private closed = false;

  constructor(
    readonly limits: AcceptLimits,
    /** Sockets the host dialed, open now: they count toward maxConnections. */
    private readonly dialed: () => number,
    /** Closes the WebSocket from `remote` that missed its deadline, saying why; false if there is none (yet). */
    private readonly expire: (remote: string) => boolean,
    private readonly logger: Logger,
  ) {}

  /** A TCP socket was accepted (the server's 'connection' event): held, or destroyed at once. */
  admit(socket: Socket): void {
    const address = socket.remoteAddress;
    if (this.closed || address === undefined) {
      socket.destroy();
      return;
    }
    const fromAddress = this.pendingByAddress.get(address) ?? 0;
    const refusal =
      this.open.size + this.dialed() >= this.limits.maxConnections ? 'refusedFull'
      : this.pending.size >= this.limits.maxUnauthenticated ? 'refusedUnauthenticated'
      : fromAddress >= this.limits.maxUnauthenticatedPerAddress ? 'refusedPerAddress'
      : null;
    if (refusal !== null) {
      this.counters[refusal]++;
      socket.destroy();
      this.logRefusal(refusal, address);
      return;
    }
    const remote = `${address}:${socket.remotePort ?? '?'}`;
    const timer = setTimeout(() => {
      if (!this.pending.has(socket)) return;
      this.counters.handshakeTimeouts++;
      if (this.expire(remote)) setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      else socket.destroy();
    }, this.limits.handshakeTimeoutMs).unref();
    this.open.add(socket);
    this.pending.set(socket, { address, remote, timer });
    this.byRemote.set(remote, socket);
    this.pendingByAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.open.delete(socket);
      this.settle(socket);
    });
  }

  /** The connection from `remote` ('address:port') authenticated: it is no longer limited. */
  authenticated(remote: string): void {
    const socket = this.byRemote.get(remote);
    if (socket !== undefined) this.settle(socket);
  }

  /** Destroys every socket not yet authenticated, and every later one at its accept. */
  close(): void {
    this.closed = true;
    for (const socket of [...this.pending.keys()]) socket.destroy();
  }

  stats(): AcceptStats {
    return { accepted: this.open.size, unauthenticated: this.pending.size, ...this.counters };
  }

  private settle(socket: Socket): void {
    const p = this.pending.get(socket);
    if (p === undefined) return;
    this.pending.delete(socket);
    if (this.byRemote.get(p.remote) === socket) this.byRemote.delete(p.remote);
    clearTimeout(p.timer);
    const left = (this.pendingByAddress.get(p.address) ?? 1) - 1;
    if (left === 0) this.pendingByAddress.delete(p.address);
    else this.pendingByAddress.set(p.address, left);
  }

  private logRefusal(reason: keyof AcceptGate['counters'], address: string): void {
    const now = performance.now();
    if (now - (this.lastLogged.get(reason) ?? -Infinity) < REFUSAL_LOG_MS) return;
    this.lastLogged.set(reason, now);
    const { accepted, unauthenticated } = this.stats();
    this.logger.warn({ reason, address, accepted, unauthenticated, dialed: this.dialed(), ...this.limits, refused: this.counters[reason] }, 'refusing connections at accept');
  }
}
