/**
 * wink's `computeOdds`, compiled. wink computes each label's inverse likelihood by summing every
 * other label's counts, for every token and every label: O(tokens × labels²) per item, and the
 * worker's largest CPU cost in the bench's profile (bench/results.md, "where the time goes").
 * Those sums are the total minus the label's own, so they are taken once here, from wink's own
 * learnings (`exportJSON`). The counts are integers, so the subtractions are exact and every
 * figure is the one wink computes, bit for bit, in the same order; test/unit/odds.test.ts checks
 * that against wink itself.
 */

/** What `exportJSON` holds: `[config, samples, count, words, vocabulary]`. */
export type Learnings = [
  { smoothingFactor: number },
  Record<string, number>,
  Record<string, Record<string, number>>,
  Record<string, number>,
  string[],
];

export type Odds = Array<[string, number]>;

/** wink's label for "no token was ever seen": its odds are exactly 0. */
const UNKNOWN = 'unknown';

export function compileOdds(exported: string | Learnings): (tokens: string[]) => Odds {
  const [config, samples, count, words, vocabulary] = typeof exported === 'string' ? (JSON.parse(exported) as Learnings) : exported;
  const sf = config.smoothingFactor;
  const voc = new Set(vocabulary);
  // wink's label order (Object.keys of its samples) decides ties in the sort, so keep it.
  const labels = Object.keys(samples);
  const sampleSum = labels.reduce((s, l) => s + samples[l]!, 0);
  const wordSum = labels.reduce((s, l) => s + words[l]!, 0);
  // Dense tables, token by index: a label's count of a token is one array read rather than a
  // property lookup in a dictionary of thousands of keys, for every token and every label.
  const index = new Map(vocabulary.map((w, i) => [w, i]));
  const size = vocabulary.length;
  const own = new Float64Array(labels.length * size);
  const tokenSum = new Float64Array(size);
  labels.forEach((l, li) => {
    for (const [w, c] of Object.entries(count[l]!)) {
      const i = index.get(w);
      if (i === undefined) continue;
      own[li * size + i] = c;
      tokenSum[i]! += c;
    }
  });

  // wink's denominators: smoothed, the vocabulary weighs `sf` per word; unsmoothed, one.
  const vocWeight = sf > 0 ? voc.size * sf : voc.size;
  const perLabel = labels.map((label) => ({
    label,
    // The same expressions wink evaluates per token, hoisted: their inputs do not depend on it.
    logWords: Math.log2(words[label]! + vocWeight),
    logOtherWords: Math.log2(wordSum - words[label]! + vocWeight),
    prior: Math.log2(samples[label]!) - Math.log2(sampleSum),
    otherPrior: Math.log2(sampleSum - samples[label]!) - Math.log2(sampleSum),
  }));

  // wink's likelihood of a count is log2(count + sf) - log2(denominator), or, unsmoothed, log2(count)
  // - log2(denominator) for a non-zero count and 0 otherwise. The log2 of the count does not depend
  // on the label, so it is taken once per distinct count (small integers, or a token's total less a
  // label's own) rather than twice per token and label: the same doubles, subtracted in the same
  // order, so the same bits.
  // Counts are whole numbers up to the largest token total: one table read each.
  const largest = tokenSum.reduce((m, c) => Math.max(m, c), 0);
  const logCount = Float64Array.from({ length: largest + 1 }, (_, c) => Math.log2(sf > 0 ? c + sf : c));
  const log2Of = (clw: number): number => (Number.isInteger(clw) && clw <= largest ? logCount[clw]! : Math.log2(sf > 0 ? clw + sf : clw));
  const likelihood = (clw: number, logDenominator: number): number =>
    sf > 0 ? log2Of(clw) - logDenominator : clw ? log2Of(clw) - logDenominator : 0;

  return (tokens) => {
    const known: number[] = [];
    for (const t of tokens) {
      const i = index.get(t);
      if (i !== undefined) known.push(i);
    }
    const all: Odds = perLabel.map((p, li) => {
      if (known.length === 0) return [p.label, 0];
      const base = li * size;
      let lh = 0;
      let ilh = 0;
      for (const i of known) {
        const mine = own[base + i]!;
        lh += likelihood(mine, p.logWords);
        // wink skips the inverse while the running likelihood is exactly 0; so does this.
        ilh += lh === 0 ? 0 : likelihood(tokenSum[i]! - mine, p.logOtherWords);
      }
      if (lh !== 0) {
        lh += p.prior;
        ilh += p.otherPrior;
      }
      return [p.label, lh - ilh];
    });
    all.sort((a, b) => (b[1] > a[1] ? 1 : b[1] === a[1] ? 0 : -1));
    return all[0]![1] ? all : [[UNKNOWN, 0]];
  };
}
