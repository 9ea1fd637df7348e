/**
 * `npm run classify:eval [taxonomy.json]`: prints the core tier's held-out evaluation as markdown.
 * The taxonomy defaults to CLASSIFY_TAXONOMY, else the shipped one; thresholds come from the config.
 */
import { loadConfig } from '../../../src/config';
import { evaluate, evaluateOpenSet, type Evaluation, type OpenSetEvaluation } from './evaluate';
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
  out.push('', ...openSetSection(evaluateOpenSet(taxonomy, opts)));
  console.log(out.join('\n'));
}

/** Held out by heading: what the core tier does with products of a heading it has never seen. */
function openSetSection(o: OpenSetEvaluation): string[] {
  const out = ['## Core tier: held out by heading', ''];
  out.push(
    `The headings left out of training in ${o.groups} groups (heading i in group i mod ${o.groups}); each group's products asked of the model trained on the others, ${o.asked} in all. None can be right: ` +
      `the question is whether the core tier decides them alone (confidence ≥ ${o.threshold}, a confident wrong code) or passes them on.`,
    '',
    `| products asked | not decided alone (< ${o.threshold}) | below ${o.fallbackThreshold} too |`,
    '|---:|---:|---:|',
    `| ${o.asked} | ${pct(o.notAutoDecided)} | ${pct(o.belowFallbackThreshold)} |`,
  );
  if (o.worst.length > 0) {
    out.push('', '| left-out heading | decided alone anyway | as |', '|---|---:|---|');
    for (const h of o.worst)
      out.push(
        `| ${h.code} | ${h.autoDecided}/${h.asked} | ${h.decidedAs.map((d) => `${d.predicted} (${d.confidence.toFixed(2)}): ${d.text}`).join('; ')} |`,
      );
  }
  return out;
}

function describeCalibration(r: Evaluation): string {
  const c = r.calibration;
  if (c.method === 'odds') return `none (1 / (1 + 2^-odds)); ${c.points} out-of-fold points were too few to fit on`;
  return (
    `Platt, σ(${c.intercept.toFixed(3)} + ${c.oddsWeight.toFixed(3)}·odds + ${c.marginWeight.toFixed(3)}·margin + ${c.seenWeight.toFixed(3)}·seen), ` +
    `fitted on ${c.points} out-of-fold predictions of known headings and ${c.openSetPoints} of left-out headings`
  );
}

try {
  main();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
