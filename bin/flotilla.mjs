#!/usr/bin/env node
// The `flotilla` command. It runs the TypeScript sources through tsx, whose loader also lets
// --machines name a .ts module.
import 'tsx';

const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
