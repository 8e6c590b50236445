// Big-endian binary writing and reading for the group's own formats (log entry envelopes, the
// snapshot envelope). Numbers below 2^53 travel as u64; reading past the end or an unsafe number
// throws, so a damaged record is refused rather than misread.

const TWO_32 = 2 ** 32;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  u8(n: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, n);
    this.length += 1;
  }

  u16(n: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, n);
    this.length += 2;
  }

  u32(n: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, n);
    this.length += 4;
  }

  u64(n: number): void {
    this.reserve(8);
    this.view.setUint32(this.length, Math.floor(n / TWO_32));
    this.view.setUint32(this.length + 4, n >>> 0);
    this.length += 8;
  }

  /** Bytes with a u32 length before them. */
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  /** UTF-8 text with a u16 byte length before it. */
  text(s: string): void {
    const b = utf8.encode(s);
    this.u16(b.length);
    this.raw(b);
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

export class ByteReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u8(): number {
    this.need(1);
    const n = this.view.getUint8(this.offset);
    this.offset += 1;
    return n;
  }

  u16(): number {
    this.need(2);
    const n = this.view.getUint16(this.offset);
    this.offset += 2;
    return n;
  }

  u32(): number {
    this.need(4);
    const n = this.view.getUint32(this.offset);
    this.offset += 4;
    return n;
  }

  u64(): number {
    this.need(8);
    const high = this.view.getUint32(this.offset);
    const n = high * TWO_32 + this.view.getUint32(this.offset + 4);
    if (!Number.isSafeInteger(n)) throw new Error(`number at byte ${this.offset} exceeds 2^53`);
    this.offset += 8;
    return n;
  }

  bytes(): Uint8Array {
    return this.take(this.u32());
  }

  text(): string {
    return utf8Decoder.decode(this.take(this.u16()));
  }

  /** Everything not read yet (a view, not a copy). */
  rest(): Uint8Array {
    return this.take(this.buf.length - this.offset);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.offset !== this.buf.length) throw new Error(`${this.buf.length - this.offset} unexpected bytes at the end`);
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new Error(`truncated: ${n} bytes needed at byte ${this.offset} of ${this.buf.length}`);
  }
}

/** UTF-8 byte length of a string. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
