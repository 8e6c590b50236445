// Finds the stretches in which a host's event loop never went idle (from `npm run bench --
// --cpu-prof DIR`) and says what ran in each: the longest busy stretches of every profile, with the
// wall-clock time they started (to line up with the hosts' logs) and the functions that held most
// of their samples, inclusive (a function counted once per sample it is on the stack of).
//
//   node --import tsx bench/compare/profile-stalls.ts DIR/*.cpuprofile [--min-ms 200] [--top 12]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { frameName, type Profile } from './cpu-profile-format.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const minMs = option('--min-ms', 200);
const top = option('--top', 12);
const frames = option('--frames', 8);
const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stack = (id: number): string[] => {
    const names: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) names.push(frameName(byId.get(at)!.callFrame));
    return names;
  };
  const wallOf = (profilerUs: number): string => {
    const clock = profile.flotillaClock;
    if (clock === undefined) return `+${((profilerUs - profile.startTime) / 1e6).toFixed(3)} s`;
    return new Date(clock.wallMs + (profilerUs - clock.profilerUs) / 1000).toISOString().slice(11, 23);
  };

  // Busy stretches: consecutive samples none of which is (idle).
  const stretches: Array<{ startUs: number; endUs: number; samples: number[] }> = [];
  let t = profile.startTime;
  let current: { startUs: number; endUs: number; samples: number[] } | null = null;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    const idle = byId.get(id)?.callFrame.functionName === '(idle)';
    if (idle) {
      if (current !== null && current.endUs - current.startUs >= minMs * 1000) stretches.push(current);
      current = null;
      return;
    }
    if (current === null) current = { startUs: t, endUs: t, samples: [] };
    current.endUs = t;
    current.samples.push(id);
  });
  stretches.sort((a, b) => b.endUs - b.startUs - (a.endUs - a.startUs));
  console.log(`\n${basename(file)}: ${stretches.length} busy stretches of at least ${minMs} ms`);
  for (const s of stretches.slice(0, top)) {
    const inclusive = new Map<string, number>();
    for (const id of s.samples) for (const name of new Set(stack(id))) inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
    const shown = [...inclusive]
      .filter(([name]) => name.includes('src/') || name.startsWith('(garbage'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, frames)
      .map(([name, n]) => `    ${((n / s.samples.length) * 100).toFixed(0).padStart(3)}%  ${name}`);
    console.log(`  ${wallOf(s.startUs)}  ${((s.endUs - s.startUs) / 1000).toFixed(0)} ms busy\n${shown.join('\n')}`);
  }
}
