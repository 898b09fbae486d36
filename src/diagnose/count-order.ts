/**
 * Order statistics of entry counts (the k-th smallest, the position of a value) without sorting
 * them all: a table can hold millions of remotes, and a sort of their counts would cost more than
 * the rest of the rule. Counts are whole numbers, nearly all small: a cumulative histogram answers
 * for those with one binary search, and the few counts too big for it are sorted on their own.
 */

/** Largest count the histogram covers (4 MiB of bins); bigger counts go to the sorted overflow. */
export const HISTOGRAM_MAX = 1 << 20;

/** Ascending order of some values, read by position: a sorted array, or a CountOrder. */
export interface Ordered {
  readonly length: number;
  /** The k-th smallest value, 0-based. */
  at(k: number): number | undefined;
}

export class CountOrder implements Ordered {
  readonly length: number;
  /** cum[v]: how many values are <= v, for v up to the largest value the histogram holds. */
  private readonly cum: Uint32Array;
  /** The values the histogram does not hold, ascending: above HISTOGRAM_MAX, or all of them when some are not whole. */
  private readonly sorted: Float64Array;

  /** The values of `values` that pass `keep` (default: positive ones). */
  constructor(values: ArrayLike<number>, keep: (v: number) => boolean = (v) => v > 0) {
    let n = 0;
    let maxSmall = -1;
    let big = 0;
    let whole = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!keep(v)) continue;
      n++;
      if (!Number.isInteger(v) || v < 0) whole = false;
      else if (v > HISTOGRAM_MAX) big++;
      else if (v > maxSmall) maxSmall = v;
    }
    this.length = n;
    if (!whole) {
      // Fractions or negative values: a plain sort of everything.
      this.cum = new Uint32Array(0);
      this.sorted = this.collect(values, keep, n, () => true);
      return;
    }
    const cum = new Uint32Array(maxSmall + 1);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (keep(v) && v <= HISTOGRAM_MAX) cum[v]!++;
    }
    for (let v = 1; v <= maxSmall; v++) cum[v]! += cum[v - 1]!;
    this.cum = cum;
    this.sorted = this.collect(values, keep, big, (v) => v > HISTOGRAM_MAX);
  }

  private collect(values: ArrayLike<number>, keep: (v: number) => boolean, n: number, take: (v: number) => boolean): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0, k = 0; i < values.length; i++) if (keep(values[i]!) && take(values[i]!)) out[k++] = values[i]!;
    return out.sort();
  }

  /** Values in the histogram. */
  private get small(): number {
    return this.cum.length > 0 ? this.cum[this.cum.length - 1]! : 0;
  }

  at(k: number): number | undefined {
    if (!Number.isInteger(k) || k < 0 || k >= this.length) return undefined;
    const small = this.small;
    if (k >= small) return this.sorted[k - small];
    // The smallest v with more than k values <= v.
    const cum = this.cum;
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
    const cum = this.cum;
    if (cum.length > 0 && v < cum.length) return v < 0 ? -1 : cum[Math.floor(v)]! - 1;
    // Past the histogram: its values, then those of the sorted rest up to v.
    const sorted = this.sorted;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    return this.small + lo - 1;
  }
}

/** Median of ordered values with the one at position `skip` left out (0 when none are left). */
export function medianWithout(sorted: Ordered, skip: number): number {
  const n = sorted.length - 1;
  if (n <= 0) return 0;
  const at = (k: number) => sorted.at(k < skip ? k : k + 1)!;
  return n % 2 ? at(n >> 1) : (at(n / 2 - 1) + at(n / 2)) / 2;
}
