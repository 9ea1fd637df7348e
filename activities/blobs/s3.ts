/**
 * Blobs in an S3 bucket, or in an S3-compatible store (MinIO and the like) at `endpoint`.
 * Credentials come the AWS way (environment, shared config and profiles, SSO, container or
 * instance roles): the SDK's default provider chain, never a setting of ours.
 */
import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assertBlobKey, type BlobStore } from './store';

export interface S3BlobOptions {
  bucket: string;
  /** Default region for signing; MinIO accepts any. */
  region: string;
  /** An S3-compatible server (`http://127.0.0.1:9000`); unset means AWS itself. */
  endpoint?: string;
  /** A client built elsewhere (its own credentials or handler); `region` and `endpoint` are then ignored. */
  client?: S3Client;
}

/**
 * A blob is at most 10 MiB (the contract's limit on one item's content): two minutes is a slow
 * link's worth, and a request that hangs longer must fail so the chunk can be retried, rather than
 * hold its database transaction and its heartbeat-less activity forever.
 */
const REQUEST_TIMEOUT_MS = 120_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A missing key, as opposed to a missing bucket (a misconfiguration that must not pass for "gone").
 * HEAD answers carry no body, so there a 404 only says NotFound.
 */
const noSuchKey = (err: unknown): boolean =>
  err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404 && (err.name === 'NoSuchKey' || err.name === 'NotFound');

export function createS3Client(opts: Pick<S3BlobOptions, 'region' | 'endpoint'>): S3Client {
  return new S3Client({
    region: opts.region,
    requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECT_TIMEOUT_MS },
    ...(opts.endpoint
      ? {
          endpoint: opts.endpoint,
          // MinIO and most compatible servers address buckets by path, not by subdomain.
          forcePathStyle: true,
          // The SDK's default CRC checksums (and aws-chunked uploads) are refused by several
          // compatible servers; every put carries Content-MD5 instead, which they all check.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

export function createS3BlobStore(opts: S3BlobOptions): BlobStore & { get(key: string): Promise<Uint8Array | null> } {
  const client = opts.client ?? createS3Client(opts);
  const Bucket = opts.bucket;
  const at = (key: string): { Bucket: string; Key: string } => {
    assertBlobKey(key);
    return { Bucket, Key: key };
  };

  return {
    async put(key, bytes, options) {
      await client.send(
        new PutObjectCommand({
          ...at(key),
          Body: bytes,
          ContentLength: bytes.byteLength,
          // The server refuses a body that does not match: no silently corrupted blob.
          ContentMD5: createHash('md5').update(bytes).digest('base64'),
          ...(options?.contentType ? { ContentType: options.contentType } : {}),
        }),
      );
    },

    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand(at(key)));
      } catch (err) {
        // S3 answers 204 for a missing key; some compatible servers answer 404. Gone either way.
        if (!noSuchKey(err)) throw err;
      }
    },

    async exists(key) {
      try {
        await client.send(new HeadObjectCommand(at(key)));
        return true;
      } catch (err) {
        if (noSuchKey(err)) return false;
        throw err;
      }
    },

    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand(at(key)));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (err) {
        if (noSuchKey(err)) return null;
        throw err;
      }
    },
  };
}
