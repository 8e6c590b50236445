// The host's logger: pino, human-readable when stdout is a terminal and pino-pretty is installed
// (it is optional: flotilla does not depend on it), JSON lines otherwise.

import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export function makeLogger(level: string): Logger {
  if (process.stdout.isTTY === true && resolvable('pino-pretty')) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level });
}

function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}
