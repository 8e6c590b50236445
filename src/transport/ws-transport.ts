// The real Transport: one authenticated WebSocket per host pair, binary frames, no compression.
//
// Every host listens, and dials each peer it knows that it has no link to. If both hosts of a
// pair dial at once, both connections authenticate and each host keeps the same one: the one
// dialed by the smaller host id (connection.ts admit/opened below). A dial that fails is retried
// with capped, jittered exponential backoff, so a host that is down costs one timer.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, get as httpGet, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';
import { Decode } from '../common/decode.js';
import { FlotillaError } from '../common/errors.js';
import { AcceptGate, type AcceptLimits } from './accept-gate.js';
import { formatAddress, parseAddress } from './address.js';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { TransportBase, type QueueOptions } from './base.js';
import { CloseCode, Connection, type ConnectionOwner, type Refusal } from './connection.js';
import { fdBudget, readSoftFdLimit, type FdBudget } from './fd-limit.js';
import { newIncarnation } from './handshake.js';
import type { HostId, Item } from './items.js';
import type { ConnectionStats, SeedLookup } from './transport.js';

export interface WsTransportOptions extends QueueOptions {
  hostId: HostId;
  /** 'host:port' to listen on; port 0 picks a free port (see `address`). Omitted: dial only (a client). */
  listen?: string;
  /** The cluster secret every host shares; proves membership, never sent. */
  secret: string | Uint8Array;
  peers?: ReadonlyMap<HostId, string>;
  /** wss:// (and https for the identity path) with these certificates: see TlsOptions. */
  tls?: TlsOptions;
  /**
   * Time to establish and authenticate a connection (default 5 s): a dial's from its start, an
   * accepted socket's from its TCP accept (then it is destroyed).
   */
  handshakeTimeoutMs?: number;
  /**
   * Sockets held at most, accepted and dialed; more are destroyed at accept (default: what the
   * file-descriptor limit allows with room for the store, see fd-limit.ts; at most that).
   */
  maxConnections?: number;
  /** Accepted sockets not yet authenticated, at most (default 128); more are destroyed at accept... */
  maxUnauthenticated?: number;
  /** ... and of those from one remote address (default 32). */
  maxUnauthenticatedPerAddress?: number;
  /** A link silent this long gets a ping; silent twice as long, it is dropped (default 2 s). */
  keepaliveMs?: number;
  reconnect?: BackoffOptions;
  /** Bytes the socket may hold unsent before flush() holds the queue (default 4 frames). */
  maxBufferedBytes?: number;
}

/** PEM text, as a string or its bytes. */
export type Pem = string | Uint8Array;

/**
 * TLS for a transport: each of cert, key and ca given as PEM (`cert`) or as a file to read
 * (`certFile`), not both. A listening host needs cert and key; a client needs them only for mutual
 * TLS. `ca` is who to trust: the certificates peers present (default: the system's CAs).
 */
export interface TlsOptions {
  cert?: Pem;
  key?: Pem;
  ca?: Pem;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** Mutual TLS: the acceptor requires a client certificate signed by `ca` (which it then needs). */
  requireClientCert?: boolean;
}

/** TlsOptions read and checked: PEM bytes. */
export interface LoadedTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  requireClientCert: boolean;
}

const TLS_PARTS = ['cert', 'key', 'ca'] as const;

/**
 * Reads and checks TLS options, BAD_ARGUMENT naming the option (`tls.keyFile`, ...): a file that
 * cannot be read, PEM that is no certificate or key, a key without its certificate or one that
 * does not match it, a listener without a certificate, mutual TLS without a CA.
 */
