// Copies a data directory of flotilla's earlier RocksDB engine (npm `rocksdb` 5.x: RocksDB 6.17,
// Snappy-compressed SST files) into a new directory that the current engine opens
// (`@nxtedition/rocksdb` 12.2: RocksDB 9.7, built without Snappy). Both engines store the same
// records (src/storage/encoding.ts), so the copy is pair for pair; only RocksDB's files differ.
// Afterwards it reads both directories through again and checks that they hold the same pairs.
//
// The old directory is read by a child process with only the old binding loaded: the two
// RocksDB builds must not share a process (their C++ globals collide; it crashes at exit). The
// child needs Node 20 (the old binding aborts on Node 22 and 24); the parent may run on any.
//   npm install rocksdb@5.2.1 @nxtedition/rocksdb@12.2.12      (in some folder, on Node 20)
//   node migrate-rocksdb5.mjs [--old-node /path/to/node20] <old data dir> <new data dir>
// Run it there, with the host stopped; then move the old directory aside and the new one into
// its place. The old directory is opened read-only and left as it was; the new one must not exist.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Must match OPEN_OPTIONS in src/storage/rocksdb-store.ts (a plain WAL, which RocksDB 6 reads).
const NEW_OPEN_OPTIONS = { createIfMissing: true, errorIfExists: true, walCompression: false };
/** Pairs per write batch of the copy. */
const BATCH_PAIRS = 1000;
/** A dumped pair: [key length u32][value length u32][key][value], little-endian. */
const HEADER_BYTES = 8;

const require = createRequire(join(process.cwd(), 'noop.js'));
const args = process.argv.slice(2);
if (args[0] === '--dump') await dump(resolve(args[1] ?? fail('--dump needs a directory')));
else await migrate(args);

async function migrate(argv) {
  let oldNode = process.execPath;
  if (argv[0] === '--old-node') {
    oldNode = argv[1] ?? fail('--old-node needs a path');
    argv = argv.slice(2);
  }
  if (argv.length !== 2) fail('usage: node migrate-rocksdb5.mjs [--old-node <node 20>] <old data dir> <new data dir>');
  const [from, to] = argv.map((p) => resolve(p));
  if (!existsSync(join(from, 'CURRENT'))) fail(`${from} is not a RocksDB directory (no CURRENT file)`);
  if (existsSync(to)) fail(`${to} exists: the copy goes to a new directory`);

  const { RocksLevel } = load('@nxtedition/rocksdb');
  const db = new RocksLevel(to, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open(NEW_OPEN_OPTIONS);
  let copied = 0;
  let batch = db.batch();
  for await (const [key, value] of oldPairs(oldNode, from)) {
    batch.put(key, value);
    copied++;
    if (batch.length === BATCH_PAIRS) {
      await batch.write();
      batch = db.batch();
    }
  }
  await batch.write({ sync: true });

  const iterator = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  let checked = 0;
  let ahead = [];
  for await (const [key, value] of oldPairs(oldNode, from)) {
    if (ahead.length === 0) ahead = await iterator.nextv(BATCH_PAIRS);
    const pair = ahead.shift();
    if (pair === undefined || !pair[0].equals(key) || !pair[1].equals(value)) fail(`pair ${checked} (key ${key.toString('hex')}) differs in ${to}`);
    checked++;
  }
  if (ahead.length > 0 || (await iterator.nextv(1)).length > 0) fail(`${to} holds more pairs than ${from}`);
  await iterator.close();
  await db.close();
  console.log(`copied ${copied} pairs from ${from} to ${to} and checked ${checked}: move ${to} into the place of ${from}`);
}

/** The pairs of the old directory, in key order, read by a child process running --dump. */
async function* oldPairs(node, dir) {
  const child = spawn(node, [fileURLToPath(import.meta.url), '--dump', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res(code ?? signal)));
  let pending = Buffer.alloc(0);
  for await (const chunk of child.stdout) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= HEADER_BYTES) {
      const keyEnd = at + HEADER_BYTES + pending.readUInt32LE(at);
      const valueEnd = keyEnd + pending.readUInt32LE(at + 4);
      if (valueEnd > pending.length) break;
      yield [pending.subarray(at + HEADER_BYTES, keyEnd), pending.subarray(keyEnd, valueEnd)];
      at = valueEnd;
    }
    pending = pending.subarray(at);
  }
  const status = await exited;
  if (status !== 0) fail(`reading ${dir} failed (the reader exited with ${status})`);
  if (pending.length > 0) fail(`reading ${dir}: the reader's output ends inside a pair`);
}

/** Child process: writes every pair of an old directory to stdout. */
async function dump(dir) {
  const version = load('rocksdb/package.json').version;
  if (!version.startsWith('5.')) fail(`rocksdb ${version} is installed in ${process.cwd()}, not 5.x`);
  const db = load('rocksdb')(dir);
  await callback((cb) => db.open({ readOnly: true, createIfMissing: false }, cb));
  const iterator = db.iterator({ keyAsBuffer: true, valueAsBuffer: true });
  for (;;) {
    const pair = await new Promise((res, rej) => iterator.next((err, key, value) => (err ? rej(err) : res(key === undefined ? null : [key, value]))));
    if (pair === null) break;
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32LE(pair[0].length, 0);
    header.writeUInt32LE(pair[1].length, 4);
    if (!process.stdout.write(Buffer.concat([header, pair[0], pair[1]]))) await new Promise((res) => process.stdout.once('drain', res));
  }
  await callback((cb) => iterator.end(cb));
  await callback((cb) => db.close(cb));
}

function load(name) {
  try {
    return require(name);
  } catch (err) {
    return fail(`cannot load ${name} from ${process.cwd()} on Node ${process.version}: ${err.message}\n` +
      'run this in a folder with: npm install rocksdb@5.2.1 @nxtedition/rocksdb@12.2.12 (on Node 20)');
  }
}

function callback(run) {
  return new Promise((res, rej) => run((err) => (err ? rej(err) : res())));
}

function fail(message) {
  console.error(`migrate-rocksdb5: ${message}`);
  process.exit(1);
}
