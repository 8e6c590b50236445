import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { isFlotillaError } from '../../src/common/errors.js';
import { murmur3, murmur3Utf8 } from '../../src/fleet/murmur3.js';
import {
  place,
  placementChanges,
  placementScore,
  type HostInfo,
} from '../../src/fleet/placement.js';
import { seededRandom as prng } from '../../src/raft/random.js';

// --- helpers ---------------------------------------------------------------------------------


function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(rand, 0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';

function randomName(rand: () => number, maxLength = 24): string {
  let name = '';
  const length = int(rand, 1, maxLength);
  for (let i = 0; i < length; i++) name += NAME_CHARS[int(rand, 0, NAME_CHARS.length - 1)];
  return name;
}

/** `perZone[i]` hosts in zone `z<i>`, with ids `<zone>-h<j>`. */
function fleet(...perZone: number[]): HostInfo[] {
  return perZone.flatMap((count, z) =>
    Array.from({ length: count }, (_, j) => ({ id: `z${z}-h${j}`, zone: `z${z}` })),
  );
}

/** A random fleet: 1-4 zones of 1-5 hosts, with random (unique) host ids. */
function randomFleet(rand: () => number): HostInfo[] {
  const hosts: HostInfo[] = [];
  const ids = new Set<string>();
  const zones = int(rand, 1, 4);
  for (let z = 0; z < zones; z++) {
    const zone = randomName(rand, 8);
    for (let n = int(rand, 1, 5); n > 0; n--) {
      const id = randomName(rand, 12);
      if (ids.has(id)) continue;
      ids.add(id);
      hosts.push({ id, zone });
    }
  }
  return hosts;
}

function groupNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `group-${i}`);
}

function zoneOf(hosts: readonly HostInfo[], id: string): string {
  const host = hosts.find((h) => h.id === id);
  assert.ok(host, `unknown host ${id}`);
  return host.zone;
}

/**
 * The placement rule restated as a single sort, independently of place(): order hosts by their
 * rank within their zone, then by their zone's best score; take the first `replicas`.
 */
function oracle(group: string, replicas: number, hosts: readonly HostInfo[]): string[] {
  const scored = hosts.map((h) => ({ ...h, score: placementScore(group, h.id) }));
  const better = (a: { id: string; score: number }, b: { id: string; score: number }): boolean =>
    a.score > b.score || (a.score === b.score && a.id < b.id);
  const keyed = scored.map((h) => {
    const zone = scored.filter((o) => o.zone === h.zone);
    const rank = zone.filter((o) => better(o, h)).length;
    const best = zone.find((o) => !zone.some((x) => better(x, o)))!;
    return { id: h.id, rank, best };
  });
  keyed.sort((a, b) => a.rank - b.rank || (better(a.best, b.best) ? -1 : better(b.best, a.best) ? 1 : 0));
  return keyed.slice(0, replicas).map((k) => k.id);
}

// --- murmur3 ---------------------------------------------------------------------------------

describe('murmur3 (MurmurHash3_x86_32)', () => {
  // Published vectors, each also checked against a C build of the SMHasher reference.
  const published: Array<[string, number, number]> = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ];
  // Computed with the C reference over the UTF-8 bytes (1-, 2-, 3- and 4-byte sequences, and
  // every tail length 0-3).
  const computed: Array<[string, number, number]> = [
    ['a', 0, 0x3c2569b2],
    ['ab', 0, 0x9bbfd75f],
    ['abcd', 0, 0x43ed676a],
    ['abcde', 0x2a, 0xaeda2bf0],
    ['ü', 0, 0x7840e6aa],
    ['ü', 0x9747b28c, 0x47aae830],
    ['日本', 0, 0xc4d9f942],
    ['日本', 0x9747b28c, 0x25eca6d2],
    ['🚀', 0, 0x7f675865],
    ['🚀', 0x9747b28c, 0xb0f67d2f],
  ];

  for (const [text, seed, expected] of [...published, ...computed]) {
    it(`${JSON.stringify(text)} seed 0x${seed.toString(16)} = 0x${expected.toString(16)}`, () => {
      assert.equal(murmur3Utf8(text, seed), expected);
      assert.equal(murmur3(Buffer.from(text, 'utf8'), seed), expected);
    });
  }

  it('defaults to seed 0', () => {
    assert.equal(murmur3Utf8('abc'), 0xb3dd93fa);
  });

  it('agrees with murmurhash3js fed the same bytes as a latin1 string (differential)', () => {
    const require = createRequire(import.meta.url);
    const lib = require('murmurhash3js') as { x86: { hash32(key: string, seed?: number): number } };
    const rand = prng(7);
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.from(Array.from({ length: int(rand, 0, 40) }, () => int(rand, 0, 255)));
      const seed = int(rand, 0, 0xffffffff);
      assert.equal(murmur3(bytes, seed), lib.x86.hash32(bytes.toString('latin1'), seed));
    }
  });

  it('hashes non-ASCII text by its UTF-8 bytes, not by the low byte of each code unit', () => {
    // 'Ā' is U+0100: a low-byte hash would see it as '\0'.
    assert.notEqual(murmur3Utf8('Ā'), murmur3Utf8('\0'));
  });
});

