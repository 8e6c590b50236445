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

export class FlotillaError extends Error {
  readonly code: ErrorCode;
  /** Extra facts for the caller (a leader hint, a group id, an index). */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'FlotillaError';
    this.code = code;
    this.details = details;
  }
}

export function isFlotillaError(err: unknown, code?: ErrorCode): err is FlotillaError {
  return err instanceof FlotillaError && (code === undefined || err.code === code);
}
