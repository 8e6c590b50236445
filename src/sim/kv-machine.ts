// The key-value state machine the simulation's clients drive. Its semantics are exactly the model
// the linearizability checker holds histories to (src/check/kv-model.ts).

import type { OpInput, Output } from '../check/history.js';

export interface KvCommand {
  /** Unique per operation in a run: lets a client recognise its own entry at its index. */
  id: number;
  input: OpInput;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvMachine {
  private data = new Map<string, string>();

  /** Applies a write and returns its reply; a get is answered here too (for reads through the log). */
  apply(input: OpInput): { ok: true; output: Output } | { ok: false; error: string } {
    const value = this.data.get(input.key) ?? null;
    switch (input.op) {
      case 'put':
        this.data.set(input.key, input.value);
        return { ok: true, output: null };
      case 'get':
        return { ok: true, output: value };
      case 'append': {
        const next = (value ?? '') + input.value;
        this.data.set(input.key, next);
        return { ok: true, output: next };
      }
      case 'cas':
        if (value !== input.expected) return { ok: true, output: false };
        this.data.set(input.key, input.value);
        return { ok: true, output: true };
      case 'incr': {
        if (value !== null && !/^(0|-?[1-9][0-9]*)$/.test(value)) return { ok: false, error: 'not an integer' };
        const next = (BigInt(value ?? '0') + BigInt(input.n)).toString();
        this.data.set(input.key, next);
        return { ok: true, output: next };
      }
      case 'reset':
        this.data.set(input.key, '0');
        return { ok: true, output: null };
    }
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.data.entries()].sort()));
  }

  static restore(bytes: Uint8Array): KvMachine {
    const m = new KvMachine();
    m.data = new Map(JSON.parse(decoder.decode(bytes)) as Array<[string, string]>);
    return m;
  }
}
