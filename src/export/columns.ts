/**
 * The export's fields: one list of flat columns that csv and parquet share, and the nested item
 * that json and ndjson carry. Both hold the same facts.
 */
import type { ExportRow } from '../db/export';

export type FlatValue = string | number | boolean | Date | Record<string, unknown> | null;

/** The parquet type of a flat column: a hyparquet-writer basic type. */
export type ColumnType = 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN' | 'JSON' | 'TIMESTAMP';

export interface FlatColumn {
  name: string;
  type: ColumnType;
  /** Never null (parquet REQUIRED). */
  required?: boolean;
  value(row: ExportRow): FlatValue;
}

const num = (v: unknown): number | null =>
  typeof v === 'number' ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null;

export const FLAT_COLUMNS: readonly FlatColumn[] = [
  { name: 'seq', type: 'INT32', required: true, value: (r) => r.seq },
  { name: 'ref', type: 'STRING', required: true, value: (r) => r.ref },
  { name: 'status', type: 'STRING', required: true, value: (r) => r.status },
  { name: 'stage', type: 'STRING', value: (r) => r.stage },
  { name: 'classification_label', type: 'STRING', value: (r) => r.classification?.label ?? null },
  { name: 'classification_confidence', type: 'DOUBLE', value: (r) => num(r.classification?.confidence) },
  { name: 'classification_tier', type: 'STRING', value: (r) => r.classification?.tier ?? null },
  { name: 'classification_cost', type: 'DOUBLE', value: (r) => num(r.classification?.cost) },
  { name: 'published_id', type: 'STRING', value: (r) => r.published_id },
  { name: 'error_code', type: 'STRING', value: (r) => r.error?.code ?? null },
  { name: 'error_message', type: 'STRING', value: (r) => r.error?.message ?? null },
  { name: 'error_retryable', type: 'BOOLEAN', value: (r) => (typeof r.error?.retryable === 'boolean' ? r.error.retryable : null) },
  { name: 'error_attempts', type: 'INT32', value: (r) => num(r.error?.attempts) },
  // Keys differ from item to item, so they stay one JSON column rather than a column each.
  { name: 'attributes', type: 'JSON', value: (r) => r.attributes },
  { name: 'updated_at', type: 'TIMESTAMP', value: (r) => r.updated_at },
];

/** The item as json and ndjson carry it: GET …/items' item, plus seq, attributes and updated_at. */
export function nestedItem(r: ExportRow): Record<string, unknown> {
  return {
    seq: r.seq,
    ref: r.ref,
    status: r.status,
    stage: r.stage,
    classification: r.classification,
    published_id: r.published_id,
    error: r.error,
    attributes: r.attributes,
    updated_at: r.updated_at?.toISOString() ?? null,
  };
}
