import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitLogistic, trainCore, UNCLASSIFIED, CANDIDATES } from '../../activities/stages/classify/model';
import { evaluate, evaluateOpenSet } from '../../activities/stages/classify/evaluate';
import { HS_SECTIONS, loadTaxonomy, sectionOf, TaxonomyError, type Taxonomy } from '../../activities/stages/classify/taxonomy';

const taxonomy = loadTaxonomy();
const core = trainCore(taxonomy);

test('the shipped taxonomy spans the tariff: 150+ headings, 3+ in each of the 21 sections, 15+ examples each, unique codes', () => {
  assert.ok(taxonomy.headings.length >= 150, `${taxonomy.headings.length} headings`);
  for (const h of taxonomy.headings) assert.ok(h.examples.length >= 15, `${h.code}: ${h.examples.length} examples`);
  assert.equal(new Set(taxonomy.headings.map((h) => h.code)).size, taxonomy.headings.length);
  const perSection = new Map(HS_SECTIONS.map((s) => [s, 0]));
  for (const h of taxonomy.headings) {
    const section = sectionOf(h.code);
    assert.ok(section, `${h.code} is in no section`);
    perSection.set(section, perSection.get(section)! + 1);
  }
  assert.equal(perSection.size, 21);
  for (const [section, n] of perSection) assert.ok(n >= 3, `section ${section}: ${n} headings`);
});

