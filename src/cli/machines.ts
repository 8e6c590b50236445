// State machines for `flotilla host`: loaded from a module (--machines path, exporting `machines`
// or a default export: an object of machines by name), or the two built in here when none is given,
// so a fleet can be tried without writing one. A .ts module loads where the running Node strips
// types (22.18+, 24) or has a TypeScript loader (node --import tsx).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyMachine } from '../host/options.js';
import { UsageError } from './usage.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Json = (bytes: Uint8Array) => unknown;
const parse: Json = (bytes) => JSON.parse(decoder.decode(bytes));

/** A number: {op:'incr', by?} adds (default 1) and replies the new value; any query reads it. */
export const counterMachine: AnyMachine = {
  init: () => 0,
  command(state, cmd) {
    const c = cmd as { op?: unknown; by?: unknown } | null;
    if (c === null || typeof c !== 'object' || c.op !== 'incr') throw new Error(`counter: expected {"op":"incr","by":n}, got ${JSON.stringify(cmd)}`);
    const by = c.by ?? 1;
    if (typeof by !== 'number' || !Number.isFinite(by)) throw new Error('counter: by must be a number');
    const next = (state as number) + by;
    return { state: next, reply: next };
  },
  query: (state) => state,
  snapshot: (state) => encoder.encode(JSON.stringify(state)),
  restore: parse,
};

/** The kv machine's state: a Map, changed in place (a copy per command would cost O(keys)). */
type KvState = Map<string, unknown>;
type KvCommand = { op: 'put'; key: string; value: unknown } | { op: 'delete'; key: string };

/** The command checked whole before anything changes, so a refused one leaves the state as it was. */
function kvCommand(cmd: unknown): KvCommand {
  const c = cmd as { op?: unknown; key?: unknown; value?: unknown } | null;
  if (c === null || typeof c !== 'object' || typeof c.key !== 'string') throw new Error(`kv: expected {"op":"put"|"delete","key":"..."}, got ${JSON.stringify(cmd)}`);
  if (c.op === 'put') return { op: 'put', key: c.key, value: c.value ?? null };
  if (c.op === 'delete') return { op: 'delete', key: c.key };
  throw new Error(`kv: unknown command ${JSON.stringify(c.op)}`);
}

/**
 * String keys to JSON values: {op:'put',key,value} replies the previous value, {op:'get',key}
 * reads, {op:'delete',key}. Each command costs O(1): the Map changes in place. Its snapshot is a
 * JSON object with the keys in sorted order, so every replica at one applied index writes the
 * same bytes (a Map's own order depends on whether it was restored or built command by command).
 */
export const kvMachine: AnyMachine = {
  init: (): KvState => new Map(),
  command(state, cmd) {
    const map = state as KvState;
    const c = kvCommand(cmd);
    const previous = map.get(c.key) ?? null;
    if (c.op === 'put') map.set(c.key, c.value);
    else map.delete(c.key);
    return { state: map, reply: previous };
  },
  query(state, q) {
    const map = state as KvState;
    const query = q as { op?: unknown; key?: unknown } | null;
    if (query !== null && typeof query === 'object' && query.op === 'get' && typeof query.key === 'string') return map.get(query.key) ?? null;
    if (query !== null && typeof query === 'object' && query.op === 'keys') return [...map.keys()].sort();
    throw new Error(`kv: expected {"op":"get","key":"..."} or {"op":"keys"}, got ${JSON.stringify(q)}`);
  },
  snapshot(state) {
    const map = state as KvState;
    const fields = [...map.keys()].sort().map((key) => `${JSON.stringify(key)}:${JSON.stringify(map.get(key))}`);
    return encoder.encode(`{${fields.join(',')}}`);
  },
  restore(bytes): KvState {
    const data = parse(bytes);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('kv: a snapshot is a JSON object of keys to values');
    // JSON.parse makes every key an own property, "__proto__" included, and Object.entries lists them all.
    return new Map(Object.entries(data));
  },
};

export const builtinMachines: Record<string, AnyMachine> = { counter: counterMachine, kv: kvMachine };

const REQUIRED = ['init', 'command', 'query', 'snapshot', 'restore'] as const;

export async function loadMachines(path: string): Promise<Record<string, AnyMachine>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot load machines from ${path}: ${whyNotLoaded(path, err)}`);
  }
  const table = mod.machines ?? mod.default;
  if (table === null || typeof table !== 'object') throw new UsageError(`${path} must export \`machines\` (or a default export): an object of state machines by name`);
  const out: Record<string, AnyMachine> = {};
  for (const [name, machine] of Object.entries(table)) {
    const missing = REQUIRED.filter((f) => typeof (machine as Record<string, unknown> | null)?.[f] !== 'function');
    if (missing.length > 0) throw new UsageError(`machine ${name} in ${path} lacks ${missing.join(', ')}`);
    out[name] = machine as AnyMachine;
  }
  if (Object.keys(out).length === 0) throw new UsageError(`${path} exports no machines`);
  return out;
}

/**
 * Node's reason a module did not load, or, for a TypeScript module on a Node that does not strip
 * types (Node 20, or 22 before 22.18 without --experimental-strip-types), what to do instead.
 */
export function whyNotLoaded(path: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(path)) {
    return `Node ${process.version} does not run TypeScript: compile it to .js, or run on Node >= 22.18 (which strips types), or load a TypeScript loader (NODE_OPTIONS='--import tsx' with tsx installed)`;
  }
  return err instanceof Error ? err.message : String(err);
}
