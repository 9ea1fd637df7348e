/**
 * A busy key's requests granted from leases: the process takes a block of the window's budget from
 * the shared store in one round trip and grants from it in memory, so that a read does not wait on
 * the database only to add one to a counter.
 *
 * - A limit of LEASE_MIN_POINTS or more a window is leased a twentieth at a time (30 of the
 *   contract's 600 reads a minute). A smaller limit is leased one request at a time: counted in the
 *   store request by request, as before.
 * - A lease is counted in the store when it is taken, so no number of API processes grants past the
 *   limit. The other side: tokens leased by one process and not yet used are spent for the others,
 *   so a key spread over N processes may be refused up to N - 1 leases early, and its
 *   X-RateLimit-Remaining leaves those tokens out. One process counts exactly.
 * - A lease lasts until its window ends. What is left of it is given back at shutdown.
 * - A refusal is decided by the store: a lease that would pass the limit grants only what is left.
 */

/** The store's count of a key after adding to it, and the time left in its window. */
export interface StoreCount {
  consumed: number;
  msBeforeNext: number;
}

/** The shared store: adds `n` (negative: gives back) to a key's count in its window. */
export type AddToStore = (key: string, n: number) => Promise<StoreCount>;

/** From this many requests a window on, requests are leased in blocks. */
export const LEASE_MIN_POINTS = 100;
/** A lease is this share of the budget: 1/20. */
const LEASE_SHARE = 20;
/** Keys with a lease at once; past this (after forgetting ended windows), a new key is counted request by request. */
const MAX_KEYS = 10_000;
/** Tokens are given back only this far from the window's end, so they never land in the next one. */
const GIVE_BACK_BEFORE_END_MS = 1_000;

interface Lease {
  /** Tokens of the lease not yet granted. */
  left: number;
  /** The store's count when the lease was taken, the whole lease included. */
  consumed: number;
  resetAt: number;
}

export interface Grant {
  granted: boolean;
  /** Requests the key may still make in the window, as far as this process can tell. */
  remaining: number;
  /** When the window ends (epoch ms). */
  resetAt: number;
}

export class RateLeases {
  private readonly leases = new Map<string, Lease>();
  /** The lease being taken for a key, which concurrent requests wait for. */
  private readonly asking = new Map<string, Promise<{ lease?: Lease; resetAt: number }>>();
  private size: number;

  constructor(
    private readonly add: AddToStore,
    private readonly points: number,
  ) {
    this.size = points >= LEASE_MIN_POINTS ? Math.ceil(points / LEASE_SHARE) : 1;
  }

  /** Grants one request of `key`, or refuses it. Throws what the store throws when a lease must be taken. */
  async take(key: string): Promise<Grant> {
    for (;;) {
      const held = this.leases.get(key);
      if (held && held.left > 0 && Date.now() < held.resetAt) return this.grant(held);
      // Concurrent requests wait for one lease rather than each taking its own, and share its refusal.
      const asking = this.asking.get(key);
      if (!asking) break;
      const answer = await asking.catch(() => undefined);
      if (answer && !answer.lease) return refused(answer.resetAt);
    }
    const asking = this.lease(key);
    this.asking.set(key, asking);
    try {
      const answer = await asking;
      return answer.lease ? this.grant(answer.lease) : refused(answer.resetAt);
    } finally {
      this.asking.delete(key);
    }
  }

  /** Gives back what is left of every lease whose window still runs (at shutdown); requests still arriving are counted one by one. */
  async close(): Promise<void> {
    this.size = 1;
    const now = Date.now();
    const leases = [...this.leases].filter(([, l]) => l.left > 0 && now < l.resetAt - GIVE_BACK_BEFORE_END_MS);
    this.leases.clear();
    // Best effort: a store that cannot answer keeps the tokens spent until the window ends.
    await Promise.allSettled(leases.map(([key, l]) => this.add(key, -l.left)));
  }

  /** Takes a lease from the store: the whole block, what is left of the budget, or nothing. */
  private async lease(key: string): Promise<{ lease?: Lease; resetAt: number }> {
    const now = Date.now();
    if (this.leases.size >= MAX_KEYS) for (const [k, l] of this.leases) if (now >= l.resetAt) this.leases.delete(k);
    // A key that cannot be remembered takes one token at a time: a lease it could not keep would be lost.
    const size = this.leases.has(key) || this.leases.size < MAX_KEYS ? this.size : 1;
    const count = await this.add(key, size);
    // The store measures the time left when its answer arrives, so the clock is read then too: read
    // before the round trip, the window's end would drift by the round trip's length, and requests
    // in one window could be told different reset seconds.
    const resetAt = Date.now() + count.msBeforeNext;
    const got = Math.max(0, size - Math.max(0, count.consumed - this.points));
    if (got === 0) {
      this.leases.delete(key);
      return { resetAt };
    }
    const lease = { left: got, consumed: count.consumed, resetAt };
    if (size > 1) this.leases.set(key, lease);
    return { lease, resetAt };
  }

  private grant(lease: Lease): Grant {
    lease.left--;
    return { granted: true, remaining: Math.max(0, this.points - lease.consumed + lease.left), resetAt: lease.resetAt };
  }
}

const refused = (resetAt: number): Grant => ({ granted: false, remaining: 0, resetAt });