// --- place -----------------------------------------------------------------------------------

describe('place', () => {
  it('pins the score function, so placements stay stable across releases', () => {
    assert.equal(placementScore('group-1', 'host-a'), 0xfa2492db);
    assert.equal(placementScore('group-1', 'host-a'), murmur3Utf8('group-1\0host-a'));
  });

  it('takes the best host of every zone before a second host of any zone', () => {
    const hosts = fleet(3, 3, 3);
    const placement = place('orders', 9, hosts);
    const zones = placement.map((id) => zoneOf(hosts, id));
    for (let round = 0; round < 3; round++) {
      assert.equal(new Set(zones.slice(round * 3, round * 3 + 3)).size, 3, `round ${round}: ${zones}`);
    }
    // The first host is the best-scoring host overall: the preferred leader.
    const score = (h: HostInfo): number => placementScore('orders', h.id);
    const best = [...hosts].sort((a, b) => score(b) - score(a))[0];
    assert.equal(placement[0], best?.id);
  });

  it('returns every host when replicas exceed the fleet, and nothing for an empty fleet', () => {
    const hosts = fleet(2, 1);
    assert.deepEqual([...place('g', 5, hosts)].sort(), ['z0-h0', 'z0-h1', 'z1-h0']);
    assert.deepEqual(place('g', 3, []), []);
  });

  it('rejects a bad replica count and duplicated host ids', () => {
    for (const replicas of [0, -1, 1.5, Number.NaN, Infinity]) {
      assert.throws(() => place('g', replicas, fleet(3)), (e) => isFlotillaError(e, 'BAD_ARGUMENT'));
    }
    const twice = [...fleet(2), { id: 'z0-h0', zone: 'elsewhere' }];
    assert.throws(() => place('g', 3, twice), (e) => isFlotillaError(e, 'BAD_ARGUMENT'));
  });

  it('matches the rule restated as one sort (random fleets)', () => {
    const rand = prng(1);
    for (let n = 0; n < 500; n++) {
      const hosts = randomFleet(rand);
      const group = randomName(rand);
      const replicas = int(rand, 1, hosts.length + 2);
      assert.deepEqual(place(group, replicas, hosts), oracle(group, replicas, hosts));
    }
  });

  it('is deterministic and independent of the input order (random fleets)', () => {
    const rand = prng(2);
    for (let n = 0; n < 500; n++) {
      const hosts = randomFleet(rand);
      const group = randomName(rand);
      const replicas = int(rand, 1, hosts.length + 2);
      const expected = place(group, replicas, hosts);
      assert.deepEqual(place(group, replicas, hosts), expected);
      for (let k = 0; k < 3; k++) assert.deepEqual(place(group, replicas, shuffled(hosts, rand)), expected);
    }
  });

  it('returns min(replicas, hosts) distinct known hosts (random fleets)', () => {
    const rand = prng(3);
    for (let n = 0; n < 500; n++) {
      const hosts = randomFleet(rand);
      const replicas = int(rand, 1, hosts.length + 2);
      const placement = place(randomName(rand), replicas, hosts);
      assert.equal(placement.length, Math.min(replicas, hosts.length));
      assert.equal(new Set(placement).size, placement.length);
      for (const id of placement) assert.ok(hosts.some((h) => h.id === id));
    }
  });

  it('spreads replicas over zones (random fleets)', () => {
    const rand = prng(4);
    for (let n = 0; n < 500; n++) {
      const hosts = randomFleet(rand);
      const zoneSizes = new Map<string, number>();
      for (const h of hosts) zoneSizes.set(h.zone, (zoneSizes.get(h.zone) ?? 0) + 1);
      const zoneCount = zoneSizes.size;
      const replicas = int(rand, 1, hosts.length + 2);
      const placement = place(randomName(rand), replicas, hosts);

      const used = new Map<string, number>();
      for (const id of placement) used.set(zoneOf(hosts, id), (used.get(zoneOf(hosts, id)) ?? 0) + 1);
      if (replicas >= zoneCount) assert.equal(used.size, zoneCount, 'every zone gets a member');
      if (replicas <= zoneCount) assert.equal(used.size, placement.length, 'no zone twice');
      // In general: a zone holds two more members than another only if that other is exhausted.
      for (const [a, sizeA] of zoneSizes) {
        for (const [b, sizeB] of zoneSizes) {
          const usedA = used.get(a) ?? 0;
          const usedB = used.get(b) ?? 0;
          if (usedA > usedB + 1) {
            assert.equal(usedB, sizeB, `${a} (${usedA}/${sizeA}) vs ${b} (${usedB}/${sizeB})`);
          }
        }
      }
    }
  });

  it('balances leaders and members: 10,000 groups on 10 hosts in 2 zones', () => {
    const hosts = fleet(5, 5);
    const leaders = new Map<string, number>();
    const members = new Map<string, number>();
    const groups = 10_000;
    const replicas = 3;
    for (const group of groupNames(groups)) {
      const placement = place(group, replicas, hosts);
      leaders.set(placement[0]!, (leaders.get(placement[0]!) ?? 0) + 1);
      for (const id of placement) members.set(id, (members.get(id) ?? 0) + 1);
    }
    const leaderMean = groups / hosts.length;
    const memberMean = (groups * replicas) / hosts.length;
    for (const { id } of hosts) {
      const l = leaders.get(id) ?? 0;
      const m = members.get(id) ?? 0;
      assert.ok(Math.abs(l - leaderMean) <= 0.25 * leaderMean, `${id} leads ${l} groups, mean ${leaderMean}`);
      assert.ok(Math.abs(m - memberMean) <= 0.1 * memberMean, `${id} holds ${m} members, mean ${memberMean}`);
    }
  });
});

