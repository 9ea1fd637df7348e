/**
 * Splitting an item's text into overlapping windows for retrieval. Positions count Unicode code
 * points (what PostgreSQL's `substr` and `length` count), so a window never splits a character.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../../errors';

export interface ChunkOptions {
  /** Characters per chunk; the last one may be shorter. */
  chars: number;
  /** Characters each chunk repeats from the end of the one before; less than `chars`. */
  overlap: number;
}

/** The defaults of `INGEST_CHUNK_CHARS` and `INGEST_CHUNK_OVERLAP`. */
export const DEFAULT_CHUNKING: ChunkOptions = { chars: 1_000, overlap: 100 };

/** Upper bound of a batch's own `chunk_chars`: an item's text is at most 100,000 characters. */
const MAX_CHUNK_CHARS = 100_000;

export interface TextChunk {
  idx: number;
  /** Code-point offset of the chunk's first character in the item's text. */
  start: number;
  text: string;
}

/**
 * Windows of `chars` characters, each starting `chars - overlap` after the one before, until the
 * text is covered: a text of n > chars characters makes 1 + ceil((n - chars) / (chars - overlap))
 * chunks; an empty text makes none.
 */
export function chunkText(text: string, { chars, overlap }: ChunkOptions): TextChunk[] {
  assertChunking({ chars, overlap }, 'chunking');
  // Strings without surrogate pairs index by code point already; others are split first.
  const points = /[\uD800-\uDFFF]/.test(text) ? Array.from(text) : null;
  const length = points ? points.length : text.length;
  const slice = (from: number, to: number): string => (points ? points.slice(from, to).join('') : text.slice(from, to));
  const chunks: TextChunk[] = [];
  for (let start = 0; start < length; start += chars - overlap) {
    const end = Math.min(start + chars, length);
    chunks.push({ idx: chunks.length, start, text: slice(start, end) });
    if (end === length) break;
  }
  return chunks;
}

function assertChunking(c: ChunkOptions, where: string): void {
  if (!Number.isInteger(c.chars) || c.chars < 1 || !Number.isInteger(c.overlap) || c.overlap < 0 || c.overlap >= c.chars) {
    throw new RangeError(
      `${where}: chunk_chars must be a positive integer and chunk_overlap an integer in [0, chunk_chars); got ${c.chars} and ${c.overlap}`,
    );
  }
}

/** Checks the worker's own settings once, when the activities are built. */
export function checkChunking(c: ChunkOptions): ChunkOptions {
  assertChunking(c, 'INGEST_CHUNK_CHARS/INGEST_CHUNK_OVERLAP');
  return c;
}

/**
 * A batch's own chunking, from `chunk_chars` and `chunk_overlap` in its metadata, over the
 * worker's defaults. A value that is present but unusable fails the ingest call for good: the
 * submitter asked for something specific, and guessing would store chunks nobody asked for.
 */
export function chunkingFor(metadata: Record<string, unknown> | null | undefined, defaults: ChunkOptions): ChunkOptions {
  const chars = metadata?.chunk_chars ?? defaults.chars;
  // An overlap inherited from the defaults is at most half of the batch's own chunk_chars.
  const overlap =
    metadata?.chunk_overlap ??
    (metadata?.chunk_chars === undefined ? defaults.overlap : Math.min(defaults.overlap, Math.floor(Number(chars) / 2)));
  const c = { chars: chars as number, overlap: overlap as number };
  try {
    if (typeof c.chars !== 'number' || typeof c.overlap !== 'number') throw new RangeError('chunk_chars and chunk_overlap must be numbers');
    assertChunking(c, 'batch metadata');
    if (c.chars > MAX_CHUNK_CHARS) throw new RangeError(`batch metadata: chunk_chars must be at most ${MAX_CHUNK_CHARS}`);
  } catch (err) {
    throw ApplicationFailure.create({ type: ErrorType.Validation, nonRetryable: true, message: (err as Error).message });
  }
  return c;
}
