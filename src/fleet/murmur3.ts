// MurmurHash3 x86 32-bit (Austin Appleby's SMHasher reference), over bytes.
//
// Implemented here rather than through the `murmurhash3js` package: that package hashes a JS
// string by taking the low byte of each UTF-16 code unit, so any non-ASCII text hashes wrong and
// distinct names collide. Working on a Uint8Array makes "hash the UTF-8 bytes" the type of the
// function instead of a string-encoding convention callers must remember, and Math.imul gives
// exact 32-bit multiplication without the package's split-multiply tricks.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

const utf8 = new TextEncoder();

/** MurmurHash3_x86_32 of `bytes`, as an unsigned 32-bit integer. */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const tailStart = bytes.length - (bytes.length % 4);

  for (let i = 0; i < tailStart; i += 4) {
    // Blocks are read little-endian, as the reference does on x86.
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h ^= scramble(k);
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  // The 1-3 trailing bytes, also little-endian.
  let k = 0;
  for (let i = bytes.length - 1; i >= tailStart; i--) k = (k << 8) | bytes[i]!;
  if (bytes.length > tailStart) h ^= scramble(k);

  // The reference mixes in the length modulo 2^32.
  h ^= bytes.length;
  return fmix(h) >>> 0;
}

/** MurmurHash3_x86_32 of the UTF-8 encoding of `text`. */
export function murmur3Utf8(text: string, seed = 0): number {
  return murmur3(utf8.encode(text), seed);
}

function scramble(k: number): number {
  return Math.imul(rotl(Math.imul(k, C1), 15), C2);
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
