// How the demo prints: plain lines, ANSI colors only when stdout is a terminal (and NO_COLOR is
// unset), and the placement table: one row per group, one column per host grouped by zone, each
// cell the role of that host's replica, the leader marked with '*'.
import type { HostStatus } from '../host/status.js';

const colorOn = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '';

function paint(code: string): (text: string) => string {
  return (text) => (colorOn ? `\x1b[${code}m${text}\x1b[0m` : text);
}

export const style = {
  bold: paint('1'),
  dim: paint('2'),
  red: paint('31'),
  green: paint('32'),
  yellow: paint('33'),
  cyan: paint('36'),
};

/** Seconds with one decimal, from milliseconds. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export interface TableHost {
  id: string;
  zone: string;
  /** up: its members are shown; down: killed; inactive: drained out of the fleet. */
  state: 'up' | 'down' | 'inactive';
}

export interface TableGroup {
  name: string;
  machine: string;
}

/** The group's leader as the live hosts report it: the leader with the highest term, or null. */
export function leaderOf(group: string, statuses: readonly HostStatus[]): string | null {
  let best: { host: string; term: number } | null = null;
  for (const s of statuses) {
    for (const m of s.members) {
      if (m.group === group && m.role === 'leader' && (best === null || m.term > best.term)) best = { host: s.id, term: m.term };
    }
  }
  return best?.host ?? null;
}

/**
 * The placement table: group, machine, one column per host (sorted by zone, then id) with the
 * role of its replica ('* leader', 'follower', 'learner', '·' for none), and the leader.
 */
export function placementTable(groups: readonly TableGroup[], hosts: readonly TableHost[], statuses: readonly HostStatus[]): string[] {
  const columns = [...hosts].sort((a, b) => (a.zone === b.zone ? (a.id < b.id ? -1 : 1) : a.zone < b.zone ? -1 : 1));
  const byHost = new Map(statuses.map((s) => [s.id, s]));
  const header = ['group', 'machine', ...columns.map((h) => (h.state === 'up' ? h.id : `${h.id} (${h.state})`)), 'leader'];
  const rows = groups.map((g) => {
    const leader = leaderOf(g.name, statuses);
    const cells = columns.map((h) => {
      if (h.state === 'down') return 'down';
      const member = byHost.get(h.id)?.members.find((m) => m.group === g.name);
      if (member === undefined) return '·';
      return member.role === 'leader' && h.id === leader ? '* leader' : member.role;
    });
    return [g.name, g.machine, ...cells, leader ?? 'none'];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number) => text.padEnd(widths[i] ?? 0);
  const gap = '  ';
  // A first header line names each zone over its hosts' columns.
  let zoneLine = pad('', 0) + gap + pad('', 1);
  for (const [i, h] of columns.entries()) {
    const first = columns.findIndex((c) => c.zone === h.zone) === i;
    zoneLine += gap + pad(first ? h.zone : '', i + 2);
  }
  const colorCell = (text: string, i: number): string => {
    const padded = pad(text, i);
    if (text === '* leader') return style.green(style.bold(padded));
    if (text === 'down' || text === 'none') return style.red(padded);
    if (text === '·' || text === 'learner') return style.dim(padded);
    return padded;
  };
  return [
    style.dim(zoneLine.trimEnd()),
    style.bold(header.map(pad).join(gap).trimEnd()),
    ...rows.map((r) => r.map(colorCell).join(gap).trimEnd()),
  ];
}
