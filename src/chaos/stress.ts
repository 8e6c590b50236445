// Runs the stress faults of stress-plan.ts against the chaos fleet and checks what each must leave
// behind (chaos.ts schedules them and owns the hosts):
// - oversize: the command one byte over maxCommandBytes is refused BAD_ARGUMENT naming the limit,
//   within AT_ONCE_MS of being made (it was once accepted and wedged its group); the largest
//   allowed command commits and reads back whole; then the group commits a small command. They go
//   to their own group (BIG_GROUP), outside the checked history, through the runner's client or,
//   every other time, a host's Host.command.
// - flood: while flood-process.ts holds its sockets against a host, a new client connects to that
//   host alone and gets the fleet view from it; the flooder must see the host close sockets (the
//   accept gate refusing the excess, or the handshake deadline).
// - hog: busy-looping processes beside the hosts for the hold.
// After a flood or a hog every host that runs and is not frozen must answer, and none may have
// stopped itself. Whether the history stays linearizable and the fleet converges is checked at the
// end of the run, as for every fault.

import { spawn, fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Client } from '../client/client.js';
import { HostCallError, within, type HostProcess } from '../demo/host-client.js';
import { FlotillaError } from '../common/errors.js';
import { fleetLimits } from '../fleet/limits.js';
import type { FloodCounts } from './flood-process.js';
import { HISTORY_KV } from '../demo/history-machines.js';
import type { PlannedStress, StressKind } from './stress-plan.js';
import type { GroupSpec, OpClient } from './workload.js';

/** The group the oversized and largest commands go to: its operations are not in the history. */
export const BIG_GROUP: GroupSpec = { name: 'big', machine: HISTORY_KV };

