// The `flotilla` command: `flotilla host` runs a host; the other subcommands talk to a running
// fleet (fleet-commands.ts). Exit codes: 0 done, 1 the operation failed, 2 a usage mistake.
// The subcommands are imported only when run: help and --version load no host, store, socket
// or logger code, so they answer in a few tens of milliseconds.

import { readFileSync } from 'node:fs';
import { FlotillaError } from '../common/errors.js';
import { HELP, UsageError, isSubcommand, usageOf, type Subcommand } from './usage.js';

/** Where the command writes (the process's streams; the tests pass their own). */
export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = process): Promise<number> {
  const [command, ...rest] = argv;
  const print = (text: string) => io.stdout.write(text);
  let running: Subcommand | undefined;
  try {
    if (command === undefined) {
      print(HELP);
      return 2;
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      const [topic] = rest;
      if (topic === undefined) print(HELP);
      else if (isSubcommand(topic)) print(usageOf(topic));
      else throw new UsageError(`unknown command ${topic}`);
      return 0;
    }
    if (command === '--version' || command === '-v') {
      print(`${version()}\n`);
      return 0;
    }
    if (!isSubcommand(command)) throw new UsageError(command.startsWith('-') ? `unknown option ${command}` : `unknown command ${command}`);
    running = command;
    if (asksForHelp(rest)) {
      print(usageOf(command));
      return 0;
    }
    if (command === 'host') {
      const { hostSettings, runHost } = await import('./host-command.js');
      return await runHost(await hostSettings(rest, env));
    }
    const { runFleetCommand } = await import('./fleet-commands.js');
    return await runFleetCommand(command, rest, env, (line) => print(`${line}\n`), io.stdout);
  } catch (err) {
    const usage = usageMistake(err);
    if (usage !== null) {
      io.stderr.write(`flotilla: ${usage}\nrun 'flotilla help${running === undefined ? '' : ` ${running}`}' for usage\n`);
      return 2;
    }
    if (err instanceof FlotillaError) {
      // A machine's own error code (and details), for scripts that branch on them.
      const machine = err.machineCode === undefined ? '' : ` [${err.machineCode}${err.machineDetails === undefined ? '' : ` ${JSON.stringify(err.machineDetails)}`}]`;
      io.stderr.write(`flotilla: ${err.code}: ${err.message}${machine}\n`);
      return 1;
    }
    io.stderr.write(`flotilla: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/** The package's version, from its package.json (two levels up from src/cli/ and from dist/cli/). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** --help or -h anywhere before a `--` (after it, arguments are positional). */
function asksForHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/**
 * The message of a usage mistake, or null for any other error. node:util parseArgs reports
 * unknown flags and missing values with ERR_PARSE_ARGS_* codes; its unknown-option message is
 * shortened (it goes on about '--' and leaves a quote unclosed).
 */
function usageMistake(err: unknown): string | null {
  if (err instanceof UsageError) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return null;
  const message = (err as Error).message;
  const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']*)'/.exec(message) : null;
  if (unknown === null) return message;
  return `unknown option ${unknown[1]}`;
}
