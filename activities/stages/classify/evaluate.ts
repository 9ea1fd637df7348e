/**
 * Held-out evaluation of the core tier: how often it is right, and how often it is right when it
 * is sure enough to decide alone. The split is deterministic (every nth example of each heading),
 * so a change to the model or the taxonomy can be compared run to run.
 */
import { trainCore, UNCLASSIFIED, type Calibration, type CoreOptions } from './model';
import type { Taxonomy } from './taxonomy';

export interface EvaluateOptions extends CoreOptions {
  /** Hold out every nth example of each heading (default 5) and train on the rest. */
  holdOutEvery?: number;
  /**
   * Which example of each n is held out, 0-based; default n - 1 (the 5th, 10th, ...). Running
   * every offset from 0 to n - 1 gives n-fold cross-validation.
   */
  offset?: number;
  /** The core tier's threshold (default 0.85, as CLASSIFY_CORE_THRESHOLD). */
  threshold?: number;
  /** The fallback tier's threshold (default 0.70, as CLASSIFY_FALLBACK_THRESHOLD). */
  fallbackThreshold?: number;
}

export interface HeadingEvaluation {
  code: string;
  heldOut: number;
  correct: number;
  accuracy: number;
  /** Held-out examples it got wrong, with what it said instead. */
  mistakes: Array<{ text: string; predicted: string; confidence: number }>;
}

export interface Evaluation {
  /** Examples in the taxonomy, held-out ones included. */
  examples: number;
  heldOut: number;
  /** Top-1 accuracy over every held-out example (unclassified counts as wrong). */
  accuracy: number;
  threshold: number;
  /** Share of held-out examples with confidence ≥ threshold: what the core tier decides alone. */
  coverageAtThreshold: number;
  /** Accuracy among those; null when none reached the threshold. */
  accuracyAtThreshold: number | null;
  fallbackThreshold: number;
  coverageAtFallbackThreshold: number;
  accuracyAtFallbackThreshold: number | null;
  /** Share of held-out examples whose heading is among the candidates passed to the fallback tier. */
  candidateRecall: number;
  /** Held-out examples with no known word. */
  unclassified: number;
  trainingMs: number;
  calibration: Calibration;
  perHeading: HeadingEvaluation[];
}

/** Trains on the taxonomy minus a deterministic held-out split and scores the held-out examples. */
export function evaluate(taxonomy: Taxonomy, options: EvaluateOptions = {}): Evaluation {
  const every = options.holdOutEvery ?? 5;
  const offset = options.offset ?? every - 1;
  const threshold = options.threshold ?? 0.85;
  const fallbackThreshold = options.fallbackThreshold ?? 0.7;
  if (!Number.isInteger(every) || every < 2) throw new RangeError(`holdOutEvery must be an integer ≥ 2, got ${every}`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= every)
    throw new RangeError(`offset must be an integer in 0..${every - 1}, got ${offset}`);

  const isHeldOut = (i: number): boolean => i % every === offset;
  const training: Taxonomy = {
    ...taxonomy,
    headings: taxonomy.headings.map((h) => ({ ...h, examples: h.examples.filter((_, i) => !isHeldOut(i)) })),
  };
  const core = trainCore(training, options);

  const scored = taxonomy.headings.flatMap((h) =>
    h.examples
      .filter((_, i) => isHeldOut(i))
      .map((text) => {
        const r = core.classify(text);
        return {
          code: h.code,
          text,
          predicted: r.label,
          confidence: r.confidence,
          right: r.label === h.code,
          inCandidates: r.candidates.some((c) => c.label === h.code),
        };
      }),
  );
  const n = scored.length;
  const share = (k: number, of: number): number => (of === 0 ? 0 : round(k / of));
  const at = (t: number): { coverage: number; accuracy: number | null } => {
    const sure = scored.filter((s) => s.confidence >= t);
    return { coverage: share(sure.length, n), accuracy: sure.length === 0 ? null : share(sure.filter((s) => s.right).length, sure.length) };
  };
  const core85 = at(threshold);
  const fallback70 = at(fallbackThreshold);

  return {
    examples: taxonomy.headings.reduce((k, h) => k + h.examples.length, 0),
    heldOut: n,
    accuracy: share(scored.filter((s) => s.right).length, n),
    threshold,
    coverageAtThreshold: core85.coverage,
    accuracyAtThreshold: core85.accuracy,
    fallbackThreshold,
    coverageAtFallbackThreshold: fallback70.coverage,
    accuracyAtFallbackThreshold: fallback70.accuracy,
    candidateRecall: share(scored.filter((s) => s.inCandidates).length, n),
    unclassified: scored.filter((s) => s.predicted === UNCLASSIFIED).length,
    trainingMs: core.info.trainingMs,
    calibration: core.info.calibration,
    perHeading: taxonomy.headings.map((h) => {
      const mine = scored.filter((s) => s.code === h.code);
      const correct = mine.filter((s) => s.right).length;
      return {
        code: h.code,
        heldOut: mine.length,
        correct,
        accuracy: share(correct, mine.length),
        mistakes: mine.filter((s) => !s.right).map((s) => ({ text: s.text, predicted: s.predicted, confidence: s.confidence })),
      };
    }),
  };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
