/**
 * Callback URLs point the service at an address a tenant chose: without a check, a batch could
 * make the worker POST to its own metadata endpoint, the database, or anything else on the private
 * network. A URL passes when it is http(s) and every address its host resolves to is public
 * unicast. The addresses are checked after resolution, never the host's text (a public-looking
 * name can resolve to 127.0.0.1), and the connection is then pinned to the checked addresses so a
 * second DNS answer (rebinding) cannot redirect it.
 */
import dns from 'node:dns';
import net, { type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (dns.lookup with `all`, i.e. what connect would use). */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolve: ResolveHost = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A lookup that never answers slower than this: a submission must not hang on a slow resolver. */
const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** ipaddr.js range names, in the words an error message should use. */
const RANGE_NAMES: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  uniqueLocal: 'unique-local',
  reserved: 'reserved',
};

/**
 * Why `ip` may not be called back, as a range name ("loopback", "private", ...), or null when it
 * is public unicast. IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries,
 * and so is NAT64 (64:ff9b::/96); every other special-purpose IPv6 range (6to4, Teredo,
 * documentation, ...) is refused outright, since what it reaches depends on a relay, and so is
 * anything outside global unicast 2000::/3 (IPv4-compatible ::a00:1 among them).
 */
export function refusedRange(ip: string): string | null {
  if (!ipaddr.isValid(ip)) return 'invalid';
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) addr = v6.toIPv4Address();
    else if (v6.range() === 'rfc6052') addr = ipaddr.fromByteArray(v6.toByteArray().slice(12));
    else if (v6.range() === 'unicast' && !v6.match(GLOBAL_UNICAST)) return 'reserved';
  }
  const range = addr.range();
  return range === 'unicast' ? null : (RANGE_NAMES[range] ?? `special-purpose (${range})`);
}

export type CallbackCheck =
  | { ok: true; url: URL; addresses: ResolvedAddress[] }
  /** `retryable`: the host did not resolve now, which may change; a refused address will not. */
  | { ok: false; reason: string; retryable: boolean };

export interface CallbackCheckOptions {
  /** ALLOW_PRIVATE_CALLBACKS: any address passes (tests, local use). */
  allowPrivate: boolean;
  resolve?: ResolveHost;
  resolveTimeoutMs?: number;
}

/** Checks a callback URL and answers the addresses a connection to it may use. */
export async function checkCallbackUrl(raw: string, opts: CallbackCheckOptions): Promise<CallbackCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid URL', retryable: false };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `must be http or https, not ${url.protocol.slice(0, -1)}`, retryable: false };
  }
  // WHATWG URL has already normalised the host: "0x7f.1" and "2130706433" read as 127.0.0.1.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = net.isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await withTimeout((opts.resolve ?? systemResolve)(host), opts.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { ok: false, reason: `host ${host} does not resolve (${code})`, retryable: true };
    }
    if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve`, retryable: true };
  }
  if (!opts.allowPrivate) {
    for (const { address } of addresses) {
      const range = refusedRange(address);
      if (range === null) continue;
      const shown = `${address}${embeddedIPv4(address)}`;
      const what = literal ? `${shown} is` : `host ${host} resolves to ${shown},`;
      return { ok: false, reason: `${what} a ${range} address; callbacks must reach a public address`, retryable: false };
    }
  }
  return { ok: true, url, addresses };
}

/**
 * A `lookup` for http(s).request that answers only the checked addresses: the connection goes
 * where the check looked, whatever the resolver would say now.
 */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : undefined;
    const candidates = family ? addresses.filter((a) => a.family === family) : addresses;
    const first = candidates[0];
    if (!first) {
      const err: NodeJS.ErrnoException = Object.assign(new Error(`no checked IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' });
      callback(err, '', 0);
      return;
    }
    if (options.all)
      callback(
        null,
        candidates.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, first.address, first.family);
  };
}

/** " (10.0.0.1)" for an IPv6 address that carries an IPv4 one, so the message names what it reaches. */
function embeddedIPv4(ip: string): string {
  if (!ipaddr.IPv6.isValid(ip)) return '';
  const v6 = ipaddr.IPv6.parse(ip);
  if (v6.isIPv4MappedAddress()) return ` (${v6.toIPv4Address().toString()})`;
  if (v6.range() === 'rfc6052') return ` (${ipaddr.fromByteArray(v6.toByteArray().slice(12)).toString()})`;
  return '';
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
