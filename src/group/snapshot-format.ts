// What a group's snapshot data holds: its client sessions and the state machine's own snapshot.
// The first byte names the format:
//
//   [0x01][u32 n][sessions: n bytes (SessionTable.encode)][machine snapshot...]

import { ByteReader, ByteWriter } from './binary.js';

const FORMAT_V1 = 0x01;

export interface GroupSnapshot {
  sessions: Uint8Array;
  machine: Uint8Array;
}

export function encodeGroupSnapshot(s: GroupSnapshot): Uint8Array {
  const w = new ByteWriter(s.sessions.length + s.machine.length + 5);
  w.u8(FORMAT_V1);
  w.bytes(s.sessions);
  w.raw(s.machine);
  return w.finish();
}

/** Throws (with a reason) if `data` is not a snapshot this version writes. */
export function decodeGroupSnapshot(data: Uint8Array): GroupSnapshot {
  const r = new ByteReader(data);
  const format = r.u8();
  if (format !== FORMAT_V1) throw new Error(`unknown group snapshot format ${format}`);
  const sessions = r.bytes();
  return { sessions, machine: r.rest() };
}
