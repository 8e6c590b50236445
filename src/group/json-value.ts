// The bounds on JSON values at a group's door: what a client hands to `command` or `query`, and
// what a machine replies. JSON.stringify refuses some values with a raw TypeError (a BigInt, a
// cycle) or overflows the stack on a deep one (RangeError, around 5,000 levels in V8); JSON.parse
// accepts any depth, and a value far deeper than anything real then reaches the machine, its
// snapshot (whose JSON.stringify throws, issue 14) and whatever code recurses over it.
//
// MAX_JSON_DEPTH is 64 levels of arrays and objects: real documents nest far less (GeoJSON about 6,
// a Kubernetes manifest about 15), and 64 is far from every stack limit on the way: JSON.stringify
// overflows near 5,000 levels, structuredClone near 3,500, a plain recursive function near 15,000
// (Node 22, default stack), so user code may spend 50 frames per level and still have room. A
// bound also keeps a machine deterministic: a stack overflow's depth depends on the stack left
// when it runs, which differs between replicas, so a command that overflows on one replica could
// succeed on another.

import { FlotillaError } from '../common/errors.js';

/** Arrays and objects nested at most this deep in a command, query or reply. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * The JSON text of `value` (`what` names it in errors: "the command"). BAD_ARGUMENT, with what is
 * wrong, where JSON has no encoding: undefined, a function or a symbol at the top (nested ones are
 * left out as JSON does), a BigInt, a cycle, a value too deep for JSON.stringify, a throwing toJSON.
 */
export function toJsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new FlotillaError('BAD_ARGUMENT', `${what} has no JSON encoding: ${stringifyFailure(err)}`);
  }
  // JSON.stringify gives undefined for these: there would be nothing to send or put in the log.
  if (text === undefined) throw new FlotillaError('BAD_ARGUMENT', `${what} has no JSON encoding: it is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`);
  return text;
}

function stringifyFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError && /call stack/i.test(message)) return `it is nested too deeply (more than maxJsonDepth, ${MAX_JSON_DEPTH} levels, is refused)`;
  if (err instanceof TypeError && /BigInt/i.test(message)) return 'it holds a BigInt (send it as a string or a number)';
  if (err instanceof TypeError && /circular/i.test(message)) return 'it is circular (an object contains itself)';
  return message;
}

/**
 * BAD_ARGUMENT if the JSON text in `bytes` (UTF-8) nests arrays and objects deeper than
 * MAX_JSON_DEPTH. One pass over the bytes counting brackets outside strings, no allocation, and
 * none at all for text too short to be that deep. Not a JSON validator: malformed text is left
 * to the parser.
 */
export function checkJsonDepth(bytes: Uint8Array, what: string): void {
  // Deeper than the limit takes more opening brackets than that, and as many closing ones.
  if (bytes.length <= 2 * MAX_JSON_DEPTH) return;
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // UTF-8 continuation bytes are all >= 0x80, so a byte equal to '"' or '\' is that character.
      for (i++; i < n; i++) {
        const s = bytes[i]!;
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new FlotillaError('BAD_ARGUMENT', `${what} is nested more than maxJsonDepth (${MAX_JSON_DEPTH} levels of arrays and objects) deep`, {
          limitName: 'maxJsonDepth',
          limit: MAX_JSON_DEPTH,
        });
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
}
