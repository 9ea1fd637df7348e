/** NDJSON submissions: one item object a line. */
import type { Row } from './rows';

/**
 * Splits the stream into lines and parses each on its own, so memory holds one line at a time.
 * Blank lines are skipped (a trailing newline is no item); a line that is not JSON is a problem of
 * its row, and the rows after it are still read, so one answer lists every bad line.
 */
export async function* ndjsonRows(chunks: AsyncIterable<Buffer>): AsyncGenerator<Row> {
  let row = 0;
  for await (let line of lines(chunks)) {
    row++;
    if (row === 1 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.trim() === '') continue;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch (err) {
      yield { row, problem: { issue: `not valid JSON (${(err as Error).message})` } };
      continue;
    }
    yield { row, item };
  }
}

/** The stream's lines without their `\n` or `\r\n`; a line split over chunks is joined first. */
export async function* lines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  const take = (last: Buffer): string => {
    pending.push(last);
    // A newline byte never falls inside a multi-byte UTF-8 character, so decoding per line is safe.
    const text = (pending.length === 1 ? last : Buffer.concat(pending)).toString('utf8');
    pending = [];
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield take(chunk.subarray(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield take(Buffer.alloc(0));
}
