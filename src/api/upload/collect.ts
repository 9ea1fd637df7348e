/** Turns an uploaded file's rows into items, validating each with the JSON path's item schema. */
import { Item } from '../../contracts/http';
import { BatchflowError } from '../../errors';
import { detailsFromZod } from '../validate';
import type { Row } from './rows';

/** A wholly wrong file must not answer with 50,000 details: past this many, reading stops. */
export const MAX_PROBLEMS = 100;

export interface CollectOptions {
  /** Items a batch may hold; one more and the file is refused without reading the rest. */
  maxItems: number;
  /** What the error message calls a cell: `column` for CSV, `field` for NDJSON. */
  cell: 'column' | 'field';
}

interface Problem {
  row?: number;
  column?: string;
  issue: string;
}

/**
 * Reads every row, and either answers the items (each in the JSON item shape, refs unique) or
 * throws one `validation_failed` whose details name each bad row and column as `rows.<row>.<column>`.
 * Once a row is bad no more items are kept: the file is refused whole, only the problems matter.
 */
export async function collectItems(rows: AsyncIterable<Row>, opts: CollectOptions): Promise<Item[]> {
  const items: Item[] = [];
  const problems: Problem[] = [];
  const firstRow = new Map<string, number>();
  let count = 0;
  for await (const r of rows) {
    const problem = 'problem' in r ? r.problem : undefined;
    if (problem?.fatal) {
      problems.push({ row: r.row, column: problem.column, issue: problem.issue });
      break;
    }
    if (++count > opts.maxItems) {
      problems.push({ issue: `more than ${opts.maxItems} items (row ${r.row} is one too many)` });
      break;
    }
    if (problem) problems.push({ row: r.row, column: problem.column, issue: problem.issue });
    else if ('item' in r) {
      const parsed = Item.safeParse(r.item);
      if (!parsed.success) {
        for (const d of detailsFromZod(parsed.error)) problems.push({ row: r.row, column: d.path || undefined, issue: d.issue });
      } else {
        const ref = parsed.data.ref;
        const first = firstRow.get(ref);
        if (first !== undefined) problems.push({ row: r.row, column: 'ref', issue: `duplicate ref "${ref}" (first on row ${first})` });
        else {
          firstRow.set(ref, r.row);
          if (problems.length === 0) items.push(parsed.data);
        }
      }
    }
    if (problems.length >= MAX_PROBLEMS) {
      problems.push({ issue: `more than ${MAX_PROBLEMS} problems; the rest of the file was not read` });
      break;
    }
  }
  if (problems.length === 0 && count === 0) problems.push({ issue: 'the file holds no items' });
  if (problems.length > 0) throw fileRefused(problems, opts.cell);
  return items;
}

function fileRefused(problems: Problem[], cell: CollectOptions['cell']): BatchflowError {
  const details = problems.map((p) => ({ path: ['rows', p.row, p.column].filter((s) => s !== undefined).join('.'), issue: p.issue }));
  const first = problems[0]!;
  const where =
    first.row === undefined ? '' : first.column === undefined ? `row ${first.row}: ` : `row ${first.row}, ${cell} ${first.column}: `;
  const more = problems.length > 1 ? ` (${problems.length - 1} more in details)` : '';
  return new BatchflowError(400, 'validation_failed', `the file was refused: ${where}${first.issue}${more}`, details);
}
