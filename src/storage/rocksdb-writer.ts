// The writer thread of the RocksDB engine (rocksdb-store.ts). The binding, @nxtedition/rocksdb,
// writes a batch synchronously: its batch_write runs rocksdb::DB::Write, WAL fsync included, on
// the thread that calls it. On the main thread a synced write would stall every group of the host
// for the whole fsync (0.2 to 0.5 ms on the VM this was measured on, milliseconds on many disks),
// and RocksDB's write-stall throttling would sleep there too. So every write goes to one worker
// thread that shares the open database (the binding passes a DB between threads as a pointer,
// db_get_handle / db_init).
//
// The hand-off, one write at a time (KvLogStore serializes writes; asserted here):
//   main thread: encodes the ops into a SharedArrayBuffer, fills the control slots, bumps the
//                request number and wakes the thread with Atomics.notify (nothing to serialize);
//   writer:      blocked in Atomics.wait; decodes the ops into its WriteBatch, writes it, and
//                posts the outcome on a MessagePort, which settles the main thread's promise.
// A batch bigger than the standing buffer travels in a buffer of its own, posted just before the
// wake-up. Main-thread cost per write, measured against the alternatives: see rocksdb-store.ts.
//
// Op encoding: [kind u8][key length u32][value length u32][key][value], little-endian.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { KvOp } from './kv-backend.js';

/** Int32 slots of the control buffer. */
const enum Slot {
  /** Number of the latest request (main thread writes it last); STOP ends the thread. */
  Request = 0,
  /** 1: the write fsyncs the WAL before it is acknowledged. */
  Sync = 1,
  /** Bytes of encoded ops in the request. */
  Length = 2,
  /** 1: the ops are in a buffer of their own, posted on the port, not in the standing buffer. */
  Spill = 3,
  Count = 4,
}
const STOP = -1;
/** Request numbers run 1..MAX_REQUEST and wrap; the writer only compares with the previous one. */
const MAX_REQUEST = 0x7fff_ffff;
const PUT = 1;
const DEL = 2;
const HEADER_BYTES = 9;
/** Big enough for a busy host-loop turn; larger batches (snapshots) take the spill path. */
const STANDING_BUFFER_BYTES = 1 << 20;

interface WriterData {
  bindingPath: string;
  handle: bigint;
  control: SharedArrayBuffer;
  buffer: SharedArrayBuffer;
  port: MessagePort;
}

/** The thread's first message is { ready: true }; then one Reply per request. */
interface Reply {
  request: number;
  error: { message: string; code?: string } | null;
}

// Plain JavaScript, run with `eval` so it is the same code from source (under tsx) and from the
// compiled package, and the thread starts without the parent's loaders (execArgv: []). It
// requires the binding by absolute path. It keeps one WriteBatch, cleared after every write, so
// it holds the capacity of its largest batch.
const WRITER_SOURCE = `'use strict';
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { bindingPath, handle, control, buffer, port } = workerData;
const binding = require(bindingPath);
const db = binding.db_init(handle);
const batch = binding.batch_init();
const slots = new Int32Array(control);
const standing = Buffer.from(buffer);
const NO_OPTIONS = {};
port.postMessage({ ready: true });
let seen = 0;
for (;;) {
  Atomics.wait(slots, ${Slot.Request}, seen);
  const request = Atomics.load(slots, ${Slot.Request});
  if (request === seen) continue;
  if (request === ${STOP}) break;
  seen = request;
  let error = null;
  try {
    const spilled = slots[${Slot.Spill}] === 1 ? receiveMessageOnPort(port) : null;
    if (slots[${Slot.Spill}] === 1 && spilled === undefined) throw new Error('request ' + request + ': its buffer was not posted');
    const bytes = spilled ? Buffer.from(spilled.message) : standing;
    const end = slots[${Slot.Length}];
    for (let at = 0; at < end; ) {
      const keyEnd = at + ${HEADER_BYTES} + bytes.readUInt32LE(at + 1);
      const valueEnd = keyEnd + bytes.readUInt32LE(at + 5);
      const key = bytes.subarray(at + ${HEADER_BYTES}, keyEnd);
      if (bytes[at] === ${PUT}) binding.batch_put(batch, key, bytes.subarray(keyEnd, valueEnd), NO_OPTIONS);
      else binding.batch_del(batch, key, NO_OPTIONS);
      at = valueEnd;
    }
    binding.batch_write(db, batch, { sync: slots[${Slot.Sync}] === 1 });
  } catch (err) {
    error = { message: err instanceof Error ? err.message : String(err), code: err && typeof err.code === 'string' ? err.code : undefined };
  } finally {
    binding.batch_clear(batch);
  }
  port.postMessage({ request, error });
}
port.close();
`;

