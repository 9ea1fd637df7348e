import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { KeyLookup } from '../../auth/key-cache';
import { CONTRACT_LIMITS, resolveLimits, type KeyLimits } from '../../auth/limits';
import { unauthorized } from '../../errors';
import { rateLimit, type RateLimits } from './rate-limit';

/** The caller, once authenticated: on `ctx.state.key`. */
export interface AuthedKey {
  id: string;
  tenantId: string;
  /** The key's limits in force: its own overrides over the operator's defaults. */
  limits: KeyLimits;
}

/**
 * Reads the key from X-Api-Key or `Authorization: Bearer`, and binds the request to its tenant
 * (`ctx.state.tenantId`, `ctx.state.keyId`, `ctx.state.key`). Missing, unknown and revoked keys
 * are all the same 401: the answer never tells which.
 */
export const authenticate =
  (findKey: KeyLookup, defaults: KeyLimits = CONTRACT_LIMITS): Middleware =>
  async (ctx, next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const key = ctx.get('x-api-key') || bearer;
    const owner = key ? await findKey(key) : undefined;
    if (!owner) throw unauthorized();
    ctx.state.tenantId = owner.tenantId;
    ctx.state.keyId = owner.keyId;
    ctx.state.key = { id: owner.keyId, tenantId: owner.tenantId, limits: resolveLimits(defaults, owner.limits) } satisfies AuthedKey;
    await next();
  };

/** The path prefixes that need a key: the v1 API and the compatibility routes. */
const PROTECTED = ['/v1', '/api', '/batch'];
export const isProtected = (path: string): boolean => PROTECTED.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * Authentication, then the key's request rate, for every protected path; anything else (health,
 * docs) passes untouched. Built once per app: the rate limiters live as long as it does.
 */
export function guardApi(deps: { findKey: KeyLookup; log: Logger; limits?: KeyLimits; rates: RateLimits }): Middleware {
  const auth = authenticate(deps.findKey, deps.limits);
  const rate = rateLimit(deps.rates);
  return async (ctx, next) => (isProtected(ctx.path) ? auth(ctx, () => rate(ctx, next)) : next());
}

/** The authenticated caller of this request (the guard has run). */
export const keyOf = (ctx: Context): AuthedKey => ctx.state.key as AuthedKey;
