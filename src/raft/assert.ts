// The Raft core's invariant checks are the ones every layer uses (common/assert.ts): pure, so the
// core stays free of clocks, timers and I/O.
export { AssertionError, assert } from '../common/assert.js';
