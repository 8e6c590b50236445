import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { decodeLogCommand, encodeLogCommand } from '../../src/group/entry-format.js';
import { SessionTable, checkSession, type SavedOutcome, type Session } from '../../src/group/sessions.js';
import { decodeGroupSnapshot, encodeGroupSnapshot } from '../../src/group/snapshot-format.js';
import { Prng } from '../transport/fixtures/prng.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const ok = (reply: string): SavedOutcome => ({ ok: true, reply: bytes(reply) });

/** Applies a session command as the group does: check, and record an outcome if it runs. */
function apply(table: SessionTable, session: Session): string {
  const verdict = table.check(session);
  if (verdict.kind === 'run') table.record(session, ok(`${session.clientId}:${session.seq}`));
  return verdict.kind;
}

describe('session table', () => {
  it('answers a repeated seq from its cache and runs each seq once', () => {
    const table = new SessionTable(10, 10);
    const s = { clientId: 'c', seq: 1, ackedBelow: 1 };
    assert.equal(apply(table, s), 'run');
    assert.deepEqual(table.check(s), { kind: 'cached', outcome: ok('c:1') });
    table.record({ clientId: 'c', seq: 2, ackedBelow: 1 }, { ok: false, error: 'boom' });
    assert.deepEqual(table.check({ clientId: 'c', seq: 2, ackedBelow: 1 }), { kind: 'cached', outcome: { ok: false, error: 'boom' } });
  });

  it('discards replies below ackedBelow; their seqs become stale, later ones still run', () => {
    const table = new SessionTable(10, 10);
    for (let seq = 1; seq <= 4; seq++) apply(table, { clientId: 'c', seq, ackedBelow: 1 });
    assert.equal(apply(table, { clientId: 'c', seq: 5, ackedBelow: 3 }), 'run');
    assert.equal(apply(table, { clientId: 'c', seq: 2, ackedBelow: 2 }), 'stale');
    assert.equal(apply(table, { clientId: 'c', seq: 3, ackedBelow: 3 }), 'cached');
    // A lower ackedBelow later (a reordered retry) does not bring discarded replies back.
    assert.equal(apply(table, { clientId: 'c', seq: 1, ackedBelow: 0 }), 'stale');
  });

  it('keeps at most maxRepliesPerSession replies, dropping the oldest', () => {
    const table = new SessionTable(10, 3);
    for (let seq = 1; seq <= 5; seq++) apply(table, { clientId: 'c', seq, ackedBelow: 0 });
    assert.equal(apply(table, { clientId: 'c', seq: 2, ackedBelow: 0 }), 'stale');
    for (const seq of [3, 4, 5]) assert.equal(apply(table, { clientId: 'c', seq, ackedBelow: 0 }), 'cached');
  });

  it('never forgets an awaited reply while the client keeps its seqs within maxRepliesPerSession of ackedBelow, however commands overtake each other', () => {
    // The client's rule (fleet/client-sessions.ts): a seq is handed out only while fewer than the
    // span lie between it and the lowest unanswered one. Trimming the reply applied longest ago
    // instead of the lowest seq made an overtaken command stale: a 20,000-command burst through
    // Host.command was refused BAD_ARGUMENT "stale session sequence" hundreds of times.
    const SPAN = 8;
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Prng(seed);
      const table = new SessionTable(4, SPAN);
      const unanswered = new Set<number>();
      /** Seqs sent and not yet applied, each with the ackedBelow it was sent with. */
      const inLog: Array<{ seq: number; ackedBelow: number; applied: boolean }> = [];
      let next = 1;
      const low = (): number => Math.min(next, ...unanswered);
      for (let step = 0; step < 400; step++) {
        if (next - low() < SPAN && rng.next() < 0.5) {
          unanswered.add(next);
          inLog.push({ seq: next, ackedBelow: low(), applied: false });
          next++;
          continue;
        }
        if (inLog.length === 0) continue;
        // Any sent command may apply next: the log orders them as their proposals arrived.
        const at = rng.int(inLog.length);
        const sent = inLog[at]!;
        const verdict = apply(table, { clientId: 'c', seq: sent.seq, ackedBelow: sent.ackedBelow });
        assert.equal(verdict, sent.applied ? 'cached' : 'run', `seed ${seed}, step ${step}: seq ${sent.seq}`);
        // An attempt that was applied may be retried (its answer was lost) until the client hears it.
        if (!sent.applied && rng.next() < 0.2) {
          inLog[at] = { seq: sent.seq, ackedBelow: low(), applied: true };
        } else {
          inLog.splice(at, 1);
          unanswered.delete(sent.seq);
        }
      }
    }
  });

  it('evicts the least recently used client beyond maxSessions', () => {
    const table = new SessionTable(2, 10);
    apply(table, { clientId: 'a', seq: 1, ackedBelow: 0 });
    apply(table, { clientId: 'b', seq: 1, ackedBelow: 0 });
    apply(table, { clientId: 'a', seq: 2, ackedBelow: 0 }); // a is now more recent than b
    apply(table, { clientId: 'c', seq: 1, ackedBelow: 0 }); // evicts b
    assert.equal(table.size, 2);
    assert.equal(apply(table, { clientId: 'a', seq: 1, ackedBelow: 0 }), 'cached');
    // b is forgotten: its seq is new to the table again.
    assert.equal(apply(table, { clientId: 'b', seq: 1, ackedBelow: 0 }), 'run');
  });

  it('ends in identical tables on replicas given the same log, and survives encode/restore', () => {
    const replicas = [new SessionTable(3, 4), new SessionTable(3, 4)];
    const log: Session[] = [];
    const next = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      // Two busy clients and three occasional ones over three sessions, with retries of older seqs.
      const clientId = `client-${[0, 1, 0, 1, 2, 0, 1, 3, 0, 1, 4][i % 11]}`;
      const latest = (next.get(clientId) ?? 0) + 1;
      next.set(clientId, latest);
      const seq = i % 3 === 0 ? Math.max(0, latest - 1 - (i % 7)) : latest;
      log.push({ clientId, seq, ackedBelow: Math.max(0, Math.min(seq, latest - 4)) });
    }
    const verdicts = replicas.map((table) => log.map((s) => apply(table, s)));
    assert.deepEqual(verdicts[0], verdicts[1]);
    const [first, second] = replicas.map((t) => t.encode());
    assert.deepEqual(first, second);
    for (const kind of ['run', 'cached', 'stale']) assert.ok(verdicts[0]?.includes(kind), `the log gave a ${kind} verdict`);

    const restored = new SessionTable(3, 4);
    restored.restore(first ?? new Uint8Array());
    assert.deepEqual(restored.encode(), first);
    // The restored table also keeps the LRU order: the same next commands give the same verdicts.
    const more: Session[] = [
      { clientId: 'new-1', seq: 1, ackedBelow: 0 },
      { clientId: 'new-2', seq: 1, ackedBelow: 0 },
      ...log.slice(-6),
    ];
    const original = replicas[0]!;
    assert.deepEqual(
      more.map((s) => apply(restored, s)),
      more.map((s) => apply(original, s)),
    );
    assert.throws(() => restored.restore(Uint8Array.of(0, 0, 0, 1, 0)));
  });

  it('validates sessions', () => {
    checkSession({ clientId: 'c', seq: 0, ackedBelow: 0 });
    for (const bad of [
      { clientId: '', seq: 1, ackedBelow: 0 },
      { clientId: 'c'.repeat(1025), seq: 1, ackedBelow: 0 },
      { clientId: 'c', seq: -1, ackedBelow: 0 },
      { clientId: 'c', seq: 1.5, ackedBelow: 0 },
      { clientId: 'c', seq: 1, ackedBelow: 2 },
    ]) {
      assert.throws(() => checkSession(bad), (err: unknown) => isFlotillaError(err, 'BAD_ARGUMENT'), JSON.stringify(bad));
    }
  });
});

describe('group formats', () => {
  it('round-trips plain and session log commands', () => {
    const payload = bytes('{"op":"x"}');
    assert.deepEqual(decodeLogCommand(encodeLogCommand(payload, null)), { payload, session: null });
    const session = { clientId: 'clïent', seq: 2 ** 40, ackedBelow: 2 ** 40 - 3 };
    assert.deepEqual(decodeLogCommand(encodeLogCommand(payload, session)), { payload, session });
    assert.deepEqual(decodeLogCommand(encodeLogCommand(new Uint8Array(0), session)).payload, new Uint8Array(0));
    assert.throws(() => decodeLogCommand(bytes('{"op":"x"}')), /unknown log entry format/);
    assert.throws(() => decodeLogCommand(Uint8Array.of(2, 0, 5, 1)), /truncated/);
  });

  it('round-trips the group snapshot envelope', () => {
    const snap = { sessions: Uint8Array.of(1, 2, 3), machine: bytes('state') };
    assert.deepEqual(decodeGroupSnapshot(encodeGroupSnapshot(snap)), snap);
    assert.throws(() => decodeGroupSnapshot(bytes('state')), /unknown group snapshot format/);
  });
});
