/** What the file parsers hand to the collector: one row's item, or why the row holds none. */

/**
 * Rows are numbered by the line of the file they start on, from 1: in a CSV the header is row 1
 * and the first item row 2; in NDJSON the first item is row 1. Blank lines are skipped but counted,
 * so the number is always the one an editor shows.
 */
export type Row = { row: number; item: unknown } | { row: number; problem: RowProblem };

export interface RowProblem {
  /** The column (CSV) or field (NDJSON) at fault; absent when the row as a whole is. */
  column?: string;
  issue: string;
  /** The file cannot be read past this problem (broken CSV quoting, a bad header). */
  fatal?: boolean;
}
