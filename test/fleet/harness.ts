// An in-process fleet for tests: Hosts on one MemoryHub, each on a MemoryDisk that outlives it
// (so a host can be stopped and started again on the same data), real timers with short ticks.

import { Host } from '../../src/host/host.js';
import type { AnyMachine, HostOptions } from '../../src/host/options.js';
import { MemoryDisk } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';

export interface Counter {
  n: number;
}

export const counter: AnyMachine = {
  init: () => ({ n: 0 }),
  command: (s, cmd) => {
    const c = cmd as { op: 'inc'; by: number } | { op: 'fail' };
    if (c.op === 'fail') throw new Error('counter refuses');
    const n = (s as Counter).n + c.by;
    return { state: { n }, reply: n };
  },
  query: (s) => (s as Counter).n,
  snapshot: (s) => new TextEncoder().encode(JSON.stringify(s)),
  restore: (b) => JSON.parse(new TextDecoder().decode(b)) as Counter,
};

export class TestFleet {
  readonly hub = new MemoryHub({ autoDeliver: true });
  readonly hosts = new Map<string, Host>();
  readonly disks = new Map<string, MemoryDisk>();
  readonly zones = new Map<string, string>();

  constructor(private readonly extra: Partial<HostOptions> = {}) {}

  /** Starts a host on its disk (a new one the first time); `options` for this start only. */
  async start(id: string, join: string[], options: Partial<HostOptions> = {}): Promise<Host> {
    let disk = this.disks.get(id);
    if (disk === undefined) {
      disk = new MemoryDisk(id);
      this.disks.set(id, disk);
    }
    const transport = this.hub.endpoint(id);
    const store = await openLogStore({ engine: 'memory', disk });
    try {
      const host = await Host.start({
        id,
        transport,
        store,
        machines: { counter },
        join,
        tickMs: 10,
        reconcileMs: 50,
        hostFailureTimeoutMs: 1000,
        ...this.extra,
        ...options,
      });
      this.hosts.set(id, host);
      return host;
    } catch (err) {
      // A refused start (a stale data directory): the process never ran, its disk and id are free.
      await transport.close();
      await store.close();
      throw err;
    }
  }

  /** Starts and activates hosts h1..hn, alternating zones a and b; h1 founds the fleet. */
  async activate(n: number): Promise<Host[]> {
    const out: Host[] = [];
    for (let i = 1; i <= n; i++) {
      const id = `h${i}`;
      const zone = i % 2 === 1 ? 'a' : 'b';
      this.zones.set(id, zone);
      const host = await this.start(id, i === 1 ? [] : ['h1@h1']);
      await host.activate(zone);
      out.push(host);
    }
    return out;
  }

  host(id: string): Host {
    const h = this.hosts.get(id);
    if (h === undefined) throw new Error(`no host ${id}`);
    return h;
  }

  /** Stops a host as a crash would look to the others (its disk keeps what was synced). */
  async kill(id: string): Promise<void> {
    const host = this.host(id);
    this.hosts.delete(id);
    await host.stop();
    this.disks.get(id)!.crash();
  }

  async stopAll(): Promise<void> {
    for (const h of this.hosts.values()) await h.stop();
    this.hosts.clear();
  }
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
