/**
 * `npm run classify:eval [taxonomy.json]`: prints the core tier's held-out evaluation as markdown.
 * The taxonomy defaults to CLASSIFY_TAXONOMY, else the shipped one; thresholds come from the config.
 */
import { loadConfig } from '../../../src/config';
import { evaluate, type Evaluation } from './evaluate';
import { DEFAULT_TAXONOMY_PATH, loadTaxonomy } from './taxonomy';

const HOLD_OUT_EVERY = 5;
/** Headings listed under "weakest", with their mistakes. */
const WEAKEST = 8;

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const mean = (xs: Array<number | null>): number | null => {
  const ys = xs.filter((x): x is number => x !== null);
  return ys.length === 0 ? null : ys.reduce((a, b) => a + b, 0) / ys.length;
};

function main(): void {
  const config = loadConfig();
  const file = process.argv[2] ?? config.classify.taxonomyPath ?? DEFAULT_TAXONOMY_PATH;
  const taxonomy = loadTaxonomy(file);
  const opts = {
    holdOutEvery: HOLD_OUT_EVERY,
    threshold: config.classify.coreThreshold,
    fallbackThreshold: config.classify.fallbackThreshold,
  };
  const r = evaluate(taxonomy, opts);

  const out: string[] = [];
  out.push(`## Core tier: held-out evaluation`, '');
  out.push(
    `Taxonomy \`${file}\`: ${taxonomy.headings.length} headings. Every ${HOLD_OUT_EVERY}th example of each heading held out; trained on the rest.`,
    '',
  );
  out.push(
    '| examples | held out | accuracy | top-5 recall | coverage ≥ ' +
      r.threshold +
      ' | accuracy ≥ ' +
      r.threshold +
      ' | coverage ≥ ' +
      r.fallbackThreshold +
      ' | accuracy ≥ ' +
      r.fallbackThreshold +
      ' | unclassified | training |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  out.push(
    `| ${r.examples} | ${r.heldOut} | ${pct(r.accuracy)} | ${pct(r.candidateRecall)} | ${pct(r.coverageAtThreshold)} | ${pct(r.accuracyAtThreshold)} | ` +
      `${pct(r.coverageAtFallbackThreshold)} | ${pct(r.accuracyAtFallbackThreshold)} | ${r.unclassified} | ${r.trainingMs} ms |`,
  );
  out.push('', `Calibration: ${describeCalibration(r)}.`, '');

  // The same measure with each of the n possible held-out splits: how much the one above owes to luck.
  const folds = Array.from({ length: HOLD_OUT_EVERY }, (_, offset) =>
    offset === HOLD_OUT_EVERY - 1 ? r : evaluate(taxonomy, { ...opts, offset }),
  );
  out.push(`### ${HOLD_OUT_EVERY}-fold cross-validation`, '');
  out.push(
    '| fold | accuracy | coverage ≥ ' +
      r.threshold +
      ' | accuracy ≥ ' +
      r.threshold +
      ' | coverage ≥ ' +
      r.fallbackThreshold +
      ' | accuracy ≥ ' +
      r.fallbackThreshold +
      ' |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|');
  folds.forEach((f, i) =>
    out.push(
      `| ${i} | ${pct(f.accuracy)} | ${pct(f.coverageAtThreshold)} | ${pct(f.accuracyAtThreshold)} | ${pct(f.coverageAtFallbackThreshold)} | ${pct(f.accuracyAtFallbackThreshold)} |`,
    ),
  );
  const m = (pick: (f: Evaluation) => number | null): string => pct(mean(folds.map(pick)));
  out.push(
    `| mean | ${m((f) => f.accuracy)} | ${m((f) => f.coverageAtThreshold)} | ${m((f) => f.accuracyAtThreshold)} | ${m((f) => f.coverageAtFallbackThreshold)} | ${m((f) => f.accuracyAtFallbackThreshold)} |`,
  );

  const weakest = [...r.perHeading]
    .filter((h) => h.correct < h.heldOut)
    .sort((a, b) => a.accuracy - b.accuracy)
    .slice(0, WEAKEST);
  if (weakest.length > 0) {
    out.push('', '### Weakest headings (held-out split)', '', '| heading | right | mistaken for |', '|---|---:|---|');
    for (const h of weakest)
      out.push(
        `| ${h.code} | ${h.correct}/${h.heldOut} | ${h.mistakes.map((x) => `${x.predicted} (${x.confidence.toFixed(2)}): ${x.text}`).join('; ')} |`,
      );
  }
  console.log(out.join('\n'));
}

function describeCalibration(r: Evaluation): string {
  const c = r.calibration;
  if (c.method === 'odds') return `none (1 / (1 + 2^-odds)); ${c.points} out-of-fold points were too few to fit on`;
  return `Platt, σ(${c.intercept.toFixed(3)} + ${c.oddsWeight.toFixed(3)}·odds + ${c.marginWeight.toFixed(3)}·margin), fitted on ${c.points} out-of-fold predictions`;
}

try {
  main();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
