/**
 * The `core` tier: a naive Bayes text classifier (wink-naive-bayes-text-classifier's model) trained
 * on each heading's examples and description, once per worker process, on first use.
 *
 * Confidence is the calibrated probability that the top label is right, and it must also say "none
 * of these" for a product unlike every heading the model knows. wink's `computeOdds` gives
 * one-vs-rest log2 odds per heading; read directly as 1 / (1 + 2^-odds) they are both too modest on
 * known products and too bold on unknown ones: a product from a heading the taxonomy lacks still
 * has a best heading, often by a wide margin, because every other heading fits it even worse. So
 * `trainCore` fits a logistic (Platt) calibration,
 *   P(top label right) = σ(b + w₁·odds + w₂·margin + w₃·seen),
 * where margin is the top odds minus the runner-up's and seen is the share of the product's words
 * that the top heading's own training texts contain. It is fitted on two kinds of held-out
 * predictions (`calibrate`):
 * - out-of-fold examples of known headings, right or wrong;
 * - examples of whole headings left out of training, every one of them wrong by construction: what
 *   the model does with a product from outside its taxonomy.
 * Fitting at training time, not shipping constants, keeps the calibration right for a taxonomy given
 * through `CLASSIFY_TAXONOMY`.
 */
import type { Taxonomy } from './taxonomy';
import { calibrate, probability, type Calibration } from './calibrate';
import { fitNaiveBayes, prepare, type Doc } from './naive-bayes';

export { fitLogistic, type Calibration } from './calibrate';
export { prepare, trainWink, type Doc } from './naive-bayes';

/** One heading the fallback tier may choose from. */
export interface Candidate {
  label: string;
  description: string;
  confidence: number;
}

export interface CoreResult {
  /** The best heading's code, or `'unclassified'` when the text has no word the model knows. */
  label: string;
  /** Calibrated probability that `label` is right, 0..1; 0 for `'unclassified'`. */
  confidence: number;
  /** The best {@link CANDIDATES} headings by odds, most confident first; `candidates[0]` is `label`. Empty when unclassified. */
  candidates: Candidate[];
}

export interface CoreClassifier {
  classify(text: string): CoreResult;
  readonly info: {
    headings: number;
    /** Training documents: every example plus one per description. */
    documents: number;
    vocabulary: number;
    /** Wall time of `trainCore`, calibration included. */
    trainingMs: number;
    calibration: Calibration;
  };
}

export interface CoreOptions {
  /** Fit the calibration (default true). Off, confidence is the uncalibrated 1 / (1 + 2^-odds). */
  calibrate?: boolean;
}

export const UNCLASSIFIED = 'unclassified';
/** How many candidates go to the fallback tier's prompt. */
export const CANDIDATES = 5;

/**
 * Trains the core tier on a taxonomy; on the shipped one (152 headings, 6,080 examples) most of the
 * time goes to the calibration's four models (docs/stages.md gives the figure).
 */
export function trainCore(taxonomy: Taxonomy, options: CoreOptions = {}): CoreClassifier {
  const started = performance.now();
  const docs: Doc[] = taxonomy.headings.flatMap((h) => [
    { tokens: prepare(h.description), label: h.code, index: -1 },
    ...h.examples.map((e, index) => ({ tokens: prepare(e), label: h.code, index })),
  ]);
  const nb = fitNaiveBayes(docs);
  const vocabulary = new Set(docs.flatMap((d) => d.tokens));
  const descriptions = new Map(taxonomy.headings.map((h) => [h.code, h.description]));
  const calibration: Calibration = options.calibrate === false ? { method: 'odds', points: 0, openSetPoints: 0 } : calibrate(docs);
  const prob = probability(calibration);

  const classify = (text: string): CoreResult => {
    const tokens = prepare(text);
    if (!tokens.some((t) => vocabulary.has(t))) return { label: UNCLASSIFIED, confidence: 0, candidates: [] };
    const odds = nb.computeOdds(tokens);
    // wink's own "no idea" (top odds exactly 0): the same answer as no known word.
    if (odds[0]![0] === 'unknown' && !descriptions.has('unknown')) return { label: UNCLASSIFIED, confidence: 0, candidates: [] };
    const best = odds[0]![1];
    const second = odds[1]?.[1] ?? best;
    const candidates = odds
      .slice(0, CANDIDATES)
      .map(([label, o], i) => ({
        label,
        description: descriptions.get(label) ?? '',
        // Each candidate scored as if it were the pick: its margin over the best of the others.
        confidence: round(prob(o, i === 0 ? o - second : o - best, nb.seen(label, tokens))),
      }))
      // The calibrated confidence, not the odds, orders them: a runner-up whose own words cover
      // the product better than the top heading's may be the likelier answer.
      .sort((a, b) => b.confidence - a.confidence);
    return { label: candidates[0]!.label, confidence: candidates[0]!.confidence, candidates };
  };

  return {
    classify,
    info: {
      headings: taxonomy.headings.length,
      documents: docs.length,
      vocabulary: vocabulary.size,
      trainingMs: Math.round(performance.now() - started),
      calibration,
    },
  };
}

const round = (p: number): number => Math.round(p * 1e4) / 1e4;
