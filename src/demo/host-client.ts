// The parent's side of host-process.ts: forks one host process, waits for it to listen, and calls
// it over IPC with a deadline on every call, so a wedged child never hangs the caller. It keeps the
// last lines of the child's output for failure reports, and reports deactivation progress. It can
// also freeze the child (SIGSTOP) and let it go on (SIGCONT), for the chaos test; a restart is a
// new spawn() with the same config (same id, port and data directory).
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventMessage, HostOp, HostProcessConfig, HostRequest, HostRequests, HostResults, ReplyMessage } from './host-process.js';

/** host-process.ts next to this file (or host-process.js once compiled). */
const RUNNER = fileURLToPath(new URL(`./host-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** A call the host answered with ok: false (`code` is the FlotillaError's), or one it never answered. */
export class HostCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostCallError';
  }
}

/** Resolves with `promise`'s value, or rejects saying what was awaited after `timeoutMs`. */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const TAIL_LINES = 15;

export class HostProcess {
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  address = '';
  private readonly output: string[] = [];
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private readonly ready: Promise<void>;
  private nextId = 1;
  private stopped = false;
  /** Called with the members left on the host each time a deactivation reports progress. */
  onProgress: (membersLeft: number) => void = () => undefined;

  private constructor(
    readonly config: HostProcessConfig,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // A fork that fails (no such file, out of processes) emits 'error'; started() then times out saying so.
    child.on('error', (err) => this.output.push(`process error: ${err.message}`));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.output.push(...chunk.split('\n').filter((l) => l !== ''));
        this.output.splice(0, Math.max(0, this.output.length - TAIL_LINES));
      });
    }
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const message = raw as ReplyMessage | EventMessage;
        if ('event' in message) {
          if (message.event === 'ready') {
            this.address = message.address;
            resolve();
          } else this.onProgress(message.membersLeft);
          return;
        }
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.ok) waiter?.resolve(message.value);
        else waiter?.reject(new HostCallError(message.code, `${this.id}: ${message.code}: ${message.message}`));
      });
      void this.exited.then((code) => {
        const why = new HostCallError('EXITED', `host process ${this.id} exited (code ${code}, signal ${child.signalCode})`);
        reject(why);
        for (const waiter of this.pending.values()) waiter.reject(why);
        this.pending.clear();
      });
    });
    // Rejections are handled by whoever awaits started(); an early exit must not be unhandled.
    this.ready.catch(() => undefined);
  }

  /** `runner`: the host-process script to fork (default: the one beside this file; the bench passes its compiled copy). */
  static spawn(config: HostProcessConfig, runner = RUNNER): HostProcess {
    const execArgv = runner.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = fork(runner, [JSON.stringify(config)], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    return new HostProcess(config, child);
  }

  get id(): string {
    return this.config.id;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The port it listens on (known once started). */
  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the host runs and listens. */
  started(timeoutMs: number): Promise<void> {
    return within(`host ${this.id} to start`, this.ready, timeoutMs);
  }

  call<K extends HostOp>(op: K, args: HostRequests[K], timeoutMs: number): Promise<HostResults[K]> {
    if (!this.running) return Promise.reject(new HostCallError('EXITED', `host process ${this.id} is not running`));
    const id = this.nextId++;
    const request = { op, ...args } as HostRequest;
    const answered = new Promise<HostResults[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: (value) => resolve(value as HostResults[K]), reject });
      this.child.send({ id, request });
    });
    return within(`${this.id} to answer ${op}`, answered, timeoutMs).finally(() => this.pending.delete(id));
  }

  /** Whether the process is stopped by pause() (SIGSTOP) and not yet resumed. */
  get paused(): boolean {
    return this.stopped && this.running;
  }

  /** SIGSTOP: the process freezes where it is (timers, sockets, IPC all wait) until resume(). */
  pause(): void {
    if (!this.running) return;
    this.child.kill('SIGSTOP');
    this.stopped = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (!this.running) return;
    this.child.kill('SIGCONT');
    this.stopped = false;
  }

  /** SIGKILL: no chance to flush or say goodbye. */
  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  /** SIGKILL without waiting (for a process 'exit' handler, which cannot wait). */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** The last lines the child printed and the last lines of its log, for failure reports. */
  async tail(): Promise<string[]> {
    const log = await readFile(this.config.logFile, 'utf8').catch(() => '');
    const logTail = log.split('\n').filter((l) => l !== '').slice(-TAIL_LINES);
    return [`--- ${this.id} output`, ...this.output, `--- ${this.id} log (${this.config.logFile})`, ...logTail];
  }
}
