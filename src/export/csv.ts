/** RFC 4180 CSV, with cells that a spreadsheet would run as a formula defused. */
import { FLAT_COLUMNS, type FlatValue } from './columns';
import type { ExportRow } from '../db/export';

/**
 * Text that starts with one of these is read as a formula by Excel, LibreOffice and Google Sheets
 * (OWASP "CSV injection"): `=`, `+`, `-`, `@`, and tab or carriage return before them.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell as it is written: prefixed with `'` when it would start a formula (spreadsheets show
 * the text and hide the quote), then quoted when it holds a quote, comma or line break. Only text
 * that comes from clients or targets is guarded; numbers and booleans are written as they are.
 */
export function csvText(text: string): string {
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvCell(value: FlatValue): string {
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return csvText(JSON.stringify(value));
  return csvText(value);
}

export const csvHeader = (): string => `${FLAT_COLUMNS.map((c) => c.name).join(',')}\r\n`;

export const csvRow = (row: ExportRow): string => `${FLAT_COLUMNS.map((c) => csvCell(c.value(row))).join(',')}\r\n`;
