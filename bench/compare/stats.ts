// Measuring helpers shared by the bench and its load generators: a latency histogram with 1%
// buckets that merges across processes, percentiles, and a process's CPU and memory from /proc.
import { readFileSync } from 'node:fs';

const BASE = Math.log(1.01);

/** Latencies in 1% buckets of microseconds: small enough to send over IPC, exact to 1%. */
export class Histogram {
  readonly counts = new Map<number, number>();
  total = 0;

  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const bucket = Math.floor(Math.log(us) / BASE);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total++;
  }

  merge(buckets: Array<[number, number]>): void {
    for (const [bucket, n] of buckets) {
      this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + n);
      this.total += n;
    }
  }

  toJSON(): Array<[number, number]> {
    return [...this.counts];
  }

  /** The latency at quantile q (0..1), in ms, or null with no samples. */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.min(this.total, Math.max(1, Math.ceil(q * this.total)));
    let seen = 0;
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(bucket)!;
      if (seen >= rank) return Math.exp((bucket + 0.5) * BASE) / 1000;
    }
    return null;
  }
}

/** The value at quantile q of `values` (sorted here), or null when empty. */
export function quantileOf(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** CPU seconds a process has used (user + system), from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Resident memory of a process in MiB, from /proc; 0 once it is gone. */
export function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? 0 : Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return 0;
  }
}

/** CPU use of a set of processes between start() and stop(), as % of one core per process. */
export class CpuWindow {
  private readonly before: number[];
  private readonly t0 = performance.now();

  constructor(private readonly pids: number[]) {
    this.before = pids.map(cpuSeconds);
  }

  /** CPU seconds used by all of them since the window opened. */
  totalSeconds(): number {
    return this.pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - this.before[i]!, 0);
  }

  /** Mean % of one core per process since the window opened. */
  pctPerProcess(): number {
    const wall = (performance.now() - this.t0) / 1000;
    return (this.totalSeconds() / wall / this.pids.length) * 100;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `run` on every item, `concurrency` at a time. */
export async function pool<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}
