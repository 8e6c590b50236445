// Invariant checks, for every layer. A failed assertion means flotilla itself is wrong (never bad
// input, which gets a FlotillaError): it throws, so a simulation stops at the first broken
// invariant with the seed that found it. The message names the rule first, then the facts
// ("applied index never goes back: group 3 from 12 to 9"). Pure: the Raft core uses it too.

export class AssertionError extends Error {
  constructor(message: string) {
    super(`flotilla invariant violated: ${message}`);
    this.name = 'AssertionError';
  }
}

/** `message` may be a function, so a check on a hot path builds its text only when it fails. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message());
}
