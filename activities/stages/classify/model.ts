/**
 * The `core` tier: a naive Bayes text classifier (wink-naive-bayes-text-classifier) trained when
 * the worker starts, on each heading's examples and description.
 *
 * Confidence is the calibrated probability that the top label is right. wink's `computeOdds`
 * gives one-vs-rest log2 odds per heading. Read directly as 1 / (1 + 2^-odds), they are far too
 * modest here: a 1-in-45 prior costs about 5.5 bits, and Laplace smoothing over a vocabulary much
 * larger than any one heading's word count pulls every likelihood down. On the shipped taxonomy's
 * cross-validation folds only ~13% of texts reached 0.85, though ~98% of those were right. So `trainCore` fits
 * a logistic (Platt) calibration on out-of-fold predictions over the training examples:
 * P(top label right) = σ(b + w₁·odds + w₂·margin), where margin is the top odds minus the
 * runner-up's. Fitting at training time, not shipping constants, keeps the calibration right for
 * a taxonomy given through `CLASSIFY_TAXONOMY`.
 */
import type { Taxonomy } from './taxonomy';
import { compileOdds, type Odds } from './odds';

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
  /** The best {@link CANDIDATES} headings, best first; `candidates[0]` is `label`. Empty when unclassified. */
  candidates: Candidate[];
}

export type Calibration =
  /** σ(intercept + odds·oddsWeight + margin·marginWeight), fitted on `points` out-of-fold predictions. */
  | { method: 'platt'; intercept: number; oddsWeight: number; marginWeight: number; points: number }
  /** 1 / (1 + 2^-odds): used when there was too little to fit on (a tiny taxonomy) or the fit was degenerate. */
  | { method: 'odds'; points: number };

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

// -- wink: CommonJS packages without type declarations; these are the parts used. -----------------

interface WinkNaiveBayes {
  definePrepTasks(tasks: Array<(input: never) => unknown>): number;
  defineConfig(cfg: { considerOnlyPresence?: boolean; smoothingFactor?: number }): boolean;
  learn(input: string[], label: string): boolean;
  consolidate(): boolean;
  computeOdds(input: string[]): Array<[string, number]>;
  exportJSON(): string;
}
/* eslint-disable @typescript-eslint/no-require-imports -- untyped CommonJS packages */
const naiveBayes = require('wink-naive-bayes-text-classifier') as () => WinkNaiveBayes;
// Deep imports on purpose: the package's main module also builds wink-nlp's English model for
// `string.tokenize` (~0.4 s at start-up), which this pipeline does not use.
const lowerCase = require('wink-nlp-utils/src/string-lower-case.js') as (s: string) => string;
const tokenize0 = require('wink-nlp-utils/src/string-tokenize0.js') as (s: string) => string[];
const removeWords = require('wink-nlp-utils/src/tokens-remove-words.js') as (tokens: string[]) => string[];
const stem = require('wink-nlp-utils/src/tokens-stem.js') as (tokens: string[]) => string[];
/* eslint-enable @typescript-eslint/no-require-imports */

// -- text preparation -------------------------------------------------------------------------------

/**
 * Product text to tokens: lower-case; split quantities from units ("500g" → "500 g", so "g", "ml",
 * "w" count as words); tokenize on non-word characters; drop tokens without a letter (sizes, part
 * numbers, quantities say nothing about the heading); drop English stop words; Porter2 stem.
 * Chosen on cross-validation folds that exclude the evaluation's held-out split: bigrams and
 * word-prefix features both lost 2-3 points of accuracy; stemming gained ~3.
 */
export const PREP_TASKS = [
  lowerCase,
  (s: string): string => s.replace(/(\d)([a-z])/g, '$1 $2'),
  tokenize0,
  (tokens: string[]): string[] => tokens.filter((t) => /[a-z]/.test(t)),
  removeWords,
  stem,
] as const;

export function prepare(text: string): string[] {
  const [lower, units, tokenize, words, stopWords, stems] = PREP_TASKS;
  return stems(stopWords(words(tokenize(units(lower(text))))));
}

// -- training -------------------------------------------------------------------------------------

export interface Doc {
  tokens: string[];
  label: string;
  /** Position among its heading's examples; -1 for a description (always trained on). */
  index: number;
}

/**
 * Out-of-fold calibration: example j of each heading falls in fold j % 5. Each `computeOdds`
 * costs ~1 ms with 45 headings (wink sums the other labels for each token and label), so folds
 * are predicted only until this many points are in hand: one fold (180 points, ~0.2 s) on the
 * shipped taxonomy. On the dev folds, fitting on 1, 2, 3 or all 5 folds moved coverage at 0.85
 * by under 3 points and accuracy there by under 1.
 */
const CALIBRATION_FOLDS = 5;
const CALIBRATION_POINTS = 150;
/** Below this, or with under this many right (or wrong) predictions, the fit would be noise. */
const MIN_CALIBRATION_POINTS = 40;
const MIN_PER_OUTCOME = 5;

/** A trained model's scorer: wink's `computeOdds`, compiled (./odds.ts) for the per-item cost. */
interface Scorer {
  computeOdds(tokens: string[]): Odds;
}

