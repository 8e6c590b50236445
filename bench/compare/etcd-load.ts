// Where the bench's Go load generator for etcd is (bench/etcd-load/: main.go, built by build.sh
// into bench/etcd-load/bin/, gitignored), and its setup: build.sh runs when the binary or the etcd
// binary is missing, or the binary is older than its source (build.sh installs what it lacks).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../etcd-load/', import.meta.url));
export const ETCD_LOAD = `${DIR}bin/etcd-load`;

const mtime = (path: string): number => statSync(path).mtimeMs;

function stale(): boolean {
  if (!existsSync(ETCD_LOAD)) return true;
  const built = mtime(ETCD_LOAD);
  return mtime(`${DIR}main.go`) > built || mtime(`${DIR}build.sh`) > built;
}

/** Builds the generator (and installs etcd) when needed; null when ready, else what failed. */
export function prepareEtcdLoad(etcdInstalled: boolean): string | null {
  if (etcdInstalled && !stale()) return null;
  const out = spawnSync('bash', [`${DIR}build.sh`], { stdio: 'inherit' });
  if (out.error !== undefined) return `could not run bench/etcd-load/build.sh: ${out.error.message}`;
  return out.status === 0 ? null : `bench/etcd-load/build.sh failed (exit ${out.status ?? out.signal}); its message is above`;
}
