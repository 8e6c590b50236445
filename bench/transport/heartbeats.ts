// What coalescing heartbeats saves: the codec's cost (encode + decode, one frame) of N groups'
// heartbeats from one host to another, as N Raft messages and as one coalesced item. Prints a table.
//
//   node --import tsx bench/transport/heartbeats.ts [--groups 1000]

import { decodeFrame, encodeFrame } from '../../src/transport/codec.js';
import type { Item } from '../../src/transport/items.js';
import { MessageType, message } from '../../src/raft/types.js';

const at = process.argv.indexOf('--groups');
const N = at >= 0 ? Number(process.argv[at + 1]) : 1000;
const ROUNDS = 1000;

const separate: Item[] = Array.from({ length: N }, (_, i) => ({
  kind: 'raft',
  groupId: i + 1,
  message: message({ type: MessageType.Heartbeat, from: `h1~${1 + (i % 50)}`, to: `h2~${1 + (i % 70)}`, term: 7, commit: 1000 + i, context: 12_345 + i }),
}));
const coalesced: Item[] = [
  {
    kind: 'heartbeat',
    from: 'h1',
    to: 'h2',
    beats: Array.from({ length: N }, (_, i) => ({ groupId: i + 1, term: 7, commit: 1000 + i, round: 12_345 + i, fromSerial: 1 + (i % 50), toSerial: 1 + (i % 70), quiesce: false })),
  },
];

function measure(items: Item[]): { bytes: number; micros: number } {
  const bytes = encodeFrame(items).length;
  for (let i = 0; i < ROUNDS / 10; i++) decodeFrame(encodeFrame(items)); // warm up
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) decodeFrame(encodeFrame(items));
  return { bytes, micros: ((performance.now() - started) * 1000) / ROUNDS / N };
}

const a = measure(separate);
const b = measure(coalesced);
console.log(`${N} groups' heartbeats, one frame, encode + decode (${ROUNDS} rounds)`);
console.log('as                 bytes/beat   us/beat');
console.log(`raft messages      ${(a.bytes / N).toFixed(1).padStart(10)}   ${a.micros.toFixed(3).padStart(7)}`);
console.log(`coalesced item     ${(b.bytes / N).toFixed(1).padStart(10)}   ${b.micros.toFixed(3).padStart(7)}`);
console.log(`ratio              ${(a.bytes / b.bytes).toFixed(1).padStart(9)}x   ${(a.micros / b.micros).toFixed(1).padStart(6)}x`);
