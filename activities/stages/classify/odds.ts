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
type Learnings = [
  { smoothingFactor: number },
  Record<string, number>,
  Record<string, Record<string, number>>,
  Record<string, number>,
  string[],
];

export type Odds = Array<[string, number]>;

/** wink's label for "no token was ever seen": its odds are exactly 0. */
const UNKNOWN = 'unknown';

export function compileOdds(exported: string): (tokens: string[]) => Odds {
  const [config, samples, count, words, vocabulary] = JSON.parse(exported) as Learnings;
  const sf = config.smoothingFactor;
  const voc = new Set(vocabulary);
  // wink's label order (Object.keys of its samples) decides ties in the sort, so keep it.
  const labels = Object.keys(samples);
  const sampleSum = labels.reduce((s, l) => s + samples[l]!, 0);
  const wordSum = labels.reduce((s, l) => s + words[l]!, 0);
  const tokenSum = new Map<string, number>();
  for (const l of labels) for (const [w, c] of Object.entries(count[l]!)) tokenSum.set(w, (tokenSum.get(w) ?? 0) + c);

  // wink's denominators: smoothed, the vocabulary weighs `sf` per word; unsmoothed, one.
  const vocWeight = sf > 0 ? voc.size * sf : voc.size;
  const perLabel = labels.map((label) => ({
    label,
    counts: count[label]!,
    // The same expressions wink evaluates per token, hoisted: their inputs do not depend on it.
    logWords: Math.log2(words[label]! + vocWeight),
    logOtherWords: Math.log2(wordSum - words[label]! + vocWeight),
    prior: Math.log2(samples[label]!) - Math.log2(sampleSum),
    otherPrior: Math.log2(sampleSum - samples[label]!) - Math.log2(sampleSum),
  }));

  const likelihood = (clw: number, logDenominator: number): number =>
    sf > 0 ? Math.log2(clw + sf) - logDenominator : clw ? Math.log2(clw) - logDenominator : 0;

  return (tokens) => {
    const known = tokens.filter((t) => voc.has(t));
    const all: Odds = perLabel.map((p) => {
      if (known.length === 0) return [p.label, 0];
      let lh = 0;
      let ilh = 0;
      for (const w of known) {
        const own = p.counts[w] ?? 0;
        lh += likelihood(own, p.logWords);
        // wink skips the inverse while the running likelihood is exactly 0; so does this.
        ilh += lh === 0 ? 0 : likelihood((tokenSum.get(w) ?? 0) - own, p.logOtherWords);
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
