import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedMap } from '../../src/storage/sorted-map.js';
import { seededRandom as prng } from '../../src/raft/random.js';


describe('SortedMap', () => {
  it('matches a sorted-array model under random sets, deletes and ranges', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = prng(seed);
      // Short keys over a tiny alphabet hit shared prefixes, keys shorter than the bucket prefix,
      // and keys deleted and set again.
      const randomKey = (): string => {
        const length = Math.floor(random() * 6);
        let key = '';
        for (let i = 0; i < length; i++) key += 'ab\u0000\u00ff'[Math.floor(random() * 4)];
        return key;
      };
      const map = new SortedMap<number>(3);
      const model = new Map<string, number>();
      for (let step = 0; step < 2000; step++) {
        const key = randomKey();
        if (random() < 0.4) {
          map.delete(key);
          model.delete(key);
        } else {
          map.set(key, step);
          model.set(key, step);
        }
        if (step % 10 !== 0) continue;
        let [gte, lt] = [randomKey(), randomKey()];
        if (gte > lt) [gte, lt] = [lt, gte];
        const expected = [...model.entries()].filter(([k]) => k >= gte && k < lt).sort(([a], [b]) => (a < b ? -1 : 1));
        assert.deepEqual([...map.range(gte, lt)], expected, `seed ${seed} step ${step} [${gte}, ${lt})`);
        assert.deepEqual([...map.range(gte, lt, true)], expected.reverse(), `seed ${seed} step ${step} reversed`);
        assert.equal(map.size, model.size);
        assert.equal(map.get(key), model.get(key));
      }
    }
  });

  it('deletes a long prefix of appended keys in linear time', () => {
    const map = new SortedMap<number>(2);
    const key = (i: number): string => `g:${String(i).padStart(8, '0')}`;
    const n = 100_000;
    for (let i = 0; i < n; i++) map.set(key(i), i);
    const started = performance.now();
    for (let i = 0; i < n - 10; i++) map.delete(key(i));
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual([...map.range('', '\u00ff')].map(([, v]) => v), [99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999]);
  });
});