interface Pending {
  request: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class RocksWriter {
  private readonly slots: Int32Array;
  private readonly standing: Buffer;
  private request = 0;
  private pending: Pending | null = null;
  /** Set once the thread fails or exits unasked; every later write is refused with it. */
  private failure: Error | null = null;
  private stopping = false;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    buffer: SharedArrayBuffer,
  ) {
    this.slots = new Int32Array(control);
    this.standing = Buffer.from(buffer);
    port.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopping) this.fail(new Error(`the rocksdb writer thread exited (code ${code})`));
    });
    // Idle, neither keeps the process alive (an open store never did); a write in flight refs the port.
    worker.unref();
    port.unref();
  }

  /** Starts the thread on an open database; resolves once it has loaded the binding. */
  static async start(bindingPath: string, handle: bigint): Promise<RocksWriter> {
    const control = new SharedArrayBuffer(Slot.Count * Int32Array.BYTES_PER_ELEMENT);
    const buffer = new SharedArrayBuffer(STANDING_BUFFER_BYTES);
    const { port1, port2 } = new MessageChannel();
    const workerData: WriterData = { bindingPath, handle, control, buffer, port: port2 };
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      execArgv: [],
      name: 'flotilla-rocksdb-writer',
      workerData,
      transferList: [port2],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const exited = (code: number): void => reject(new Error(`the rocksdb writer thread exited while starting (code ${code})`));
        worker.once('error', reject);
        worker.once('exit', exited);
        port1.once('message', () => {
          worker.off('error', reject);
          worker.off('exit', exited);
          resolve();
        });
      });
    } catch (err) {
      port1.close();
      await worker.terminate();
      throw err;
    }
    return new RocksWriter(worker, port1, control, buffer);
  }

  write(ops: readonly KvOp[], sync: boolean): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    assert(!this.stopping, 'the rocksdb writer is stopping');
    assert(this.pending === null, 'one write at a time: KvLogStore serializes writes');

    let bytes = 0;
    for (const op of ops) bytes += HEADER_BYTES + op.key.length + (op.type === 'put' ? op.value.length : 0);
    const spill = bytes > this.standing.length ? new SharedArrayBuffer(bytes) : null;
    encode(ops, spill === null ? this.standing : Buffer.from(spill));

    this.request = this.request === MAX_REQUEST ? 1 : this.request + 1;
    const request = this.request;
    const done = new Promise<void>((resolve, reject) => {
      this.pending = { request, resolve, reject };
    });
    // The thread reads the spilled buffer as soon as it wakes, so it is posted first.
    if (spill !== null) this.port.postMessage(spill);
    this.slots[Slot.Sync] = sync ? 1 : 0;
    this.slots[Slot.Length] = bytes;
    this.slots[Slot.Spill] = spill === null ? 0 : 1;
    Atomics.store(this.slots, Slot.Request, request);
    Atomics.notify(this.slots, Slot.Request);
    this.port.ref();
    return done;
  }

  /** Ends the thread; the caller must not have a write in flight (KvLogStore waits for them). */
  async stop(): Promise<void> {
    assert(this.pending === null, 'stop() with a write in flight');
    this.stopping = true;
    if (!this.exited) {
      this.worker.ref(); // the process must live until the thread is gone and the DB can close
      const exited = once(this.worker, 'exit');
      Atomics.store(this.slots, Slot.Request, STOP);
      Atomics.notify(this.slots, Slot.Request);
      await exited;
    }
    this.port.close();
  }

  private settle(reply: Reply): void {
    const pending = this.pending;
    assert(pending !== null && pending.request === reply.request, `the rocksdb writer answered request ${reply.request} unasked`);
    this.pending = null;
    this.port.unref();
    if (reply.error === null) pending.resolve();
    else pending.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
  }

  private fail(err: Error): void {
    if (this.failure === null) this.failure = err;
    const pending = this.pending;
    this.pending = null;
    pending?.reject(this.failure);
  }
}

function encode(ops: readonly KvOp[], out: Buffer): void {
  let at = 0;
  for (const op of ops) {
    const value = op.type === 'put' ? op.value : null;
    out[at] = value === null ? DEL : PUT;
    out.writeUInt32LE(op.key.length, at + 1);
    out.writeUInt32LE(value === null ? 0 : value.length, at + 5);
    out.set(op.key, at + HEADER_BYTES);
    at += HEADER_BYTES + op.key.length;
    if (value !== null) {
      out.set(value, at);
      at += value.length;
    }
  }
}
