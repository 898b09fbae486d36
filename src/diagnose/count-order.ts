/**
 * Order statistics of entry counts (the k-th smallest, the rank of a value) without sorting them:
 * a table can hold millions of remotes, and sorting their counts for a median cost more than the
 * rest of the rule. Counts are whole numbers, mostly small: a cumulative histogram answers both
 * questions with one binary search.
 */

/** Largest count the histogram covers (4 MiB of bins); beyond it, or for fractions, a sorted copy. */
export const HISTOGRAM_MAX = 1 << 20;

/** Ascending order of some values, read by position: a sorted array, or a CountOrder. */
export interface Ordered {
  readonly length: number;
  /** The k-th smallest value, 0-based. */
  at(k: number): number | undefined;
}

export class CountOrder implements Ordered {
  readonly length: number;
  /** cum[v]: how many values are <= v (histogram mode). */
  private readonly cum: Uint32Array | null;
  /** The values, ascending (fallback mode). */
  private readonly sorted: Float64Array | null;

  /** The values of `values` that pass `keep` (default: positive ones). */
  constructor(values: ArrayLike<number>, keep: (v: number) => boolean = (v) => v > 0) {
    let n = 0;
    let max = 0;
    let whole = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!keep(v)) continue;
      n++;
      if (v > max) max = v;
      if (!Number.isInteger(v) || v < 0) whole = false;
    }
    this.length = n;
    if (whole && max <= HISTOGRAM_MAX) {
      const cum = new Uint32Array(max + 1);
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (keep(v)) cum[v]!++;
      }
      for (let v = 1; v <= max; v++) cum[v]! += cum[v - 1]!;
      this.cum = cum;
      this.sorted = null;
    } else {
      const sorted = new Float64Array(n);
      for (let i = 0, k = 0; i < values.length; i++) if (keep(values[i]!)) sorted[k++] = values[i]!;
      sorted.sort();
      this.cum = null;
      this.sorted = sorted;
    }
  }

  at(k: number): number | undefined {
    if (!Number.isInteger(k) || k < 0 || k >= this.length) return undefined;
    if (this.sorted) return this.sorted[k];
    // The smallest v with more than k values <= v.
    const cum = this.cum!;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > k) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Position of the last value equal to v (or, when v is absent, of the last one below it; -1 if none). */
  lastIndexOf(v: number): number {
    if (this.cum) {
      if (v < 0) return -1;
      return (v >= this.cum.length ? this.length : this.cum[Math.floor(v)]!) - 1;
    }
    const sorted = this.sorted!;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/** Median of ordered values with the one at position `skip` left out (0 when none are left). */
export function medianWithout(sorted: Ordered, skip: number): number {
  const n = sorted.length - 1;
  if (n <= 0) return 0;
  const at = (k: number) => sorted.at(k < skip ? k : k + 1)!;
  return n % 2 ? at(n >> 1) : (at(n / 2 - 1) + at(n / 2)) / 2;
}
