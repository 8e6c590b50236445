import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalescedFlush } from '../../src/transport/coalesced-flush.js';

describe('coalesced flush', () => {
  it('flushes once, after every call of the same macrotask, and again for later calls', () => {
    let flushes = 0;
    const queued: Array<() => void> = [];
    const flush = coalescedFlush({ flush: () => flushes++ }, { soon: (run) => queued.push(run) });
    flush();
    flush();
    flush();
    assert.equal(flushes, 0, 'nothing before the scheduled run');
    assert.equal(queued.length, 1, 'one run scheduled for three calls');
    queued.shift()!();
    assert.equal(flushes, 1);
    flush();
    assert.equal(queued.length, 1, 'a call after the flush schedules another');
    queued.shift()!();
    assert.equal(flushes, 2);
  });
});
