// The bench's side of loadgen.ts: a few load generator processes driven together. A run's
// requests in flight are split over them; their results merge into one histogram.
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../../src/demo/host-client.js';
import type { LoadMessage, LoadReply, LoadResult, LoadSpec, Target } from './loadgen.js';
import { Histogram } from './stats.js';

const RUNNER = fileURLToPath(new URL(`./loadgen${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

class Generator {
  private readonly waiting: Array<{ type: LoadReply['type']; resolve(reply: LoadReply): void; reject(err: Error): void }> = [];
  progress = { ops: 0, failed: 0 };
  private readonly child: ChildProcess;

  constructor() {
    const execArgv = RUNNER.endsWith('.ts') ? ['--import', 'tsx'] : [];
    this.child = fork(RUNNER, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (raw: unknown) => {
      const message = raw as LoadReply;
      if (message.type === 'progress') {
        this.progress = { ops: message.ops, failed: message.failed };
        return;
      }
      const i = message.type === 'error' ? 0 : this.waiting.findIndex((w) => w.type === message.type);
      const waiter = i >= 0 ? this.waiting.splice(i, 1)[0] : undefined;
      if (message.type === 'error') waiter?.reject(new Error(`load generator: ${message.message}`));
      else waiter?.resolve(message);
    });
    this.child.once('exit', (code, signal) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`load generator exited (${code ?? signal})`));
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  send(message: LoadMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  ask<T extends LoadReply['type']>(message: LoadMessage, type: T, timeoutMs: number): Promise<Extract<LoadReply, { type: T }>> {
    const answered = new Promise<Extract<LoadReply, { type: T }>>((resolve, reject) => {
      this.waiting.push({ type, resolve: (r) => resolve(r as Extract<LoadReply, { type: T }>), reject });
    });
    this.send(message);
    return within(`the load generator to answer ${message.type}`, answered, timeoutMs);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface LoadOutcome {
  ops: number;
  failed: number;
  hist: Histogram;
  /** CPU of all generators over the window, % of one core. */
  clientCpuPct: number;
  wallSeconds: number;
  errors: string[];
}

/** One set of load generator processes connected to one system. */
export class LoadGenerators {
  private constructor(private readonly generators: Generator[]) {}

  static async start(count: number, target: Target): Promise<LoadGenerators> {
    const generators = Array.from({ length: count }, () => new Generator());
    const set = new LoadGenerators(generators);
    try {
      await Promise.all(generators.map((g) => g.ask({ type: 'connect', target }, 'connected', 30_000)));
    } catch (err) {
      set.kill();
      throw err;
    }
    return set;
  }

  get pids(): number[] {
    return this.generators.map((g) => g.pid);
  }

  /** Requests completed so far in the current run, over every generator. */
  get progress(): { ops: number; failed: number } {
    return this.generators.reduce((sum, g) => ({ ops: sum.ops + g.progress.ops, failed: sum.failed + g.progress.failed }), { ops: 0, failed: 0 });
  }

  learn(host: string, address: string): void {
    for (const g of this.generators) g.send({ type: 'learn', host, address });
  }

  /** Writes every group once (so reads find a value of the run's size); resolves with failures. */
  async fill(spec: Omit<LoadSpec, 'offset' | 'workers' | 'op' | 'lease'>): Promise<number> {
    const reply = await this.generators[0]!.ask({ type: 'fill', spec: { ...spec, op: 'write', lease: false, offset: 0, workers: 64 } }, 'filled', 600_000);
    if (reply.failed > 0) console.error(`fill: ${reply.failed} writes failed: ${reply.errors.join('; ')}`);
    return reply.failed;
  }

  /** Starts the load (`inflight` requests split over the generators); nothing counts before mark(). */
  start(spec: Omit<LoadSpec, 'offset' | 'workers'>, inflight: number): void {
    for (const g of this.generators) g.progress = { ops: 0, failed: 0 };
    const active = this.generators.slice(0, Math.min(inflight, this.generators.length));
    active.forEach((g, i) => {
      const workers = Math.floor(inflight / active.length) + (i < inflight % active.length ? 1 : 0);
      g.send({ type: 'start', spec: { ...spec, workers, offset: Math.floor((i * spec.groups) / active.length) } });
    });
    this.active = active;
  }

  private active: Generator[] = [];

  mark(): void {
    for (const g of this.active) g.send({ type: 'mark' });
  }

  /** Stops counting, waits for the requests in flight, and merges the generators' results. */
  async stop(timeoutMs: number): Promise<LoadOutcome> {
    const results: LoadResult[] = (await Promise.all(this.active.map((g) => g.ask({ type: 'stop' }, 'result', timeoutMs)))).map((r) => r.result);
    this.active = [];
    const hist = new Histogram();
    for (const r of results) hist.merge(r.buckets);
    const wallSeconds = Math.max(...results.map((r) => r.wallSeconds));
    return {
      ops: results.reduce((n, r) => n + r.ops, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
      hist,
      clientCpuPct: (results.reduce((n, r) => n + r.cpuSeconds, 0) / wallSeconds) * 100,
      wallSeconds,
      errors: results.flatMap((r) => r.errors),
    };
  }

  async close(): Promise<void> {
    for (const g of this.generators) g.send({ type: 'exit' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    this.kill();
  }

  kill(): void {
    for (const g of this.generators) g.kill();
  }
}
