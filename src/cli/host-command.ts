// `flotilla host`: runs one Host from flags or a JSON config file until SIGINT/SIGTERM, then stops
// it cleanly (moving its members away first with --drain).

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import { validateName } from '../fleet/names.js';
import { Host } from '../host/host.js';
import type { AnyMachine } from '../host/options.js';
import type { StorageEngine } from '../storage/open-store.js';
import { parseAddress } from '../transport/address.js';
import type { TlsOptions } from '../transport/ws-transport.js';
import { makeLogger } from './logger.js';
import { builtinMachines, loadMachines } from './machines.js';
import { UsageError } from './usage.js';

export interface HostSettings {
  id: string;
  zone: string;
  secret: string;
  listen: string;
  advertise?: string;
  join: string[];
  dataDir?: string;
  storage: StorageEngine;
  machines?: string;
  adminPort?: string;
  drain: boolean;
  /** UNSAFE: serve from a data directory the fleet found stale (HostOptions.acceptStaleDataDir). */
  acceptStaleDataDir?: true;
  logLevel: string;
  /** Connection limits (HostOptions of the same names); unset: the host's defaults. */
  limits: Partial<Record<LimitKey, number>>;
  /** TLS from files (HostOptions.tls); unset: plaintext. */
  tls?: TlsOptions;
}

const STRING_KEYS = ['id', 'zone', 'secret', 'listen', 'advertise', 'dataDir', 'storage', 'machines', 'adminPort', 'logLevel', 'tlsCert', 'tlsKey', 'tlsCa'] as const;
const BOOLEAN_KEYS = ['drain', 'acceptStaleDataDir', 'tlsRequireClientCert'] as const;
/** Integer settings: config key -> flag. */
const LIMITS = {
  maxConnections: 'max-connections',
  maxUnauthenticatedConnections: 'max-unauthenticated',
  maxUnauthenticatedPerAddress: 'max-unauthenticated-per-address',
  handshakeTimeoutMs: 'handshake-timeout-ms',
} as const;
type LimitKey = keyof typeof LIMITS;
const LIMIT_KEYS = Object.keys(LIMITS) as LimitKey[];
const ENGINES: readonly StorageEngine[] = ['rocksdb', 'lmdb', 'memory'];
/** How long a joining host keeps trying its seeds before it gives up. */
const SEED_WAIT_MS = 60_000;

