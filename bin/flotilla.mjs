#!/usr/bin/env node
// The `flotilla` command. It runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
