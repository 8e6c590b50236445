// The bench's side of the load generators (load-protocol.ts): a few processes driven together,
// flotilla's (loadgen.ts, forked, over IPC) or etcd's (the Go bench/etcd-load, JSON lines on its
// stdin and stdout). A run's requests in flight are split over them; their results merge into
// one histogram.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { within } from '../../src/demo/host-client.js';
import { ETCD_LOAD } from './etcd-load.js';
import type { LoadMessage, LoadReply, LoadResult, LoadSpec, Target } from './load-protocol.js';
import { Histogram } from './stats.js';

const RUNNER = fileURLToPath(new URL(`./loadgen${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

class Generator {
  private readonly waiting: Array<{ type: LoadReply['type']; resolve(reply: LoadReply): void; reject(err: Error): void }> = [];
  progress = { ops: 0, failed: 0 };
  private readonly child: ChildProcess;
  readonly send: (message: LoadMessage) => void;

  constructor(system: Target['system'], runner: string) {
    if (system === 'flotilla') {
      const execArgv = runner.endsWith('.ts') ? ['--import', 'tsx'] : [];
      const child = fork(runner, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (raw: unknown) => this.receive(raw as LoadReply));
      this.send = (message) => {
        if (child.connected) child.send(message);
      };
      this.child = child;
    } else {
      const child = spawn(ETCD_LOAD, [], { stdio: ['pipe', 'pipe', 'inherit'] });
      createInterface({ input: child.stdout }).on('line', (line) => this.receive(JSON.parse(line) as LoadReply));
      child.stdin.on('error', () => undefined);
      this.send = (message) => {
        if (child.stdin.writable) child.stdin.write(`${JSON.stringify(message)}\n`);
      };
      this.child = child;
    }
    const fail = (why: string) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${system} load generator ${why}`));
    };
    this.child.once('exit', (code, signal) => fail(`exited (${code ?? signal})`));
    this.child.once('error', (err) => fail(`could not run: ${err.message}`));
  }

  private receive(message: LoadReply): void {
    if (message.type === 'progress') {
      this.progress = { ops: message.ops, failed: message.failed };
      return;
    }
    const i = message.type === 'error' ? 0 : this.waiting.findIndex((w) => w.type === message.type);
    const waiter = i >= 0 ? this.waiting.splice(i, 1)[0] : undefined;
    if (message.type === 'error') waiter?.reject(new Error(`load generator: ${message.message}`));
    else waiter?.resolve(message);
  }

  get pid(): number {
    return this.child.pid ?? 0;
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
  /** CPU seconds of all generators over the window. */
  clientCpuSeconds: number;
  wallSeconds: number;
  errors: string[];
}

/** One set of load generator processes connected to one system. */
export class LoadGenerators {
  private constructor(private readonly generators: Generator[]) {}

  /** `runner`: flotilla's load generator script (compiled.ts's; default: loadgen.ts, via tsx). */
  static async start(count: number, target: Target, runner = RUNNER): Promise<LoadGenerators> {
    const generators = Array.from({ length: count }, () => new Generator(target.system, runner));
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
    const clientCpuSeconds = results.reduce((n, r) => n + r.cpuSeconds, 0);
    return {
      ops: results.reduce((n, r) => n + r.ops, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
      hist,
      clientCpuPct: (clientCpuSeconds / wallSeconds) * 100,
      clientCpuSeconds,
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
