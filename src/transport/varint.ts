// Protobuf's unsigned varint (LEB128) for JS numbers: integers in [0, 2^53). Written with
// division, not bit operations, which stop at 2^31.

/** Bytes of `n` as a varint. */
export function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Writes `n` as a varint into `out` at `at` (which has room); returns the offset after it. */
export function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}
