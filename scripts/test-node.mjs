// Runs the parts of the project that depend on the Node version on other Node majors:
//   node scripts/test-node.mjs 22 24          (a major: the newest release of it)
//   node scripts/test-node.mjs 22.23.5        (an exact version)
// `npm test` runs on the machine's Node only, while flotilla supports Node 20, 22 and 24. What
// differs between majors is what touches the runtime: the native storage bindings (lmdb, RocksDB),
// child processes, the published package. So for each version this script runs, from the repo
// root and on that Node, the storage tests, the RocksDB restart test and the package test (Node's
// test runner through tsx, as scripts/run-tests.mjs does: tsx resolves the `.js` import specifiers
// to `.ts` files), then the demo. It prints one summary line per version and exits 1 if any failed.
//
// The Node binary comes from the npm registry, which publishes it as node-<platform>-<arch>:
// `npm pack` fetches the tarball (with a throwaway npm cache, so the ~50 MB tarball is not kept
// anywhere), tar extracts bin/node alone. The binary is cached in ~/.cache/flotilla/node
// ($XDG_CACHE_HOME if set): it does not depend on the checkout, so every worktree shares it, it
// survives `npm ci` (which deletes node_modules), it needs no .gitignore entry, and CI can cache
// that one folder. A major is resolved with `npm view` on every run (newest release of it); an
// exact version that is cached needs no network at all.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'flotilla', 'node');
/** What runs on each Node: a folder means every *.test.ts directly in it. Each must exist. */
const TESTS = ['test/storage/', 'test/package/package.test.ts'];
const DEMO = 'src/demo/demo.ts';
const USAGE = 'usage: node scripts/test-node.mjs <major | x.y.z> [...]   e.g. 22 24, or 22.23.5';

class Failure extends Error {}

/** '22' or 'v22' -> { major: 22 }; '22.23.5' -> { major: 22, exact: '22.23.5' }; anything else throws. */
export function parseSpec(arg) {
  const m = /^v?(\d+)(\.\d+\.\d+)?$/.exec(arg);
  if (!m) throw new Failure(`not a Node version: ${JSON.stringify(arg)} (${USAGE})`);
  const major = Number(m[1]);
  return m[2] ? { major, exact: `${major}${m[2]}` } : { major };
}

/** The registry package holding the Node binary for this platform and CPU. */
export function packageFor(platform, arch) {
  return `node-${platform === 'win32' ? 'win' : platform}-${arch}`;
}

/** The highest of some x.y.z versions, compared as numbers (22.23.0 is above 22.9.0). */
export function newest(versions) {
  const parts = (v) => v.split('.').map(Number);
  const above = (a, b) => {
    const [x, y] = [parts(a), parts(b)];
    const i = x.findIndex((n, k) => n !== y[k]);
    return i >= 0 && x[i] > y[i];
  };
  return versions.reduce((best, v) => (above(v, best) ? v : best));
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 16 << 20, ...options });
}

/** The exact version and the binary's path in the package for `pkg@spec`, from `npm view`. */
function resolveVersion(pkg, spec) {
  const range = spec.exact ?? String(spec.major);
  const view = run('npm', ['view', `${pkg}@${range}`, 'version', 'bin', '--json']);
  if (view.error) throw new Failure(`cannot run npm: ${view.error.message}`);
  const answer = view.stdout.trim() ? JSON.parse(view.stdout) : {};
  if (view.status !== 0 || answer.error) {
    const why = answer.error?.summary ?? view.stderr.trim().split('\n')[0];
    throw new Failure(
      `npm view ${pkg}@${range} failed (${why}): the registry has no Node ${range} for ${process.platform}-${process.arch}, ` +
        `or cannot be reached${spec.exact ? '' : ' (an exact version that is cached needs no network)'}`,
    );
  }
  const releases = [answer].flat();
  const version = newest(releases.map((r) => r.version));
  const bin = releases.find((r) => r.version === version).bin?.node;
  if (!bin) throw new Failure(`${pkg}@${version} declares no node binary`);
  return { version, bin };
}

/** Whether the binary at `path` runs and reports `version`. */
function reports(path, version) {
  return existsSync(path) && run(path, ['--version']).stdout?.trim() === `v${version}`;
}

