// What the bench says to a load generator process and what it answers: the protocol both load
// generators speak, loadgen.ts (flotilla, over Node's IPC) and bench/etcd-load/main.go (etcd,
// through etcd's Go client, as JSON lines on stdin and stdout). The bench connects a generator,
// may have it write every group once (fill), starts a closed loop of `workers` requests in flight,
// marks the start of the measured window, and stops it; the result counts only the requests
// completed in the window, with the generator's own CPU over it.

export type Target = { system: 'flotilla'; hosts: string[]; secret: string } | { system: 'etcd'; endpoints: string[] };

export interface LoadSpec {
  op: 'write' | 'read';
  /** Reads only: linearizable, or lease (flotilla) / serializable (etcd). */
  lease: boolean;
  /** Group i is flotilla's kv group `<prefix><i>` (key `k`) or etcd's key `<prefix><i>`. */
  prefix: string;
  groups: number;
  /** Where this generator starts in the round-robin over the groups. */
  offset: number;
  workers: number;
  payload: number;
  timeoutMs: number;
}

export type LoadMessage =
  | { type: 'connect'; target: Target }
  | { type: 'learn'; host: string; address: string }
  | { type: 'fill'; spec: LoadSpec }
  | { type: 'start'; spec: LoadSpec }
  | { type: 'mark' }
  | { type: 'stop' }
  | { type: 'exit' };

export interface LoadResult {
  ops: number;
  failed: number;
  /** Latencies as stats.ts's Histogram buckets. */
  buckets: Array<[number, number]>;
  /** The generator's own CPU (user + system) over the window. */
  cpuSeconds: number;
  wallSeconds: number;
  errors: string[];
}

export type LoadReply =
  | { type: 'connected' }
  | { type: 'filled'; failed: number; errors: string[] }
  | { type: 'progress'; ops: number; failed: number }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };
