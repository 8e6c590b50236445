// Names users give to groups, zones and hosts. They are hashed for placement, stored in cluster
// metadata and printed in logs, so they are restricted to a small ASCII alphabet: no encoding
// ambiguity, no separators that could be confused with the NUL that placement puts between a
// group name and a host id, nothing that needs quoting.

import { FlotillaError } from '../common/errors.js';

export type NameKind = 'group' | 'zone' | 'host';

export const MAX_NAME_LENGTH = 128;

const ALLOWED = /^[A-Za-z0-9._-]$/;

const LABEL: Record<NameKind, string> = {
  group: 'group name',
  zone: 'zone',
  host: 'host id',
};

/**
 * Checks a group name, zone or host id: 1 to 128 characters, each an ASCII letter, a digit,
 * '.', '_' or '-'. Throws FlotillaError('BAD_NAME') saying what is wrong otherwise.
 */
export function validateName(kind: NameKind, value: unknown): asserts value is string {
  const label = LABEL[kind];
  if (typeof value !== 'string') {
    throw bad(kind, `${label} must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length === 0) {
    throw bad(kind, `${label} must not be empty`);
  }
  if (value.length > MAX_NAME_LENGTH) {
    throw bad(kind, `${label} is ${value.length} characters long, at most ${MAX_NAME_LENGTH} allowed`);
  }
  // Iterate by code point so an emoji is reported whole rather than as half a surrogate pair.
  let position = 0;
  for (const char of value) {
    if (!ALLOWED.test(char)) {
      throw bad(
        kind,
        `${label} ${JSON.stringify(value)} has ${JSON.stringify(char)} at position ${position}; ` +
          `only letters A-Z a-z, digits, '.', '_' and '-' are allowed`,
      );
    }
    position += char.length;
  }
}

function bad(kind: NameKind, message: string): FlotillaError {
  return new FlotillaError('BAD_NAME', message, { kind });
}
