/**
 * Where ingested content goes. Keys are `/`-separated paths (`raw/{tenant}/{item_id}/{sha256}`);
 * every operation is idempotent, so an activity retry can repeat any of them safely.
 */
export interface BlobStore {
  /** Stores `bytes` under `key`, replacing what was there; readers never see a partial object. */
  put(key: string, bytes: Uint8Array, options?: { contentType?: string }): Promise<void>;
  /** Removes `key`; removing a key that is not there succeeds. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** The bytes under `key`, or null when there are none. */
  get?(key: string): Promise<Uint8Array | null>;
}

/** Thrown when a key could escape its store or collide with the store's own files. */
export class BlobKeyError extends Error {}

/**
 * Checks a key's shape: non-empty segments separated by `/`, none starting with `.` (which rules
 * out `.` and `..`, and leaves dot-names free for a driver's temporary files), no backslash or NUL.
 */
export function assertBlobKey(key: string): string[] {
  const segments = key.split('/');
  if (key.length === 0 || key.length > 1024 || /[\\\0]/.test(key) || segments.some((s) => s === '' || s.startsWith('.'))) {
    throw new BlobKeyError(`invalid blob key: ${JSON.stringify(key)}`);
  }
  return segments;
}
