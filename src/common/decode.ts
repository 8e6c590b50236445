// Typed decoding of JSON that crosses a process boundary: the checks one validator per message is
// made of (fleet/cluster-protocol.ts, fleet/admin.ts, ...). A check returns the value as the type
// it proved, never a copy (a state or record keeps fields a newer version added), and a failed one
// throws FlotillaError naming the payload and the field: BAD_ARGUMENT for what a user or client
// sent, TRANSPORT_PROTOCOL for what a peer host answered.

import { FlotillaError, type ErrorCode } from './errors.js';

const decoder = new TextDecoder();

/** The checks for one kind of payload: `what` names it in errors ("a cluster reply"). */
export class Decode {
  constructor(
    readonly code: ErrorCode,
    readonly what: string,
  ) {}

  /** The payload's JSON value (of its UTF-8 bytes or its text). */
  json(payload: Uint8Array | string): unknown {
    try {
      return JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
    } catch {
      throw new FlotillaError(this.code, `${this.what} is not JSON`);
    }
  }

  /** The path of field `key` of the value at `path` ('' is the payload itself). */
  at(path: string, key: string | number): string {
    if (typeof key === 'number') return `${path}[${key}]`;
    return path === '' ? key : `${path}.${key}`;
  }

  fail(path: string, expected: string, value: unknown): never {
    throw new FlotillaError(this.code, `${this.what}: ${path === '' ? 'it' : path} is ${describe(value)}, not ${expected}`);
  }

  // The checks of one value are arrow functions, so they can be handed to array() and record() as they are.

  /** A plain object (not an array or null), to read fields of. */
  readonly object = (value: unknown, path: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'an object', value);
    return value as Record<string, unknown>;
  };

  readonly string = (value: unknown, path: string): string => {
    if (typeof value !== 'string') this.fail(path, 'a string', value);
    return value;
  };

  readonly int = (value: unknown, path: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) this.fail(path, 'an integer', value);
    return value;
  };

  readonly number = (value: unknown, path: string): number => {
    if (typeof value !== 'number') this.fail(path, 'a number', value);
    return value;
  };

  readonly boolean = (value: unknown, path: string): boolean => {
    if (typeof value !== 'boolean') this.fail(path, 'true or false', value);
    return value;
  };

  /** One of the given strings. */
  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) this.fail(path, `one of ${allowed.join(', ')}`, value);
    return value as T;
  }

  /** An array whose every item passes `item`. */
  array<T>(value: unknown, path: string, item: (value: unknown, path: string) => T): T[] {
    if (!Array.isArray(value)) this.fail(path, 'an array', value);
    value.forEach((v, i) => item(v, this.at(path, i)));
    return value as T[];
  }

  /** An object whose every value passes `item`. */
  record<T>(value: unknown, path: string, item: (value: unknown, path: string) => T): Record<string, T> {
    const o = this.object(value, path);
    for (const [key, v] of Object.entries(o)) item(v, this.at(path, key));
    return o as Record<string, T>;
  }

  /** Absent (undefined), or passes `read`. */
  optional<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): T | undefined {
    return value === undefined ? undefined : read(value, path);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
