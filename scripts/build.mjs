// Builds the published library into dist/ from nothing: generates the protobuf code, compiles
// src/index.ts and the flotilla command with tsconfig.build.json, and copies the generated code
// (flotilla.js + flotilla.d.ts, which tsc reads but does not emit) in beside the compiled codec.
// dist/ is emptied first so a file whose source was deleted never lingers into a tarball.
// Run by `npm run build`, and by npm itself through `prepare` (npm install in the checkout, a git
// or folder install, npm pack and publish).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

// `npm install /path/to/flotilla` runs this in that folder, with that folder's devDependencies.
let tsc;
try {
  tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  require.resolve('protobufjs-cli/package.json');
} catch {
  console.error(`build: the devDependencies are not installed in ${root}: run 'npm install' there first`);
  process.exit(1);
}

function run(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${what} failed (status ${result.status})`);
    process.exit(1);
  }
}

rmSync(dist, { recursive: true, force: true });
run('gen-proto', [join(root, 'scripts/gen-proto.mjs')]);
run('tsc', [tsc, '-p', join(root, 'tsconfig.build.json')]);
const generated = join(dist, 'transport/generated');
mkdirSync(generated, { recursive: true });
for (const name of ['flotilla.js', 'flotilla.d.ts']) copyFileSync(join(root, 'src/transport/generated', name), join(generated, name));
console.log(`build: ${dist}`);
