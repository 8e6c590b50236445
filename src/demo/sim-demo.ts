// `npm run demo:sim`: one Raft group of simulated members under every fault the simulation knows
// (crashes, pauses, partitions, lossy links, membership changes, leadership transfers, snapshots),
// narrated, then checked. Exits 0 only if every check passed.

import { runSeed } from '../sim/raft-sim.js';

const seed = Number(process.argv[2] ?? 2026);
console.log(`flotilla demo: one simulated Raft group, seed ${seed}, every fault on\n`);
const r = runSeed(seed);
const interesting = /leads term|crash|restart|pause|resume|partition|heal|proposes|transfers|faults stop|VIOLATION/;
for (const line of r.trace.filter((l) => interesting.test(l))) console.log(line);
const s = r.stats;
console.log(`
${s.ops} client operations (${s.okOps} acknowledged), ${s.elections} terms with a leader, ${s.messages} messages,
${(s.virtualMs / 1000).toFixed(1)} s of virtual time.
Checked: one leader per term, matching logs, leader completeness, identical applied entries,
every operation succeeding once faults stopped, replicas converged, history linearizable.`);
if (r.ok) {
  console.log('\ndemo: PASS');
} else {
  console.log(`\ndemo: FAIL\n${r.violations.join('\n')}`);
  process.exitCode = 1;
}
