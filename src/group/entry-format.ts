// What a group writes into the data of a Normal log entry. The first byte names the format, so
// the envelope can grow without breaking logs already written:
//
//   [0x01][payload...]                                                       a plain command
//   [0x02][u16 n][clientId: n UTF-8 bytes][u64 seq][u64 ackedBelow][payload...]   a session command
//
// `payload` is the machine codec's encoding of the command. Numbers are big-endian.

import { ByteReader, ByteWriter } from './binary.js';
import { MAX_CLIENT_ID_BYTES, type Session } from './sessions.js';

export interface LogCommand {
  payload: Uint8Array;
  session: Session | null;
}

const FORMAT_PLAIN = 0x01;
const FORMAT_SESSION = 0x02;

/** The most an entry's data holds besides its payload: a session command with the longest client id checkSession allows. */
export const MAX_ENVELOPE_BYTES = 1 + 2 + MAX_CLIENT_ID_BYTES + 8 + 8;

/** The largest command payload whose entry, with any session, has at most `maxEntryBytes` of data. */
export function maxPayloadBytes(maxEntryBytes: number): number {
  return maxEntryBytes - MAX_ENVELOPE_BYTES;
}

export function encodeLogCommand(payload: Uint8Array, session: Session | null): Uint8Array {
  if (session === null) {
    const out = new Uint8Array(payload.length + 1);
    out[0] = FORMAT_PLAIN;
    out.set(payload, 1);
    return out;
  }
  const w = new ByteWriter(payload.length + session.clientId.length * 3 + 19);
  w.u8(FORMAT_SESSION);
  w.text(session.clientId);
  w.u64(session.seq);
  w.u64(session.ackedBelow);
  w.raw(payload);
  return w.finish();
}

/** Reads an entry's envelope; throws (with a reason) if it is not one this version writes. */
export function decodeLogCommand(data: Uint8Array): LogCommand {
  const r = new ByteReader(data);
  const format = r.u8();
  if (format === FORMAT_PLAIN) return { payload: r.rest(), session: null };
  if (format !== FORMAT_SESSION) throw new Error(`unknown log entry format ${format}`);
  const clientId = r.text();
  const seq = r.u64();
  const ackedBelow = r.u64();
  return { payload: r.rest(), session: { clientId, seq, ackedBelow } };
}
