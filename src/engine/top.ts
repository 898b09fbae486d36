/**
 * Top-N selection over the sums of one dimension: count descending, ties in key order. The work
 * over every id (often hundreds of thousands, all tied at count 1 on a flood) needs only numbers:
 * `topCandidates` keeps the ids above the n-th count and, among the ids tied with it, those whose
 * rank can still make the cut. Only those are compared in full key order (usually a few; many when
 * ids share a rank, and then they are kept n at a time). The addon has the
 * same `topCandidates`; test/top-candidates.test.ts holds the two equal.
 */

/** Up to this many places, the best are kept in a sorted array as they come; beyond it, all are sorted once. */
const BOUNDED = 256;

/**
 * Ids (ascending) that can be among the top n of count: every id whose count is above the n-th
 * largest, and the ids tied with it whose rank is at most the k-th smallest rank among the tied
 * (k: the places left). `rank` must agree with the key order: a smaller rank always comes first.
 * Ids with count 0 are never candidates.
 */
export function topCandidates(count: Float64Array, rank: Float64Array, n: number): Int32Array {
  if (n < 1) return new Int32Array(0);
  // The n-th largest count (0 when fewer than n ids have a count).
  const best: number[] = [];
  for (let i = 0; i < count.length; i++) {
    const v = count[i]!;
    if (!(v > 0)) continue;
    if (best.length < n) {
      best.push(v);
      if (best.length === n) best.sort((x, y) => x - y);
    } else if (v > best[0]!) {
      best[0] = v;
      for (let j = 0; j + 1 < n && best[j]! > best[j + 1]!; j++) {
        const t = best[j]!;
        best[j] = best[j + 1]!;
        best[j + 1] = t;
      }
    }
  }
  const cutoff = best.length < n ? 0 : best[0]!;
  let above = 0;
  for (let i = 0; i < count.length; i++) if (count[i]! > cutoff) above++;
  // The rank bar: the k-th smallest rank among the ids at the cut-off.
  let bar = Number.POSITIVE_INFINITY;
  const k = n - above;
  if (cutoff > 0 && k > 0) {
    if (k <= BOUNDED) {
      const low: number[] = []; // the k smallest ranks so far, ascending
      for (let i = 0; i < count.length; i++) {
        if (count[i] !== cutoff) continue;
        const r = rank[i]!;
        if (low.length === k && r >= low[k - 1]!) continue;
        let j = low.length;
        while (j > 0 && low[j - 1]! > r) j--;
        low.splice(j, 0, r);
        if (low.length > k) low.pop();
      }
      bar = low[k - 1]!;
    } else {
      const tied: number[] = [];
      for (let i = 0; i < count.length; i++) if (count[i] === cutoff) tied.push(rank[i]!);
      bar = Float64Array.from(tied).sort()[k - 1]!;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < count.length; i++) {
    const v = count[i]!;
    if (v > cutoff || (v === cutoff && v > 0 && rank[i]! <= bar)) out.push(i);
  }
  return Int32Array.from(out);
}

/** The top n ids among the candidates: count descending, then `before` (the full key order). */
export function topIds(count: Float64Array, n: number, before: (a: number, b: number) => number, candidates: Int32Array): number[] {
  const order = (a: number, b: number) => count[b]! - count[a]! || before(a, b);
  if (n > BOUNDED || candidates.length <= 4 * n) return Array.from(candidates).sort(order).slice(0, n);
  // Many candidates share the bar's rank (an IPv6 /48, one host's ports): keep the n best as they
  // come, so that most are turned away by one comparison instead of taking part in a full sort.
  const best: number[] = [];
  for (const id of candidates) {
    if (best.length === n && order(id, best[n - 1]!) >= 0) continue;
    let j = best.length;
    while (j > 0 && order(best[j - 1]!, id) > 0) j--;
    best.splice(j, 0, id);
    if (best.length > n) best.pop();
  }
  return best;
}
