// The layers as the imports really are (issue 15): no import cycle between files of src/, and no
// import up the layer table of scripts/layers.mjs. The violations still there are listed in KNOWN,
// each with its reason; a new one fails, and so does a KNOWN one that is gone, so the list only
// shrinks. The checker's own tests (a small fake tree) show it catches what it is for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SRC, cycles, importGraph, importsOf, readTree, violations } from '../../scripts/layers.mjs';

/** Violations of today, as `node scripts/layers.mjs` prints them, and why each is still there. */
const KNOWN: Record<string, string> = {};

/** A fake src/ tree: path under src/ to its imports. */
function tree(files: Record<string, string[]>): Map<string, string> {
  return new Map(Object.entries(files).map(([path, imports]) => [path, imports.map((spec) => `import { x } from '${spec}';\n`).join('')]));
}

describe('layers', () => {
  it('src/ has no import cycle and no upward import but the known ones, and every known one still occurs', () => {
    const found = violations(importGraph(readTree(SRC)));
    const unknown = found.filter((v) => !(v in KNOWN));
    assert.deepEqual(unknown, [], `new violations of the layers (scripts/layers.mjs):\n${unknown.join('\n')}`);
    const gone = Object.keys(KNOWN).filter((v) => !found.includes(v));
    assert.deepEqual(gone, [], `fixed: take these off KNOWN in test/architecture/layers.test.ts:\n${gone.join('\n')}`);
  });

  it('reads static, type-only, re-exporting, side-effect and dynamic imports, and none in comments or strings', () => {
    const text = [
      `import { a,`,
      `  b } from './multi-line.js';`,
      `import type { T } from "../group/types.js";`,
      `import * as ns from './star.js'; import './side-effect.js';`,
      `export { c } from './re-export.js';`,
      `export * from './re-export-all.js';`,
      `// import { gone } from './line-comment.js';`,
      `/* import { gone } from './block-comment.js'; */`,
      `const url = 'http://host/x'; import { after } from './after-a-string-with-slashes.js';`,
      `const re = /['"]/g; import { z } from './after-a-regex.js';`,
      `const text = "import { s } from './in-a-string.js'";`,
      `export const f = () => import('./dynamic.js');`,
      `export const g = (p: string) => import(p);`,
      `import { readFileSync } from 'node:fs';`,
    ].join('\n');
    assert.deepEqual(importsOf(text), [
      './multi-line.js',
      '../group/types.js',
      './star.js',
      './side-effect.js',
      './re-export.js',
      './re-export-all.js',
      './after-a-string-with-slashes.js',
      './after-a-regex.js',
      'node:fs',
      './dynamic.js',
    ]);
  });

  it('resolves x.js to x.ts, and leaves packages and Node modules out', () => {
    const graph = importGraph(new Map([
      ['fleet/a.ts', `import { b } from './b.js';\nimport { e } from '../common/errors.js';\nimport { pino } from 'pino';\nimport { x } from '../transport/generated/flotilla.js';`],
      ['fleet/b.ts', ''],
      ['common/errors.ts', ''],
      ['transport/generated/flotilla.js', ''],
    ]));
    assert.deepEqual(graph.get('fleet/a.ts'), ['fleet/b.ts', 'common/errors.ts', 'transport/generated/flotilla.js']);
  });

  it('reports an import cycle as its path, from its first file back to it', () => {
    const graph = importGraph(tree({
      'fleet/a.ts': ['./b.js'],
      'fleet/b.ts': ['./c.js', './d.js'],
      'fleet/c.ts': ['./a.js'],
      'fleet/d.ts': [],
      'group/self.ts': ['./self.js'],
    }));
    assert.deepEqual(cycles(graph), [['fleet/a.ts', 'fleet/b.ts', 'fleet/c.ts', 'fleet/a.ts'], ['group/self.ts', 'group/self.ts']]);
    assert.deepEqual(violations(importGraph(tree({ 'fleet/a.ts': ['./b.js'], 'fleet/b.ts': [] }))), []);
  });

  it('reports an upward import, an import between layers of one level, an impure Raft core and a library file importing a tool', () => {
    const found = violations(importGraph(tree({
      'raft/raft.ts': ['../common/errors.js', '../common/scheduler.js'],
      'common/errors.ts': [],
      'common/scheduler.ts': [],
      'group/group.ts': ['../raft/raft.js', '../fleet/router.js'],
      'fleet/router.ts': ['../transport/base.js', '../sim/sim-scheduler.js'],
      'transport/base.ts': ['../storage/log-store.js'],
      'storage/log-store.ts': [],
      'sim/sim-scheduler.ts': ['../storage/log-store.js', '../common/scheduler.js'],
      'host.ts': ['./fleet/router.js', './client/client.js'],
      'client/client.ts': [],
    })));
    assert.deepEqual(found, [
      'up: fleet/router.ts -> sim/sim-scheduler.ts (fleet is below sim)',
      'up: group/group.ts -> fleet/router.ts (group is below fleet)',
      'up: host.ts -> client/client.ts (host is below client)',
      'up: raft/raft.ts -> common/scheduler.ts (raft imports only common/errors.ts, common/assert.ts beside its own files)',
      'up: transport/base.ts -> storage/log-store.ts (transport and storage are on one level)',
    ]);
  });
});
