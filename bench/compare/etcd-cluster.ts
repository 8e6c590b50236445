// A 3-member etcd cluster on loopback ports in a directory of the bench's, for comparison: the
// `etcd` binary from PATH (Debian: apt-get install etcd-server), default settings (fsync on,
// 100 ms heartbeat, 1 s election timeout) except a larger backend quota, so the full matrix's
// writes never fill it (the bench also compacts between rows).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { freePort, within } from '../../src/demo/host-client.js';
import { EtcdEndpoint, put, status } from './etcd-grpc.js';
import { sleep } from './stats.js';

const encoder = new TextEncoder();

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  endpoint: EtcdEndpoint;
  process: ChildProcess | null;
}

/** The etcd binary's version line, or null when there is no etcd on PATH. */
export function etcdVersion(): string | null {
  const out = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (out.error !== undefined || out.status !== 0) return null;
  return /etcd Version: (\S+)/.exec(out.stdout)?.[1] ?? out.stdout.split('\n')[0] ?? null;
}

export class EtcdCluster {
  private constructor(
    readonly dir: string,
    readonly members: EtcdMember[],
    private readonly initialCluster: string,
  ) {}

  static async start(dir: string, size = 3): Promise<EtcdCluster> {
    const members: EtcdMember[] = [];
    for (let i = 1; i <= size; i++) {
      const clientUrl = `http://127.0.0.1:${await freePort()}`;
      members.push({ name: `e${i}`, clientUrl, peerUrl: `http://127.0.0.1:${await freePort()}`, endpoint: new EtcdEndpoint(clientUrl), process: null });
    }
    const cluster = new EtcdCluster(dir, members, members.map((m) => `${m.name}=${m.peerUrl}`).join(','));
    for (const m of members) cluster.spawn(m);
    await within('etcd to take writes on every member', cluster.ready(), 60_000);
    return cluster;
  }

  private spawn(m: EtcdMember): void {
    mkdirSync(this.dir, { recursive: true });
    const log = openSync(`${this.dir}/${m.name}.log`, 'a');
    m.process = spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', `${this.dir}/${m.name}`,
        '--listen-client-urls', m.clientUrl,
        '--advertise-client-urls', m.clientUrl,
        '--listen-peer-urls', m.peerUrl,
        '--initial-advertise-peer-urls', m.peerUrl,
        '--initial-cluster', this.initialCluster,
        '--initial-cluster-token', 'flotilla-bench',
        '--initial-cluster-state', 'new',
        '--quota-backend-bytes', String(8 * 1024 ** 3),
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', log, log] },
    );
  }

  private async ready(): Promise<void> {
    for (const m of this.members) {
      for (;;) {
        try {
          await put(m.endpoint, '__ready', encoder.encode('1'), 1000);
          break;
        } catch {
          await sleep(100);
        }
      }
    }
  }

  get pids(): number[] {
    return this.members.map((m) => m.process?.pid).filter((p): p is number => p !== undefined);
  }

  get running(): EtcdMember[] {
    return this.members.filter((m) => m.process !== null && m.process.exitCode === null && m.process.signalCode === null);
  }

  /** The member that leads now. */
  async leader(): Promise<EtcdMember> {
    for (const m of this.running) {
      const s = await status(m.endpoint, 2000).catch(() => null);
      if (s !== null && s.member === s.leader) return m;
    }
    throw new Error('no etcd member says it leads');
  }

  /** SIGKILL one member. */
  async kill(m: EtcdMember): Promise<void> {
    const p = m.process;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
    m.endpoint.close();
  }

  /** Starts a killed member again on its data directory; resolves once it takes writes. */
  async restart(m: EtcdMember): Promise<void> {
    this.spawn(m);
    await within(`etcd ${m.name} to come back`, this.ready(), 60_000);
  }

  stop(): void {
    for (const m of this.members) {
      m.endpoint.close();
      if (m.process !== null && m.process.exitCode === null && m.process.signalCode === null) m.process.kill('SIGKILL');
    }
  }
}
