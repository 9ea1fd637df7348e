/**
 * The blob stores. The fs driver against a temporary directory; the S3 driver against a real
 * S3-compatible server on loopback (S3rver, which checks SigV4 signatures), with credentials from
 * the environment, the way the SDK finds them in production.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { BlobKeyError, createFsBlobStore, createS3BlobStore, itemIdOf, rawBlobKey, type BlobStore } from '../../activities/blobs';

const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('blob keys follow the contract: raw/{tenant}/{item_id}/{sha256}, item_id stable per ref', () => {
  const bytes = Buffer.from('invoice 7');
  assert.equal(itemIdOf('invoice-7.pdf'), sha(Buffer.from('invoice-7.pdf')).slice(0, 16));
  assert.equal(itemIdOf('invoice-7.pdf'), itemIdOf('invoice-7.pdf'));
  assert.notEqual(itemIdOf('invoice-7.pdf'), itemIdOf('invoice-8.pdf'));
  assert.equal(rawBlobKey('acme', itemIdOf('invoice-7.pdf'), sha(bytes)), `raw/acme/${itemIdOf('invoice-7.pdf')}/${sha(bytes)}`);
});

describe('fs blob store', () => {
  let root: string;
  before(() => (root = tempDir('blobs-unit-')));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('put, exists, get and delete; the file is at the key under the root', async () => {
    const store = createFsBlobStore(root);
    const bytes = Buffer.from('%PDF-1.7 not really');
    const key = rawBlobKey('acme', itemIdOf('a.pdf'), sha(bytes));
    assert.equal(await store.exists(key), false);
    assert.equal(await store.get(key), null);
    await store.put(key, bytes);
    assert.equal(await store.exists(key), true);
    assert.deepEqual(fs.readFileSync(path.join(root, 'raw', 'acme', itemIdOf('a.pdf'), sha(bytes))), bytes);
    assert.deepEqual(await store.get(key), bytes);
    await store.delete(key);
    assert.equal(await store.exists(key), false);
    // Deleting what is not there succeeds: an undo may run twice.
    await store.delete(key);
  });

  test('put is idempotent, and a later put replaces the object whole', async () => {
    const store = createFsBlobStore(root);
    const key = 'raw/acme/item/one';
    await store.put(key, Buffer.from('same'));
    await store.put(key, Buffer.from('same'));
    assert.deepEqual(await store.get(key), Buffer.from('same'));
    await store.put(key, Buffer.from('other bytes'));
    assert.deepEqual(await store.get(key), Buffer.from('other bytes'));
    await store.delete(key);
  });

  test('concurrent puts of one key all succeed, leave one whole object and no temporary files', async () => {
    const store = createFsBlobStore(root);
    const key = 'raw/acme/item/concurrent';
    const versions = Array.from({ length: 20 }, (_, i) => Buffer.alloc(64 * 1024, i));
    await Promise.all(versions.map((v) => store.put(key, v)));
    const stored = await store.get(key);
    assert.ok(
      versions.some((v) => v.equals(stored!)),
      'the object is one of the versions, whole',
    );
    assert.deepEqual(
      filesUnder(root).filter((f) => path.basename(f).startsWith('.')),
      [],
    );
    await store.delete(key);
  });

  test('a write that fails leaves neither a temporary file nor a partial object', async () => {
    const store = createFsBlobStore(root);
    // The key's path is a folder: the write itself succeeds, its rename onto the key cannot.
    fs.mkdirSync(path.join(root, 'raw', 'acme', 'blocked', 'key'), { recursive: true });
    await assert.rejects(store.put('raw/acme/blocked/key', Buffer.from('x')));
    assert.equal(await store.exists('raw/acme/blocked/key'), false);
    assert.deepEqual(filesUnder(path.join(root, 'raw', 'acme', 'blocked')), []);
    fs.rmSync(path.join(root, 'raw', 'acme', 'blocked'), { recursive: true });
  });

  test('delete removes the folders it empties, and only those', async () => {
    const store = createFsBlobStore(path.join(root, 'prune'));
    await store.put('raw/t1/item-a/one', Buffer.from('1'));
    await store.put('raw/t1/item-a/two', Buffer.from('2'));
    await store.put('raw/t1/item-b/three', Buffer.from('3'));
    await store.delete('raw/t1/item-a/one');
    assert.ok(fs.existsSync(store.pathOf('raw/t1/item-a/two')), 'item-a still holds a blob');
    await store.delete('raw/t1/item-a/two');
    assert.equal(fs.existsSync(path.join(store.root, 'raw/t1/item-a')), false);
    assert.ok(fs.existsSync(store.pathOf('raw/t1/item-b/three')));
    await store.delete('raw/t1/item-b/three');
    assert.equal(fs.existsSync(path.join(store.root, 'raw')), false);
    assert.ok(fs.existsSync(store.root), 'the root stays');
  });

  test('a put racing the delete that empties its folder still lands', async () => {
    const store = createFsBlobStore(root);
    for (let i = 0; i < 50; i++) {
      await store.put('raw/t2/item/old', Buffer.from('old'));
      await Promise.all([store.delete('raw/t2/item/old'), store.put('raw/t2/item/new', Buffer.from('new'))]);
      assert.deepEqual(await store.get('raw/t2/item/new'), Buffer.from('new'));
      await store.delete('raw/t2/item/new');
    }
  });

  test('keys that could escape the root or hit temporary files are refused', async () => {
    const store = createFsBlobStore(root);
    for (const key of ['', '../outside', 'raw/../../outside', '/etc/passwd', 'raw//x', 'raw/.tmp-x', 'raw\\x', 'raw/x\0']) {
      await assert.rejects(store.put(key, Buffer.from('x')), BlobKeyError, JSON.stringify(key));
    }
    assert.deepEqual(filesUnder(root), []);
  });
});

/** The part of S3rver's API this test uses (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;

describe('S3 blob store against S3rver on loopback', () => {
  let server: S3rverServer;
  let dataDir: string;
  let endpoint: string;
  const bucket = 'batchflow-test';
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  before(async () => {
    dataDir = tempDir('s3rver-');
    const S3rver = createRequire(__filename)('@20minutes/s3rver') as S3rverClass;
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dataDir, configureBuckets: [{ name: bucket }] });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    // S3rver's built-in account; the SDK's default chain reads it from the environment.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  const store = (): BlobStore & { get(key: string): Promise<Uint8Array | null> } =>
    createS3BlobStore({ bucket, region: 'us-east-1', endpoint });

  test('put, exists, get and delete, idempotently', async () => {
    const s3 = store();
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const key = rawBlobKey('acme', itemIdOf('scan.png'), sha(bytes));
    assert.equal(await s3.exists(key), false);
    assert.equal(await s3.get(key), null);
    await s3.put(key, bytes, { contentType: 'image/png' });
    await s3.put(key, bytes, { contentType: 'image/png' });
    assert.equal(await s3.exists(key), true);
    assert.deepEqual(Buffer.from((await s3.get(key))!), bytes);
    await s3.delete(key);
    await s3.delete(key);
    assert.equal(await s3.exists(key), false);
  });

  test('requests are signed with the credentials the SDK finds: wrong ones are refused', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    try {
      await assert.rejects(store().put('raw/acme/item/x', Buffer.from('x')), (err: Error) => err.name === 'SignatureDoesNotMatch');
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    }
  });

  test('a missing bucket is an error, not a missing object', async () => {
    const s3 = createS3BlobStore({ bucket: 'no-such-bucket', region: 'us-east-1', endpoint });
    await assert.rejects(s3.put('raw/acme/item/x', Buffer.from('x')), (err: Error) => err.name === 'NoSuchBucket');
    await assert.rejects(s3.delete('raw/acme/item/x'), (err: Error) => err.name === 'NoSuchBucket');
    await assert.rejects(s3.get('raw/acme/item/x'), (err: Error) => err.name === 'NoSuchBucket');
  });
});
