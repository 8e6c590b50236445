// The `flotilla` command's help, version and usage mistakes (main() in-process, and twice from a
// process for the exit code), the message for a TypeScript --machines module that the running
// Node cannot load, and the imports that keep help and --version from loading the host, stores,
// sockets and logger.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { whyNotLoaded } from '../../src/cli/machines.js';
import { main } from '../../src/cli/main.js';
import { FLEET_COMMANDS } from '../../src/cli/usage.js';
import { flotilla, type Run } from './fixtures/flotilla.js';

/** main() with its output captured. */
async function run(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {}, { stdout: { write: (text) => (stdout += text) }, stderr: { write: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

const SUBCOMMANDS = ['host', ...FLEET_COMMANDS];

describe('flotilla help and version', () => {
  it('prints the version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = await run([flag]);
      assert.deepEqual([result.code, result.stdout, result.stderr], [0, `${version}\n`, ''], flag);
    }
  });

  it('prints the overview for help, --help and -h, and with no arguments (exit 2)', async () => {
    const runs = await Promise.all([['help'], ['--help'], ['-h'], []].map((args) => run(args)));
    for (const result of runs) assert.match(result.stdout, /^flotilla: a fleet of Raft groups\n/);
    assert.deepEqual(runs.map((r) => r.code), [0, 0, 0, 2]);
  });

  it("prints one subcommand's usage for help SUB, SUB --help and SUB -h, exit 0", async () => {
    const asked = SUBCOMMANDS.flatMap((sub) => [['help', sub], [sub, '--help'], [sub, '-h']]);
    // Help wins over everything else on the line, before a `--` that ends the flags.
    asked.push(['command', 'orders', '{}', '--host', 'a:1', '--help'], ['status', '--bogus', '-h']);
    const runs = await Promise.all(asked.map((args) => run(args)));
    runs.forEach((result, i) => {
      const args = asked[i]!;
      const sub = args[0] === 'help' ? args[1] : args[0];
      assert.equal(result.code, 0, `flotilla ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^usage: flotilla ${sub} `), `flotilla ${args.join(' ')}`);
      assert.equal(result.stderr, '');
    });
    const status = runs[SUBCOMMANDS.indexOf('status') * 3]!.stdout;
    assert.match(status, /--json/);
    assert.match(status, /--host HOST:PORT/);
  });

  it('refuses unknown commands and flags with exit 2 and a hint', async () => {
    const cases: Array<[string[], string]> = [
      [['nope'], "flotilla: unknown command nope\nrun 'flotilla help' for usage\n"],
      [['help', 'nope'], "flotilla: unknown command nope\nrun 'flotilla help' for usage\n"],
      [['--bogus'], "flotilla: unknown option --bogus\nrun 'flotilla help' for usage\n"],
      [['status', '--bogus'], "flotilla: unknown option --bogus\nrun 'flotilla help status' for usage\n"],
      [['host', '-x'], "flotilla: unknown option -x\nrun 'flotilla help host' for usage\n"],
      [['host', '--id'], "flotilla: Option '--id <value>' argument missing\nrun 'flotilla help host' for usage\n"],
      // After `--` a --help is an argument, and command takes two.
      [['command', 'g', '--', '--help', 'x'], "flotilla: flotilla command takes GROUP JSON, got g --help x\nrun 'flotilla help command' for usage\n"],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((result, i) => {
      const [args, stderr] = cases[i]!;
      assert.deepEqual([result.code, result.stderr], [2, stderr], `flotilla ${args.join(' ')}`);
    });
  });

  it('exits with main()\'s code from a process', async () => {
    const [help, bogus] = await Promise.all([flotilla(['status', '--help']), flotilla(['status', '--bogus'])]);
    assert.deepEqual([help.code, bogus.code], [0, 2]);
    assert.match(help.stdout, /^usage: flotilla status /);
    assert.match(bogus.stderr, /^flotilla: unknown option --bogus\n/);
  });

  it('says how to run a TypeScript machines module where Node cannot', () => {
    const unknownExtension = Object.assign(new TypeError('Unknown file extension ".ts"'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
    assert.match(whyNotLoaded('m.ts', unknownExtension), /^Node v[\d.]+ does not run TypeScript: compile it to \.js, or run on Node >= 22\.18 \(which strips types\), or load a TypeScript loader/);
    assert.match(whyNotLoaded('m.mts', unknownExtension), /does not run TypeScript/);
    assert.equal(whyNotLoaded('m.coffee', unknownExtension), 'Unknown file extension ".ts"');
    assert.equal(whyNotLoaded('m.ts', new Error('boom')), 'boom');
  });

  it('loads nothing but node:fs, errors and usage before a subcommand is chosen', async () => {
    const staticImports = async (file: string) => {
      const text = await readFile(new URL(`../../src/${file}`, import.meta.url), 'utf8');
      return [...text.matchAll(/^import\s(?:[^'"]*?\sfrom\s)?'([^']+)';/gm)].map((m) => m[1]);
    };
    assert.deepEqual(await staticImports('cli/main.ts'), ['node:fs', '../common/errors.js', './usage.js']);
    assert.deepEqual(await staticImports('cli/usage.ts'), []);
    assert.deepEqual(await staticImports('common/errors.ts'), []);
  });
});
