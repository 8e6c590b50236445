// The subcommands that talk to a running fleet through the Client: status, add-group,
// remove-group, command, query, deactivate, activate.

import { parseArgs } from 'node:util';
import { connect, type Client } from '../client/client.js';
import { fleetFindings, groupFindings, type FleetView } from '../fleet/ops-protocol.js';
import type { Consistency } from '../transport/items.js';
import type { TlsOptions } from '../transport/ws-transport.js';
import { UsageError, type FleetCommand } from './usage.js';

/** What each subcommand takes besides the common flags: positional names and its own flags. */
const SPEC: Record<FleetCommand, { positionals: string[]; options: Record<string, { type: 'string' | 'boolean' }> }> = {
  status: { positionals: [], options: { json: { type: 'boolean' }, check: { type: 'boolean' } } },
  'add-group': { positionals: ['NAME'], options: { machine: { type: 'string' }, replicas: { type: 'string' } } },
  'remove-group': { positionals: ['NAME'], options: {} },
  command: { positionals: ['GROUP', 'JSON'], options: {} },
  query: { positionals: ['GROUP', 'JSON'], options: { consistency: { type: 'string' } } },
  deactivate: { positionals: ['HOSTID'], options: {} },
  activate: { positionals: ['HOSTID'], options: { zone: { type: 'string' } } },
};

export type Print = (line: string) => void;

/** Where a progress line goes: on a terminal it is rewritten in place. */
export interface ProgressOut {
  isTTY?: boolean;
  write(text: string): unknown;
}

