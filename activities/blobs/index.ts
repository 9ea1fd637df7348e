/** The blob store the ingest stage writes content to, chosen by configuration (`BLOB_STORE`). */
import { ApplicationFailure } from '@temporalio/activity';
import { ConfigError, type Config } from '../../src/config';
import { createFsBlobStore } from './fs';
import { createS3BlobStore } from './s3';
import type { BlobStore } from './store';

export type { BlobStore } from './store';
export { BlobKeyError } from './store';
export { createFsBlobStore, type FsBlobStore } from './fs';
export { createS3BlobStore, createS3Client, type S3BlobOptions } from './s3';
export { itemIdOf, rawBlobKey } from './keys';

/** `fs` under `dir` (the data dir's `blobs/`), or `s3` at `S3_ENDPOINT`/`S3_BUCKET`/`S3_REGION`. */
export function createBlobStore(blobs: Config['blobs']): BlobStore {
  if (blobs.driver === 'fs') return createFsBlobStore(blobs.dir);
  if (!blobs.s3.bucket) throw new ConfigError('invalid configuration:\n  S3_BUCKET: required when BLOB_STORE=s3');
  return createS3BlobStore({ bucket: blobs.s3.bucket, region: blobs.s3.region, endpoint: blobs.s3.endpoint });
}

/** The failure type of an activity that needed a blob store its worker was not given. */
export const BLOB_STORE_MISSING = 'BlobStoreMissing';

/**
 * Stands in when the worker was built without a blob store: batches of text alone never notice,
 * and the first item that has content fails its call for good, saying what is missing, instead
 * of its bytes landing somewhere nobody chose.
 */
export function missingBlobStore(): BlobStore {
  const fail = (): never => {
    throw ApplicationFailure.create({
      type: BLOB_STORE_MISSING,
      nonRetryable: true,
      message: 'no blob store configured: the worker must be given `blobs` (createBlobStore(config.blobs)) or `blobDir`',
    });
  };
  return { put: async () => fail(), delete: async () => fail(), exists: async () => fail() };
}