/** The settings from flags over the config file over defaults; every mistake is a UsageError. */
export async function hostSettings(argv: string[], env: NodeJS.ProcessEnv): Promise<HostSettings> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      id: { type: 'string' },
      zone: { type: 'string' },
      secret: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      join: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      storage: { type: 'string' },
      machines: { type: 'string' },
      'admin-port': { type: 'string' },
      drain: { type: 'boolean' },
      'accept-stale-data-dir': { type: 'boolean' },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-require-client-cert': { type: 'boolean' },
      ...Object.fromEntries(LIMIT_KEYS.map((key) => [LIMITS[key], { type: 'string' as const }])),
    },
  });
  if (positionals.length > 0) throw new UsageError(`flotilla host takes no arguments, got ${positionals.join(' ')}`);
  const file = values.config === undefined ? {} : await readConfig(values.config);
  const pick = (flag: string | undefined, key: (typeof STRING_KEYS)[number]): string | undefined => flag ?? (file[key] as string | undefined);
  const id = pick(values.id, 'id');
  const zone = pick(values.zone, 'zone');
  const secret = pick(values.secret, 'secret') ?? env.FLOTILLA_SECRET;
  if (id === undefined) throw new UsageError('flotilla host needs --id');
  if (zone === undefined) throw new UsageError('flotilla host needs --zone');
  if (secret === undefined || secret === '') throw new UsageError('flotilla host needs the cluster secret: --secret or FLOTILLA_SECRET');
  checkName('host', id, '--id');
  checkName('zone', zone, '--zone');
  const storage = pick(values.storage, 'storage') ?? 'rocksdb';
  if (!ENGINES.includes(storage as StorageEngine)) throw new UsageError(`--storage must be one of ${ENGINES.join(', ')}, got ${storage}`);
  const dataDir = pick(values['data-dir'], 'dataDir');
  if (storage !== 'memory' && dataDir === undefined) throw new UsageError(`--storage ${storage} needs --data-dir`);
  const listen = pick(values.listen, 'listen') ?? '127.0.0.1:0';
  const advertise = pick(values.advertise, 'advertise');
  const join = values.join ?? (file.join as string[] | undefined) ?? [];
  for (const address of [listen, ...(advertise === undefined ? [] : [advertise]), ...join.map((j) => j.slice(j.indexOf('@') + 1))]) checkAddress(address);
  // A wildcard address is where to listen, not where to be dialed.
  if (advertise === undefined && /^(0\.0\.0\.0|\[::\]):/.test(listen)) throw new UsageError(`--listen ${listen} needs --advertise: the address other hosts and clients dial`);
  const adminPort = pick(values['admin-port'], 'adminPort');
  if (adminPort !== undefined) checkAddress(/^\d+$/.test(adminPort) ? `127.0.0.1:${adminPort}` : adminPort);
  const settings: HostSettings = {
    id,
    zone,
    secret,
    listen,
    join,
    storage: storage as StorageEngine,
    drain: values.drain ?? file.drain === true,
    logLevel: pick(values['log-level'], 'logLevel') ?? 'info',
    limits: limitSettings(values as Record<string, unknown>, file),
  };
  if (advertise !== undefined) settings.advertise = advertise;
  if (values['accept-stale-data-dir'] ?? file.acceptStaleDataDir === true) settings.acceptStaleDataDir = true;
  if (dataDir !== undefined) settings.dataDir = dataDir;
  const machines = pick(values.machines, 'machines');
  if (machines !== undefined) settings.machines = machines;
  if (adminPort !== undefined) settings.adminPort = adminPort;
  const tls = tlsSettings(pick(values['tls-cert'], 'tlsCert'), pick(values['tls-key'], 'tlsKey'), pick(values['tls-ca'], 'tlsCa'), values['tls-require-client-cert'] ?? file.tlsRequireClientCert === true);
  if (tls !== undefined) settings.tls = tls;
  return settings;
}

/** The TLS files from flags over the config file: a certificate and its key, or neither (Host.start reads and checks them). */
function tlsSettings(certFile: string | undefined, keyFile: string | undefined, caFile: string | undefined, requireClientCert: boolean): TlsOptions | undefined {
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined || requireClientCert) throw new UsageError('--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) throw new UsageError('TLS needs both --tls-cert FILE and --tls-key FILE');
  if (requireClientCert && caFile === undefined) throw new UsageError('--tls-require-client-cert needs --tls-ca: the CA that signs client certificates');
  return { certFile, keyFile, ...(caFile === undefined ? {} : { caFile }), ...(requireClientCert ? { requireClientCert } : {}) };
}

/** The connection limits from flags over the config file: positive integers (Host.start checks the rest). */
function limitSettings(flags: Record<string, unknown>, file: Record<string, unknown>): HostSettings['limits'] {
  const limits: HostSettings['limits'] = {};
  for (const key of LIMIT_KEYS) {
    const flag = flags[LIMITS[key]];
    const raw = typeof flag === 'string' ? flag : file[key];
    if (raw === undefined) continue;
    const value = typeof raw === 'number' ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new UsageError(`${typeof flag === 'string' ? `--${LIMITS[key]}` : `config ${key}`} must be a positive integer, got ${String(raw)}`);
    }
    limits[key] = value;
  }
  return limits;
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`config ${path} must be a JSON object`);
  const config = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(config)) {
    if ((STRING_KEYS as readonly string[]).includes(key)) {
      if (typeof v !== 'string' && !(key === 'adminPort' && typeof v === 'number')) throw new UsageError(`config ${path}: ${key} must be a string`);
      if (typeof v === 'number') config[key] = String(v);
    } else if (key === 'join') {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new UsageError(`config ${path}: join must be an array of addresses`);
    } else if ((LIMIT_KEYS as readonly string[]).includes(key)) {
      if (typeof v !== 'number') throw new UsageError(`config ${path}: ${key} must be a number`);
    } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof v !== 'boolean') throw new UsageError(`config ${path}: ${key} must be true or false`);
    } else {
      throw new UsageError(`config ${path}: unknown key ${key} (known: ${[...STRING_KEYS, 'join', ...BOOLEAN_KEYS, ...LIMIT_KEYS].join(', ')})`);
    }
  }
  return config;
}

