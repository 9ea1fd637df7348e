/**
 * The export formats: each turns pages of rows into chunks of bytes, one chunk per page (per row
 * group for parquet), so the caller can stream them with backpressure.
 */
import type { ExportFormat } from '../contracts/http';
import type { ExportRow } from '../db/export';
import { nestedItem } from './columns';
import { csvHeader, csvRow } from './csv';
import { parquetChunks } from './parquet';

/** What a whole-export format knows about its batch (json's envelope, parquet's key-value metadata). */
export interface ExportHeader {
  batch_id: string;
  status: string;
  total_items: number;
  metadata: Record<string, unknown>;
  exported_at: string;
}

export interface Format {
  contentType: string;
  ext: string;
  render(pages: AsyncIterable<ExportRow[]>, header: ExportHeader): AsyncGenerator<Buffer>;
}

async function* csv(pages: AsyncIterable<ExportRow[]>): AsyncGenerator<Buffer> {
  yield Buffer.from(csvHeader());
  for await (const page of pages) yield Buffer.from(page.map(csvRow).join(''));
}

async function* ndjson(pages: AsyncIterable<ExportRow[]>): AsyncGenerator<Buffer> {
  for await (const page of pages) yield Buffer.from(page.map((r) => `${JSON.stringify(nestedItem(r))}\n`).join(''));
}

/** One JSON document, `{"batch_id", "status", "total_items", "metadata", "exported_at", "items": [...]}`, written as it goes. */
async function* json(pages: AsyncIterable<ExportRow[]>, header: ExportHeader): AsyncGenerator<Buffer> {
  const head = JSON.stringify(header);
  yield Buffer.from(`${head.slice(0, -1)},"items":[`);
  let first = true;
  for await (const page of pages) {
    const items = page.map((r) => JSON.stringify(nestedItem(r))).join(',\n');
    yield Buffer.from(`${first ? '\n' : ',\n'}${items}`);
    first = false;
  }
  yield Buffer.from('\n]}\n');
}

function parquet(pages: AsyncIterable<ExportRow[]>, header: ExportHeader): AsyncGenerator<Buffer> {
  return parquetChunks(pages, {
    batch_id: header.batch_id,
    status: header.status,
    total_items: String(header.total_items),
    metadata: JSON.stringify(header.metadata),
    exported_at: header.exported_at,
  });
}

export const FORMATS: Record<ExportFormat, Format> = {
  csv: { contentType: 'text/csv; charset=utf-8', ext: 'csv', render: csv },
  ndjson: { contentType: 'application/x-ndjson', ext: 'ndjson', render: ndjson },
  json: { contentType: 'application/json', ext: 'json', render: json },
  parquet: { contentType: 'application/vnd.apache.parquet', ext: 'parquet', render: parquet },
};
