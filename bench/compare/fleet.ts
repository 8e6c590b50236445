// A flotilla fleet of real host processes for the bench (src/demo/host-process.ts: RocksDB with
// synced writes, the ws transport on loopback, the counter and kv machines), driven over IPC.
import { mkdirSync } from 'node:fs';
import type { HostStatus } from '../../src/host/status.js';
import { HostCallError, HostProcess } from '../../src/demo/host-client.js';
import { pool, sleep } from './stats.js';

const CALL_MS = 60_000;
export const SECRET = 'flotilla-bench';

export class Fleet {
  readonly hosts: HostProcess[] = [];
  private readonly zones = new Map<string, string>();

  private constructor(
    readonly dir: string,
    private readonly runner: string | undefined,
  ) {}

  /**
   * `count` hosts, each in a zone of its own (zone-a, zone-b, ...), so every group has one replica
   * on each. `runner`: the host-process script to fork (compiled.ts's; default: the source, via tsx).
   */
  static async start(dir: string, count = 3, runner?: string): Promise<Fleet> {
    mkdirSync(dir, { recursive: true });
    const fleet = new Fleet(dir, runner);
    for (let i = 1; i <= count; i++) await fleet.addHost(`h${i}`, `zone-${String.fromCharCode(96 + i)}`);
    return fleet;
  }

  /**
   * Starts host `id` and activates it in `zone`. With `lenient`, a host whose activation keeps
   * timing out is kept anyway (the caller measures what the fleet then does with it).
   */
  async addHost(id: string, zone: string, lenient = false): Promise<HostProcess> {
    const join = this.running.map((h) => h.address);
    const h = HostProcess.spawn({ id, port: 0, dataDir: `${this.dir}/${id}`, logFile: `${this.dir}/${id}.log`, secret: SECRET, join, tickMs: 50, hostFailureTimeoutMs: 5000 }, this.runner);
    this.hosts.push(h);
    try {
      await h.started(60_000);
      // activate() gives up after 15 s; on a loaded fleet (a failover in progress) ask again.
      for (let attempt = 1; ; attempt++) {
        try {
          await h.call('activate', { zone }, CALL_MS);
          break;
        } catch (err) {
          if (!(err instanceof HostCallError && err.code === 'TIMEOUT')) throw err;
          if (attempt === 4) {
            if (!lenient) throw err;
            console.error(`host ${id}: still not active after ${attempt} attempts; going on without it`);
            break;
          }
          console.error(`host ${id}: activate timed out (attempt ${attempt}); asking again`);
        }
      }
    } catch (err) {
      throw new Error(`host ${id} did not start: ${err instanceof Error ? err.message : String(err)}\n${(await h.tail()).join('\n')}`);
    }
    this.zones.set(id, zone);
    return h;
  }

  get running(): HostProcess[] {
    return this.hosts.filter((h) => h.running);
  }

  get pids(): number[] {
    return this.running.map((h) => h.pid).filter((p): p is number => p !== undefined);
  }

  /** Addresses for connect(): `id@host:port` (these hosts serve commands, not fleet views). */
  clientSeeds(): string[] {
    return this.running.map((h) => `${h.id}@${h.address}`);
  }

  host(id: string): HostProcess {
    const h = this.hosts.find((x) => x.id === id && x.running);
    if (h === undefined) throw new Error(`no running host ${id}`);
    return h;
  }

  /** Adds kv groups `<prefix><from>` .. `<prefix><to - 1>`, `concurrency` at a time; per-call latencies in ms. */
  async addGroups(prefix: string, from: number, to: number, concurrency: number, onDone?: (n: number) => void): Promise<{ latencies: number[]; failed: number; errors: string[] }> {
    const latencies: number[] = [];
    const errors: string[] = [];
    let failed = 0;
    const hosts = this.running;
    const items = Array.from({ length: to - from }, (_, i) => from + i);
    await pool(items, concurrency, async (i) => {
      const t = performance.now();
      try {
        await hosts[i % hosts.length]!.call('addGroup', { name: `${prefix}${i}`, machine: 'kv', replicas: 3, timeoutMs: 30_000 }, CALL_MS);
        latencies.push(performance.now() - t);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
      }
      onDone?.(latencies.length + failed);
    });
    return { latencies, failed, errors };
  }

  async statuses(): Promise<Map<string, HostStatus>> {
    const out = new Map<string, HostStatus>();
    await Promise.all(this.running.map(async (h) => out.set(h.id, await h.call('status', {}, CALL_MS))));
    return out;
  }

  /** Group name -> the host whose replica leads it. */
  async leaders(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [id, s] of await this.statuses()) for (const m of s.members) if (m.role === 'leader') out.set(m.group, id);
    return out;
  }

  /** Waits until every member of every host is quiesced (or `timeoutMs`); true if they all are. */
  async waitQuiesced(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const all = [...(await this.statuses()).values()];
      if (all.every((s) => s.quiesced === s.members.length)) return true;
      if (performance.now() > deadline) return false;
      await sleep(500);
    }
  }

  zoneOf(id: string): string {
    return this.zones.get(id) ?? 'zone-a';
  }

  killAll(): void {
    for (const h of this.hosts) h.killNow();
  }
}
