#!/usr/bin/env node
// The `flotilla` command: the compiled CLI in dist/ (built by `npm run build`, which npm runs
// itself on install from a folder or git, and on pack). In the checkout, `npm run flotilla`
// runs the TypeScript sources instead (scripts/flotilla-src.mjs).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("flotilla: dist/ is not built: run 'npm run build' in the flotilla directory first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