// --- movement --------------------------------------------------------------------------------

describe('placement changes when the fleet changes', () => {
  const GROUPS = 2000;
  // Binomial standard deviation at these sizes is under 5% of the expected count; 15% is > 3σ.
  const TOLERANCE = 0.15;

  interface Move {
    readonly before: HostInfo[];
    readonly after: HostInfo[];
    /** The one host that is in exactly one of `before` and `after`. */
    readonly host: string;
    readonly replicas: number;
    readonly expectedFraction: number;
  }

  // Adding a host must move exactly the groups now placed on it, removing one exactly the groups
  // that were on it, each by one member; and about `expectedFraction` of all groups move.
  function checkMove(name: string, { before, after, host, replicas, expectedFraction }: Move): void {
    it(name, () => {
      const adding = after.some((h) => h.id === host);
      const withHost = adding ? after : before;
      const groups = groupNames(GROUPS).map((g) => ({ name: g, replicas }));
      const changes = placementChanges({ groups, hosts: before }, { groups, hosts: after });

      const touched = groups.filter((g) => place(g.name, replicas, withHost).includes(host));
      assert.deepEqual(changes.map((c) => c.group).sort(), touched.map((g) => g.name).sort());
      for (const c of changes) {
        assert.deepEqual(adding ? c.added : c.removed, [host], c.group);
        assert.equal((adding ? c.removed : c.added).length, 1, `${c.group}: one member swapped`);
      }
      const expected = expectedFraction * GROUPS;
      assert.ok(
        Math.abs(changes.length - expected) <= TOLERANCE * expected,
        `${changes.length} groups moved, expected about ${expected}`,
      );
    });
  }

  const without = (hosts: HostInfo[], id: string): HostInfo[] => hosts.filter((h) => h.id !== id);

  // With balanced zones a host holds replicas/hosts of all groups, so that is what moves.
  checkMove('adding an 11th host to one zone moves about 3/11 of the groups', {
    before: without(fleet(11), 'z0-h10'), after: fleet(11), host: 'z0-h10', replicas: 3, expectedFraction: 3 / 11,
  });
  checkMove('adding a host to balance zones 4+4+3 moves about 3/12 (replicas 3)', {
    before: fleet(4, 4, 3), after: fleet(4, 4, 4), host: 'z2-h3', replicas: 3, expectedFraction: 3 / 12,
  });
  checkMove('adding a host to balance zones 4+4+3 moves about 5/12 (replicas 5)', {
    before: fleet(4, 4, 3), after: fleet(4, 4, 4), host: 'z2-h3', replicas: 5, expectedFraction: 5 / 12,
  });
  checkMove('removing one of 11 hosts in one zone moves about 3/11', {
    before: fleet(11), after: without(fleet(11), 'z0-h4'), host: 'z0-h4', replicas: 3, expectedFraction: 3 / 11,
  });
  checkMove('removing one of 4+4+4 hosts moves about 3/12 (replicas 3)', {
    before: fleet(4, 4, 4), after: without(fleet(4, 4, 4), 'z1-h2'), host: 'z1-h2',
    replicas: 3, expectedFraction: 3 / 12,
  });
  checkMove('removing one of 4+4+4 hosts moves about 5/12 (replicas 5)', {
    before: fleet(4, 4, 4), after: without(fleet(4, 4, 4), 'z1-h2'), host: 'z1-h2',
    replicas: 5, expectedFraction: 5 / 12,
  });
  // Zone spread wins over minimal movement: the only host of a new zone joins every group.
  checkMove('adding the first host of a third zone moves every group', {
    before: fleet(4, 4), after: fleet(4, 4, 1), host: 'z2-h0', replicas: 3, expectedFraction: 1,
  });

  it('adding or removing one host moves only the groups hashing says must move (random fleets)', () => {
    const rand = prng(5);
    for (let n = 0; n < 200; n++) {
      const hosts = randomFleet(rand);
      const zones = [...new Set(hosts.map((h) => h.zone))];
      const zone = rand() < 0.2 ? 'new-zone' : zones[int(rand, 0, zones.length - 1)]!;
      const newcomer = { id: `new-${n}`, zone };
      const bigger = [...hosts, newcomer];
      const groups = Array.from({ length: 30 }, () => ({
        name: randomName(rand),
        replicas: int(rand, 1, 5),
      }));

      for (const c of placementChanges({ groups, hosts }, { groups, hosts: bigger })) {
        assert.deepEqual(c.added, [newcomer.id], `${c.group} gained ${c.added}`);
        assert.ok(c.removed.length <= 1, `${c.group} lost ${c.removed}`);
      }
      for (const c of placementChanges({ groups, hosts: bigger }, { groups, hosts })) {
        assert.deepEqual(c.removed, [newcomer.id], `${c.group} lost ${c.removed}`);
        assert.ok(c.added.length <= 1, `${c.group} gained ${c.added}`);
      }
    }
  });
});

describe('placementChanges', () => {
  const hosts = fleet(3, 3);

  it('reports nothing when nothing changes, even with hosts listed in another order', () => {
    const groups = groupNames(50).map((name) => ({ name, replicas: 3 }));
    assert.deepEqual(placementChanges({ groups, hosts }, { groups, hosts: [...hosts].reverse() }), []);
  });

  it('reports created and dropped groups, and replica count changes, sorted by group', () => {
    const before = { groups: [{ name: 'b', replicas: 3 }, { name: 'c', replicas: 3 }], hosts };
    const after = { groups: [{ name: 'a', replicas: 3 }, { name: 'b', replicas: 5 }], hosts };
    const changes = placementChanges(before, after);
    assert.deepEqual(changes.map((c) => c.group), ['a', 'b', 'c']);

    const [created, grown, dropped] = changes;
    assert.deepEqual(created?.before, []);
    assert.deepEqual(created?.added, [...place('a', 3, hosts)].sort());
    assert.deepEqual(grown?.removed, []);
    assert.equal(grown?.added.length, 2);
    assert.deepEqual(dropped?.after, []);
    assert.deepEqual(dropped?.removed, [...place('c', 3, hosts)].sort());
  });
});
