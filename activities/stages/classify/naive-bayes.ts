/**
 * The naive Bayes half of the core tier: product text to tokens, and the model wink's classifier
 * learns from them, built directly and compiled (./odds.ts) for the per-item cost. wink itself is
 * trained only by the tests that prove the two agree.
 */
import { compileOdds, type Learnings, type Odds } from './odds';

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
  (tokens: string[]): string[] => tokens.map(stemOf),
] as const;

/**
 * Porter2 per word, remembered: product texts repeat a small vocabulary, and stemming was most of
 * the training time (6,000 texts). Bounded: past STEMS_KEPT words the memory starts again.
 */
const STEMS_KEPT = 50_000;
const stems = new Map<string, string>();
function stemOf(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    if (stems.size >= STEMS_KEPT) stems.clear();
    s = stem([word])[0]!;
    stems.set(word, s);
  }
  return s;
}

export function prepare(text: string): string[] {
  const [lower, units, tokenize, words, stopWords, stemAll] = PREP_TASKS;
  return stemAll(stopWords(words(tokenize(units(lower(text))))));
}

// -- training -------------------------------------------------------------------------------------

export interface Doc {
  tokens: string[];
  label: string;
  /** Position among its heading's examples; -1 for a description (always trained on). */
  index: number;
}

/** A trained model's scorer: wink's `computeOdds`, compiled (./odds.ts), and what each heading has seen. */
export interface Scorer {
  computeOdds(tokens: string[]): Odds;
  /** Share of the distinct tokens that `label`'s own training texts contain, 0..1. */
  seen(label: string, tokens: string[]): number;
}

/**
 * wink's configuration. Its defaults, chosen on the dev folds: word counts (not presence) and
 * Laplace add-one smoothing. Smoothing 0.5 or 0.1 made raw odds bolder but lost 0.5-2 points of
 * accuracy.
 */
const CONFIG = { considerOnlyPresence: false, smoothingFactor: 1 };

/** wink itself, trained. The tests check `learnings` and the compiled odds against it. */
export function trainWink(docs: Doc[]): WinkNaiveBayes {
  const nb = naiveBayes();
  nb.defineConfig(CONFIG);
  // `prepare` runs once per text here: wink would rerun its prep tasks once per label in
  // `computeOdds`, i.e. 152 times per item on the shipped taxonomy.
  nb.definePrepTasks([]);
  for (const d of docs) if (d.tokens.length > 0) nb.learn(d.tokens, d.label);
  nb.consolidate();
  return nb;
}

/**
 * What wink's `exportJSON` holds after learning `docs`, built directly: the same counts in the same
 * objects, keys inserted in the same order, so the compiled odds are wink's. Training wink and
 * serialising its learnings cost about 50 ms a model, four models a training; this skips both.
 * It refuses what wink's `consolidate` refuses.
 */
export function learnings(docs: Doc[]): Learnings {
  const samples: Record<string, number> = Object.create(null) as Record<string, number>;
  const count: Record<string, Record<string, number>> = Object.create(null) as Record<string, Record<string, number>>;
  const words: Record<string, number> = Object.create(null) as Record<string, number>;
  const vocabulary = new Set<string>();
  for (const d of docs) {
    if (d.tokens.length === 0) continue;
    samples[d.label] = 1 + (samples[d.label] ?? 0);
    const own = (count[d.label] ??= Object.create(null) as Record<string, number>);
    for (const token of d.tokens) {
      own[token] = 1 + (own[token] ?? 0);
      vocabulary.add(token);
      words[d.label] = 1 + (words[d.label] ?? 0);
    }
  }
  if (Object.keys(samples).length < 2) throw new Error('winkNBTC: can not consolidate as classification require 2 or more labels!');
  if (vocabulary.size < 10) throw new Error('winkNBTC: vocabulary is too small to learn meaningful classification!');
  return [{ ...CONFIG }, samples, count, words, [...vocabulary]];
}

export function fitNaiveBayes(docs: Doc[]): Scorer {
  const words = new Map<string, Set<string>>();
  for (const d of docs) {
    let own = words.get(d.label);
    if (!own) words.set(d.label, (own = new Set()));
    for (const t of d.tokens) own.add(t);
  }
  return {
    computeOdds: compileOdds(learnings(docs)),
    seen(label, tokens) {
      const own = words.get(label);
      const distinct = new Set(tokens);
      let n = 0;
      if (own) for (const t of distinct) if (own.has(t)) n++;
      return distinct.size === 0 ? 0 : n / distinct.size;
    },
  };
}
