// A fleet from the installed package, in one process: 3 hosts on free loopback ports in zones a
// and b, each on a different store engine (rocksdb, the default, lmdb and memory: so both native
// bindings load on this Node, and the RocksDB writer thread starts from the compiled code), a group
// with this application's own state machine, commands and queries through hosts and a client,
// then one host deactivated and all stopped. Usage: node fleet.mjs DATA_DIR
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Host, connect, FlotillaError } from 'flotilla';

const dataDir = process.argv[2];
assert.ok(dataDir, 'usage: node fleet.mjs DATA_DIR');
const secret = 'package test secret';

/** A list of strings: {append: s} adds s and replies the new length; a query reads the list. */
const journal = {
  init: () => [],
  command(list, cmd) {
    if (typeof cmd?.append !== 'string') throw new Error('journal: expected {"append": "..."}');
    const next = [...list, cmd.append];
    return { state: next, reply: next.length };
  },
  query: (list) => list,
  snapshot: (list) => new TextEncoder().encode(JSON.stringify(list)),
  restore: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

async function until(what, done, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function start(id, storage, seeds) {
  return Host.start({
    id, storage, dataDir: join(dataDir, id), listen: '127.0.0.1:0', join: seeds, secret,
    machines: { journal }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 2000,
  });
}

const h1 = await start('h1', 'rocksdb', []);
await h1.activate('a');
const h2 = await start('h2', 'lmdb', [h1.address]);
await h2.activate('b');
const h3 = await start('h3', 'memory', [h1.address]);
await h3.activate('a');
const hosts = [h1, h2, h3];
try {
  assert.deepEqual(Object.keys(h1.hosts()).sort(), ['a', 'b']);
  await h1.addGroup('log', { machine: 'journal', replicas: 3 });
  assert.equal(await h2.command('log', { append: 'one' }), 1);
  assert.deepEqual(await h3.query('log', null), ['one']);

  const client = await connect({ hosts: [h2.address], secret, timeoutMs: 10_000 });
  try {
    assert.equal(await client.command('log', { append: 'two' }), 2);
    assert.deepEqual(await client.query('log', null, { consistency: 'lease' }), ['one', 'two']);
    await assert.rejects(client.command('log', { nope: 1 }), (err) => err instanceof FlotillaError && err.code === 'COMMAND_FAILED');
    await assert.rejects(client.command('no-such-log', { append: 'x' }), (err) => err instanceof FlotillaError && err.code === 'NO_SUCH_GROUP');
  } finally {
    await client.close();
  }

  await h3.deactivate();
  assert.equal(h3.localState, 'inactive');
  assert.equal(h3.status().members.length, 0);
  await until('h1 to see h3 inactive', () => Object.values(h1.hosts()).flat().find((h) => h.id === 'h3')?.state === 'inactive');
  assert.deepEqual(await h1.query('log', null), ['one', 'two']);
  console.log('fleet ok');
} finally {
  for (const host of hosts) await host.stop();
}
