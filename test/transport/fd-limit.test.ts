// The connection budget from the process's file-descriptor limit (src/transport/fd-limit.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASSUMED_FD_LIMIT, MAX_DEFAULT_CONNECTIONS, fdBudget, parseSoftFdLimit, readSoftFdLimit } from '../../src/transport/fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

describe('file-descriptor budget', () => {
  it('reads the soft limit of /proc/self/limits', () => {
    assert.equal(parseSoftFdLimit(LIMITS), 20_000);
    assert.equal(parseSoftFdLimit(LIMITS.replace('20000 ', 'unlimited')), Infinity);
    assert.equal(parseSoftFdLimit('no such line'), null);
    if (process.platform === 'linux') assert.ok(Number(readSoftFdLimit()) > 0, 'read on Linux');
  });

  it('keeps a quarter (at least 256, at most half) for the store and the process', () => {
    assert.deepEqual(fdBudget(20_000), { fdLimit: 20_000, known: true, reservedFds: 5_000, maxConnections: 15_000 });
    assert.deepEqual(fdBudget(1024), { fdLimit: 1024, known: true, reservedFds: 256, maxConnections: 768 });
    assert.deepEqual(fdBudget(300), { fdLimit: 300, known: true, reservedFds: 150, maxConnections: 150 });
    assert.equal(fdBudget(1 << 20).maxConnections, MAX_DEFAULT_CONNECTIONS);
    assert.equal(fdBudget(Infinity).maxConnections, MAX_DEFAULT_CONNECTIONS);
  });

  it('assumes a conservative limit where it cannot be read', () => {
    assert.deepEqual(fdBudget(null), { fdLimit: ASSUMED_FD_LIMIT, known: false, reservedFds: 128, maxConnections: 128 });
  });
});