function checkName(kind: 'host' | 'zone', value: string, flag: string): void {
  try {
    validateName(kind, value);
  } catch (err) {
    throw new UsageError(`${flag}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkAddress(address: string): void {
  try {
    parseAddress(address);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Runs the host until a signal; resolves with the exit code. */
export async function runHost(settings: HostSettings): Promise<number> {
  const root = makeLogger(settings.logLevel);
  const logger = root.child({ host: settings.id });
  const machines: Record<string, AnyMachine> = settings.machines === undefined ? builtinMachines : await loadMachines(settings.machines);
  const host = await Host.start({
    id: settings.id,
    listen: settings.listen,
    ...(settings.advertise === undefined ? {} : { advertise: settings.advertise }),
    join: settings.join,
    secret: settings.secret,
    storage: settings.storage,
    ...(settings.dataDir === undefined ? {} : { dataDir: settings.dataDir }),
    machines,
    logger: root,
    ...(settings.acceptStaleDataDir === true ? { acceptStaleDataDir: true } : {}),
    ...settings.limits,
    ...(settings.tls === undefined ? {} : { tls: settings.tls }),
  });
  let admin: AdminServer | null = null;
  const stopping = new Promise<string>((resolve) => {
    let signals = 0;
    const onSignal = (signal: string) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without a clean stop');
        process.exit(1);
      }
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // A host stops itself when its store fails (fail-stop): then the process exits 1.
  let watch: NodeJS.Timeout | undefined;
  const stoppedItself = new Promise<null>((resolve) => {
    watch = setInterval(() => host.localState === 'stopped' && resolve(null), 500);
  });
  const ended = Promise.race([stopping, stoppedItself]);
  try {
    if (settings.adminPort !== undefined) admin = await startAdminServer(settings.adminPort, { host });
    logger.info({ address: host.address, zone: settings.zone, admin: admin?.address }, 'host started; activating');
    const activated = host.activate(settings.zone, { timeoutMs: SEED_WAIT_MS });
    const first = await Promise.race([activated.then(() => 'active' as const), ended]);
    if (first === 'active') logger.info({ address: host.address, zone: settings.zone }, 'host active');
    else activated.catch(() => undefined);
    const signal = first === 'active' ? await ended : first;
    if (signal === null) {
      logger.error('the host stopped itself (the error is logged above)');
      return 1;
    }
    logger.info({ signal }, 'stopping');
    if (settings.drain && host.localState === 'active') await drain(host, logger);
    return 0;
  } catch (err) {
    logger.error({ err }, 'host failed');
    return 1;
  } finally {
    clearInterval(watch);
    await admin?.close();
    await host.stop();
    logger.info('stopped');
    logger.flush();
  }
}

/**
 * Moves every member to other hosts, unless they cannot move: no other host is active to take
 * them, or every group left here has lost its leader (the rest of the fleet is stopping at once).
 * Waiting then could only end in a timeout, so the host stops holding them, as after a crash.
 */
async function drain(host: Host, logger: Logger): Promise<void> {
  logger.info('draining: moving every member to other hosts');
  // Its progress is in the host's own log ('draining', membersLeft, at most every few seconds: fleet-events.ts).
  const drained = host.deactivate();
  let watch: NodeJS.Timeout | undefined;
  const stranded = new Promise<'stranded'>((resolve) => {
    watch = setInterval(() => {
      const others = Object.values(host.hosts()).flat().filter((h) => h.id !== host.id && h.state === 'active');
      const status = host.status();
      const leaderless = new Set(status.leaderless.map((l) => l.group));
      if (others.length === 0 || (status.members.length > 0 && status.members.every((m) => leaderless.has(m.group)))) resolve('stranded');
    }, 1000);
  });
  try {
    if ((await Promise.race([drained, stranded])) === 'stranded') {
      drained.catch(() => undefined);
      logger.warn({ membersLeft: host.status().members.length }, 'the members cannot move (no other active host, or their groups lost their leaders): stopping without draining');
    }
  } finally {
    clearInterval(watch);
  }
}
