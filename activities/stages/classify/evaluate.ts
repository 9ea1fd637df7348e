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

export interface OpenSetEvaluation {
  threshold: number;
  fallbackThreshold: number;
  /** The headings were left out in this many groups, one model each. */
  groups: number;
  /** Examples of left-out headings, each asked of a model that never saw its heading. */
  asked: number;
  /** Share not decided alone (confidence < threshold): what goes on to the fallback tier or review. Every decided one is wrong. */
  notAutoDecided: number;
  /** Share below the fallback threshold too: what goes to review even when the fallback tier agrees. */
  belowFallbackThreshold: number;
  /** The left-out headings whose products were most often decided anyway, with what they were decided as. */
  worst: Array<{
    code: string;
    asked: number;
    autoDecided: number;
    decidedAs: Array<{ text: string; predicted: string; confidence: number }>;
  }>;
}

/**
 * Held out by heading: whole headings are left out of training, and their examples are asked of
 * the model trained on the others. None of them can be answered right, so the question is what the
 * core tier does with a product unlike anything it knows: decide it alone (confidence ≥ threshold,
 * a confident wrong code) or pass it on. Heading i (in taxonomy order) falls in group i % groups;
 * each group is left out in turn, so every heading is asked once. One model per group, calibration
 * included, so it is deterministic and costs `groups` trainings rather than one per heading.
 */
export function evaluateOpenSet(
  taxonomy: Taxonomy,
  options: EvaluateOptions & { worst?: number; groups?: number } = {},
): OpenSetEvaluation {
  const threshold = options.threshold ?? 0.85;
  const fallbackThreshold = options.fallbackThreshold ?? 0.7;
  const groups = Math.min(options.groups ?? 10, taxonomy.headings.length);
  if (!Number.isInteger(groups) || groups < 2) throw new RangeError(`groups must be an integer ≥ 2, got ${groups}`);
  const perHeading = Array.from({ length: groups }, (_, group) => {
    const left = taxonomy.headings.filter((_, i) => i % groups === group);
    const core = trainCore({ ...taxonomy, headings: taxonomy.headings.filter((_, i) => i % groups !== group) }, options);
    return left.map((h) => {
      const answers = h.examples.map((text) => ({ text, ...core.classify(text) }));
      const decided = answers.filter((a) => a.confidence >= threshold);
      return {
        code: h.code,
        asked: answers.length,
        autoDecided: decided.length,
        belowFallback: answers.filter((a) => a.confidence < fallbackThreshold).length,
        decidedAs: decided.map((a) => ({ text: a.text, predicted: a.label, confidence: round(a.confidence) })),
      };
    });
  }).flat();
  const asked = perHeading.reduce((k, h) => k + h.asked, 0);
  const share = (k: number): number => (asked === 0 ? 0 : round(k / asked));
  return {
    threshold,
    fallbackThreshold,
    groups,
    asked,
    notAutoDecided: share(asked - perHeading.reduce((k, h) => k + h.autoDecided, 0)),
    belowFallbackThreshold: share(perHeading.reduce((k, h) => k + h.belowFallback, 0)),
    worst: perHeading
      .filter((h) => h.autoDecided > 0)
      .sort((a, b) => b.autoDecided / b.asked - a.autoDecided / a.asked)
      .slice(0, options.worst ?? 8)
      .map(({ code, asked: n, autoDecided, decidedAs }) => ({ code, asked: n, autoDecided, decidedAs })),
  };
}
