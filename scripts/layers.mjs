// The layer check (issue 15): reads the imports of every file under src/ (static `import`/`export
// ... from`, and `import('...')` of a literal) and reports import cycles between files and imports
// that go up the layer table below. test/architecture/layers.test.ts runs it against the known
// violations it tolerates; `node scripts/layers.mjs` prints every violation it finds.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The layers, bottom first; a file may import its own layer and the levels below its own. Layers
 * on one level do not import each other. `host` is src/host.ts or src/host/, `index` src/index.ts.
 * check (the history checker) ships: index.ts exports it. The tools at the top (simulations, demo,
 * chaos) may import the library; no library file imports a tool.
 */
export const LAYERS = [
  ['common'],
  ['raft', 'check'],
  ['storage', 'transport'],
  ['group'],
  ['loop'],
  ['fleet'],
  ['host'],
  ['client', 'admin'],
  ['cli'],
  ['index'],
  ['sim'],
  ['demo'],
  ['chaos'],
];

/** Layers held to a narrower rule: the files (a folder ends in /) outside their own that they may import. */
export const ONLY = {
  // The Raft core is pure: no clock, timers or I/O, so not even the Scheduler.
  raft: ['common/errors.ts', 'common/assert.ts'],
};

/** The layer of a file, by its path under src/ ('fleet/router.ts' is in fleet). */
export function layerOf(file) {
  if (file === 'host.ts' || file.startsWith('host/')) return 'host';
  if (file === 'index.ts') return 'index';
  return file.split('/')[0];
}

/** `text` with its comments blanked out (strings, templates and regular expressions kept). */
export function stripComments(text) {
  let out = '';
  let i = 0;
  /** The last significant character of code: tells a regular expression from a division. */
  let last = '';
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`' || (c === '/' && startsRegex(last, out))) {
      const end = literalEnd(text, i);
      out += text.slice(i, end);
      last = c;
      i = end;
    } else {
      out += c;
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return out;
}

/** Whether a `/` after code ending in `last` (and `before`, the code so far) opens a regular expression. */
function startsRegex(last, before) {
  return last === '' || '(,=:[!&|?{};+-*%<>~^'.includes(last) || /\b(return|typeof|case|in|of)\s*$/.test(before);
}

/** The index just past the string, template or regular expression that opens at `start`. */
function literalEnd(text, start) {
  const quote = text[start];
  let inClass = false;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (quote === '/' && c === '[') inClass = true;
    else if (quote === '/' && c === ']') inClass = false;
    else if (c === quote && !inClass) return i + 1;
    else if (c === '\n' && quote !== '`') return i;
  }
  return text.length;
}

const STATIC_IMPORT = /(?:^|[;}\n])\s*(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]*?\s*from\s*)?(['"])([^'"\n]+)\1/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** The module specifiers a source file imports, in order of appearance (static ones first). */
export function importsOf(text) {
  const code = stripComments(text);
  return [...code.matchAll(STATIC_IMPORT), ...code.matchAll(DYNAMIC_IMPORT)].map((m) => m[2]);
}

/**
 * Each file's imports of other files of the tree, as paths in it: relative specifiers only (the
 * rest are packages and Node's own), `x.js` meaning x.ts when the tree has that.
 * @param {Map<string, string>} files source text by path under src/ ('/'-separated)
 * @returns {Map<string, string[]>}
 */
export function importGraph(files) {
  const graph = new Map();
  for (const [file, text] of files) {
    const targets = importsOf(text)
      .filter((spec) => spec.startsWith('./') || spec.startsWith('../'))
      .map((spec) => {
        const path = posix.normalize(posix.join(posix.dirname(file), spec));
        const ts = path.replace(/\.js$/, '.ts');
        return files.has(ts) ? ts : path;
      });
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import cycles: one per strongly connected set of files, as a path from its first file (by
 * name) back to itself along the fewest imports.
 * @param {Map<string, string[]>} graph
 * @returns {string[][]}
 */
export function cycles(graph) {
  return stronglyConnected(graph)
    .filter((set) => set.length > 1 || (graph.get(set[0]) ?? []).includes(set[0]))
    .map((set) => shortestLoop(graph, set.sort()[0], new Set(set)));
}

/** Tarjan's strongly connected components of `graph`. */
function stronglyConnected(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const visit = (v) => {
    index.set(v, index.size);
    low.set(v, index.get(v));
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const set = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      set.push(w);
    } while (w !== v);
    out.push(set);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** The shortest path from `start` back to itself through the files of `within` (breadth first). */
function shortestLoop(graph, start, within) {
  const cameFrom = new Map();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head];
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = cameFrom.get(at)) path.unshift(at);
        return [start, ...path];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/**
 * Why the import of `to` by `from` breaks the layer table, or null if it does not.
 * @returns {string | null}
 */
export function layerRuleBroken(from, to, layers = LAYERS, only = ONLY) {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === b) return null;
  const allowed = only[a];
  if (allowed !== undefined && !allowed.some((f) => (f.endsWith('/') ? to.startsWith(f) : to === f))) {
    return `${a} imports only ${allowed.join(', ')} beside its own files`;
  }
  const level = (layer) => layers.findIndex((names) => names.includes(layer));
  if (level(a) === -1) return `${a} is in no layer`;
  if (level(b) === -1) return `${b} is in no layer`;
  if (level(a) === level(b)) return `${a} and ${b} are on one level`;
  if (level(a) < level(b)) return `${a} is below ${b}`;
  return null;
}

/**
 * Every violation, one line each: `cycle: a -> b -> a` or `up: a -> b (why)`.
 * @param {Map<string, string[]>} graph
 * @returns {string[]}
 */
export function violations(graph, layers = LAYERS, only = ONLY) {
  const out = cycles(graph).map((path) => `cycle: ${path.join(' -> ')}`);
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const why = layerRuleBroken(from, to, layers, only);
      if (why !== null) out.push(`up: ${from} -> ${to} (${why})`);
    }
  }
  return out.sort();
}

/** The .ts, .js and .mjs files under `dir` (declaration files aside), by path under it. */
export function readTree(dir) {
  const files = new Map();
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) files.set(relative(dir, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

/** src/ of this checkout. */
export const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const found = violations(importGraph(readTree(SRC)));
  for (const line of found) console.log(line);
  console.log(`${found.length} violation(s) of the layers in ${relative(process.cwd(), SRC) || '.'}`);
  process.exitCode = found.length === 0 ? 0 : 1;
}
