/**
 * The compiled scorer (activities/stages/classify/odds.ts) answers exactly what wink's own
 * `computeOdds` answers, bit for bit and in the same order, on the shipped taxonomy: examples of
 * every heading and some descriptions, arbitrary mixes of known and unknown tokens, and no known
 * token at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { prepare, trainWink, type Doc } from '../../activities/stages/classify/model';
import { learnings } from '../../activities/stages/classify/naive-bayes';
import { compileOdds } from '../../activities/stages/classify/odds';
import { loadTaxonomy } from '../../activities/stages/classify/taxonomy';

const taxonomy = loadTaxonomy();
const docs: Doc[] = taxonomy.headings.flatMap((h) => [
  { tokens: prepare(h.description), label: h.code, index: -1 },
  ...h.examples.map((e, index) => ({ tokens: prepare(e), label: h.code, index })),
]);
const wink = trainWink(docs);
const compiled = compileOdds(wink.exportJSON());
const vocabulary = [...new Set(docs.flatMap((d) => d.tokens))];

// wink's own scoring costs O(tokens × headings²): 10-30 ms a text with 152 headings. So the texts
// compared are one example of every heading, a different one each, and the description of every
// 8th (about 170), not all 6,232; the property test below adds arbitrary token mixes.
const sample = docs.filter((d, i) => d.index === Math.floor(i / 41) % 40 || (d.index < 0 && i % 8 === 0));

test('an example of every heading and an eighth of the descriptions score as wink scores them', () => {
  assert.ok(sample.length >= taxonomy.headings.length, `${sample.length} texts`);
  for (const d of sample) assert.deepStrictEqual(compiled(d.tokens), wink.computeOdds(d.tokens), d.tokens.join(' '));
});

test('any mix of known and unknown tokens, repeats included, scores as wink scores it', () => {
  const token = fc.oneof(fc.constantFrom(...vocabulary), fc.stringMatching(/^[a-z]{1,8}$/));
  fc.assert(
    fc.property(fc.array(token, { maxLength: 20 }), (tokens) => {
      assert.deepStrictEqual(compiled(tokens), wink.computeOdds(tokens));
    }),
    { numRuns: 100 },
  );
});

test("no known token is wink's unknown, with odds 0", () => {
  assert.deepStrictEqual(compiled(['zzzqx']), [['unknown', 0]]);
  assert.deepStrictEqual(compiled([]), wink.computeOdds([]));
});

test("the learnings built without wink are wink's own, key order included", () => {
  assert.equal(JSON.stringify(learnings(docs)), wink.exportJSON());
  // And for a taxonomy's folds, where headings drop out and texts are left out.
  const fold = docs.filter((d) => d.index % 5 !== 0 && !d.label.startsWith('6'));
  assert.equal(JSON.stringify(learnings(fold)), trainWink(fold).exportJSON());
  assert.throws(() => learnings(docs.filter((d) => d.label === docs[0]!.label)), /2 or more labels/);
});