/** Downloads `pkg@version` and moves its binary (at `bin` in the package) to `target`. */
function download(pkg, version, bin, target) {
  mkdirSync(CACHE, { recursive: true });
  const staging = mkdtempSync(join(CACHE, '.staging-'));
  try {
    const npmCache = join(staging, 'npm-cache');
    const pack = run('npm', ['pack', `${pkg}@${version}`, '--pack-destination', staging, '--cache', npmCache, '--loglevel=error']);
    if (pack.status !== 0) throw new Failure(`npm pack ${pkg}@${version} failed: ${(pack.stderr || pack.error?.message || '').trim()}`);
    const tarball = readdirSync(staging).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Failure(`npm pack ${pkg}@${version} wrote no tarball`);
    const strip = String(bin.split('/').length);
    const tar = run('tar', ['-xzf', join(staging, tarball), '-C', staging, '--strip-components', strip, `package/${bin}`]);
    if (tar.status !== 0) throw new Failure(`tar could not extract package/${bin} from ${tarball}: ${(tar.stderr || tar.error?.message || '').trim()}`);
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(staging, basename(bin)), target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The path of a verified Node binary for `spec`, from the cache or downloaded into it. */
function install(spec) {
  const pkg = packageFor(process.platform, process.arch);
  const exe = process.platform === 'win32' ? 'node.exe' : 'node';
  const cached = spec.exact && join(CACHE, `${pkg}-${spec.exact}`, exe);
  if (cached && reports(cached, spec.exact)) return { path: cached, version: spec.exact, how: 'cached' };
  const { version, bin } = resolveVersion(pkg, spec);
  const path = join(CACHE, `${pkg}-${version}`, exe);
  if (reports(path, version)) return { path, version, how: 'cached' };
  console.log(`test-node: downloading ${pkg}@${version} into ${dirname(path)}`);
  download(pkg, version, bin, path);
  if (!reports(path, version)) throw new Failure(`${path} does not run or does not report v${version}`);
  return { path, version, how: 'downloaded' };
}

/** The test files TESTS names, relative to the repo root; a missing one is an error. */
function testFiles() {
  const missing = TESTS.filter((entry) => !existsSync(join(ROOT, entry)));
  if (missing.length > 0) throw new Failure(`missing test files: ${missing.join(', ')}`);
  return TESTS.flatMap((entry) =>
    entry.endsWith('/')
      ? readdirSync(join(ROOT, entry)).filter((name) => name.endsWith('.test.ts')).sort().map((name) => entry + name)
      : [entry],
  );
}

/**
 * Runs `node args...` from the repo root with output shown; true if it exited 0. The binary's
 * folder (which holds only it) goes first on PATH so that anything started as `node`, or by a
 * `#!/usr/bin/env node` script such as npm, runs on the same Node.
 */
function runOn(node, args) {
  const PATH = `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`;
  const result = spawnSync(node, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PATH } });
  return result.status === 0;
}

const since = (start) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

/** runOn, timed: whether it passed and how long it took. */
function step(node, args) {
  const start = performance.now();
  const ok = runOn(node, args);
  return { ok, time: since(start) };
}

/** Installs, tests and demos one Node version; returns its summary line and whether it passed. */
function testOn(spec, files) {
  const start = performance.now();
  let node;
  try {
    node = install(spec);
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    return { passed: false, line: `Node ${spec.exact ?? spec.major}: FAILED to install (${since(start)}): ${err.message}` };
  }
  const installed = since(start);
  console.log(`\ntest-node: Node ${node.version} (${node.how}, ${node.path}): ${files.length} test files`);
  const tests = step(node.path, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files]);
  console.log(`\ntest-node: Node ${node.version}: the demo`);
  const demo = step(node.path, ['--import', 'tsx', DEMO]);
  const failed = [!tests.ok && 'tests', !demo.ok && 'demo'].filter(Boolean);
  const verdict = failed.length === 0 ? 'passed' : `FAILED (${failed.join(' and ')})`;
  const result = (s) => `${s.time} ${s.ok ? 'ok' : 'failed'}`;
  const detail = `install ${installed} ${node.how}, tests ${result(tests)}, demo ${result(demo)}`;
  return { passed: failed.length === 0, line: `Node ${node.version}: ${verdict} in ${since(start)} (${detail})` };
}

/** The generated protobuf code is not committed; the tests and the demo import it. */
function generateProto() {
  if (!runOn(process.execPath, [join(ROOT, 'scripts/gen-proto.mjs')])) throw new Failure('gen-proto failed');
}

function main(args) {
  if (args.length === 0) throw new Failure(USAGE);
  const specs = args.map(parseSpec);
  const files = testFiles();
  generateProto();
  const results = specs.map((spec) => testOn(spec, files));
  console.log(`\ntest-node summary (${files.length} test files and the demo per version):`);
  for (const r of results) console.log(`  ${r.line}`);
  return results.every((r) => r.passed) ? 0 : 1;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    console.error(`test-node: ${err.message}`);
    process.exitCode = 1;
  }
}
