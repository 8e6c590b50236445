// A CommonJS application: require() of the package's ES module build (Node >= 20.19 / 22.12).
const assert = require('node:assert/strict');
const flotilla = require('flotilla');

assert.equal(typeof flotilla.Host.start, 'function');
assert.equal(typeof flotilla.connect, 'function');
assert.ok(new flotilla.FlotillaError('TIMEOUT', 'late') instanceof Error);
console.log('cjs ok');
