/**
 * Blobs as files under one root directory, a key's segments as folders. Writes go to a temporary
 * file beside the target and are renamed over it, so a reader (or a crash) sees the old object or
 * the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { assertBlobKey, type BlobStore } from './store';

/** Temporary files start with a dot, which no valid key segment does (see assertBlobKey). */
const TEMP_PREFIX = '.tmp-';

/** A delete that empties a folder removes it; a put racing it recreates it this many times. */
const PUT_ATTEMPTS = 3;

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

export interface FsBlobStore extends BlobStore {
  root: string;
  /** The file a key is stored in. */
  pathOf(key: string): string;
  get(key: string): Promise<Buffer | null>;
}

export function createFsBlobStore(root: string): FsBlobStore {
  const base = path.resolve(root);
  const pathOf = (key: string): string => path.join(base, ...assertBlobKey(key));

  async function writeOnce(target: string, bytes: Uint8Array): Promise<void> {
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `${TEMP_PREFIX}${path.basename(target)}-${randomBytes(6).toString('hex')}`);
    try {
      const file = await fs.open(temp, 'wx');
      try {
        await file.writeFile(bytes);
        // On disk before it gets its name: after a power cut the key holds all of it or nothing.
        await file.sync();
      } finally {
        await file.close();
      }
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    await syncDir(dir);
  }

  return {
    root: base,
    pathOf,

    async put(key, bytes) {
      const target = pathOf(key);
      for (let attempt = 1; ; attempt++) {
        try {
          return await writeOnce(target, bytes);
        } catch (err) {
          // ENOENT: a delete removed the (then empty) folder between our mkdir and our write.
          if (codeOf(err) !== 'ENOENT' || attempt >= PUT_ATTEMPTS) throw err;
        }
      }
    },

    async delete(key) {
      const target = pathOf(key);
      await fs.rm(target, { force: true });
      // Leave no empty folders behind (one per item otherwise); stop at the first that is in use.
      for (let dir = path.dirname(target); dir !== base && dir.startsWith(base); dir = path.dirname(dir)) {
        try {
          await fs.rmdir(dir);
        } catch (err) {
          if (['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(codeOf(err) ?? '')) break;
          throw err;
        }
      }
    },

    async exists(key) {
      try {
        return (await fs.stat(pathOf(key))).isFile();
      } catch (err) {
        if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return false;
        throw err;
      }
    },

    async get(key) {
      try {
        return await fs.readFile(pathOf(key));
      } catch (err) {
        if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR' || codeOf(err) === 'EISDIR') return null;
        throw err;
      }
    },
  };
}

/** Makes a rename durable: the directory entry is on disk, not only the file's bytes. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
