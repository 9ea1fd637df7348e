import type { Middleware } from 'koa';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema';
import { findKey } from '../../db/keys';
import { unauthorized } from '../errors';

/** Reads the key from X-Api-Key or `Authorization: Bearer`, and binds the request to its tenant. */
export const authenticate =
  (db: Kysely<Database>): Middleware =>
  async (ctx, next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const key = ctx.get('x-api-key') || bearer;
    const owner = key ? await findKey(db, key) : undefined;
    if (!owner) throw unauthorized();
    ctx.state.tenantId = owner.tenantId;
    ctx.state.keyId = owner.keyId;
    await next();
  };