test('sectionOf: the first and last chapter of each section', () => {
  assert.deepEqual(
    ['0101', '0511', '0601', '1404', '1501', '2403', '2501', '3826', '3901', '4017', '4101', '4304', '8471', '9706', '9999'].map(sectionOf),
    ['I', 'I', 'II', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VII', 'VIII', 'VIII', 'XVI', 'XXI', undefined],
  );
});

test('training is quick and calibrates on out-of-fold predictions', () => {
  assert.equal(core.info.headings, taxonomy.headings.length);
  assert.equal(core.info.calibration.method, 'platt');
  const c = core.info.calibration;
  assert.ok(c.points > 1000 && c.openSetPoints > 1000, `fitted on ${c.points} known and ${c.openSetPoints} left-out points`);
  // ~0.5 s measured; the bound only catches a pathological slowdown, not a slow CI machine.
  assert.ok(core.info.trainingMs < 10_000, `training took ${core.info.trainingMs} ms`);
});

test('clear product texts get their heading with high confidence', () => {
  // Phrasings of our own, not examples from the taxonomy.
  const clear: Array<[string, string]> = [
    ["Men's cotton t-shirt, crew neck", '6109'],
    ['Stainless steel frying pan 24cm', '7323'],
    ['Wireless noise cancelling headphones', '8518'],
    ['Ground coffee 500g', '0901'],
    ['Organic green tea bags', '0902'],
    ['27 inch 4K monitor', '8528'],
    ['Eau de parfum 100ml', '3303'],
    ['Laptop 16GB RAM 512GB SSD', '8471'],
    ['Kids bicycle 16 inch', '8712'],
  ];
  for (const [text, code] of clear) {
    const r = core.classify(text);
    assert.equal(r.label, code, `${text} → ${r.label}`);
    assert.ok(r.confidence >= 0.85, `${text}: confidence ${r.confidence}`);
  }
});

test('candidates: the top five, most confident first, with descriptions for the fallback prompt', () => {
  const r = core.classify('Leather wallet with card slots');
  assert.equal(r.candidates.length, CANDIDATES);
  assert.equal(r.candidates[0]!.label, r.label);
  assert.equal(r.candidates[0]!.confidence, r.confidence);
  for (const c of r.candidates) {
    assert.ok(c.description.length > 0);
    assert.ok(c.confidence >= 0 && c.confidence <= 1);
  }
  const confidences = r.candidates.map((c) => c.confidence);
  assert.deepEqual(
    confidences,
    [...confidences].sort((a, b) => b - a),
  );
});

test('part numbers and gibberish are unclassified with confidence 0', () => {
  for (const text of ['XK-99812', 'SKU 4471-A rev 3', 'PN 12-3345-01 qty 10', 'asdf qwer zxcv', '']) {
    assert.deepEqual(core.classify(text), { label: UNCLASSIFIED, confidence: 0, candidates: [] }, text);
  }
});

test('text with only a stray known word scores below even the fallback threshold', () => {
  // 'B' is a word of the taxonomy (a cement's class, "CEM II/B-M"), so a part number ending in it scores, low.
  for (const text of ['blue', 'black size L', 'XK-99812-B', 'ZX-4471 rev C part', 'item 4471 grey']) {
    const r = core.classify(text);
    assert.ok(r.confidence < 0.7, `${text} → ${r.label} at ${r.confidence}`);
  }
});

test('held-out evaluation: accurate overall, and more accurate where it is confident', () => {
  const r = evaluate(taxonomy, { holdOutEvery: 5 });
  assert.equal(r.examples, 6080);
  assert.equal(r.heldOut, 1216);
  // Measured on this split: accuracy 0.745, coverage 0.408 and accuracy 0.952 at ≥ 0.85,
  // candidate recall 0.926. Floors sit ~5 points below.
  assert.ok(r.accuracy >= 0.69, `accuracy ${r.accuracy}`);
  assert.ok(r.coverageAtThreshold >= 0.35, `coverage at 0.85: ${r.coverageAtThreshold}`);
  assert.ok(r.accuracyAtThreshold !== null && r.accuracyAtThreshold >= 0.9, `accuracy at 0.85: ${r.accuracyAtThreshold}`);
  // What makes the confidence mean something: the confident subset beats the whole, and the
  // stricter threshold beats the looser one.
  assert.ok(r.accuracyAtThreshold > r.accuracy);
  assert.ok(
    r.accuracyAtFallbackThreshold !== null &&
      r.accuracyAtThreshold >= r.accuracyAtFallbackThreshold &&
      r.accuracyAtFallbackThreshold > r.accuracy,
  );
  assert.ok(r.candidateRecall >= 0.88, `candidate recall ${r.candidateRecall}`);
});

test('held out by heading: a model never answers with a heading it was not trained on, and says how much it decides anyway', () => {
  // A small taxonomy of three headings, each left out alone (three groups of one).
  const three: Taxonomy = { ...taxonomy, headings: taxonomy.headings.slice(0, 3) };
  const o = evaluateOpenSet(three, { worst: 3 });
  assert.equal(
    o.asked,
    three.headings.reduce((k, h) => k + h.examples.length, 0),
  );
  assert.ok(o.notAutoDecided >= 0 && o.notAutoDecided <= 1);
  assert.ok(o.belowFallbackThreshold <= o.notAutoDecided, 'below 0.70 is a subset of below 0.85');
  for (const h of o.worst) {
    assert.ok(h.autoDecided > 0 && h.autoDecided === h.decidedAs.length);
    for (const d of h.decidedAs) {
      assert.notEqual(d.predicted, h.code, 'the left-out heading is never an answer');
      assert.ok(d.confidence >= o.threshold);
    }
  }
  const decided = o.worst.reduce((k, h) => k + h.autoDecided, 0);
  assert.equal(o.notAutoDecided, Math.round(((o.asked - decided) / o.asked) * 1e4) / 1e4, 'the share is what the headings add up to');
  assert.deepEqual(evaluateOpenSet(three, { worst: 3 }), o, 'deterministic');
});

test('the held-out split is deterministic', () => {
  const strip = ({ trainingMs: _t, ...rest }: ReturnType<typeof evaluate>) => rest;
  assert.deepEqual(strip(evaluate(taxonomy, { holdOutEvery: 5, offset: 0 })), strip(evaluate(taxonomy, { holdOutEvery: 5, offset: 0 })));
});

test('a taxonomy too small to calibrate on still classifies, with uncalibrated odds', () => {
  const tiny: Taxonomy = {
    headings: [
      { code: '0901', description: 'Coffee', examples: ['roasted coffee beans 1kg', 'ground espresso coffee', 'decaf coffee pods'] },
      { code: '0902', description: 'Tea', examples: ['green tea bags', 'loose leaf black tea', 'jasmine tea 100g'] },
      { code: '1806', description: 'Chocolate', examples: ['dark chocolate bar', 'milk chocolate buttons', 'hot chocolate powder'] },
    ],
  };
  const small = trainCore(tiny);
  assert.equal(small.info.calibration.method, 'odds');
  assert.equal(small.classify('arabica coffee beans').label, '0901');
});

test('fitLogistic recovers a known relation', () => {
  // y = 1 exactly when x > 2: the fitted boundary -w0/w1 lands near 2.
  const xs = Array.from({ length: 200 }, (_, i) => i / 40);
  const [w0, w1] = fitLogistic(
    xs.map((x) => [x]),
    xs.map((x) => (x > 2 ? 1 : 0)),
  );
  assert.ok(w1! > 0);
  assert.ok(Math.abs(-w0! / w1! - 2) < 0.1, `boundary ${-w0! / w1!}`);
});

test('loadTaxonomy rejects a malformed file, naming the file and the failing paths', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taxonomy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(
    bad,
    JSON.stringify({
      headings: [
        { code: '61A9', description: 'T-shirts', examples: ['tee', 'tank top', 'singlet'] },
        { code: '6110', description: 'Jumpers', examples: ['hoodie'] },
        { code: '6110', description: 'Again', examples: ['a', 'b', 'c'], extra: true },
      ],
    }),
  );
  assert.throws(
    () => loadTaxonomy(bad),
    (err: unknown) => {
      assert.ok(err instanceof TaxonomyError);
      assert.match(err.message, new RegExp(`invalid taxonomy ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(err.message, /headings\.0\.code: must be 4 to 10 digits/);
      assert.match(err.message, /headings\.1\.examples: /);
      assert.match(err.message, /headings\.2: .*extra/i);
      assert.match(err.message, /headings\.2\.code: duplicate code 6110 \(also headings\.1\)/);
      return true;
    },
  );

  const notJson = path.join(dir, 'broken.json');
  fs.writeFileSync(notJson, '{ "headings": [');
  assert.throws(
    () => loadTaxonomy(notJson),
    (err: unknown) => err instanceof TaxonomyError && err.message.includes(`taxonomy ${notJson} is not valid JSON`),
  );
  assert.throws(() => loadTaxonomy(path.join(dir, 'missing.json')), /cannot read taxonomy .*missing\.json/);
});
