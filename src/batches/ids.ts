/**
 * Batch ids, and the UUID forms that the original designs' clients expect.
 *
 * A batch id is `b_` + a ULID. New ids are made from a UUIDv7, so the same 128 bits read as a
 * valid RFC 9562 UUID: the classify and document designs type their `job_id` as a UUID, and a
 * client that parses it (Pydantic's UUID, Python's uuid.UUID) gets one. Ids made before this
 * (plain ULIDs) still convert both ways; their UUID form just carries no version.
 */
import { ulidToUUID, uuidToULID } from 'ulid';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BATCH_ID = /^b_[0-9A-HJKMNP-TV-Z]{26}$/;

export const newBatchId = (): string => `b_${uuidToULID(uuidv7())}`;

/** The UUID form of a batch id (lower case, as Python prints UUIDs). */
export const batchUuid = (batchId: string): string => ulidToUUID(batchId.slice(2)).toLowerCase();

/** The batch id a client's job id names: a UUID form, or the batch id itself; undefined for anything else. */
export function batchIdOf(jobId: string): string | undefined {
  if (BATCH_ID.test(jobId)) return jobId;
  if (UUID.test(jobId)) return `b_${uuidToULID(jobId.toUpperCase())}`;
  return undefined;
}

/** A fixed namespace: the same tenant always has the same UUID, on every installation. */
const TENANT_NAMESPACE = '6f1c2a0e-3b1d-5c59-9a43-2f6c0b8e7d15';

/**
 * The UUID of a tenant, for the document design whose `tenant_id` is a UUID. Tenants are named
 * (`acme`), so the UUID is derived from the name (UUIDv5), never stored: `npm run keys` prints it.
 */
export const tenantUuid = (tenantId: string): string => uuidv5(tenantId, TENANT_NAMESPACE);
