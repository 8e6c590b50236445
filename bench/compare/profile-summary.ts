// Summarizes V8 CPU profiles (from `npm run bench -- --cpu-prof DIR`): self time by function and
// by file, busiest first, over every profile given (all hosts together).
//
//   node --import tsx bench/compare/profile-summary.ts DIR/*.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';
import { frameFile, frameName, type Profile } from './cpu-profile-format.js';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 30;
const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) return;
    const where = frameFile(frame);
    const fn = frameName(frame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    const area = where === '' ? frame.functionName : where.replace(/^(node_modules\/[^/]+).*/, '$1');
    byFile.set(area, (byFile.get(area) ?? 0) + dt);
    total += dt;
  });
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (${(total / 1e6).toFixed(1)} s sampled over ${files.length} profiles)`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
};
show('self time by file', byFile);
show('self time by function', byFunction);
