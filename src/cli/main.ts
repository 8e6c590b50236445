// The `flotilla` command: `flotilla host` runs a host; the other subcommands talk to a running
// fleet (fleet-commands.ts). Exit codes: 0 done, 1 the operation failed, 2 a usage mistake.

import { FlotillaError } from '../errors.js';
import { FLEET_COMMANDS, runFleetCommand, type FleetCommand } from './fleet-commands.js';
import { hostSettings, runHost } from './host-command.js';
import { HELP, UsageError } from './usage.js';

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === 'host') return await runHost(await hostSettings(rest, env));
    if ((FLEET_COMMANDS as readonly string[]).includes(command)) {
      return await runFleetCommand(command as FleetCommand, rest, env, (line) => process.stdout.write(`${line}\n`));
    }
    throw new UsageError(`unknown command ${command}`);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`flotilla: ${(err as Error).message}\nrun 'flotilla help' for usage\n`);
      return 2;
    }
    if (err instanceof FlotillaError) {
      process.stderr.write(`flotilla: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`flotilla: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/** node:util parseArgs reports unknown flags and missing values with these codes. */
function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
