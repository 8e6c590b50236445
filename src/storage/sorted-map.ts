// An ordered string-keyed map for the memory engine, fast for the store's access pattern: keys
// share a fixed-length prefix per group and record kind, and new log keys land at the end of
// their prefix. Keys are grouped into buckets by their first `prefixLength` characters; buckets
// are kept in a sorted list, and each bucket keeps its keys sorted. Deleted keys stay in their
// bucket's list until half of it is stale, so compacting a long log prefix costs O(n), not O(n^2).
//
// Ordering across buckets is sound: a key is never below its bucket name, and a bucket name
// shorter than prefixLength is a whole key that is a prefix of the keys of any later bucket.

export class SortedMap<V> {
  private readonly values = new Map<string, V>();
  private readonly buckets = new Map<string, Bucket>();
  /** Bucket names in order. */
  private readonly names: string[] = [];

  constructor(private readonly prefixLength: number) {}

  get size(): number {
    return this.values.size;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  set(key: string, value: V): void {
    if (!this.values.has(key)) this.insertKey(key);
    this.values.set(key, value);
  }

  delete(key: string): void {
    if (!this.values.delete(key)) return;
    const name = key.slice(0, this.prefixLength);
    const bucket = this.buckets.get(name);
    if (bucket === undefined) return;
    bucket.stale++;
    if (bucket.stale * 2 > bucket.keys.length) this.prune(name, bucket);
  }

  /** Entries with gte <= key < lt, in order (or reversed). */
  *range(gte: string, lt: string, reverse = false): Generator<[string, V]> {
    if (!reverse) {
      for (let b = lowerBound(this.names, gte.slice(0, this.prefixLength)); b < this.names.length; b++) {
        const keys = this.bucketAt(b).keys;
        for (let i = lowerBound(keys, gte); i < keys.length; i++) {
          const key = keys[i] as string;
          if (key >= lt) return;
          const value = this.values.get(key);
          if (value !== undefined) yield [key, value];
        }
      }
      return;
    }
    for (let b = lowerBound(this.names, lt.slice(0, this.prefixLength) + '\u0000') - 1; b >= 0; b--) {
      const keys = this.bucketAt(b).keys;
      for (let i = lowerBound(keys, lt) - 1; i >= 0; i--) {
        const key = keys[i] as string;
        if (key < gte) return;
        const value = this.values.get(key);
        if (value !== undefined) yield [key, value];
      }
    }
  }

  private insertKey(key: string): void {
    const name = key.slice(0, this.prefixLength);
    let bucket = this.buckets.get(name);
    if (bucket === undefined) {
      bucket = { keys: [], stale: 0 };
      this.buckets.set(name, bucket);
      this.names.splice(lowerBound(this.names, name), 0, name);
    }
    const keys = bucket.keys;
    const last = keys[keys.length - 1];
    if (last === undefined || key > last) {
      keys.push(key);
      return;
    }
    const at = lowerBound(keys, key);
    if (keys[at] === key) bucket.stale--; // a deleted key coming back
    else keys.splice(at, 0, key);
  }

  private prune(name: string, bucket: Bucket): void {
    bucket.keys = bucket.keys.filter((k) => this.values.has(k));
    bucket.stale = 0;
    if (bucket.keys.length === 0) {
      this.buckets.delete(name);
      this.names.splice(lowerBound(this.names, name), 1);
    }
  }

  private bucketAt(i: number): Bucket {
    return this.buckets.get(this.names[i] as string) as Bucket;
  }
}

interface Bucket {
  keys: string[];
  /** How many of `keys` are no longer in the map. */
  stale: number;
}

/** Index of the first element >= target. */
function lowerBound(sorted: readonly string[], target: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
