// State machines for `flotilla host --machines` as TypeScript: loads where Node strips types.
import type { StateMachine } from 'flotilla';

const flag: StateMachine<boolean, null, boolean, null> = {
  init: () => false,
  command: () => ({ state: true, reply: true }),
  query: (set) => set,
  snapshot: (set) => new TextEncoder().encode(String(set)),
  restore: (bytes) => new TextDecoder().decode(bytes) === 'true',
};

export const machines = { flag };
