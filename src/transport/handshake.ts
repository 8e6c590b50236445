// Mutual authentication of a connection by HMAC-SHA256 challenge-response over the cluster secret;
// the secret itself never crosses the wire.
//
//   dialer   -> acceptor  hello     { dialer id, incarnation, nonce D }
//   acceptor -> dialer    challenge { acceptor id, incarnation, nonce A }
//   dialer   -> acceptor  auth      { HMAC(secret, "dialer"   | transcript) }
//   acceptor -> dialer    accept    { HMAC(secret, "acceptor" | transcript) }
//
// The transcript binds the protocol version, both ids, both incarnations and both fresh nonces, so
// a proof is good for this one connection only, and the role label keeps a proof from being
// reflected back in the other direction. The dialer proves itself first: an unauthenticated
// dialer never gets a MAC out of an acceptor to attack the secret offline.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION } from './codec.js';
import type { HostId } from './items.js';

export const NONCE_BYTES = 32;

export type Role = 'dialer' | 'acceptor';

export interface Transcript {
  dialer: HostId;
  dialerIncarnation: string;
  dialerNonce: Uint8Array;
  acceptor: HostId;
  acceptorIncarnation: string;
  acceptorNonce: Uint8Array;
}

export function newNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

/** Random per transport instance: a restarted process gets a new one. */
export function newIncarnation(): string {
  return randomBytes(8).toString('hex');
}

/** What `role` sends to prove it knows the secret. */
export function proofOf(secret: string | Uint8Array, role: Role, t: Transcript): Uint8Array {
  const hmac = createHmac('sha256', secret);
  const fields: (string | Uint8Array)[] = [
    `flotilla/${PROTOCOL_VERSION}/${role}`,
    t.dialer, t.dialerIncarnation, t.dialerNonce,
    t.acceptor, t.acceptorIncarnation, t.acceptorNonce,
  ];
  // Length-prefixed, so no two different transcripts hash the same bytes.
  for (const field of fields) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hmac.update(length);
    hmac.update(bytes);
  }
  return hmac.digest();
}

/** Constant-time check of a proof received from `role`. */
export function verifyProof(secret: string | Uint8Array, role: Role, t: Transcript, proof: Uint8Array): boolean {
  const expected = proofOf(secret, role, t);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}