/** The hosts run with the transport's default 4 MiB frame (host-process.ts sets none). */
const { maxCommandBytes } = fleetLimits(4 * 1024 * 1024);
/** An oversized command is refused before it is sent: anything slower than this is not "at once". */
const AT_ONCE_MS = 5000;
/** The deadline of each big command's call. */
const CALL_MS = 15_000;
/** How long the largest command and the small one after it have to commit, retried through faults. */
const COMMIT_MS = 45_000;
/** Addresses the flood comes from (Linux routes all of 127/8 to loopback): not the clients' and hosts' 127.0.0.1. */
const FLOOD_FROM = ['127.0.0.2', '127.0.0.3'];
const FLOODER = fileURLToPath(new URL(`./flood-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const HOG = 'const end = Date.now() + Number(process.argv[1]); while (Date.now() < end);';
/** Codes after which a big command may be asked again (nothing says it cannot commit). */
const RETRY = new Set(['UNAVAILABLE', 'TIMEOUT', 'BUSY', 'SHUTTING_DOWN', 'NOT_ACTIVE', 'EXITED', 'NO_ANSWER']);

export interface StressDeps {
  hostIds: readonly string[];
  host(id: string): HostProcess;
  /** No host fault is on it. */
  up(id: string): boolean;
  /** It runs and can answer: not down, restarting or frozen by a host fault. */
  answering(id: string): boolean;
  address(id: string): string;
  secret: string;
  /** The runner's own client (not one whose operations the history records). */
  client(): OpClient;
  /** Waits `ms`, or less once the faults stop. */
  hold(ms: number): Promise<void>;
  say(line: string): void;
  violate(what: string): void;
}

export interface StressCounts {
  oversize: number;
  /** Of the oversize faults, those that also committed the largest allowed command. */
  largest: number;
  flood: number;
  hog: number;
  /** The most hogs at once. */
  maxHogs: number;
  /** Planned but not run: one of its kind still running, or nowhere to run it. */
  skipped: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function codeOf(err: unknown): string {
  return err instanceof FlotillaError || err instanceof HostCallError ? err.code : 'NO_ANSWER';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A put to `key` of the history kv machine whose JSON encoding is exactly `bytes` long. */
export function putOfSize(key: string, token: string, bytes: number): { id: number; input: { op: 'put'; key: string; value: string } } {
  const empty = JSON.stringify({ id: 0, input: { op: 'put', key, value: '' } }).length;
  const value = token + 'x'.repeat(bytes - empty - token.length);
  const cmd = { id: 0, input: { op: 'put' as const, key, value } };
  if (Buffer.byteLength(JSON.stringify(cmd)) !== bytes) throw new Error(`putOfSize: not ${bytes} bytes`);
  return cmd;
}

export class Stress {
  readonly counts: StressCounts = { oversize: 0, largest: 0, flood: 0, hog: 0, maxHogs: 0, skipped: 0 };
  private readonly running = new Set<StressKind>();
  /** Flooders and hogs alive now: killed however the run ends. */
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly deps: StressDeps) {}

  /** Starts `f`; resolves once it is over and checked, null if it was skipped. */
  inject(f: PlannedStress): Promise<void> | null {
    if (this.running.has(f.kind) || (f.kind === 'flood' && process.platform !== 'linux')) {
      this.counts.skipped++;
      return null;
    }
    this.running.add(f.kind);
    const work = f.kind === 'oversize' ? this.oversize(f) : f.kind === 'flood' ? this.flood(f) : this.hog(f);
    return work.finally(() => this.running.delete(f.kind));
  }

  killAllNow(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  // -------------------------------------------------------------------------------------------

  private async oversize(f: PlannedStress): Promise<void> {
    this.counts.oversize++;
    const n = this.counts.oversize;
    const key = `${BIG_GROUP.name}/blob`;
    const viaHost = n % 2 === 0 ? this.deps.hostIds.find((id) => this.deps.up(id)) : undefined;
    const via = viaHost === undefined ? 'the client' : `${viaHost}'s Host.command`;
    this.deps.say(`oversized command (${maxCommandBytes + 1} bytes) through ${via}${f.largest ? ', then the largest allowed' : ''}`);
    const started = performance.now();
    try {
      await this.command(putOfSize(key, `over-${n}:`, maxCommandBytes + 1), viaHost);
      this.deps.violate(`a command of ${maxCommandBytes + 1} bytes, over maxCommandBytes, was accepted through ${via}`);
    } catch (err) {
      const ms = performance.now() - started;
      if (codeOf(err) !== 'BAD_ARGUMENT' || !/maxCommandBytes/.test(errorText(err))) this.deps.violate(`the oversized command through ${via} was not refused BAD_ARGUMENT naming maxCommandBytes: ${errorText(err)}`);
      else if (ms > AT_ONCE_MS) this.deps.violate(`the oversized command through ${via} was refused only after ${Math.round(ms)} ms`);
    }
    if (f.largest) await this.largest(key, n);
    await this.untilCommitted(`a small command to ${BIG_GROUP.name} after the oversized one`, () => this.command(putOfSize(`${BIG_GROUP.name}/small`, `small-${n}:`, 100)));
  }

  /** The largest allowed command commits, and a linearizable read gives it back whole. */
  private async largest(key: string, n: number): Promise<void> {
    const cmd = putOfSize(key, `largest-${n}:`, maxCommandBytes);
    if ((await this.untilCommitted(`the largest allowed command (${maxCommandBytes} bytes)`, () => this.command(cmd))) === null) return;
    this.counts.largest++;
    const read = await this.untilCommitted('a read of the largest command', () => this.deps.client().query(BIG_GROUP.name, { key }, { timeoutMs: CALL_MS }));
    if (read === null) return;
    const value = (read.value as { output?: unknown }).output;
    if (value === cmd.input.value) this.deps.say(`the largest allowed command (${maxCommandBytes} bytes) committed and reads back whole`);
    else this.deps.violate(`the largest command committed, but ${key} reads back ${typeof value === 'string' ? `${value.length} bytes starting ${value.slice(0, 20)}` : String(value)}`);
  }

  private command(cmd: unknown, viaHost?: string): Promise<unknown> {
    if (viaHost === undefined) return this.deps.client().command(BIG_GROUP.name, cmd, { timeoutMs: CALL_MS });
    return this.deps.host(viaHost).call('command', { name: BIG_GROUP.name, cmd, timeoutMs: CALL_MS }, CALL_MS + 5000);
  }

  /** `call`'s result once it succeeds, asked again through faults until COMMIT_MS; null (and a violation) if it never does. */
  private async untilCommitted(what: string, call: () => Promise<unknown>): Promise<{ value: unknown } | null> {
    const deadline = performance.now() + COMMIT_MS;
    for (;;) {
      try {
        return { value: await within(what, call(), CALL_MS + 10_000) };
      } catch (err) {
        if (!RETRY.has(codeOf(err)) || performance.now() > deadline) {
          this.deps.violate(`${what} did not commit: ${errorText(err)}`);
          return null;
        }
        await sleep(250);
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  private async flood(f: PlannedStress): Promise<void> {
    const target = this.deps.up(f.host) ? f.host : this.deps.hostIds.find((id) => this.deps.up(id));
    if (target === undefined) {
      this.counts.skipped++;
      return;
    }
    this.counts.flood++;
    const execArgv = FLOODER.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = fork(FLOODER, [this.deps.address(target), String(f.count), FLOOD_FROM.join(',')], { execArgv, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    this.children.add(child);
    let counts: FloodCounts = { opened: 0, connected: 0, open: 0, closedByHost: 0 };
    child.on('message', (m) => (counts = m as FloodCounts));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.deps.say(`socket flood (flooder pid ${child.pid}): ${f.count} sockets from ${FLOOD_FROM.join(' and ')} against ${target} for ${(f.holdMs / 1000).toFixed(1)} s`);
    try {
      await this.deps.hold(f.holdMs / 2);
      await this.probe(target);
      await this.deps.hold(f.holdMs / 2);
    } finally {
      child.kill('SIGKILL');
      await exited;
      this.children.delete(child);
    }
    this.deps.say(`socket flood against ${target} over: ${counts.opened} opened, ${counts.closedByHost} closed by the host`);
    if (this.deps.up(target) && counts.connected > 0 && counts.closedByHost === 0) {
      this.deps.violate(`${target} closed none of the ${counts.connected} flood sockets it accepted: no connection limit held`);
    }
    await this.checkServing(`the socket flood against ${target}`);
  }

  /** A new client, given only the flooded host, connects and gets the fleet view from it. */
  private async probe(target: string): Promise<void> {
    if (!this.deps.up(target)) return;
    let probe: Client | undefined;
    try {
      probe = await connect({ hosts: [`${target}@${this.deps.address(target)}`], secret: this.deps.secret, timeoutMs: CALL_MS });
      const view = await probe.fleet({ timeoutMs: CALL_MS });
      this.deps.say(`under the flood, a new client got the fleet view from ${view.host}`);
    } catch (err) {
      // A host fault that took the host meanwhile explains it.
      if (this.deps.up(target)) this.deps.violate(`${target} under a socket flood did not serve a new client: ${errorText(err)}`);
    } finally {
      await probe?.close();
    }
  }

  // -------------------------------------------------------------------------------------------

  private async hog(f: PlannedStress): Promise<void> {
    this.counts.hog++;
    this.counts.maxHogs = Math.max(this.counts.maxHogs, f.count);
    const hogs = Array.from({ length: f.count }, () => spawn(process.execPath, ['-e', HOG, String(f.holdMs)], { stdio: 'ignore' }));
    this.deps.say(`CPU hog: ${f.count} busy process${f.count === 1 ? '' : 'es'} beside the hosts for ${(f.holdMs / 1000).toFixed(1)} s (${hogs.map((h) => `hog pid ${h.pid}`).join(', ')})`);
    const exited = hogs.map((h) => new Promise<void>((resolve) => h.once('exit', () => resolve())));
    for (const h of hogs) this.children.add(h);
    try {
      await this.deps.hold(f.holdMs);
    } finally {
      // Cut short once the faults stop; otherwise they are about to exit by themselves.
      for (const h of hogs) h.kill('SIGKILL');
      await Promise.all(exited);
      for (const h of hogs) this.children.delete(h);
    }
    await this.checkServing(`${f.count} CPU hog${f.count === 1 ? '' : 's'}`);
  }

  // -------------------------------------------------------------------------------------------

  /** Every host that runs and is not frozen answers, and none stopped itself. */
  private async checkServing(after: string): Promise<void> {
    const answered = await Promise.all(
      this.deps.hostIds.map(async (id) => {
        if (!this.deps.answering(id)) return [];
        const h = this.deps.host(id);
        try {
          const status = await h.call('status', {}, CALL_MS);
          if (status.state !== 'stopped') return [id];
          this.deps.violate(`${id} stopped itself (seen after ${after})`);
        } catch (err) {
          if (this.deps.host(id) === h && this.deps.answering(id)) this.deps.violate(`${id} did not answer after ${after}: ${errorText(err)}`);
        }
        return [];
      }),
    );
    this.deps.say(`after ${after}, every host that runs and is not frozen answers: ${answered.flat().join(', ') || 'none runs'}`);
  }
}
