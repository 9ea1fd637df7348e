/**
 * The taxonomy the core tier is trained on: HS headings, each with a description and example
 * product texts as merchants write them. One ships beside this module; `CLASSIFY_TAXONOMY` may
 * name another file of the same shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The shipped taxonomy, resolved from this module so it is found whatever the working directory. */
export const DEFAULT_TAXONOMY_PATH = path.join(__dirname, 'taxonomy.json');

/** Fewer examples than this gives the model nothing to generalise from (and nothing to hold out). */
const MIN_EXAMPLES = 3;

export const TaxonomyHeading = z.strictObject({
  /** An HS heading or subheading: 4 to 10 digits, no dots ("6109", "610910"). */
  code: z.string().regex(/^\d{4,10}$/, 'must be 4 to 10 digits, e.g. "6109"'),
  description: z.string().trim().min(1),
  examples: z.array(z.string().trim().min(1)).min(MIN_EXAMPLES),
});
export type TaxonomyHeading = z.infer<typeof TaxonomyHeading>;

export const Taxonomy = z
  .strictObject({
    version: z.literal(1).optional(),
    headings: z.array(TaxonomyHeading).min(2, 'needs at least 2 headings to classify between'),
  })
  .superRefine((t, ctx) => {
    const seen = new Map<string, number>();
    t.headings.forEach((h, i) => {
      const first = seen.get(h.code);
      if (first !== undefined)
        ctx.addIssue({ code: 'custom', path: ['headings', i, 'code'], message: `duplicate code ${h.code} (also headings.${first})` });
      else seen.set(h.code, i);
    });
  });
export type Taxonomy = z.infer<typeof Taxonomy>;

/**
 * The 21 sections of the Harmonized System by their first and last chapter: a heading's section
 * follows from its first two digits.
 */
const SECTIONS: Array<[section: string, firstChapter: number, lastChapter: number]> = [
  ['I', 1, 5],
  ['II', 6, 14],
  ['III', 15, 15],
  ['IV', 16, 24],
  ['V', 25, 27],
  ['VI', 28, 38],
  ['VII', 39, 40],
  ['VIII', 41, 43],
  ['IX', 44, 46],
  ['X', 47, 49],
  ['XI', 50, 63],
  ['XII', 64, 67],
  ['XIII', 68, 70],
  ['XIV', 71, 71],
  ['XV', 72, 83],
  ['XVI', 84, 85],
  ['XVII', 86, 89],
  ['XVIII', 90, 92],
  ['XIX', 93, 93],
  ['XX', 94, 96],
  ['XXI', 97, 97],
];
export const HS_SECTIONS = SECTIONS.map(([s]) => s);

/** The HS section (I to XXI) of a heading code, or undefined for a chapter outside 01-97. */
export function sectionOf(code: string): string | undefined {
  const chapter = Number(code.slice(0, 2));
  return SECTIONS.find(([, first, last]) => chapter >= first && chapter <= last)?.[0];
}

/** Thrown when a taxonomy file cannot be read, is not JSON, or does not match the schema. */
export class TaxonomyError extends Error {
  override name = 'TaxonomyError';
}

/**
 * Reads and validates a taxonomy file.
 *
 * @param file - defaults to {@link DEFAULT_TAXONOMY_PATH}, the taxonomy shipped in the repo.
 * @throws TaxonomyError naming the file and, for schema errors, every failing path
 *   (e.g. `headings.3.examples: ...`).
 */
export function loadTaxonomy(file: string = DEFAULT_TAXONOMY_PATH): Taxonomy {
  const where = path.resolve(file);
  let raw: string;
  try {
    raw = fs.readFileSync(where, 'utf8');
  } catch (err) {
    throw new TaxonomyError(`cannot read taxonomy ${where}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new TaxonomyError(`taxonomy ${where} is not valid JSON: ${(err as Error).message}`);
  }
  return parseTaxonomy(json, where);
}

/** Validates an already-parsed taxonomy; `source` names it in the error. */
export function parseTaxonomy(json: unknown, source = 'taxonomy'): Taxonomy {
  const parsed = Taxonomy.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new TaxonomyError(`invalid taxonomy ${source}:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
