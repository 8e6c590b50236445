// State machines for `flotilla host --machines` (a .js/.mjs module: any Node runs it).
export const machines = {
  flag: {
    init: () => false,
    command: () => ({ state: true, reply: true }),
    query: (set) => set,
    snapshot: (set) => new TextEncoder().encode(String(set)),
    restore: (bytes) => new TextDecoder().decode(bytes) === 'true',
  },
};
