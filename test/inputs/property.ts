/** The property runner the generated-input files share: cases, tallies, and the half-created check. */
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import type { Answer } from './check';
import { assertNothingHalfCreated, type InputsApp } from './harness';

export const JSON_TYPE = { 'content-type': 'application/json' };

export interface Totals {
  cases: number;
  accepted: number;
  refused: number;
}

/**
 * Cases go in groups sent at once: the app serves several requests at a time in production too,
 * and a group keeps the database and Temporal busy while another case is being generated. A
 * failing group is shrunk like any other input.
 */
const GROUP = 4;

/**
 * Runs `cases` cases of `arb` through `send` (check.ts fails any 5xx or off-contract 4xx, and
 * fast-check shrinks it), reports how many were tried and answered 2xx and 4xx, then checks that
 * nothing was left half-created. Adds the counts to `totals`.
 */
export async function property<T>(
  app: InputsApp,
  totals: Totals,
  t: TestContext,
  arb: fc.Arbitrary<T>,
  cases: number,
  send: (value: T) => Promise<Answer>,
): Promise<void> {
  const tally = { cases: 0, '2xx': 0, '4xx': 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(arb, { minLength: GROUP, maxLength: GROUP }), async (group) => {
      const answers = await Promise.all(group.map(send));
      for (const answer of answers) {
        tally.cases++;
        if (answer.status < 300) tally['2xx']++;
        else tally['4xx']++;
      }
    }),
    { numRuns: Math.ceil(cases / GROUP) },
  );
  const { batches } = await assertNothingHalfCreated(app.stack);
  totals.cases += tally.cases;
  totals.accepted += tally['2xx'];
  totals.refused += tally['4xx'];
  t.diagnostic(
    `${t.name}: ${tally.cases} cases, ${tally['2xx']} × 2xx, ${tally['4xx']} × 4xx; ${batches} batches in the database, none half-created`,
  );
}

export const totalsLine = (totals: Totals): string =>
  `generated cases: ${totals.cases} (${totals.accepted} × 2xx, ${totals.refused} × 4xx, 0 × 5xx)`;
