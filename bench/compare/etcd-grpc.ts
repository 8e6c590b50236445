// The bench's own etcd v3 gRPC client on node:http2, with no dependency, for its few control
// calls: whether a member takes writes, who leads, compaction between rows, and the writes that
// time etcd's failover. The load itself comes from etcd's Go client (bench/etcd-load/), which this
// client could not match: driving 256 puts in flight it took 82-87% of a core of the 2 that etcd's
// members run on. One HTTP/2 connection per endpoint, requests as gRPC frames of hand-encoded
// protobuf.
import { connect, constants, type ClientHttp2Session } from 'node:http2';

const encoder = new TextEncoder();

// --- protobuf, the few wire types used -----------------------------------------------------------

function varint(value: bigint | number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function bytesField(field: number, bytes: Uint8Array): Uint8Array {
  const head = [...varint((field << 3) | 2), ...varint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head, 0);
  out.set(bytes, head.length);
  return out;
}

function varintField(field: number, value: bigint | number): Uint8Array {
  return Uint8Array.from([...varint(field << 3), ...varint(value)]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes one message's fields: varints as bigint, length-delimited as bytes (others skipped). */
function decodeFields(buf: Uint8Array): Map<number, Array<bigint | Uint8Array>> {
  const out = new Map<number, Array<bigint | Uint8Array>>();
  let at = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[at++];
      if (b === undefined) throw new Error('truncated protobuf varint');
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const tag = Number(readVarint());
    const field = tag >>> 3;
    let value: bigint | Uint8Array;
    switch (tag & 7) {
      case 0:
        value = readVarint();
        break;
      case 2: {
        const len = Number(readVarint());
        value = buf.subarray(at, at + len);
        at += len;
        break;
      }
      case 1:
        at += 8;
        continue;
      case 5:
        at += 4;
        continue;
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`);
    }
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

function firstBytes(fields: Map<number, Array<bigint | Uint8Array>>, field: number): Uint8Array {
  const v = fields.get(field)?.[0];
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

function firstVarint(fields: Map<number, Array<bigint | Uint8Array>>, field: number): bigint {
  const v = fields.get(field)?.[0];
  return typeof v === 'bigint' ? v : 0n;
}

// --- gRPC over one HTTP/2 session per endpoint ---------------------------------------------------

export class GrpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

export class EtcdEndpoint {
  private session: ClientHttp2Session | null = null;

  /** `url` like http://127.0.0.1:2379. */
  constructor(readonly url: string) {}

  private connected(): ClientHttp2Session {
    if (this.session === null || this.session.closed || this.session.destroyed) {
      const session = connect(this.url);
      session.on('error', () => undefined);
      session.on('close', () => {
        if (this.session === session) this.session = null;
      });
      // Many concurrent streams on the one connection, as grpc-go does.
      session.setMaxListeners(0);
      this.session = session;
    }
    return this.session;
  }

  /** One unary call; resolves with the response message's bytes. */
  call(path: string, message: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let stream;
      try {
        stream = this.connected().request({
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: path,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
      } catch (err) {
        this.session?.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const chunks: Buffer[] = [];
      let status: number | null = null;
      let statusMessage = '';
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new GrpcError(4, `${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const takeStatus = (headers: Record<string, unknown>) => {
        if (headers['grpc-status'] !== undefined) {
          status = Number(headers['grpc-status']);
          statusMessage = String(headers['grpc-message'] ?? '');
        }
      };
      stream.on('response', takeStatus);
      stream.on('trailers', takeStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on('close', () => {
        clearTimeout(timer);
        if (status !== 0) {
          reject(new GrpcError(status ?? 14, `${path}: grpc status ${status ?? 'none'} ${decodeURIComponent(statusMessage)}`));
          return;
        }
        const body = Buffer.concat(chunks);
        resolve(body.length >= 5 ? new Uint8Array(body.buffer, body.byteOffset + 5, body.readUInt32BE(1)) : new Uint8Array(0));
      });
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      stream.end(frame);
    });
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }
}

/** The revision in a KV response's header. */
function revisionOf(response: Uint8Array): bigint {
  return firstVarint(decodeFields(firstBytes(decodeFields(response), 1)), 3);
}

export async function put(endpoint: EtcdEndpoint, key: string, value: Uint8Array, timeoutMs: number): Promise<bigint> {
  const reply = await endpoint.call('/etcdserverpb.KV/Put', concat([bytesField(1, encoder.encode(key)), bytesField(2, value)]), timeoutMs);
  return revisionOf(reply);
}

/** Drops history up to `revision` (etcd keeps every revision until compacted). */
export async function compact(endpoint: EtcdEndpoint, revision: bigint, timeoutMs: number): Promise<void> {
  await endpoint.call('/etcdserverpb.KV/Compact', varintField(1, revision), timeoutMs);
}

/** This member's id and the leader's id, as decimal strings. */
export async function status(endpoint: EtcdEndpoint, timeoutMs: number): Promise<{ member: string; leader: string; dbSize: number }> {
  const fields = decodeFields(await endpoint.call('/etcdserverpb.Maintenance/Status', new Uint8Array(0), timeoutMs));
  const header = decodeFields(firstBytes(fields, 1));
  return { member: firstVarint(header, 2).toString(), leader: firstVarint(fields, 4).toString(), dbSize: Number(firstVarint(fields, 3)) };
}
