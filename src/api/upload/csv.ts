/** CSV submissions: a header row, then one item a row. */
import { Readable, pipeline } from 'node:stream';
import { CsvError, parse, type Info, type InfoRecord, type Options } from 'csv-parse';
import type { Row, RowProblem } from './rows';

/** Columns that are fields of the item; every other column becomes one of its attributes. */
const ITEM_COLUMNS = new Set(['ref', 'text', 'content', 'content_type']);

interface Numbered {
  row: number;
  record: string[];
}

/**
 * Parses the CSV as it streams in and yields one item per data row, in the JSON item shape. An
 * empty cell is an absent value (CSV cannot tell the two apart): an empty `text` is no text, an
 * empty attribute cell no attribute. Broken quoting, a row with the wrong number of cells or a bad
 * header ends the file with a fatal problem.
 */
export async function* csvRows(chunks: AsyncIterable<Buffer>): AsyncGenerator<Row> {
  // csv-parse reports the line a record ends on; a row is numbered by the line it starts on. This
  // runs as each record is parsed, so it is current even when the parser fails later in a chunk.
  let endLine = 0;
  let emptyLines = 0;
  let width: number | undefined;
  const startLine = (emptyNow: number): number => endLine + 1 + (emptyNow - emptyLines);
  const numbered = (record: string[], info: InfoRecord): Numbered => {
    const row = startLine(info.empty_lines);
    endLine = info.lines;
    emptyLines = info.empty_lines;
    width ??= record.length;
    return { row, record };
  };
  const options: Options<Numbered, string[]> = { bom: true, skip_empty_lines: true, on_record: numbered };
  // The typings only know on_record returning the record type itself.
  const parser = parse(options as unknown as Options);
  // Errors of the source (413) reach the parser, and so the loop below.
  pipeline(Readable.from(chunks), parser, () => {});
  let header: string[] | undefined;
  try {
    for await (const { row, record } of parser as AsyncIterable<Numbered>) {
      if (header) {
        yield { row, item: toItem(header, record) };
        continue;
      }
      header = record.map((name) => name.trim());
      const problem = headerProblem(header);
      if (problem) {
        yield { row, problem };
        return;
      }
    }
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const at = err as CsvError & Partial<Pick<Info, 'empty_lines'>> & { record?: string[] };
    yield { row: startLine(at.empty_lines ?? emptyLines), problem: { issue: csvIssue(at, width), fatal: true } };
  }
}

function headerProblem(header: string[]): RowProblem | undefined {
  const blank = header.findIndex((name) => name === '');
  if (blank !== -1) return { issue: `column ${blank + 1} of the header has no name`, fatal: true };
  const twice = header.find((name, i) => header.indexOf(name) !== i);
  if (twice !== undefined) return { column: twice, issue: 'the header names this column twice', fatal: true };
  if (!header.includes('ref')) return { column: 'ref', issue: 'the header has no ref column', fatal: true };
  return undefined;
}

function toItem(header: string[], record: string[]): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  const attributes: Array<[string, string]> = [];
  header.forEach((name, i) => {
    const cell = record[i]!;
    if (cell === '') return;
    if (ITEM_COLUMNS.has(name)) item[name] = cell;
    else attributes.push([name, cell]);
  });
  // fromEntries defines own properties: a column named __proto__ stays an attribute.
  if (attributes.length > 0) item.attributes = Object.fromEntries(attributes);
  return item;
}

function csvIssue(err: CsvError & { record?: string[] }, width: number | undefined): string {
  switch (err.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
      return `has ${err.record?.length ?? 'a different number of'} cells where the header has ${width ?? 'another number'}`;
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted cell is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'a quote inside a quoted cell must be doubled ("")';
    default:
      return `not valid CSV: ${err.message}`;
  }
}
