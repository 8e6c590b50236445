// How many connections a host can hold: its file-descriptor limit, less what its store and the
// rest of the process need. Every socket is a descriptor; the store opens files as it writes (a
// WAL, SST files), and a host whose sockets took the last descriptors stopped itself when its
// store could not open the next one (issue 14). Node has no API for RLIMIT_NOFILE: Linux tells
// it in /proc/self/limits; elsewhere an assumed, conservative limit stands in.
import { readFileSync } from 'node:fs';

/** Assumed where the limit cannot be read (macOS starts processes with 256). */
export const ASSUMED_FD_LIMIT = 256;
/** Connections held at most however high the limit: each has its buffers (memory, not descriptors). */
export const MAX_DEFAULT_CONNECTIONS = 65_536;

export interface FdBudget {
  /** The soft RLIMIT_NOFILE, or ASSUMED_FD_LIMIT when `known` is false. */
  fdLimit: number;
  known: boolean;
  /** Descriptors kept for the store and the process. */
  reservedFds: number;
  /** Connections this host holds at most (accepted and dialed). */
  maxConnections: number;
}

/** The soft "Max open files" of /proc/self/limits text (Infinity if unlimited), or null. */
export function parseSoftFdLimit(limits: string): number | null {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (match === null) return null;
  if (match[1] === 'unlimited') return Infinity;
  const soft = Number(match[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : null;
}

/** This process's soft descriptor limit, or null where it cannot be read. */
export function readSoftFdLimit(): number | null {
  try {
    return parseSoftFdLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/**
 * What a host can hold under a soft limit of `soft` descriptors (null: unknown): a quarter of them
 * is kept for the store and the process, and at least 256 (but never more than half), the rest is
 * for connections (at most MAX_DEFAULT_CONNECTIONS). 20,000 descriptors: 15,000 connections.
 */
export function fdBudget(soft: number | null): FdBudget {
  const fdLimit = soft ?? ASSUMED_FD_LIMIT;
  if (fdLimit === Infinity) return { fdLimit, known: true, reservedFds: 0, maxConnections: MAX_DEFAULT_CONNECTIONS };
  const reservedFds = Math.min(Math.floor(fdLimit / 2), Math.max(256, Math.ceil(fdLimit / 4)));
  return { fdLimit, known: soft !== null, reservedFds, maxConnections: Math.min(MAX_DEFAULT_CONNECTIONS, fdLimit - reservedFds) };
}