export async function loadTls(tls: TlsOptions, role: { listens: boolean }): Promise<LoadedTls> {
  const bad = (option: string, why: string) => new FlotillaError('BAD_ARGUMENT', `tls.${option}: ${why}`);
  const out: LoadedTls = { requireClientCert: tls.requireClientCert === true };
  for (const part of TLS_PARTS) {
    const pem = tls[part];
    const file = tls[`${part}File`];
    if (pem !== undefined && file !== undefined) throw bad(part, `give ${part} or ${part}File, not both`);
    if (pem !== undefined) {
      if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) throw bad(part, 'must be PEM text, a string or a Buffer');
      out[part] = Buffer.from(pem);
    } else if (file !== undefined) {
      if (typeof file !== 'string' || file === '') throw bad(`${part}File`, 'must be a file path');
      try {
        out[part] = await readFile(file);
      } catch (err) {
        throw bad(`${part}File`, `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const source = (part: (typeof TLS_PARTS)[number]) => (tls[part] === undefined ? `${part}File` : part);
  let cert: X509Certificate | undefined;
  if (out.cert) cert = parsePem(() => new X509Certificate(out.cert!), () => bad(source('cert'), 'not a PEM certificate'));
  if (out.ca) parsePem(() => new X509Certificate(out.ca!), () => bad(source('ca'), 'not a PEM certificate'));
  if (out.key) {
    const key = parsePem(() => createPrivateKey(out.key!), () => bad(source('key'), 'not a PEM private key (an unencrypted one)'));
    if (!cert) throw bad(source('key'), 'a key needs its certificate (tls.cert or tls.certFile)');
    if (!cert.checkPrivateKey(key)) throw bad(source('key'), "not the key of the certificate's public key");
  } else if (cert) throw bad(source('cert'), 'a certificate needs its private key (tls.key or tls.keyFile)');
  if (role.listens && !cert) throw bad('cert', 'a host serving TLS needs a certificate and its key (tls.cert/certFile and tls.key/keyFile)');
  if (out.requireClientCert && !out.ca) throw bad('requireClientCert', 'mutual TLS needs the CA that signs client certificates (tls.ca or tls.caFile)');
  return out;
}

function parsePem<T>(parse: () => T, fail: () => FlotillaError): T {
  try {
    return parse();
  } catch {
    throw fail();
  }
}

const IDENTITY_PATH = '/flotilla/id';

/** The host id in the body of an answer at IDENTITY_PATH, `{ "id": "h1" }`. */
function identityOf(body: string): HostId {
  const d = new Decode('TRANSPORT_PROTOCOL', 'its identity');
  const id = d.string(d.object(d.json(body), '').id, 'id');
  if (id === '') d.fail('id', 'a host id', id);
  return id;
}
const DEFAULT_MAX_UNAUTHENTICATED = 128;
const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 32;

interface PeerState {
  address: string;
  attempts: number;
  timer: NodeJS.Timeout | null;
  dial: Connection | null;
  /** Why the last dial ended before it authenticated; null once one did. */
  failure: DialFailure | null;
}

export interface DialFailure {
  /** The WebSocket close code (CloseCode.Auth for a wrong secret). */
  code: number;
  reason: string;
}

export class WsTransport extends TransportBase implements ConnectionOwner {
  readonly incarnation = newIncarnation();
  readonly secret: string | Uint8Array;
  /** Where this host listens, with the real port when asked for port 0. */
  address = '';
  private readonly peers = new Map<HostId, PeerState>();
  /** The one authenticated connection per peer. */
  private readonly links = new Map<HostId, Connection>();
  /** Every socket, authenticated or not. */
  private readonly connections = new Set<Connection>();
  /** Accepted connections not yet authenticated, by remote 'address:port' (their deadline is the gate's). */
  private readonly accepting = new Map<string, Connection>();
  private readonly handshakeTimeoutMs: number;
  private readonly keepaliveMs: number;
  private readonly backoff: BackoffOptions;
  private readonly maxBufferedBytes: number;
  /** What a dial presents and trusts: the CA, and this host's certificate for mutual TLS. */
  private readonly dialOptions: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly tls: boolean;
  private readonly acceptLimits: AcceptLimits;
  private readonly fdBudget: FdBudget;
  /** Sockets this transport dialed, open now (they count toward maxConnections). */
  private dialedSockets = 0;
  /** Limits accepted sockets (when listening). */
  private gate: AcceptGate | null = null;
  private server: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;

  private constructor(options: WsTransportOptions, tls: LoadedTls | undefined) {
    super(options.hostId, options);
    if (options.hostId === '') throw new FlotillaError('BAD_ARGUMENT', 'a host id must not be empty');
    if (options.secret.length === 0) throw new FlotillaError('BAD_ARGUMENT', 'the cluster secret must not be empty');
    this.secret = options.secret;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5_000;
    this.keepaliveMs = options.keepaliveMs ?? 2_000;
    this.backoff = options.reconnect ?? DEFAULT_BACKOFF;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * this.maxFrameBytes;
    this.tls = options.tls !== undefined;
    this.dialOptions = {};
    if (tls?.ca) this.dialOptions.ca = tls.ca;
    if (tls?.cert && tls.key) Object.assign(this.dialOptions, { cert: tls.cert, key: tls.key });
    this.fdBudget = fdBudget(readSoftFdLimit());
    this.acceptLimits = {
      maxConnections: positive('maxConnections', options.maxConnections ?? this.fdBudget.maxConnections),
      maxUnauthenticated: positive('maxUnauthenticated', options.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED),
      maxUnauthenticatedPerAddress: positive('maxUnauthenticatedPerAddress', options.maxUnauthenticatedPerAddress ?? DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS),
      handshakeTimeoutMs: positive('handshakeTimeoutMs', this.handshakeTimeoutMs),
    };
    const { fdLimit, known, reservedFds, maxConnections } = this.fdBudget;
    if (known && this.acceptLimits.maxConnections > maxConnections) {
      throw new FlotillaError(
        'BAD_ARGUMENT',
        `maxConnections ${this.acceptLimits.maxConnections} leaves too few file descriptors: the soft limit is ${fdLimit} and ${reservedFds} are kept for the store; ask for at most ${maxConnections}, or raise the limit (ulimit -n)`,
      );
    }
  }

  /** Listens, then dials the given peers. */
  static async start(options: WsTransportOptions): Promise<WsTransport> {
    const tls = options.tls === undefined ? undefined : await loadTls(options.tls, { listens: options.listen !== undefined });
    const transport = new WsTransport(options, tls);
    if (options.listen !== undefined) await transport.listen(options.listen, tls ?? null);
    // Judged after the event loop has read the sockets: Node runs due timers first, so after a
    // pause of this process every link would look silent for the pause and be dropped, while
    // what its peers sent meanwhile waits unread. Checked twice a period: an idle link's pong comes
    // back just after a check, so checks a whole period apart found it a hair under a period old
    // (no ping) and then a hair over two (dropped): an idle client was dropped every few seconds.
    transport.keepaliveTimer = setInterval(() => setImmediate(() => transport.keepalive()), transport.keepaliveMs / 2).unref();
    if (options.peers) transport.setPeers(options.peers);
    return transport;
  }

  private async listen(address: string, tls: LoadedTls | null): Promise<void> {
    const { host, port } = parseAddress(address);
    // With mutual TLS a socket without a certificate from the CA fails its TLS handshake here,
    // before it reaches the identity path or the HMAC handshake.
    const server = tls
      ? createHttpsServer({
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca ? { ca: tls.ca } : {}),
          requestCert: tls.requireClientCert,
          rejectUnauthorized: tls.requireClientCert,
        })
      : createHttpServer();
    // Every socket goes through the gate from its TCP accept: held within the limits until it
    // authenticates, or destroyed.
    const gate = new AcceptGate(this.acceptLimits, () => this.dialedSockets, (remote) => this.expire(remote), this.logger);
    server.on('connection', (socket: Socket) => gate.admit(socket));
    // Plain HTTP gets the host id at IDENTITY_PATH (so a seed can be given as a bare address; the
    // id is no secret, the handshake still proves the secret) and a polite refusal otherwise;
    // Connection: close frees an answered socket at once.
    server.on('request', (req, res) => {
      if (req.method === 'GET' && req.url === IDENTITY_PATH) res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' }).end(JSON.stringify({ id: this.hostId }));
      else res.writeHead(426, { Connection: 'close' }).end();
    });
    server.on('error', (err) => this.logger.error({ err }, 'server error'));
    // A plaintext socket, or one without a certificate this host trusts (mutual TLS): refused in
    // the TLS handshake; the dialer logs why.
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      this.logger.debug({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: err.message }, 'TLS handshake refused');
      socket.destroy();
    });
    const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: this.maxFrameBytes, clientTracking: false });
    wss.on('connection', (ws, req) => this.accept(ws, req));
    wss.on('error', (err) => this.logger.error({ err }, 'websocket server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    this.address = formatAddress({ host, port: typeof bound === 'object' && bound ? bound.port : port });
    this.server = server;
    this.wss = wss;
    this.gate = gate;
    const { fdLimit, known, reservedFds } = this.fdBudget;
    const { maxConnections, maxUnauthenticated, maxUnauthenticatedPerAddress, handshakeTimeoutMs } = this.acceptLimits;
    this.logger.info(
      { address: this.address, maxConnections, maxUnauthenticated, maxUnauthenticatedPerAddress, handshakeTimeoutMs, fdLimit, fdLimitKnown: known, reservedFds },
      `listening: holding at most ${maxConnections} connections (file descriptors: ${known ? 'soft limit' : 'limit unknown, assumed'} ${fdLimit}, ${reservedFds} kept for the store), ` +
        `${maxUnauthenticated} of them not yet authenticated (${maxUnauthenticatedPerAddress} per address), each for ${handshakeTimeoutMs} ms from its accept`,
    );
  }

  /** The id of the host listening at `address` (asked over plain HTTP(S), before any handshake). */
  identify(address: string, timeoutMs = 3000): Promise<HostId> {
    const { host, port } = parseAddress(address);
    const get = this.tls ? httpsGet : httpGet;
    return new Promise((resolve, reject) => {
      const req = get({ host, port, path: IDENTITY_PATH, timeout: timeoutMs, ...this.dialOptions }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > 4096) req.destroy(new Error('identity reply too long'));
        });
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`status ${res.statusCode ?? 0}`);
            resolve(identityOf(body));
          } catch (err) {
            reject(new FlotillaError('TRANSPORT_PROTOCOL', `${address} is not a flotilla host: ${err instanceof Error ? err.message : String(err)}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new FlotillaError('UNAVAILABLE', `cannot reach ${address}: ${err.message}`)));
    });
  }

  // ---- peers and dialing

  setPeers(peers: ReadonlyMap<HostId, string>): void {
    for (const id of [...this.peers.keys()]) if (!peers.has(id)) this.removePeer(id);
    for (const [id, address] of peers) this.addPeer(id, address);
  }

  addPeer(id: HostId, address: string): void {
    parseAddress(address);
    if (id === this.hostId || this.stopped) return;
    const peer = this.peers.get(id);
    if (peer) {
      peer.address = address;
      return;
    }
    this.peers.set(id, { address, attempts: 0, timer: null, dial: null, failure: null });
    this.scheduleDial(id);
  }

  readonly seeds: SeedLookup = {
    identify: (address) => this.identify(address),
    authRefusal: (id) => {
      const failure = this.dialFailure(id);
      return failure?.code === CloseCode.Auth ? failure.reason : null;
    },
  };

  /** Why the last dial to `id` failed, if it has not authenticated since. */
  dialFailure(id: HostId): DialFailure | null {
    return this.peers.get(id)?.failure ?? null;
  }

  /** Stops dialing `id`; a live link to it stays until either side closes it. */
  removePeer(id: HostId): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    if (peer.timer) clearTimeout(peer.timer);
    peer.dial?.close(CloseCode.GoingAway, 'peer removed');
  }

  private scheduleDial(id: HostId): void {
    const peer = this.peers.get(id);
    if (!peer || this.stopped || this.links.has(id) || peer.dial || peer.timer) return;
    const delay = backoffDelay(peer.attempts++, this.backoff);
    peer.timer = setTimeout(() => {
      peer.timer = null;
      this.dial(id, peer);
    }, delay).unref();
  }

  private dial(id: HostId, peer: PeerState): void {
    if (this.stopped || this.links.has(id) || this.peers.get(id) !== peer) return;
    const url = `${this.tls ? 'wss' : 'ws'}://${peer.address}/`;
    const ws = new WebSocket(url, {
      ...this.dialOptions,
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes,
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    peer.dial = new Connection(this, ws, 'dialer', id, peer.address, this.handshakeTimeoutMs);
    this.connections.add(peer.dial);
    this.dialedSockets++;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const conn = new Connection(this, ws, 'acceptor', '', remote, null);
    this.connections.add(conn);
    this.accepting.set(remote, conn);
    if (this.stopped) conn.close(CloseCode.GoingAway, 'host shutting down');
  }

  // ---- ConnectionOwner: deciding which connection is the link

  admit(conn: Connection): Refusal | null {
    if (this.stopped) return { code: CloseCode.GoingAway, reason: 'host shutting down' };
    const existing = this.links.get(conn.peer);
    if (!existing) return null;
    if (existing.peerIncarnation !== conn.peerIncarnation) {
      // Two live processes claim one host id (or a restarted one got here before its old
      // connection was noticed dead; keepalive clears that, and it redials).
      return { code: CloseCode.Duplicate, reason: `host id ${conn.peer} is already connected from another process` };
    }
    return this.preferred(existing, conn) === conn
      ? null
      : { code: CloseCode.Superseded, reason: 'this host pair already has a connection' };
  }

  /**
   * Of two connections of the same pair of processes, the one both ends keep. Dialed from both
   * sides: the smaller host id's dial. Dialed twice by one side: the newer, as the dialer evidently
   * gave up on the older.
   */
  private preferred(existing: Connection, candidate: Connection): Connection {
    if (existing.dialer === candidate.dialer) return candidate;
    return candidate.dialer < existing.dialer ? candidate : existing;
  }

  opened(conn: Connection): void {
    if (conn.role === 'acceptor') {
      this.gate?.authenticated(conn.remote);
      this.forgetAccepting(conn);
    }
    const peer = this.peers.get(conn.peer);
    if (peer) {
      peer.attempts = 0;
      peer.failure = null;
      if (peer.dial === conn) peer.dial = null;
    }
    const existing = this.links.get(conn.peer);
    this.links.set(conn.peer, conn);
    if (existing) existing.close(CloseCode.Superseded, 'replaced by another connection of this host pair');
    else this.peerUp(conn.peer);
  }

  received(conn: Connection, items: Item[], frameBytes: number): void {
    this.dispatch(conn.peer, items, frameBytes);
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
    if (conn.role === 'dialer') this.dialedSockets--;
    else this.forgetAccepting(conn);
    const peer = this.peers.get(conn.peer);
    if (peer?.dial === conn) {
      peer.dial = null;
      peer.failure = { code: conn.closeCode, reason: conn.closeReason };
    }
    if (this.links.get(conn.peer) === conn) {
      this.links.delete(conn.peer);
      this.peerDown(conn.peer);
    }
    if (conn.peer !== '') this.scheduleDial(conn.peer);
  }

  /** The gate's deadline passed for the connection from `remote`: close it with the reason, if it got that far. */
  private expire(remote: string): boolean {
    const conn = this.accepting.get(remote);
    if (conn === undefined) return false;
    conn.close(CloseCode.HandshakeTimeout, `handshake not completed within ${this.acceptLimits.handshakeTimeoutMs} ms of the TCP accept`);
    return true;
  }

  private forgetAccepting(conn: Connection): void {
    if (this.accepting.get(conn.remote) === conn) this.accepting.delete(conn.remote);
  }

  // ---- TransportBase: the network side of send/flush

  connectedHosts(): HostId[] {
    return [...this.links.keys()];
  }

  /** Open sockets, authenticated or not (for tests and diagnostics). */
  socketCount(): number {
    return this.connections.size;
  }

  /** What the host holds against its connection limits, and what it refused (null: not listening). */
  connectionStats(): ConnectionStats | null {
    if (this.gate === null) return null;
    return { ...this.gate.stats(), dialed: this.dialedSockets, ...this.acceptLimits };
  }

  /** 0 until the peer's handshake is done, and for a peer that predates the field. */
  peerFeatures(to: HostId): number {
    return this.links.get(to)?.peerFeatures ?? 0;
  }

  protected isConnected(to: HostId): boolean {
    return this.links.has(to);
  }

  protected canTransmit(to: HostId): boolean {
    const link = this.links.get(to);
    return link !== undefined && link.ws.bufferedAmount <= this.maxBufferedBytes;
  }

  protected transmit(to: HostId, frame: Uint8Array): void {
    this.links.get(to)?.send(frame);
  }

  /** Pings quiet links and drops silent ones (a peer that vanished without closing its socket). */
  private keepalive(): void {
    if (this.stopped) return;
    const now = performance.now();
    for (const conn of this.links.values()) {
      const silent = now - conn.lastHeard;
      if (silent > 2 * this.keepaliveMs) conn.close(CloseCode.Silent, `peer silent for ${Math.round(silent)} ms`, true);
      else if (silent >= this.keepaliveMs) conn.ws.ping();
    }
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const peer of this.peers.values()) if (peer.timer) clearTimeout(peer.timer);
    this.peers.clear();
    this.gate?.close();
    const sockets = [...this.connections].map((conn) => conn.ws);
    for (const conn of [...this.connections]) conn.close(CloseCode.GoingAway, 'host shutting down');
    await closeSockets(sockets, 1_000);
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Waits for closing sockets to finish their close handshake, terminating stragglers after `graceMs`. */
async function closeSockets(sockets: WebSocket[], graceMs: number): Promise<void> {
  const open = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  if (open.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(open.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())))),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  for (const ws of open) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new FlotillaError('BAD_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`);
  return value;
}
