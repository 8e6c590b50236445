// `npm run chaos -- [--duration S] [--seed N] [--history FILE] [--groups N] [--clients N]`:
// the real-process fault test (src/chaos/chaos.ts). Prints progress while it runs, then a summary
// and `chaos: PASS` (exit 0), or the violations, the hosts' last log lines and where the logs, data
// and history were kept (exit 1). Exit 2 on bad arguments, 130 when interrupted. The host processes
// are killed however it ends.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeHistory } from '../check/history.js';
import { style } from '../demo/report.js';
import { Chaos, DEFAULT_CHAOS_OPTIONS, type ChaosOptions, type ChaosResult } from './chaos.js';
import { FAULT_KINDS, MAX_OUT } from './faults.js';

const USAGE = `usage: npm run chaos -- [options]
  --duration S    seconds of client operations under faults (default ${DEFAULT_CHAOS_OPTIONS.durationS})
  --seed N        seed of the fault plan and of the clients' choices (default: random, printed)
  --history FILE  write the client history there (JSON lines, DESIGN.md format, keys group/key)
  --groups N      groups (default ${DEFAULT_CHAOS_OPTIONS.groups}, half kv, half counters)
  --clients N     concurrent clients (default ${DEFAULT_CHAOS_OPTIONS.clients})
  --progress S    seconds between progress lines (default ${DEFAULT_CHAOS_OPTIONS.progressS})`;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

class UsageError extends Error {}

function parseArgs(argv: string[]): Omit<ChaosOptions, 'say'> {
  const o: Omit<ChaosOptions, 'say'> = { ...DEFAULT_CHAOS_OPTIONS, seed: Math.floor(Math.random() * 2 ** 31) };
  const integer = (flag: string, text: string | undefined, min: number): number => {
    const n = Number(text);
    if (text === undefined || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} takes an integer of at least ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    i++;
    switch (flag) {
      case '--duration':
        o.durationS = integer(flag, value, 5);
        break;
      case '--seed':
        o.seed = integer(flag, value, 0);
        break;
      case '--history':
        if (value === undefined || value === '') throw new UsageError('--history takes a file name');
        o.historyPath = value;
        break;
      case '--groups':
        o.groups = integer(flag, value, 2);
        break;
      case '--clients':
        o.clients = integer(flag, value, 1);
        break;
      case '--progress':
        o.progressS = integer(flag, value, 1);
        break;
      case '--help':
      case '-h':
        out(USAGE);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  return o;
}

function secondsText(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function summary(r: ChaosResult, seed: number): string[] {
  const t = r.tally;
  const ops = t.ok + t.unknown + t.failed;
  const codes = [...t.byCode].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ');
  const faults = FAULT_KINDS.map((k) => `${k} ${r.faults[k]}`).join(', ');
  const injected = FAULT_KINDS.reduce((n, k) => n + r.faults[k], 0);
  const s = r.stress;
  const stress = `oversize ${s.oversize} (${s.largest} with the largest allowed command), flood ${s.flood}, hog ${s.hog} (at most ${s.maxHogs} on ${availableParallelism()} cores)`;
  const rows: Array<[string, string]> = [
    ['seed', `${seed} (fixes the fault plan and the clients' choices; real processes are not deterministic, so a rerun is not a replay)`],
    ['operations', `${ops} (including ${r.finalReads} final reads of ${r.keys} keys)`],
    ['  ok', String(t.ok)],
    ['  unknown', `${t.unknown} (outcome not known: checked as maybe applied)`],
    ['  failed', `${t.failed} (certainly not applied)`],
    ['  not ok, by code', codes || 'none'],
    ['faults injected', `${injected}: ${faults} (${r.planned} planned, ${r.skipped} skipped: host not serving or ${MAX_OUT} already out)`],
    ['stress faults', `${s.oversize + s.flood + s.hog}: ${stress} (${r.stressPlanned} planned, ${s.skipped} skipped)`],
    ...r.timings.map(([label, ms]): [string, string] => [label, secondsText(ms)]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

async function main(): Promise<number> {
  let options: Omit<ChaosOptions, 'say'>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chaos: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  const chaos = await Chaos.create({ ...options, say: out });
  // Whatever happens to this process, no host process outlives it.
  process.on('exit', () => chaos.killAllNow());
  let interrupting = false;
  const interrupted = (signal: NodeJS.Signals): void => {
    interrupting = true;
    out(style.yellow(`chaos: interrupted (${signal}); killing the host processes and removing ${chaos.dir}`));
    void chaos
      .killAll()
      .then(() => chaos.removeDir())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  out(style.bold(`chaos: ${options.hosts} host processes, ${options.durationS} s of faults, seed ${options.seed}`));
  const result = await chaos.run();
  // Interrupted: the handler kills the hosts, removes the directory and exits; nothing to report.
  if (interrupting) return 130;
  await chaos.killAll();
  out();
  out(style.bold('Summary'));
  for (const line of summary(result, options.seed)) out(line);
  const errors = [...(await chaos.logErrors())].sort((a, b) => b[1] - a[1]);
  out(`  host log errors: ${errors.length === 0 ? 'none' : errors.slice(0, 5).map(([m, n]) => `${n} x ${m}`).join('; ')}`);
  if (options.historyPath !== undefined) out(`  history written to ${options.historyPath}`);
  if (result.ok) {
    await chaos.removeDir();
    out(style.green(style.bold('chaos: PASS')));
    return 0;
  }
  const kept = join(result.dir, 'history.jsonl');
  writeHistory(kept, result.history);
  out();
  for (const v of result.violations) out(style.red(`violation: ${v}`));
  out(style.dim("The hosts' last words:"));
  for (const line of await chaos.diagnose()) out(style.dim(`  ${line}`));
  out(`Logs, data and the history (${kept}) kept in ${result.dir}; rerun with --seed ${options.seed} for the same fault plan`);
  out(style.red(style.bold(`chaos: FAIL (${result.violations.length} violation${result.violations.length === 1 ? '' : 's'})`)));
  return 1;
}

process.exitCode = await main();
