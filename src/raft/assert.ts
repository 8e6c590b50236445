// Invariant checks. A failed assertion means flotilla itself is wrong (never bad input): it throws
// so the simulation stops at the first broken invariant with the seed that found it.

export class AssertionError extends Error {
  constructor(message: string) {
    super(`flotilla invariant violated: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
