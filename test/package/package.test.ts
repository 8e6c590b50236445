// The published package from the outside: the checkout's files (as a clean clone with this
// working tree would have them) are packed with `npm pack`, whose `prepare` builds dist/ from
// nothing; a new project installs the tarball with --omit=dev, and then, with nothing of the
// checkout on its module path, imports it as ES module and CommonJS, type-checks an application
// with tsc (strict), runs the `flotilla` command and starts a 3-host fleet (test/package/app/).
//
// The checkout itself is left alone: the pack runs in a temporary copy (node_modules linked in),
// so this test never rebuilds the dist/ another run or process may be reading. Every Node it
// starts, directly or through npm and `#!/usr/bin/env node` scripts, is the one running this
// test (its directory goes first on PATH), so scripts/test-node.mjs runs it on other Nodes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = fileURLToPath(new URL('./app', import.meta.url));
const requireHere = createRequire(import.meta.url);
/** The whole file's bound: a cold npm cache may download the dependencies. */
const DEADLINE_MS = 300_000;
/** One step's bound (a pack, an install, a program); the step is killed past it. */
const STEP_MS = 120_000;

/**
 * The environment of every program started here: this Node first on PATH, and no npm_* variables:
 * under `npm test` they hold the checkout's npm settings (npm_config_local_prefix names the
 * checkout), which a nested npm would take as its own; it reads the npmrc files again itself.
 */
const ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
ENV.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (killed after STEP_MS). */
function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: ENV, timeout: STEP_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** run(), which must exit 0; returns its stdout. */
async function must(file: string, args: string[], cwd: string): Promise<string> {
  const result = await run(file, args, cwd);
  assert.equal(result.code, 0, `${file} ${args.join(' ')} (in ${cwd}) exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const node = (args: string[], cwd: string) => must(process.execPath, args, cwd);

/** The installed version of one of the checkout's devDependencies, to install the same from the npm cache. */
function devVersion(name: string): string {
  return (requireHere(`${name}/package.json`) as { version: string }).version;
}

describe('the npm package', { timeout: DEADLINE_MS }, () => {
  let tmp: string;
  let app: string;
  let files: string[];
  let version: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'flotilla-package-'));
    const source = join(tmp, 'source');
    const pack = join(tmp, 'pack');
    app = join(tmp, 'app');
    await mkdir(pack);

    // What a clone would hold: tracked files and new ones not ignored, as they are in the work tree.
    const listed = (await must('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT)).split('\0');
    for (const path of listed.filter((p) => p !== '' && existsSync(join(ROOT, p)))) await cp(join(ROOT, path), join(source, path));
    await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    await must('npm', ['pack', '--pack-destination', pack], source);
    const [tarball, ...others] = await readdir(pack);
    assert.ok(tarball !== undefined && others.length === 0, `one tarball in ${pack}`);
    files = (await must('tar', ['-tzf', join(pack, tarball)], tmp)).split('\n').filter((f) => f !== '');
    version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

    await cp(APP, app, { recursive: true });
    // The type-check needs @types/node, as any Node application has (the same version as the
    // checkout's, so from the npm cache). @types/ws comes with the package: its WebSocket
    // transport's declarations name ws's types, which ws does not ship.
    await must('npm', [
      'install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund',
      join(pack, tarball), `@types/node@${devVersion('@types/node')}`,
    ], app);
  });

  after(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  it('holds the built library, the command and the schema, and nothing else', async () => {
    for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/transport/generated/flotilla.js', 'dist/transport/generated/flotilla.d.ts', 'bin/flotilla.mjs', 'proto/flotilla.proto', 'README.md', 'package.json']) {
      assert.ok(files.includes(`package/${needed}`), `the tarball has ${needed}`);
    }
    const strays = files.filter((f) => !/^package\/(dist\/.*\.(js|d\.ts)|bin\/flotilla\.mjs|scripts\/migrate-rocksdb5\.mjs|proto\/.*\.proto|README\.md|LICENSE|package\.json)$/.test(f));
    assert.deepEqual(strays, [], 'only the built library, the bin, the migration script, the schema, README, LICENSE and package.json');
    assert.ok(!files.some((f) => /^package\/dist\/(sim|chaos|demo)\//.test(f)), 'no simulation, chaos test or demo');

    const installed = join(app, 'node_modules/flotilla');
    assert.ok(!existsSync(join(app, 'node_modules/tsx')), 'tsx is not installed with the package');
    for (const f of files.filter((f) => f.endsWith('.js') || f.endsWith('.mjs'))) {
      const text = await readFile(join(installed, f.slice('package/'.length)), 'utf8');
      assert.doesNotMatch(text, /(from|import)\s*\(?\s*['"]tsx/, `${f} does not import tsx`);
    }
  });

  it('imports as an ES module and requires as CommonJS', async () => {
    assert.equal((await node(['esm.mjs'], app)).trim(), 'esm ok');
    assert.equal((await node(['cjs.cjs'], app)).trim(), 'cjs ok');
  });

  it("type-checks an application against the package's declarations (strict)", async () => {
    const tsc = join(dirname(requireHere.resolve('typescript/package.json')), 'bin', 'tsc');
    await node([tsc, '-p', join(app, 'tsconfig.json')], app);
  });

  it('runs the flotilla command, compiled', async () => {
    assert.equal((await must('npx', ['--no-install', 'flotilla', '--version'], app)).trim(), version);
    const bin = join(app, 'node_modules/.bin/flotilla');
    assert.match(await must(bin, ['help'], app), /^flotilla: a fleet of Raft groups/);
    assert.match(await must(bin, ['status', '--help'], app), /^usage: flotilla status/);

    const stripsTypes = Boolean((process.features as { typescript?: string | false }).typescript);
    if (!stripsTypes) {
      const ts = await run(bin, ['host', '--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--machines', 'machines.ts'], app);
      assert.equal(ts.code, 2, ts.stderr);
      assert.match(ts.stderr, /does not run TypeScript: compile it to \.js, or run on Node >= 22\.18/);
    }
    await runHostUntilActive(bin, stripsTypes ? 'machines.ts' : 'machines.mjs', app);
  });

  it('runs a fleet of 3 hosts in 2 zones from the installed package', async () => {
    const data = join(tmp, 'data');
    await mkdir(data);
    assert.equal((await node(['fleet.mjs', data], app)).trim(), 'fleet ok');
  });
});

/** `flotilla host` with the given machines until its log says it is active; then SIGTERM, exit 0. */
async function runHostUntilActive(bin: string, machines: string, cwd: string): Promise<void> {
  const child = spawn(bin, ['host', '--id', 'h1', '--zone', 'a', '--secret', 's', '--storage', 'memory', '--machines', machines], { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const active = new Promise<boolean>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('"msg":"host active"')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STEP_MS)));
  const wasActive = await Promise.race([active, timedOut]);
  clearTimeout(timer);
  child.kill('SIGTERM');
  const code = await exited;
  assert.ok(wasActive, `flotilla host --machines ${machines} became active\n${stdout}\n${stderr}`);
  assert.equal(code, 0, `flotilla host exits 0 on SIGTERM\n${stdout}\n${stderr}`);
}
