/** The request body as it arrives: counted against the byte limit and fed to the request digest. */
import type { Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { payloadTooLarge, validationFailed } from '../../errors';

/**
 * Yields the body's chunks, throwing 413 the moment more than `limit` bytes have arrived (at once
 * when Content-Length says so). Nothing keeps the chunks: the digest is updated as they pass.
 */
export function meteredBody(req: IncomingMessage, limit: number, digest: Hash): AsyncGenerator<Buffer> {
  if (Number(req.headers['content-length'] ?? '0') > limit) throw payloadTooLarge(limit);
  return chunks(req, limit, digest);
}

async function* chunks(req: IncomingMessage, limit: number, digest: Hash): AsyncGenerator<Buffer> {
  let seen = 0;
  // Stopping early (a bad row, too many bytes) must not destroy the socket: the answer has yet to
  // be written to it. The route closes the connection after answering instead.
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) throw payloadTooLarge(limit);
      digest.update(chunk);
      yield chunk;
    }
  } catch (err) {
    // The client went away mid-upload: nobody reads the answer, but it is no server fault either.
    if ((err as { code?: string }).code === 'ECONNRESET')
      throw validationFailed([{ path: 'body', issue: 'the request ended before its body did' }]);
    throw err;
  }
}
