// Every error flotilla hands a user is a FlotillaError with a stable `code`, so callers can branch
// on what happened without parsing messages.

export type ErrorCode =
  | 'NO_SUCH_GROUP'
  | 'GROUP_EXISTS'
  | 'NO_SUCH_MACHINE'
  | 'BAD_NAME'
  | 'BAD_ARGUMENT'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'BUSY'
  | 'NOT_ACTIVE'
  | 'NOT_LEADER'
  | 'SHUTTING_DOWN'
  | 'COMMAND_FAILED'
  | 'STORAGE_FAILED'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_VERSION'
  | 'STORAGE_UNAVAILABLE'
  /** The data directory is older than the fleet has seen (a backup put back): the host serves nothing (fleet/generation.ts). */
  | 'STORAGE_STALE'
  | 'TRANSPORT_AUTH'
  | 'TRANSPORT_PROTOCOL'
  | 'TRANSPORT_CLOSED';

/** A machine error's code: 1 to this many UTF-8 bytes (group/machine-error.ts). */
export const MAX_MACHINE_CODE_BYTES = 128;
/** A machine error's details: at most this many UTF-8 bytes of JSON. */
export const MAX_MACHINE_DETAILS_BYTES = 4096;

/** What a state machine's error said about itself: its `code` and, if it had them, its `details`. */
export interface MachineFault {
  code: string;
  details?: unknown;
}

export class FlotillaError extends Error {
  readonly code: ErrorCode;
  /** Extra facts for the caller (a leader hint, a group id, an index). */
  readonly details: Record<string, unknown>;
  /**
   * On COMMAND_FAILED from a state machine that threw an error with a string `code` (a
   * `MachineError`, or any error with a `code` property): that code, e.g. 'INSUFFICIENT_FUNDS'.
   * The same on every replica and every path (the leader's own caller, a forwarded or retried
   * command, a client over the wire). Undefined for every other error.
   */
  readonly machineCode: string | undefined;
  /** The `details` that machine error carried, as JSON gives them back; undefined if it had none. */
  readonly machineDetails: unknown;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, machine?: MachineFault) {
    super(message);
    this.name = 'FlotillaError';
    this.code = code;
    this.details = details;
    this.machineCode = machine?.code;
    this.machineDetails = machine?.details;
  }
}

/**
 * An error for a state machine to throw when a service should be able to branch on it: the caller
 * gets COMMAND_FAILED with `machineCode` = `code` and `machineDetails` = `details` (JSON, at most
 * 4 KiB of it). Any thrown error with a string `code` property does the same.
 */
export class MachineError extends Error {
  readonly code: string;
  readonly details: unknown;

  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'MachineError';
    this.code = code;
    this.details = details;
  }
}

export function isFlotillaError(err: unknown, code?: ErrorCode): err is FlotillaError {
  return err instanceof FlotillaError && (code === undefined || err.code === code);
}
