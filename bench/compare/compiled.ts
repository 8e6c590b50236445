// Compiles the processes the bench forks (bench/tsconfig.processes.json) into bench/.build/, so the
// hosts and flotilla's load generators run the JavaScript tsc emits, as an installed package does.
// The generated protobuf code is copied in beside its codec (tsc reads its .d.ts, emits no .js),
// as scripts/build.mjs does for dist/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = join(BENCH, '..');
const OUT = join(BENCH, '.build');

export interface CompiledRunners {
  /** The compiled src/demo/host-process.ts, for HostProcess.spawn. */
  host: string;
  /** The compiled bench/compare/loadgen.ts. */
  loadgen: string;
}

/** Compiles afresh (a second or two); throws with tsc's output if it fails. */
export function compileProcesses(): CompiledRunners {
  rmSync(OUT, { recursive: true, force: true });
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const out = spawnSync(process.execPath, [tsc, '-p', join(BENCH, 'tsconfig.processes.json')], { cwd: ROOT, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bench: compiling the host and load generator processes failed:\n${out.stdout}${out.stderr}`);
  const generated = join(OUT, 'src/transport/generated');
  mkdirSync(generated, { recursive: true });
  for (const name of ['flotilla.js', 'flotilla.d.ts']) copyFileSync(join(ROOT, 'src/transport/generated', name), join(generated, name));
  return { host: join(OUT, 'src/demo/host-process.js'), loadgen: join(OUT, 'bench/compare/loadgen.js') };
}
