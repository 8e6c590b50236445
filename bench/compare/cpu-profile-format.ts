// What profile-summary.ts and profile-stalls.ts read of a V8 .cpuprofile (cpu-profile.mjs writes
// them), and how both name a frame.

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
  /** Written by cpu-profile.mjs: Date.now() and the profiler's clock (µs) at one moment. */
  flotillaClock?: { wallMs: number; profilerUs: number };
}

/** Where a frame's code is, from src/, bench/ or node_modules/ on ('' for native code). */
export function frameFile(frame: ProfileNode['callFrame']): string {
  return frame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/');
}

/** `function file:line`, or the function alone for native code. */
export function frameName(frame: ProfileNode['callFrame']): string {
  const where = frameFile(frame);
  return `${frame.functionName || '(anonymous)'} ${where === '' ? '' : `${where}:${frame.lineNumber + 1}`}`.trim();
}
