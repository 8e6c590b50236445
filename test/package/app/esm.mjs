// An ES module application's view of the package: the root's named exports.
import assert from 'node:assert/strict';
import { Host, connect, FlotillaError, isFlotillaError } from 'flotilla';

assert.equal(typeof Host.start, 'function');
assert.equal(typeof connect, 'function');
const err = new FlotillaError('NO_SUCH_GROUP', 'no group x');
assert.ok(isFlotillaError(err, 'NO_SUCH_GROUP'));
console.log('esm ok');
