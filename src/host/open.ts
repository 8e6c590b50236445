// What Host.start opens before there is a Host: the options checked, the store (unless given),
// this data directory's identity and generation, and the transport (unless given). Whatever it
// opened is closed again if a later step fails, so a refused start leaves no store locked.

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Decode } from '../common/decode.js';
import { FlotillaError } from '../common/errors.js';
import { GenerationKeeper } from '../fleet/generation-keeper.js';
import { validateName } from '../fleet/names.js';
import { checkWindowLimits, windowLimits } from '../fleet/request-window.js';
import type { LogStore } from '../storage/log-store.js';
import { openLogStore } from '../storage/open-store.js';
import type { Transport } from '../transport/transport.js';
import { WsTransport, loadTls, type LoadedTls } from '../transport/ws-transport.js';
import { checkHostOptions, type HostOptions } from './options.js';

/** What a Host is built on. */
export interface OpenedHost {
  store: LogStore;
  /** The store was opened here (and is closed by stop()), not given. */
  ownsStore: boolean;
  transport: Transport;
  /** The address other hosts dial. */
  address: string;
  /** This data directory's incarnation. */
  incarnation: string;
  generation: GenerationKeeper;
}

const IDENTITY_KEY = 'host';
const encoder = new TextEncoder();

export async function openHost(options: HostOptions): Promise<OpenedHost> {
  checkHostOptions(options);
  validateName('host', options.id);
  checkMachines(options.machines);
  checkWindowLimits(windowLimits(options));
  const connectionLimits = {
    maxConnections: options.maxConnections,
    maxUnauthenticated: options.maxUnauthenticatedConnections,
    maxUnauthenticatedPerAddress: options.maxUnauthenticatedPerAddress,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
  };
  if (options.transport !== undefined && Object.values(connectionLimits).some((v) => v !== undefined)) {
    throw new FlotillaError('BAD_ARGUMENT', 'connection limits are options of the transport a host starts itself, not of one it is given');
  }
  if (options.transport === undefined && (options.secret === undefined || options.secret === '')) throw new FlotillaError('BAD_ARGUMENT', 'a host needs the cluster secret');
  if (options.transport !== undefined && options.tls !== undefined) throw new FlotillaError('BAD_ARGUMENT', 'tls is an option of the transport a host starts itself, not of one it is given');
  // Read and checked before the store opens: a wrong path fails at once, naming the option.
  const tls: LoadedTls | undefined = options.tls === undefined ? undefined : await loadTls(options.tls, { listens: true });
  let store = options.store;
  const ownsStore = store === undefined;
  if (store === undefined) {
    const engine = options.storage ?? 'rocksdb';
    if (engine === 'memory') store = await openLogStore({ engine });
    else {
      if (options.dataDir === undefined) throw new FlotillaError('BAD_ARGUMENT', `storage '${engine}' needs a dataDir`);
      store = await openLogStore({ engine, dir: options.dataDir });
    }
  }
  let incarnation: string;
  let generation: GenerationKeeper;
  try {
    incarnation = await loadIdentity(store, options.id);
    generation = await loadGeneration(store, options, incarnation);
  } catch (err) {
    // Another host's directory, or a stale one: the store this call opened must not stay open (and locked).
    if (ownsStore) await store.close();
    throw err;
  }
  let transport = options.transport;
  let address = options.advertise ?? '';
  if (transport === undefined) {
    const logger = (options.logger ?? pino({ level: 'silent' })).child({ host: options.id, layer: 'transport' });
    let ws: WsTransport;
    try {
      ws = await WsTransport.start({ hostId: options.id, listen: options.listen ?? '127.0.0.1:0', secret: options.secret!, logger, ...connectionLimits, ...(tls ? { tls } : {}) });
    } catch (err) {
      // Bad limits or a taken port: the store this call opened must not stay open (and locked).
      if (ownsStore) await store.close();
      throw err;
    }
    transport = ws;
    if (address === '') address = ws.address;
  }
  if (address === '') address = options.listen ?? options.id;
  return { store, ownsStore, transport, address, incarnation, generation };
}

/** The data directory's generation (fleet/generation-keeper.ts): a directory a peer found stale is refused here. */
function loadGeneration(store: LogStore, options: HostOptions, incarnation: string): Promise<GenerationKeeper> {
  const random = options.random ?? (() => randomBytes(6).readUIntLE(0, 6) / 2 ** 48);
  return GenerationKeeper.load(store, { host: options.id, incarnation, acceptStale: options.acceptStaleDataDir === true, newProcess: () => Math.floor(random() * 2 ** 52) });
}

/** The host's identity in its store: a new data directory gets a fresh incarnation. */
async function loadIdentity(store: LogStore, id: string): Promise<string> {
  const saved = await store.getMeta(IDENTITY_KEY);
  if (saved !== undefined) {
    const identity = decodeIdentity(saved);
    if (identity.id !== id) throw new FlotillaError('BAD_ARGUMENT', `this data directory belongs to host ${identity.id}, not ${id}`);
    return identity.incarnation;
  }
  const incarnation = randomBytes(8).toString('hex');
  const batch = store.newBatch();
  batch.setMeta(IDENTITY_KEY, encoder.encode(JSON.stringify({ id, incarnation })));
  await store.write(batch, { sync: true });
  return incarnation;
}

/** The identity record (STORAGE_CORRUPT if it is not one). */
function decodeIdentity(bytes: Uint8Array): { id: string; incarnation: string } {
  const d = new Decode('STORAGE_CORRUPT', `the host identity of this data directory ('${IDENTITY_KEY}')`);
  const o = d.object(d.json(bytes), '');
  return { id: d.string(o.id, 'id'), incarnation: d.string(o.incarnation, 'incarnation') };
}

const MACHINE_FUNCTIONS = ['init', 'command', 'query', 'snapshot', 'restore'] as const;

/** `machines` is an object of state machines by name, each with every function a replica calls. */
function checkMachines(machines: unknown): void {
  if (machines === null || typeof machines !== 'object' || Array.isArray(machines)) {
    throw new FlotillaError('BAD_ARGUMENT', `machines must be an object of state machines by name (got ${machines === null ? 'null' : Array.isArray(machines) ? 'an array' : typeof machines})`);
  }
  for (const [name, machine] of Object.entries(machines)) {
    validateName('group', name);
    if (machine === null || typeof machine !== 'object') throw new FlotillaError('BAD_ARGUMENT', `machine ${name} must be an object with ${MACHINE_FUNCTIONS.join(', ')}`);
    const missing = MACHINE_FUNCTIONS.filter((f) => typeof (machine as Record<string, unknown>)[f] !== 'function');
    if (missing.length > 0) throw new FlotillaError('BAD_ARGUMENT', `machine ${name} lacks ${missing.join(', ')} (a state machine has ${MACHINE_FUNCTIONS.join(', ')})`);
  }
}
