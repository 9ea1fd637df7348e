/** Opaque page cursors: base64url JSON, so clients cannot depend on what is inside. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Returns undefined for a cursor that is not one of ours; callers answer 400. */
export function decodeCursor<T>(cursor: string, check: (v: unknown) => v is T): T | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return check(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The parts a cursor may hold, each within what its column takes: a decoded cursor goes straight
 * into SQL, and an invalid date or a seq past int4 would fail there (a 500) instead of here (a 400).
 */
export const isSeq = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= -1 && (v as number) <= 2 ** 31 - 1;
export const isTime = (v: unknown): v is string => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
export const isKey = (v: unknown): v is string => typeof v === 'string' && v.length <= 200 && !v.includes('\u0000');
