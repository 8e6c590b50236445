// flotilla's load generator process (forked by the bench, driven over IPC): a closed loop of
// `workers` requests in flight through `connect()`, the client for processes that are not hosts
// (it sends each request to its group's leader). Group i is the kv group `<prefix><i>` (key `k`);
// requests go round-robin over the groups. Only requests completing between 'mark' and 'stop'
// count; the process's own CPU over that window is reported, so a saturated client shows in the
// results. Protocol: load-protocol.ts (etcd's generator, bench/etcd-load/, speaks it too).
import { connect, type Client } from '../../src/client/client.js';
import type { LoadMessage, LoadReply, LoadResult, LoadSpec } from './load-protocol.js';
import { Histogram } from './stats.js';

type Request = (group: number) => Promise<unknown>;

let flotilla: Client | null = null;

function reply(message: LoadReply): void {
  process.send?.(message);
}

function requestFor(spec: LoadSpec): Request {
  const client = flotilla;
  if (client === null) throw new Error(`${spec.op} before connect`);
  const value = 'v'.repeat(spec.payload);
  const options = { timeoutMs: spec.timeoutMs };
  if (spec.op === 'write') return (g) => client.command(`${spec.prefix}${g}`, { op: 'put', key: 'k', value }, options);
  const consistency = spec.lease ? 'lease' : 'linearizable';
  return (g) => client.query(`${spec.prefix}${g}`, { op: 'get', key: 'k' }, { ...options, consistency });
}

const describe = (err: unknown) => (err instanceof Error ? `${'code' in err ? `${String(err.code)}: ` : ''}${err.message}` : String(err));

interface Run {
  stopping: boolean;
  recording: boolean;
  hist: Histogram;
  ops: number;
  failed: number;
  errors: string[];
  cpu0: NodeJS.CpuUsage;
  t0: number;
  done: Promise<void>;
  progress: NodeJS.Timeout;
}

let run: Run | null = null;

function startRun(spec: LoadSpec): void {
  const request = requestFor(spec);
  let next = spec.offset;
  const r: Run = {
    stopping: false,
    recording: false,
    hist: new Histogram(),
    ops: 0,
    failed: 0,
    errors: [],
    cpu0: process.cpuUsage(),
    t0: performance.now(),
    done: Promise.resolve(),
    progress: setInterval(() => reply({ type: 'progress', ops: r.ops, failed: r.failed }), 500),
  };
  r.done = Promise.all(
    Array.from({ length: spec.workers }, async () => {
      while (!r.stopping) {
        const g = next++ % spec.groups;
        const t = performance.now();
        try {
          await request(g);
          if (r.recording) {
            r.hist.record(performance.now() - t);
            r.ops++;
          }
        } catch (err) {
          if (r.recording) {
            r.failed++;
            if (r.errors.length < 5) r.errors.push(describe(err));
          }
        }
      }
    }),
  ).then(() => undefined);
  run = r;
}

async function fill(spec: LoadSpec): Promise<void> {
  const request = requestFor(spec);
  let next = 0;
  let failed = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(spec.workers, spec.groups) }, async () => {
      while (next < spec.groups) {
        const g = next++;
        await request(g).catch((err: unknown) => {
          failed++;
          if (errors.length < 5) errors.push(describe(err));
        });
      }
    }),
  );
  reply({ type: 'filled', failed, errors });
}

async function handle(message: LoadMessage): Promise<void> {
  switch (message.type) {
    case 'connect':
      if (message.target.system !== 'flotilla') throw new Error('this generator drives flotilla only (etcd: bench/etcd-load/)');
      flotilla = await connect({ hosts: message.target.hosts, secret: message.target.secret, timeoutMs: 10_000 });
      reply({ type: 'connected' });
      return;
    case 'learn':
      flotilla?.learn(message.host, message.address);
      return;
    case 'fill':
      await fill(message.spec);
      return;
    case 'start':
      startRun(message.spec);
      return;
    case 'mark':
      if (run === null) return;
      run.recording = true;
      run.cpu0 = process.cpuUsage();
      run.t0 = performance.now();
      return;
    case 'stop': {
      const r = run;
      if (r === null) return;
      r.recording = false;
      r.stopping = true;
      clearInterval(r.progress);
      const cpu = process.cpuUsage(r.cpu0);
      const result: LoadResult = {
        ops: r.ops,
        failed: r.failed,
        buckets: r.hist.toJSON(),
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        wallSeconds: (performance.now() - r.t0) / 1000,
        errors: r.errors,
      };
      await r.done;
      run = null;
      reply({ type: 'result', result });
      return;
    }
    case 'exit':
      await flotilla?.close();
      process.exit(0);
  }
}

process.on('message', (message: unknown) => {
  handle(message as LoadMessage).catch((err: unknown) => reply({ type: 'error', message: describe(err) }));
});
process.on('disconnect', () => process.exit(0));
