// Generates static protobuf code from proto/ into src/transport/generated/ (not committed):
// flotilla.js (an ES module: encode/decode only, no reflection) and flotilla.d.ts (its types).
//
// Two fix-ups make the output right for this project:
// - The generated module imports protobufjs through src/transport/protobuf-runtime.ts instead of
//   'protobufjs/minimal.js', so the runtime is configured for plain-number uint64 (no Long) before
//   the generated module's prototype defaults are evaluated, whoever imports it first.
// - pbts declares `import Long = require("long")`, which is not valid in an ES module and unused
//   with --force-number; it is dropped.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src/transport/generated');
const js = join(outDir, 'flotilla.js');
const dts = join(outDir, 'flotilla.d.ts');
const require = createRequire(import.meta.url);
const cli = dirname(require.resolve('protobufjs-cli/package.json'));

function run(bin, args) {
  const result = spawnSync(process.execPath, [join(cli, 'bin', bin), ...args], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`gen-proto: ${bin} failed (status ${result.status})`);
    process.exit(1);
  }
}

function rewrite(path, from, to) {
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) {
    console.error(`gen-proto: expected ${JSON.stringify(from)} in ${path}; protobufjs output changed`);
    process.exit(1);
  }
  writeFileSync(path, text.replace(from, to));
}

const protos = readdirSync(join(root, 'proto'))
  .filter((name) => name.endsWith('.proto'))
  .sort()
  .map((name) => join(root, 'proto', name));
mkdirSync(outDir, { recursive: true });

run('pbjs', [
  '-t', 'static-module', '-w', 'es6', '--es6', '--force-number',
  // Only encode/decode are used: the codec validates and maps to plain types itself.
  '--no-create', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service',
  '-o', js, ...protos,
]);
run('pbts', ['-o', dts, js]);

rewrite(js, 'import $protobuf from "protobufjs/minimal.js";', 'import $protobuf from "../protobuf-runtime.js";');
rewrite(dts, 'import Long = require("long");\n', '');
console.log(`gen-proto: ${protos.length} schema(s) -> ${outDir}`);