export async function runFleetCommand(name: FleetCommand, argv: string[], env: NodeJS.ProcessEnv, print: Print, out?: ProgressOut): Promise<number> {
  const spec = SPEC[name];
  const { values: parsed, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { host: { type: 'string', multiple: true }, secret: { type: 'string' }, timeout: { type: 'string' }, ...TLS_FLAGS, ...spec.options },
  });
  const values: Record<string, string | boolean | string[] | undefined> = parsed;
  if (positionals.length !== spec.positionals.length) {
    throw new UsageError(`flotilla ${name} takes ${spec.positionals.length === 0 ? 'no arguments' : spec.positionals.join(' ')}, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  }
  const hosts = (values.host as string[] | undefined) ?? (env.FLOTILLA_HOSTS ?? '').split(',').filter((h) => h !== '');
  if (hosts.length === 0) throw new UsageError('give a host of the fleet: --host HOST:PORT (or FLOTILLA_HOSTS)');
  const secret = (values.secret as string | undefined) ?? env.FLOTILLA_SECRET;
  if (secret === undefined || secret === '') throw new UsageError('give the cluster secret: --secret or FLOTILLA_SECRET');
  const tls = tlsOptions(values, env);
  const timeoutMs = values.timeout === undefined ? undefined : positiveInt(values.timeout as string, '--timeout');
  const arg = (i: number): string => positionals[i] ?? '';
  const flag = (key: string): string | undefined => values[key] as string | undefined;
  // Everything is checked before connecting, so a usage mistake never waits on the network.
  const run = prepare(name, arg, flag, { json: values.json === true, check: values.check === true }, timeoutMs, print, out);
  const client = await connect({ hosts, secret, timeoutMs: timeoutMs ?? 5000, ...(tls === undefined ? {} : { tls }) });
  try {
    const code = await run(client);
    // Only a number is an exit code (a subcommand may end on what its print returned).
    return typeof code === 'number' ? code : 0;
  } finally {
    await client.close();
  }
}

/** What a prepared subcommand does once connected; a number is its exit code (none: 0). */
type Run = (client: Client) => Promise<number | void>;

function prepare(name: FleetCommand, arg: (i: number) => string, flag: (key: string) => string | undefined, switches: { json: boolean; check: boolean }, timeoutMs: number | undefined, print: Print, out?: ProgressOut): Run {
  const call = timeoutMs === undefined ? {} : { timeoutMs };
  switch (name) {
    case 'status':
      return async (client) => {
        const view = await client.fleet(call);
        const findings = fleetFindings(view);
        print(switches.json ? JSON.stringify({ ...view, findings }, null, 2) : formatFleet(view));
        // --check: 1 when anything is wrong (a finding, or a replica's warning), for scripts and monitors.
        return switches.check && findings.length + (view.warnings ?? []).length > 0 ? 1 : 0;
      };
    case 'add-group': {
      const machine = flag('machine');
      if (machine === undefined) throw new UsageError('flotilla add-group needs --machine M');
      const replicasFlag = flag('replicas');
      const replicas = replicasFlag === undefined ? undefined : positiveInt(replicasFlag, '--replicas');
      return async (client) => {
        await client.addGroup(arg(0), { machine, ...(replicas === undefined ? {} : { replicas }), ...call });
        print(`added group ${arg(0)}`);
      };
    }
    case 'remove-group':
      return async (client) => {
        await client.removeGroup(arg(0), call);
        print(`removed group ${arg(0)}`);
      };
    case 'command': {
      const cmd = parseJson(arg(1));
      return async (client) => print(JSON.stringify(await client.command(arg(0), cmd, call)) ?? 'null');
    }
    case 'query': {
      const q = parseJson(arg(1));
      const consistency = flag('consistency') ?? 'linearizable';
      if (consistency !== 'linearizable' && consistency !== 'lease' && consistency !== 'local') throw new UsageError(`--consistency must be linearizable, lease or local, got ${consistency}`);
      return async (client) => print(JSON.stringify(await client.query(arg(0), q, { ...call, consistency: consistency as Consistency })) ?? 'null');
    }
    case 'deactivate':
      return async (client) => {
        const progress = progressLine(print, out);
        try {
          await client.deactivate(arg(0), {
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            onWarning: (message) => progress.note(`warning: ${message}`),
            onProgress: (view, left) => progress.show(drainLine(arg(0), Object.values(view.hosts).flat().find((h) => h.id === arg(0))?.state ?? 'unknown', left)),
          });
        } finally {
          progress.end();
        }
        print(`${arg(0)} is inactive: it holds no members and can be stopped`);
      };
    case 'activate': {
      const zone = flag('zone');
      return async (client) => {
        const done = await client.activate(arg(0), { ...(zone === undefined ? {} : { zone }), ...call });
        print(`${arg(0)} is active in zone ${done.zone}`);
      };
    }
  }
}

/** One progress report of a drain: "h2: deactivating, 37 members left". */
export function drainLine(host: string, state: string, membersLeft: number | null): string {
  return membersLeft === null ? `${host}: ${state}` : `${host}: ${state}, ${membersLeft} member${membersLeft === 1 ? '' : 's'} left`;
}

/**
 * A line that changes: on a terminal one line rewritten in place ('\r', cleared to its end), else
 * a plain line each time it changes. `note` prints a line of its own above it.
 */
export function progressLine(print: Print, out?: ProgressOut): { show(line: string): void; note(line: string): void; end(): void } {
  const tty = out?.isTTY === true;
  let last = '';
  let open = false;
  const end = () => {
    if (open) out?.write('\n');
    open = false;
  };
  return {
    show(line) {
      if (line === last) return;
      last = line;
      if (!tty) return print(line);
      out?.write(`\r${line}\x1b[K`);
      open = true;
    },
    note(line) {
      end();
      print(line);
      last = '';
    },
    end,
  };
}

const TLS_FLAGS = { tls: { type: 'boolean' }, 'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } } as const;

/** wss:// to the hosts when any TLS flag (or FLOTILLA_TLS_CA, _CERT, _KEY, FLOTILLA_TLS=1) is given; cert and key for mutual TLS. */
function tlsOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const file = (flag: string, variable: string): string | undefined => (values[flag] as string | undefined) ?? (env[variable] || undefined);
  const caFile = file('tls-ca', 'FLOTILLA_TLS_CA');
  const certFile = file('tls-cert', 'FLOTILLA_TLS_CERT');
  const keyFile = file('tls-key', 'FLOTILLA_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('a client certificate needs both --tls-cert FILE and --tls-key FILE');
  if (caFile === undefined && certFile === undefined && values.tls !== true && env.FLOTILLA_TLS !== '1') return undefined;
  return { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined || keyFile === undefined ? {} : { certFile, keyFile }) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`not JSON: ${text} (quote it for the shell, e.g. '{"op":"incr"}')`);
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${text}`);
  return n;
}

/**
 * The fleet as tables: hosts by zone, then groups with leader, voters and placement; a row with
 * something wrong ends in `!`, and what is wrong is summarised at the end (fleetFindings).
 */
export function formatFleet(view: FleetView): string {
  const zoneOf = new Map<string, string>();
  const findings = fleetFindings(view);
  const hostRows: string[][] = [['ZONE', 'HOST', 'ADDRESS', 'MACHINES', 'STATE', 'REACHABLE', '']];
  for (const zone of Object.keys(view.hosts).sort()) {
    for (const h of view.hosts[zone] ?? []) {
      zoneOf.set(h.id, zone);
      const reachable = h.reachable === undefined ? '?' : h.reachable ? 'yes' : 'no';
      const wrong = findings.some((f) => f.startsWith(`host ${h.id} `));
      // '?': a host of an earlier release registers none (placement takes it to run any).
      const machines = h.machines === undefined ? '?' : h.machines.join(',') || '-';
      hostRows.push([zone, h.id, h.address, machines, h.state, reachable, wrong ? '!' : '']);
    }
  }
  const groupRows: string[][] = [['GROUP', 'MACHINE', 'REPLICAS', 'LEADER', 'VOTERS', 'PLACEMENT (preferred leader first)', '']];
  for (const g of view.groups) {
    const placement = g.placement.map((h) => `${h}(${zoneOf.get(h) ?? '?'})`).join(' ');
    const members = g.voters === undefined || g.voters === null ? '?' : [...g.voters, ...(g.learners ?? []).map((l) => `+${l}`)].join(',');
    groupRows.push([g.name, g.machine, String(g.replicas), g.leader ?? '-', members, placement, groupFindings(g).length > 0 ? '!' : '']);
  }
  const cluster = view.cluster === undefined ? '' : `\ncluster group: leader ${view.cluster.leader ?? '- (none)'}, voters ${view.cluster.voters?.join(',') ?? '?'}`;
  // What the answering host and the groups' leaders report wrong with their replicas.
  const warnings = (view.warnings ?? []).map((w) => `\nwarning: ${w}`).join('');
  const summary = findings.length === 0 ? (warnings === '' ? '\n\nno problems found' : '') : `\n\n${findings.length} problem${findings.length === 1 ? '' : 's'}:\n${findings.map((f) => `  ! ${f}`).join('\n')}`;
  return `fleet as seen by ${view.host}${cluster}\n\n${table(hostRows)}\n\n${view.groups.length === 0 ? 'no groups' : table(groupRows)}${warnings === '' ? '' : `\n${warnings}`}${summary}`;
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}
