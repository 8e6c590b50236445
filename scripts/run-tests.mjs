// Runs every test/**/*.test.ts with Node's test runner (Node 20's --test takes no globs), two
// files at a time; then the *.alone.test.ts files one at a time, by themselves, since they load
// the whole machine on purpose (CPU-burning processes beside host processes).
// Extra arguments narrow the run to files whose path contains one of them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const run = (concurrency, group) =>
  group.length === 0
    ? 0
    : (spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...group], { stdio: 'inherit' }).status ?? 1);
const alone = (f) => f.endsWith('.alone.test.ts');
const shared = run(2, files.filter((f) => !alone(f)));
const solo = run(1, files.filter(alone));
process.exit(shared !== 0 ? shared : solo);