/** wink itself, trained; `fitNaiveBayes` compiles it. Exported for the test that they agree. */
export function trainWink(docs: Doc[]): WinkNaiveBayes {
  const nb = naiveBayes();
  // Defaults, chosen on the dev folds: word counts (not presence) and Laplace add-one smoothing.
  // Smoothing 0.5 or 0.1 made raw odds bolder but lost 0.5-2 points of accuracy.
  nb.defineConfig({ considerOnlyPresence: false, smoothingFactor: 1 });
  // `prepare` runs once per text here: wink would rerun its prep tasks once per label in
  // `computeOdds`, i.e. 45 times per item.
  nb.definePrepTasks([]);
  for (const d of docs) if (d.tokens.length > 0) nb.learn(d.tokens, d.label);
  nb.consolidate();
  return nb;
}

function fitNaiveBayes(docs: Doc[]): Scorer {
  return { computeOdds: compileOdds(trainWink(docs).exportJSON()) };
}

/**
 * Trains the core tier on a taxonomy: ~0.25 s on the shipped one (45 headings, 900 examples), most
 * of it calibration; ~30 ms without.
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
  const calibration = options.calibrate === false ? { method: 'odds' as const, points: 0 } : calibrate(docs);
  const prob = probability(calibration);

  const classify = (text: string): CoreResult => {
    const tokens = prepare(text);
    if (!tokens.some((t) => vocabulary.has(t))) return { label: UNCLASSIFIED, confidence: 0, candidates: [] };
    const odds = nb.computeOdds(tokens);
    // wink's own "no idea" (top odds exactly 0): the same answer as no known word.
    if (odds[0]![0] === 'unknown' && !descriptions.has('unknown')) return { label: UNCLASSIFIED, confidence: 0, candidates: [] };
    const best = odds[0]![1];
    const second = odds[1]?.[1] ?? best;
    const candidates = odds.slice(0, CANDIDATES).map(([label, o], i) => ({
      label,
      description: descriptions.get(label) ?? '',
      // Each candidate scored as if it were the pick: its margin over the best of the others.
      confidence: round(prob(o, i === 0 ? o - second : o - best)),
    }));
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

// -- calibration ----------------------------------------------------------------------------------

interface Point {
  odds: number;
  margin: number;
  right: boolean;
}

function calibrate(docs: Doc[]): Calibration {
  const points: Point[] = [];
  for (let fold = 0; fold < CALIBRATION_FOLDS && points.length < CALIBRATION_POINTS; fold++) {
    const held = docs.filter((d) => d.index >= 0 && d.index % CALIBRATION_FOLDS === fold && d.tokens.length > 0);
    if (held.length === 0) continue;
    const heldOut = new Set(held);
    const nb = fitNaiveBayes(docs.filter((d) => !heldOut.has(d)));
    for (const d of held) {
      const odds = nb.computeOdds(d.tokens);
      const [top, runnerUp] = odds;
      // wink answers [['unknown', 0]] when no token is known: the tier says "unclassified" then.
      if (!top || !runnerUp) continue;
      points.push({ odds: top[1], margin: top[1] - runnerUp[1], right: top[0] === d.label });
    }
  }
  const right = points.filter((p) => p.right).length;
  if (points.length < MIN_CALIBRATION_POINTS || right < MIN_PER_OUTCOME || points.length - right < MIN_PER_OUTCOME) {
    return { method: 'odds', points: points.length };
  }
  const y = points.map((p) => (p.right ? 1 : 0));
  // A higher odds or margin must never lower the confidence; if the fit says otherwise (noise on a
  // small taxonomy), drop the odds term and keep the margin, the stronger signal (AUC 0.83 against
  // 0.76 for the odds on the shipped taxonomy's dev folds).
  const both = fitLogistic(
    points.map((p) => [p.odds, p.margin]),
    y,
  );
  if (both[1]! >= 0 && both[2]! > 0)
    return { method: 'platt', intercept: both[0]!, oddsWeight: both[1]!, marginWeight: both[2]!, points: points.length };
  const marginOnly = fitLogistic(
    points.map((p) => [p.margin]),
    y,
  );
  if (marginOnly[1]! > 0)
    return { method: 'platt', intercept: marginOnly[0]!, oddsWeight: 0, marginWeight: marginOnly[1]!, points: points.length };
  return { method: 'odds', points: points.length };
}

function probability(c: Calibration): (odds: number, margin: number) => number {
  if (c.method === 'odds') return (odds) => 1 / (1 + 2 ** -odds);
  return (odds, margin) => sigmoid(c.intercept + c.oddsWeight * odds + c.marginWeight * margin);
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const round = (p: number): number => Math.round(p * 1e4) / 1e4;

/**
 * Logistic regression by Newton's method, returning [intercept, ...weights]. A small L2 penalty on
 * the weights keeps them finite when the points happen to be separable.
 */
export function fitLogistic(x: number[][], y: number[], l2 = 0.01, iterations = 50): number[] {
  const d = (x[0]?.length ?? 0) + 1;
  let w: number[] = new Array<number>(d).fill(0);
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    x.forEach((row, i) => {
      const xi = [1, ...row];
      const p = sigmoid(xi.reduce((s, v, k) => s + v * w[k]!, 0));
      for (let a = 0; a < d; a++) {
        grad[a]! += (p - y[i]!) * xi[a]!;
        for (let b = 0; b < d; b++) hess[a]![b]! += p * (1 - p) * xi[a]! * xi[b]!;
      }
    });
    for (let a = 1; a < d; a++) {
      grad[a]! += l2 * w[a]!;
      hess[a]![a]! += l2;
    }
    const step = solve(hess, grad);
    w = w.map((v, k) => v - step[k]!);
    if (Math.max(...step.map(Math.abs)) < 1e-9) break;
  }
  return w;
}

/** Solves A·s = b by Gaussian elimination with partial pivoting (A is tiny: 2x2 or 3x3). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}
