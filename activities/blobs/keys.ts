/** The contract's blob paths: `raw/{tenant}/{item_id}/{sha256}`. */
import { createHash } from 'node:crypto';

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * An item's stable id within its tenant: the first 16 hex digits of sha256(ref). The same ref in
 * any batch of the tenant gets the same id, so its content lands under the same folder.
 */
export const itemIdOf = (ref: string): string => sha256Hex(ref).slice(0, 16);

/** Content-addressed: the same ref with the same bytes always has the same key. */
export const rawBlobKey = (tenantId: string, itemId: string, sha256: string): string => `raw/${tenantId}/${itemId}/${sha256}`;
